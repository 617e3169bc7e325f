// CTF, the Compact C Type Format of illumos and the BSDs: the type
// information a FreeBSD kernel keeps in its .SUNW_ctf section after its
// DWARF went to kernel.debug (ctfconvert and ctfmerge run on every GENERIC
// build), in version 2 (FreeBSD 13.0 and older) or 3 (13.1 onwards),
// possibly zlib-compressed.  Debian's libctf reads only GNU CTF (magic
// 0xdff2), a different format, so kvmkit reads this one itself.
//
// The reader is small and bounded: the header is checked first (magic
// 0xcff1 in either byte order, version 2 or 3, sections in order inside
// the data, a compressed body inflating to exactly the size the header
// says, at most max_data_bytes), every type record is measured once and
// must lie inside the type section, and every type id, name reference,
// member and array it uses is range-checked as it is used.  Walks along
// type references (typedef chains, nested and anonymous members) stop
// after max_type_depth steps.  A damaged container is a corrupt error
// naming the type, never a crash, a hang or an allocation larger than the
// container's own data.
#pragma once

#include <kvm/bytes.h>
#include <kvm/layout.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kvm::ctf {

inline constexpr std::uint16_t magic = 0xcff1;
inline constexpr std::uint32_t header_size = 36;
inline constexpr std::uint8_t flag_compress = 0x1;
// A FreeBSD kernel's CTF inflates to a few MiB; more is not a kernel's.
inline constexpr std::uint64_t max_data_bytes = 64ull << 20;
// Steps through typedefs, qualifiers, forward declarations, nested and
// anonymous members before a chain of type references counts as a loop.
inline constexpr int max_type_depth = 32;

// Kinds (the same numbers in versions 2 and 3).
enum class Kind : std::uint8_t {
    unknown = 0,
    integer = 1,
    floating = 2,
    pointer = 3,
    array = 4,
    function = 5,
    structure = 6,
    union_ = 7,
    enumeration = 8,
    forward = 9,
    typedef_ = 10,
    volatile_ = 11,
    const_ = 12,
    restrict_ = 13,
};

// What changes between the versions (ctf.h of each).
struct VersionInfo {
    unsigned id_width;             // type ids in records: 2 or 4 bytes
    unsigned head_size;            // name, info, size-or-type
    std::uint64_t size_sentinel;   // in the size field: the size follows as hi, lo
    std::uint32_t max_vlen;        // info's vlen mask
    std::uint64_t lstruct_thresh;  // structures this large use the large member form
    std::uint32_t child_bit;       // ids with this bit set belong to a child container
};
const VersionInfo& version_info(unsigned version);  // 2 or 3; throws unsupported otherwise

struct Header {
    ByteOrder order = ByteOrder::little;  // the order the magic was found in
    std::uint8_t version = 0;
    std::uint8_t flags = 0;
    std::uint32_t parlabel = 0, parname = 0;
    // Offsets from the end of the header, in the (inflated) data.
    std::uint32_t lbloff = 0, objtoff = 0, funcoff = 0, typeoff = 0, stroff = 0, strlen = 0;

    bool compressed() const noexcept { return (flags & flag_compress) != 0; }
};

// Decodes and checks the header of a CTF container and where its sections
// lie.  Errors are corrupt (unsupported for a version other than 2 and 3)
// and name `origin`: "<origin>: CTF: bad magic 0x1234 (expected 0xcff1)".
Header check_header(ByteSpan section, std::string_view origin);

// A parsed CTF container.
class Types {
public:
    // `section` is the whole container (header and body); `origin` names it
    // in errors and in the layouts' source; pointers are `pointer_size`
    // bytes (CTF does not record the data model: the ELF class does);
    // `external_strings` is the ELF string table that name references with
    // bit 31 set point into (.symtab's .strtab), empty when there is none.
    Types(ByteSpan section, std::string origin, unsigned pointer_size, ByteSpan external_strings = {});
    ~Types();
    Types(Types&&) noexcept;
    Types& operator=(Types&&) noexcept;
    Types(const Types&) = delete;
    Types& operator=(const Types&) = delete;

    const std::string& origin() const noexcept;
    const Header& header() const noexcept;
    // Types are ids 1 .. type_count() (with the child bit in a child
    // container); 0 is void.
    std::uint32_t type_count() const noexcept;

    // The structures of `request` as the types have them (members they lack
    // are left out for check_layouts to report), and the values of
    // `request.values` that are enumerators.  Structures are found by name
    // among the root types (a forward declaration is resolved to its
    // definition); member paths go through nested and anonymous structures
    // and unions; typedefs and qualifiers are looked through; bit-fields
    // give bit_offset and bit_size.
    StructLayouts layouts(const LayoutRequest& request) const;

    // The value of an enumerator, by name; nullopt when there is none.
    std::optional<std::int64_t> enumerator(std::string_view name) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Layouts from an ELF file's .SUNW_ctf section (the TypeInfoReader row
// "ctf"), with .symtab's string table for external names.
StructLayouts read_ctf_layouts(const std::string& path, const LayoutRequest& request);

}  // namespace kvm::ctf
