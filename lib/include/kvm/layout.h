// Structure layouts as data: where each member of a kernel structure lives,
// for one OS release on one architecture.
//
// Walkers never hard-code an offset.  They state what they need (a
// LayoutRequest: structures, member paths and what each member means) and
// read those members through a StructLayouts, which comes from one of:
//   - the kernel's own type information, when the namelist carries it: a
//     row of all_type_info_readers() (DWARF of a debug kernel such as
//     netbsd.gdb, the .BTF section of a Linux vmlinux, or the .SUNW_ctf
//     section of a FreeBSD kernel);
//   - type information the dumped kernel holds in its memory (Linux's BTF,
//     kvm/btf.h), which the walker reads and hands over;
//   - a layout file in the JSON format of parse_layouts_json() (the shipped
//     files under share/kvmkit/layouts, or one a user names);
// resolve_layouts() applies that order.
//
// Adding a type-information format: one file in src/layout/ whose read
// function fills a StructLayouts from the request, and one row in
// all_type_info_readers() (src/layout/type_info.cpp), as CTF (kvm/ctf.h)
// is.  Nothing else changes: walkers, the JSON printer and check_layouts()
// work on the result as they do on DWARF's.
#pragma once

#include <kvm/bytes.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {

namespace elf {
class File;
}
class Namelist;

// One member of a structure.  Nested members are named by their path from
// the structure ("p_list.le_next", "vm_map.size"); members of anonymous
// structures and unions are named as if they were direct members (C11).
struct MemberLayout {
    std::string name;
    std::uint64_t offset = 0;  // bytes from the start of the structure
    std::uint64_t size = 0;    // bytes; for an array the whole array; 0 for a flexible array member ("x[]")
    std::uint64_t count = 0;   // array elements; 0 when not an array
    // Bitfields (bit_size > 0): bit_offset counts bits from the start of
    // the structure in the target's bit order (DWARF DW_AT_data_bit_offset,
    // BTF member offsets): from the least significant bit of byte 0 on a
    // little-endian target, from the most significant on a big-endian one.
    // offset/size then name the bytes that hold the field.
    std::uint64_t bit_offset = 0;
    unsigned bit_size = 0;
    std::string type;     // the C type as the source spells it ("struct proc *"); may be empty
    std::string meaning;  // what the member holds, for people reading a layout file

    bool is_bitfield() const noexcept { return bit_size != 0; }
    bool operator==(const MemberLayout&) const = default;
};

struct StructLayout {
    std::string name;  // the C tag ("proc", "task_struct")
    std::uint64_t size = 0;
    std::vector<MemberLayout> members;  // in offset order

    const MemberLayout* find(std::string_view member) const;
    // Throws not_found "struct proc has no member p_foo".
    const MemberLayout& member(std::string_view member) const;
    bool operator==(const StructLayout&) const = default;
};

// A named constant of the release: a flag bit ("PK_SYSTEM" = 0x2 in
// proc.p_flag) or a value ("LSONPROC" = 7 in lwp.l_stat, "NZERO" = 20).
struct NamedValue {
    std::string name;
    std::uint64_t value = 0;
    std::string field;  // the member it applies to ("proc.p_flag"); may be empty
    std::string meaning;
    bool operator==(const NamedValue&) const = default;
};

// How a character device is named in /dev: "pts/%u" (the minor number),
// "tty%02u", or a fixed name ("console").
struct DeviceName {
    std::uint32_t major = 0;
    std::string driver;   // the kernel's driver name ("pts", "com")
    std::string pattern;  // the /dev name without "/dev/"
    bool operator==(const DeviceName&) const = default;
};

class StructLayouts {
public:
    // What the layouts describe.
    std::string os;       // "netbsd", "linux"
    std::string release;  // "10" (the major release the layouts hold for)
    std::string arch;     // "amd64", "i386": a row of all_arches()
    unsigned pointer_size = 0;
    ByteOrder order = ByteOrder::little;
    // Where they came from ("DWARF in netbsd.gdb", "/usr/share/kvmkit/
    // layouts/netbsd-10-amd64.json") and exactly how the offsets were
    // derived (shipped files state their sources and the generator).
    std::string source;
    std::string derived;

    std::map<std::string, StructLayout, std::less<>> structs;
    std::vector<NamedValue> flags;   // bit masks
    std::vector<NamedValue> values;  // states, parameters
    std::vector<DeviceName> devices;

    const StructLayout* find(std::string_view name) const;
    // Throws not_found "no layout of struct proc in <source>".
    const StructLayout& get(std::string_view name) const;
    std::optional<std::uint64_t> flag(std::string_view name) const;
    std::optional<std::uint64_t> value(std::string_view name) const;
    // Throw not_found "<source> defines no flag PK_SYSTEM".
    std::uint64_t require_flag(std::string_view name) const;
    std::uint64_t require_value(std::string_view name) const;

    bool operator==(const StructLayouts&) const = default;
};

// ---------------------------------------------------------------- reading members

// Raw loads of a member from a buffer holding the whole structure, in the
// layout's byte order.  A member outside the buffer throws corrupt; a
// member wider than 8 bytes throws usage.  Bitfields are extracted.
std::uint64_t load_member_unsigned(ByteSpan object, const MemberLayout& m, ByteOrder order);
std::int64_t load_member_signed(ByteSpan object, const MemberLayout& m, ByteOrder order);
// A character array member, up to its first NUL.
std::string load_member_string(ByteSpan object, const MemberLayout& m);

// ---------------------------------------------------------------- what a walker needs

struct MemberRequest {
    std::string path;     // "p_list.le_next"
    std::string meaning;  // copied into layouts read from type information
    bool required = true;
};

struct StructRequest {
    std::string name;
    std::vector<MemberRequest> members;
    // An optional structure is one only some kernels have (DragonFly's
    // procglob): check_layouts does not ask for it.
    bool required = true;
};

struct LayoutRequest {
    std::vector<StructRequest> structs;
    // Flag and value names the walker uses; a layout must define the
    // required ones (type information has no macros, so they come from a
    // layout file even when the structures come from DWARF).
    std::vector<std::string> flags;
    std::vector<std::string> values;
};

// Throws not_found listing every required structure, member, flag and
// value the layouts lack, and corrupt for a member that does not fit in
// its structure.
void check_layouts(const StructLayouts& layouts, const LayoutRequest& request);

// ---------------------------------------------------------------- layout files

// The JSON format (documented in kvmps(1)):
//   { "format": "kvmkit-layout-1", "os": ..., "release": ..., "arch": ...,
//     "pointer_size": 8, "byte_order": "little", "derived": "...",
//     "structs": { "proc": { "size": 1024, "members": {
//         "p_pid": { "offset": 208, "size": 4, "type": "pid_t",
//                    "meaning": "process id" }, ... } }, ... },
//     "flags":  { "PK_SYSTEM": { "value": 2, "field": "proc.p_flag", "meaning": "..." }, ... },
//     "values": { "LSONPROC": { "value": 7, ... }, ... },
//     "devices": [ { "major": 5, "driver": "pts", "name": "pts/%u" }, ... ] }
// A flag or value may also be a bare number.  Errors are corrupt and name
// `origin` and the JSON path ("netbsd.json: structs.proc.members.p_pid:
// offset is missing").
StructLayouts parse_layouts_json(std::string_view text, std::string_view origin);
StructLayouts load_layouts_file(const std::string& path);
// The same format, members in offset order; parse_layouts_json reads back
// an equal StructLayouts (source excepted).
std::string to_json(const StructLayouts& layouts);

// ---------------------------------------------------------------- type information

struct TypeInfoReader {
    std::string_view name;  // "dwarf"
    // Whether the file carries this kind of type information (cheap).
    bool (*present)(const elf::File& file);
    // Layouts of the requested structures as the type information has
    // them; members it lacks are left out for check_layouts to report.
    // Fills os-independent fields only (pointer size, byte order, source).
    StructLayouts (*read)(const std::string& path, const elf::File& file, const LayoutRequest& request);
};

// DWARF (libdw), then BTF (libbpf, kvm/btf.h), then CTF (kvm/ctf.h).
std::span<const TypeInfoReader> all_type_info_readers();

// DWARF through libdw: the structures of `request` found in the
// .debug_info of the ELF file at `path` (a debug kernel, or any object
// compiled with -g).
StructLayouts read_dwarf_layouts(const std::string& path, const LayoutRequest& request);

// ---------------------------------------------------------------- choosing layouts

struct LayoutSearch {
    std::string os;       // "netbsd"
    std::string release;  // "10"
    std::string arch;     // "amd64"
    // A layout file named by the user (--layout): used as it is.
    std::optional<std::string> file;
    // The kernel's namelist, whose type information comes next.
    const Namelist* namelist = nullptr;
    // Directories holding shipped layout files; empty: shipped_layout_dirs().
    std::vector<std::string> dirs;
    // Type information the dumped kernel carries in its own memory (Linux's
    // BTF), tried after the namelist's: the layouts of a request, or
    // nullopt when the kernel has none.  Its errors propagate.
    std::function<std::optional<StructLayouts>(const LayoutRequest&)> kernel_type_info;
    // Flags and values that hold for every release of the OS the type
    // information can come from (Linux's task states, the same in every
    // kernel with BTF): used for those the type information and the
    // shipped file lack.
    std::vector<NamedValue> known_flags;
    std::vector<NamedValue> known_values;
};

// In order: `file`; the namelist's type information; the kernel's
// (kernel_type_info); the shipped file <dir>/<os>-<release>-<arch>.json.
// With type information, flags and values the type information lacks
// (all but its enumerators) and device names come from the shipped file of
// the same release, and any the request still lacks from known_flags and
// known_values.  The result is checked against `request`.  Throws not_found naming what was tried when nothing fits.
StructLayouts resolve_layouts(const LayoutSearch& search, const LayoutRequest& request);

// What resolve_layouts' error tells its reader to do when nothing fits.
// By default it speaks to a program using the library (the namelist of
// OpenOptions or kvm_openfiles, WalkTarget::layout_file, a directory in
// $KVMKIT_LAYOUTS); a tool states its own flags once, before any walk
// ("give a debug kernel (-N) or a layout file (--layout)").
inline constexpr std::string_view library_layout_advice =
    "give a namelist with type information (OpenOptions::namelist, kvm_openfiles' execfile), a layout file "
    "(WalkTarget::layout_file) or a directory of layout files ($KVMKIT_LAYOUTS)";
void set_layout_advice(std::string advice);

// Where shipped layout files are looked for, in order: $KVMKIT_LAYOUTS;
// share/kvmkit/layouts next to the running executable's prefix (<exe>/../
// share/kvmkit/layouts, which is also where the build tree has them); for
// code in a shared library (libkvm.so), the same directory relative to the
// library's own (so a program linked against an installed kvmkit finds
// the layouts of that prefix wherever the program is); the compiled-in
// install directory.
std::vector<std::string> shipped_layout_dirs();
std::optional<std::string> find_shipped_layout(const std::vector<std::string>& dirs, std::string_view os,
                                               std::string_view release, std::string_view arch);

}  // namespace kvm
