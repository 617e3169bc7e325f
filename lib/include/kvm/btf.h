// BTF, the BPF Type Format: the compact type information a Linux kernel
// built with CONFIG_DEBUG_INFO_BTF carries in its own image, between the
// symbols __start_BTF and __stop_BTF (what /sys/kernel/btf/vmlinux
// exports), and in the .BTF section of its vmlinux.  It is what lets kvmps
// read a stock distribution kernel's structures without a debuginfo package.
//
// The blob is parsed with libbpf (btf__new), after kvmkit has checked its
// header itself: magic 0xeB9F in either byte order, version 1, no flags, a
// header length of at least 24 bytes, and type and string sections inside
// the blob, types first, 4-byte aligned, strings starting and ending with
// NUL.  libbpf then checks every type record's size.  What neither checks
// (type ids out of range, names outside the strings, loops through type
// references) is checked as the types are used: each is a corrupt error
// naming the type, never a crash or a hang.
#pragma once

#include <kvm/bytes.h>
#include <kvm/layout.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kvm {

class Kernel;

namespace btf {

inline constexpr std::uint16_t magic = 0xeb9f;
inline constexpr std::uint8_t version = 1;
inline constexpr std::uint32_t header_size = 24;  // struct btf_header as of version 1
// A vmlinux's BTF is about 5 MiB; a larger blob is not a kernel's.
inline constexpr std::uint64_t max_blob_bytes = 64ull << 20;
// Steps through typedefs, qualifiers, nested and anonymous members before
// a chain of type references counts as a loop.
inline constexpr int max_type_depth = 32;

struct Header {
    ByteOrder order = ByteOrder::little;  // the order the magic was found in
    std::uint8_t version = 0;
    std::uint8_t flags = 0;
    std::uint32_t hdr_len = 0;
    std::uint32_t type_off = 0;  // from the end of the header
    std::uint32_t type_len = 0;
    std::uint32_t str_off = 0;  // from the end of the header
    std::uint32_t str_len = 0;
};

// Decodes and checks the header of a BTF blob and where its sections lie.
// Errors are corrupt (unsupported for a later version) and name `origin`:
// "<origin>: BTF: bad magic 0x1234 (expected 0xeb9f): not BTF data".
Header check_header(ByteSpan blob, std::string_view origin);

// A parsed BTF blob.
class Types {
public:
    // Checks the header (check_header) and parses the types with libbpf.
    // `origin` names the blob in errors and in the layouts' source.
    Types(ByteSpan blob, std::string origin);
    ~Types();
    Types(Types&&) noexcept;
    Types& operator=(Types&&) noexcept;
    Types(const Types&) = delete;
    Types& operator=(const Types&) = delete;

    const std::string& origin() const noexcept;
    const Header& header() const noexcept;
    ByteOrder order() const noexcept;
    // Type ids are 1 .. type_count()-1; 0 is void.
    std::uint32_t type_count() const noexcept;
    // The size of `long` in the types (libbpf's reading of the pointer
    // size); 0 when the types have no `long`.
    unsigned pointer_size() const noexcept;

    // The structures of `request` as the types have them (members they lack
    // are left out for check_layouts to report), and the values of
    // `request.values` that are enumerators of an enum in the types
    // (PIDTYPE_PGID of enum pid_type, say).  Member paths go through nested
    // and anonymous structures and unions; typedefs, const, volatile,
    // restrict and type tags are looked through; bitfields of either BTF
    // encoding give bit_offset and bit_size.  Throws corrupt naming the
    // type for a broken reference.
    StructLayouts layouts(const LayoutRequest& request) const;

    // The value of an enumerator, by name; nullopt when there is none.
    std::optional<std::int64_t> enumerator(std::string_view name) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The kernel's own BTF from a Linux dump: the bytes between the namelist's
// __start_BTF and __stop_BTF, read through the page tables.  Throws
// not_found when the namelist has neither symbol (a kernel without
// CONFIG_DEBUG_INFO_BTF), corrupt when they are out of order or more than
// max_blob_bytes apart, and Kernel's own errors when the bytes cannot be
// read.
Bytes read_kernel_blob(const Kernel& kernel);

// Layouts from a vmlinux's .BTF section (the TypeInfoReader row "btf").
StructLayouts read_btf_layouts(const std::string& path, const LayoutRequest& request);

}  // namespace btf

}  // namespace kvm
