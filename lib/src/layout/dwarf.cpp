// Structure layouts from DWARF, read with libdw (elfutils).
//
// Only what a LayoutRequest names is looked up: the structures among the
// top-level types of each compilation unit (the first complete definition
// wins, as every unit of one kernel agrees on it), then each member path
// through nested and anonymous structures and unions.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/layout.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>

namespace kvm {

namespace {

constexpr int max_type_depth = 32;  // typedef chains, nested paths

[[noreturn]] void dwarf_fail(const std::string& path, const std::string& what) {
    Error e(ErrorKind::format, fmt::format("{}: {}", what, dwarf_errmsg(-1)));
    e.with_path(path);
    throw e;
}

class DwarfFile {
public:
    explicit DwarfFile(const std::string& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw_os("cannot open", errno, path);
        dw_ = dwarf_begin(fd_, DWARF_C_READ);
        if (dw_ == nullptr) {
            ::close(fd_);
            dwarf_fail(path, "no DWARF type information");
        }
    }
    ~DwarfFile() {
        dwarf_end(dw_);
        ::close(fd_);
    }
    DwarfFile(const DwarfFile&) = delete;
    DwarfFile& operator=(const DwarfFile&) = delete;

    Dwarf* get() const noexcept { return dw_; }
    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
    int fd_ = -1;
    Dwarf* dw_ = nullptr;
};

bool is_aggregate(int tag) {
    return tag == DW_TAG_structure_type || tag == DW_TAG_union_type;
}

std::optional<Dwarf_Die> type_of(Dwarf_Die* die) {
    Dwarf_Attribute attr;
    Dwarf_Die type;
    if (dwarf_attr_integrate(die, DW_AT_type, &attr) == nullptr) return std::nullopt;
    if (dwarf_formref_die(&attr, &type) == nullptr) return std::nullopt;
    return type;
}

// Strips typedefs and qualifiers.
std::optional<Dwarf_Die> peeled(Dwarf_Die die) {
    Dwarf_Die out;
    if (dwarf_peel_type(&die, &out) != 0) return std::nullopt;
    return out;
}

unsigned address_size(Dwarf_Die* die) {
    Dwarf_Die cu;
    std::uint8_t addr = 0;
    std::uint8_t offset_size = 0;
    if (dwarf_diecu(die, &cu, &addr, &offset_size) == nullptr) return 0;
    return addr;
}

std::optional<std::uint64_t> type_size(Dwarf_Die type) {
    const auto p = peeled(type);
    if (!p) return std::nullopt;
    Dwarf_Die t = *p;
    const int tag = dwarf_tag(&t);
    if (tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type || tag == DW_TAG_ptr_to_member_type) {
        Dwarf_Word size = 0;
        if (dwarf_hasattr(&t, DW_AT_byte_size) && dwarf_aggregate_size(&t, &size) == 0) return size;
        return address_size(&t);
    }
    Dwarf_Word size = 0;
    if (dwarf_aggregate_size(&t, &size) != 0) return std::nullopt;
    return size;
}

// Elements of an array type (all dimensions), or 0 when not an array.
std::uint64_t array_count(Dwarf_Die type) {
    const auto p = peeled(type);
    if (!p) return 0;
    Dwarf_Die t = *p;
    if (dwarf_tag(&t) != DW_TAG_array_type) return 0;
    std::uint64_t count = 1;
    Dwarf_Die sub;
    if (dwarf_child(&t, &sub) != 0) return 0;
    do {
        if (dwarf_tag(&sub) != DW_TAG_subrange_type) continue;
        Dwarf_Attribute attr;
        Dwarf_Word n = 0;
        if (dwarf_attr_integrate(&sub, DW_AT_count, &attr) != nullptr && dwarf_formudata(&attr, &n) == 0) {
            count *= n;
        } else if (dwarf_attr_integrate(&sub, DW_AT_upper_bound, &attr) != nullptr && dwarf_formudata(&attr, &n) == 0) {
            count *= n + 1;
        } else {
            return 0;  // flexible array
        }
    } while (dwarf_siblingof(&sub, &sub) == 0);
    return count;
}

// An array whose first dimension has no bound ("struct upid numbers[]", or
// GCC's "[0]": a count of 0, an upper bound of -1): a flexible array member,
// which has no size and is where its first element starts, as BTF gives it.
bool flexible_array(Dwarf_Die type) {
    const auto p = peeled(type);
    if (!p) return false;
    Dwarf_Die t = *p;
    Dwarf_Die sub;
    if (dwarf_tag(&t) != DW_TAG_array_type || dwarf_child(&t, &sub) != 0) return false;
    do {
        if (dwarf_tag(&sub) != DW_TAG_subrange_type) continue;
        Dwarf_Attribute attr;
        Dwarf_Word n = 0;
        if (dwarf_attr_integrate(&sub, DW_AT_count, &attr) != nullptr) return dwarf_formudata(&attr, &n) == 0 && n == 0;
        if (dwarf_attr_integrate(&sub, DW_AT_upper_bound, &attr) != nullptr) {
            // -1 in whatever width the producer wrote it.
            return dwarf_formudata(&attr, &n) == 0 && (n == ~Dwarf_Word{0} || n == 0xffffffffu);
        }
        return true;
    } while (dwarf_siblingof(&sub, &sub) == 0);
    return false;
}

std::string describe(std::optional<Dwarf_Die> type, int depth = 0) {
    if (!type) return "void";
    if (depth > max_type_depth) return "...";
    Dwarf_Die t = *type;
    const char* name = dwarf_diename(&t);
    switch (dwarf_tag(&t)) {
        case DW_TAG_base_type:
        case DW_TAG_typedef:
            return name != nullptr ? name : "?";
        case DW_TAG_structure_type:
            return name != nullptr ? fmt::format("struct {}", name) : "struct {...}";
        case DW_TAG_union_type:
            return name != nullptr ? fmt::format("union {}", name) : "union {...}";
        case DW_TAG_enumeration_type:
            return name != nullptr ? fmt::format("enum {}", name) : "enum {...}";
        case DW_TAG_subroutine_type:
            return "function";
        case DW_TAG_pointer_type: {
            const std::string inner = describe(type_of(&t), depth + 1);
            return inner.ends_with('*') ? inner + "*" : inner + " *";
        }
        case DW_TAG_const_type:
        case DW_TAG_volatile_type: {
            const char* q = dwarf_tag(&t) == DW_TAG_const_type ? "const" : "volatile";
            const std::string inner = describe(type_of(&t), depth + 1);
            return inner.ends_with('*') ? fmt::format("{} {}", inner, q) : fmt::format("{} {}", q, inner);
        }
        case DW_TAG_array_type: {
            if (flexible_array(t)) return fmt::format("{}[]", describe(type_of(&t), depth + 1));
            const std::uint64_t n = array_count(t);
            return fmt::format("{}[{}]", describe(type_of(&t), depth + 1), n);
        }
        default:
            return name != nullptr ? name : "?";
    }
}

// The byte offset DW_AT_data_member_location gives (a constant, or the
// DW_OP_plus_uconst expression of DWARF 2); 0 when absent (unions).
std::optional<std::uint64_t> member_location(Dwarf_Die* member) {
    Dwarf_Attribute attr;
    if (dwarf_attr_integrate(member, DW_AT_data_member_location, &attr) == nullptr) return 0;
    Dwarf_Word value = 0;
    if (dwarf_formudata(&attr, &value) == 0) return value;
    Dwarf_Op* ops = nullptr;
    std::size_t n = 0;
    if (dwarf_getlocation(&attr, &ops, &n) == 0 && n == 1 && ops[0].atom == DW_OP_plus_uconst) return ops[0].number;
    return std::nullopt;
}

struct Resolved {
    std::uint64_t offset = 0;  // bytes from the outermost structure
    Dwarf_Die member{};
    std::optional<Dwarf_Die> type;
};

// A direct member of `aggregate` named `name`, looking through anonymous
// structures and unions.
std::optional<Resolved> find_member(Dwarf_Die aggregate, std::string_view name, std::uint64_t base, int depth) {
    if (depth > max_type_depth) return std::nullopt;
    Dwarf_Die child;
    if (dwarf_child(&aggregate, &child) != 0) return std::nullopt;
    do {
        if (dwarf_tag(&child) != DW_TAG_member) continue;
        const auto loc = member_location(&child);
        if (!loc) continue;
        const char* cname = dwarf_diename(&child);
        if (cname != nullptr && name == cname) return Resolved{base + *loc, child, type_of(&child)};
        if (cname == nullptr) {
            const auto t = type_of(&child);
            const auto p = t ? peeled(*t) : std::nullopt;
            if (p) {
                Dwarf_Die inner = *p;
                if (is_aggregate(dwarf_tag(&inner)))
                    if (auto r = find_member(inner, name, base + *loc, depth + 1)) return r;
            }
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return std::nullopt;
}

std::optional<MemberLayout> resolve_path(Dwarf_Die structure, const MemberRequest& want, bool little_endian) {
    Dwarf_Die current = structure;
    std::uint64_t base = 0;
    std::string_view rest = want.path;
    for (int depth = 0; depth < max_type_depth; ++depth) {
        const auto dot = rest.find('.');
        const std::string_view part = rest.substr(0, dot);
        const auto r = find_member(current, part, base, 0);
        if (!r) return std::nullopt;
        if (dot == std::string_view::npos) {
            MemberLayout m{.name = want.path, .offset = r->offset};
            Dwarf_Die member = r->member;
            if (r->type) {
                if (const auto size = type_size(*r->type)) m.size = *size;
                m.count = array_count(*r->type);
            }
            m.type = describe(r->type);
            m.meaning = want.meaning;
            const int bits = dwarf_bitsize(&member);
            if (bits > 0) {
                m.bit_size = static_cast<unsigned>(bits);
                Dwarf_Attribute attr;
                Dwarf_Word v = 0;
                std::uint64_t bit_offset = 0;
                if (dwarf_attr_integrate(&member, DW_AT_data_bit_offset, &attr) != nullptr &&
                    dwarf_formudata(&attr, &v) == 0) {
                    // Counted from the start of the aggregate that holds the member,
                    // which is where a member without a byte location sits.
                    bit_offset = r->offset * 8 + v;
                } else {
                    // DWARF 2/3: bit_offset counts from the most significant
                    // bit of a storage unit of byte_size at the member's location.
                    const int off = dwarf_bitoffset(&member);
                    const int unit = dwarf_bytesize(&member);
                    if (off < 0 || unit <= 0) return std::nullopt;
                    bit_offset = r->offset * 8 + (little_endian ? static_cast<std::uint64_t>(unit) * 8 - off - bits
                                                                : static_cast<std::uint64_t>(off));
                }
                m.bit_offset = bit_offset;
                m.offset = bit_offset / 8;
                m.size = (bit_offset % 8 + m.bit_size + 7) / 8;
            }
            if (r->type && flexible_array(*r->type)) {
                m.size = 0;
                m.count = 0;
            } else if (m.size == 0) {
                return std::nullopt;
            }
            return m;
        }
        if (!r->type) return std::nullopt;
        const auto p = peeled(*r->type);
        if (!p) return std::nullopt;
        current = *p;
        if (!is_aggregate(dwarf_tag(&current))) return std::nullopt;
        base = r->offset;
        rest = rest.substr(dot + 1);
    }
    return std::nullopt;
}

}  // namespace

StructLayouts read_dwarf_layouts(const std::string& path, const LayoutRequest& request) {
    const DwarfFile file(path);
    std::set<std::string, std::less<>> wanted;
    for (const auto& s : request.structs)
        wanted.insert(s.name);

    // Complete definitions of the wanted structures, by name.
    std::map<std::string, Dwarf_Die, std::less<>> found;
    unsigned addr_size = 0;
    Dwarf_Off offset = 0;
    Dwarf_Off next = 0;
    std::size_t header_size = 0;
    while (found.size() < wanted.size() &&
           dwarf_nextcu(file.get(), offset, &next, &header_size, nullptr, nullptr, nullptr) == 0) {
        Dwarf_Die cu;
        if (dwarf_offdie(file.get(), offset + header_size, &cu) != nullptr) {
            Dwarf_Die die;
            if (dwarf_child(&cu, &die) == 0) {
                do {
                    if (!is_aggregate(dwarf_tag(&die)) || dwarf_hasattr(&die, DW_AT_declaration)) continue;
                    const char* name = dwarf_diename(&die);
                    if (name == nullptr || !wanted.contains(name) || found.contains(name)) continue;
                    found.emplace(name, die);
                    if (addr_size == 0) addr_size = address_size(&die);
                } while (dwarf_siblingof(&die, &die) == 0);
            }
        }
        offset = next;
    }

    StructLayouts out;
    const char* ident = elf_getident(dwarf_getelf(file.get()), nullptr);
    const bool little = ident == nullptr || ident[EI_DATA] != ELFDATA2MSB;
    out.order = little ? ByteOrder::little : ByteOrder::big;
    out.pointer_size = addr_size;
    out.source = fmt::format("DWARF in {}", path);
    out.derived = fmt::format("structure layouts read with libdw from the DWARF of {}", path);
    for (const auto& want : request.structs) {
        const auto it = found.find(want.name);
        if (it == found.end()) continue;
        Dwarf_Die die = it->second;
        StructLayout s{.name = want.name};
        Dwarf_Word size = 0;
        if (dwarf_aggregate_size(&die, &size) != 0) dwarf_fail(path, fmt::format("struct {} has no size", want.name));
        s.size = size;
        for (const auto& m : want.members) {
            if (auto layout = resolve_path(die, m, little)) s.members.push_back(std::move(*layout));
        }
        std::stable_sort(s.members.begin(), s.members.end(),
                         [](const MemberLayout& a, const MemberLayout& b) { return a.offset < b.offset; });
        out.structs.emplace(want.name, std::move(s));
    }
    return out;
}

namespace detail {

bool has_dwarf(const elf::File& file) {
    return file.find_section(".debug_info") != nullptr;
}

StructLayouts read_dwarf(const std::string& path, const elf::File& file, const LayoutRequest& request) {
    StructLayouts l = read_dwarf_layouts(path, request);
    if (l.pointer_size == 0) l.pointer_size = file.elf_class() == elf::elfclass64 ? 8 : 4;
    return l;
}

}  // namespace detail

}  // namespace kvm
