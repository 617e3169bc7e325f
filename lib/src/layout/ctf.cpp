// Structure layouts from CTF (kvm/ctf.h): the header, the body inflated
// when compressed, one pass over the type records to measure them, then
// lookups that check every id, name and member they touch.
#include <kvm/ctf.h>
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/io.h>

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <unordered_map>

namespace kvm::ctf {

namespace {

constexpr VersionInfo version2{2, 8, 0xffff, 0x3ff, 8192, 0x8000};
constexpr VersionInfo version3{4, 12, 0xffffffff, 0xffffff, 1ull << 29, 0x80000000};
constexpr std::uint32_t external_name = 0x80000000;  // a name reference into the ELF string table

// "<origin>: CTF: <what>".
[[noreturn]] void fail(std::string_view origin, const std::string& what) {
    Error e(ErrorKind::corrupt, fmt::format("CTF: {}", what));
    e.add_context(origin);
    throw e;
}

bool is_aggregate(Kind k) {
    return k == Kind::structure || k == Kind::union_;
}

bool is_reference(Kind k) {
    return k == Kind::typedef_ || k == Kind::volatile_ || k == Kind::const_ || k == Kind::restrict_;
}

// body = the inflated data: exactly `size` bytes or a corrupt error.
Bytes inflate_body(ByteSpan compressed, std::uint64_t size, std::string_view origin) {
    if (compressed.size() > UINT_MAX) fail(origin, fmt::format("{} bytes of compressed data", compressed.size()));
    Bytes out(size);
    z_stream zs{};
    if (::inflateInit(&zs) != Z_OK) throw Error(ErrorKind::io, "zlib: cannot initialise inflate");
    // zlib's interface is not const-correct; it does not write the input.
    zs.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(compressed.data()));  // NOLINT
    zs.avail_in = static_cast<uInt>(compressed.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(size);
    const int rc = ::inflate(&zs, Z_FINISH);
    const std::uint64_t got = zs.total_out;
    const std::string message = zs.msg != nullptr ? zs.msg : ::zError(rc);
    ::inflateEnd(&zs);
    if (rc == Z_STREAM_END && got == size) return out;
    if (rc == Z_STREAM_END)
        fail(origin,
             fmt::format("the compressed data inflates to {} bytes, but the header's sections need {}", got, size));
    if (rc == Z_BUF_ERROR && zs.avail_out == 0)
        fail(origin,
             fmt::format("the compressed data inflates to more than the {} bytes the header's sections need", size));
    fail(origin, fmt::format("the compressed data ({} bytes) does not inflate: {}", compressed.size(), message));
}

}  // namespace

const VersionInfo& version_info(unsigned version) {
    if (version == 2) return version2;
    if (version == 3) return version3;
    throw Error(ErrorKind::unsupported, fmt::format("CTF: version {} (kvmkit reads versions 2 and 3)", version));
}

// ---------------------------------------------------------------- header

Header check_header(ByteSpan section, std::string_view origin) {
    if (section.size() < header_size)
        fail(origin,
             fmt::format("truncated: the header needs {} bytes, but the section has {}", header_size, section.size()));
    Header h;
    const std::uint16_t le = load16(section.data(), ByteOrder::little);
    if (le == magic) {
        h.order = ByteOrder::little;
    } else if (load16(section.data(), ByteOrder::big) == magic) {
        h.order = ByteOrder::big;
    } else {
        fail(origin, fmt::format("bad magic {:#06x} (expected {:#06x}): not CTF data", le, magic));
    }
    Decoder d(section, h.order, "CTF header");
    d.skip(2);
    h.version = d.u8();
    h.flags = d.u8();
    h.parlabel = d.u32();
    h.parname = d.u32();
    h.lbloff = d.u32();
    h.objtoff = d.u32();
    h.funcoff = d.u32();
    h.typeoff = d.u32();
    h.stroff = d.u32();
    h.strlen = d.u32();
    try {
        (void)version_info(h.version);
    } catch (Error& e) {
        e.add_context(origin);
        throw;
    }
    if ((h.flags & ~flag_compress) != 0)
        fail(origin, fmt::format("header flags {:#x} (only {:#x}, compressed, is defined)", h.flags, flag_compress));
    if (h.lbloff > h.objtoff || h.objtoff > h.funcoff || h.funcoff > h.typeoff || h.typeoff > h.stroff)
        fail(origin, fmt::format("the sections are out of order: labels at {:#x}, objects at {:#x}, functions at "
                                 "{:#x}, types at {:#x}, strings at {:#x}",
                                 h.lbloff, h.objtoff, h.funcoff, h.typeoff, h.stroff));
    if (h.lbloff % 4 != 0 || h.typeoff % 4 != 0)
        fail(origin, fmt::format("the label section ({:#x}) or the type section ({:#x}) is not 4-byte aligned",
                                 h.lbloff, h.typeoff));
    const std::uint64_t size = std::uint64_t{h.stroff} + h.strlen;
    if (size > max_data_bytes)
        fail(origin,
             fmt::format("the sections end at {:#x}, more than the {:#x} bytes accepted", size, max_data_bytes));
    if (!h.compressed() && size > section.size() - header_size)
        fail(origin, fmt::format("truncated: the sections end at {:#x}, but the section has {:#x} bytes after the "
                                 "header",
                                 size, section.size() - header_size));
    return h;
}

// ---------------------------------------------------------------- types

struct Types::Impl {
    std::string origin;
    Header header;
    const VersionInfo* v = nullptr;
    unsigned pointer_size = 0;
    Bytes data;      // the sections after the header (inflated)
    Bytes external;  // the ELF string table
    ByteSpan types, strings;
    std::vector<std::uint32_t> offsets;  // record of id n at offsets[n - 1] in `types`
    bool child = false;                  // a child container: its own ids carry the child bit
    // Root structures and unions by name (the first definition wins).
    std::unordered_map<std::string_view, std::uint32_t> structs, unions;

    struct Record {
        std::uint32_t id = 0;
        std::uint32_t name = 0;
        Kind kind = Kind::unknown;
        bool root = false;
        std::uint32_t vlen = 0;
        std::uint64_t size_or_type = 0;  // a size, or a type id, by kind
        std::size_t data = 0;            // where the kind's data starts in `types`
    };

    struct Member {
        std::uint32_t name = 0;
        std::uint32_t type = 0;
        std::uint64_t bit_offset = 0;
    };

    [[noreturn]] void corrupt(std::uint32_t id, const std::string& what) const {
        fail(origin, fmt::format("type [{}]: {}", id, what));
    }

    std::uint32_t id_of(std::size_t index) const {
        return static_cast<std::uint32_t>(index) | (child ? v->child_bit : 0);
    }

    // The head of the record at `offset` (its end is checked by the caller).
    Record decode_head(std::size_t offset, std::uint32_t id) const {
        Decoder d(types.subspan(offset), header.order, "CTF type record");
        Record r;
        r.id = id;
        r.name = d.u32();
        std::uint32_t info = 0;
        if (v->id_width == 2) {
            info = d.u16();
            r.size_or_type = d.u16();
            r.kind = static_cast<Kind>(info >> 11);
            r.root = ((info >> 10) & 1) != 0;
        } else {
            info = d.u32();
            r.size_or_type = d.u32();
            r.kind = static_cast<Kind>(info >> 26);
            r.root = ((info >> 25) & 1) != 0;
        }
        r.vlen = info & v->max_vlen;
        if (r.size_or_type == v->size_sentinel) {
            const std::uint64_t hi = d.u32();
            r.size_or_type = (hi << 32) | d.u32();
        }
        r.data = offset + d.offset();
        return r;
    }

    bool large_members(const Record& r) const { return r.size_or_type >= v->lstruct_thresh; }

    // Bytes of kind-specific data after the head.
    std::uint64_t data_size(const Record& r) const {
        switch (r.kind) {
            case Kind::unknown:
            case Kind::pointer:
            case Kind::forward:
            case Kind::typedef_:
            case Kind::volatile_:
            case Kind::const_:
            case Kind::restrict_:
                return 0;
            case Kind::integer:
            case Kind::floating:
                return 4;
            case Kind::array:
                return 2ull * v->id_width + 4;
            case Kind::function:
                return align_up(std::uint64_t{r.vlen} * v->id_width, 4);
            case Kind::structure:
            case Kind::union_:
                return std::uint64_t{r.vlen} * (large_members(r) ? 16 : v->head_size);
            case Kind::enumeration:
                return std::uint64_t{r.vlen} * 8;
        }
        corrupt(r.id, fmt::format("unknown kind {}", static_cast<unsigned>(r.kind)));
    }

    void index_types() {
        const std::uint64_t max_types = v->child_bit - 1;
        std::size_t at = 0;
        // Every record is at least 8 bytes: the list is bounded by the section.
        offsets.reserve(types.size() / 8);
        while (at < types.size()) {
            if (offsets.size() >= max_types)
                fail(origin, fmt::format("more than {} types in a version {} container", max_types, header.version));
            const std::uint32_t id = id_of(offsets.size() + 1);
            Record r;
            try {
                r = decode_head(at, id);
            } catch (Error& e) {
                e.add_context(fmt::format("type [{}] at offset {:#x} of the type section", id, at));
                e.add_context(origin);
                throw;
            }
            const std::uint64_t end = r.data + data_size(r);
            if (end > types.size())
                corrupt(id, fmt::format("its record ({} bytes at offset {:#x}) runs past the {:#x}-byte type section",
                                        end - at, at, types.size()));
            offsets.push_back(static_cast<std::uint32_t>(at));
            if (r.root && is_aggregate(r.kind)) {
                const std::string_view n = name(r.name, id);
                if (!n.empty()) (r.kind == Kind::structure ? structs : unions).emplace(n, id);
            }
            at = end;
        }
    }

    std::string_view name(std::uint32_t ref, std::uint32_t id) const {
        const bool ext = (ref & external_name) != 0;
        const std::uint32_t offset = ref & ~external_name;
        const ByteSpan table = ext ? ByteSpan(external) : strings;
        if (!ext && offset == 0) return {};
        if (offset >= table.size())
            corrupt(id, fmt::format("name offset {:#x} is outside the {:#x} bytes of the {} string table", offset,
                                    table.size(), ext ? "ELF" : "CTF"));
        const auto* begin = reinterpret_cast<const char*>(table.data()) + offset;
        const auto* nul = static_cast<const char*>(std::memchr(begin, 0, table.size() - offset));
        if (nul == nullptr) corrupt(id, fmt::format("name at offset {:#x} is not NUL-terminated", offset));
        return {begin, static_cast<std::size_t>(nul - begin)};
    }

    Record record(std::uint64_t id, std::uint32_t from) const {
        const bool has_child_bit = (id & v->child_bit) != 0;
        if (has_child_bit != child)
            corrupt(from, fmt::format("refers to type [{}], which is in a {} container this one does not have", id,
                                      has_child_bit ? "child" : "parent"));
        const std::uint64_t index = id & ~std::uint64_t{v->child_bit};
        if (index == 0 || index > offsets.size())
            corrupt(from, fmt::format("refers to type [{}], but there are only {} types", id, offsets.size()));
        return decode_head(offsets[index - 1], static_cast<std::uint32_t>(id));
    }

    Member member(const Record& r, std::uint32_t i) const {
        const bool large = large_members(r);
        const std::size_t size = large ? 16 : v->head_size;
        Decoder d(types.subspan(r.data + std::size_t{i} * size, size), header.order, "CTF member");
        Member m;
        m.name = d.u32();
        m.type = static_cast<std::uint32_t>(d.uint(v->id_width));
        if (!large) {
            m.bit_offset = d.uint(v->id_width);
        } else {
            if (v->id_width == 2) d.skip(2);
            const std::uint64_t hi = d.u32();
            m.bit_offset = (hi << 32) | d.u32();
        }
        return m;
    }

    struct ArrayInfo {
        std::uint32_t contents = 0;
        std::uint32_t nelems = 0;
    };
    ArrayInfo array(const Record& r) const {
        Decoder d(types.subspan(r.data, 2ull * v->id_width + 4), header.order, "CTF array");
        ArrayInfo a;
        a.contents = static_cast<std::uint32_t>(d.uint(v->id_width));
        d.skip(v->id_width);  // the index type
        a.nelems = d.u32();
        return a;
    }

    // A forward declaration's definition, when the container has one.
    std::uint64_t defined(const Record& r) const {
        if (r.kind != Kind::forward) return r.id;
        const std::string_view n = name(r.name, r.id);
        const auto& table = r.size_or_type == static_cast<std::uint64_t>(Kind::union_) ? unions : structs;
        const auto it = table.find(n);
        return it == table.end() ? r.id : it->second;
    }

    // Through typedefs, qualifiers and forward declarations to the type they name.
    Record peel(std::uint64_t id, std::uint32_t from) const {
        for (int depth = 0; depth <= max_type_depth; ++depth) {
            const Record r = record(id, from);
            if (is_reference(r.kind)) {
                id = r.size_or_type;
                continue;
            }
            const std::uint64_t def = defined(r);
            if (def == r.id) return r;
            id = def;
        }
        corrupt(from, fmt::format("more than {} typedefs, qualifiers and forward declarations in a row: the "
                                  "references loop",
                                  max_type_depth));
    }

    std::uint64_t size_of(std::uint64_t id, std::uint32_t from, int depth = 0) const {
        if (depth > max_type_depth)
            corrupt(from, fmt::format("its size needs more than {} steps through types: the references loop",
                                      max_type_depth));
        const Record r = peel(id, from);
        switch (r.kind) {
            case Kind::integer:
            case Kind::floating:
            case Kind::structure:
            case Kind::union_:
            case Kind::enumeration:
                return r.size_or_type;
            case Kind::pointer:
                return pointer_size;
            case Kind::array: {
                const ArrayInfo a = array(r);
                return checked_mul(a.nelems, size_of(a.contents, from, depth + 1), "CTF array size");
            }
            case Kind::forward:
                corrupt(from, fmt::format("type [{}] declares {} but the container does not define it: it has no size",
                                          r.id, name(r.name, r.id)));
            default:
                corrupt(from, fmt::format("type [{}] (kind {}) has no size", r.id, static_cast<unsigned>(r.kind)));
        }
    }

    // Elements of an array (all dimensions), 0 when not an array.
    std::uint64_t array_count(std::uint64_t id, std::uint32_t from) const {
        std::uint64_t n = 0;
        for (int depth = 0; depth <= max_type_depth; ++depth) {
            const Record r = peel(id, from);
            if (r.kind != Kind::array) return n;
            const ArrayInfo a = array(r);
            n = checked_mul(n == 0 ? 1 : n, a.nelems, "CTF array elements");
            id = a.contents;
        }
        corrupt(from, fmt::format("arrays nested more than {} deep: the references loop", max_type_depth));
    }

    std::string describe(std::uint64_t id, std::uint32_t from, int depth = 0) const {
        if (id == 0) return "void";
        if (depth > max_type_depth) return "...";
        const Record r = record(id, from);
        const std::string_view n = name(r.name, r.id);
        const auto tagged = [&](std::string_view tag) {
            return n.empty() ? fmt::format("{} {{...}}", tag) : fmt::format("{} {}", tag, n);
        };
        switch (r.kind) {
            case Kind::integer:
            case Kind::floating:
            case Kind::typedef_:
                return std::string(n);
            case Kind::structure:
                return tagged("struct");
            case Kind::union_:
                return tagged("union");
            case Kind::enumeration:
                return tagged("enum");
            case Kind::forward:
                return tagged(r.size_or_type == static_cast<std::uint64_t>(Kind::union_)        ? "union"
                              : r.size_or_type == static_cast<std::uint64_t>(Kind::enumeration) ? "enum"
                                                                                                : "struct");
            case Kind::function:
                return "function";
            case Kind::pointer: {
                const std::string inner = describe(r.size_or_type, from, depth + 1);
                return inner.ends_with('*') ? inner + "*" : inner + " *";
            }
            case Kind::volatile_:
            case Kind::const_:
            case Kind::restrict_: {
                const char* q = r.kind == Kind::const_ ? "const" : r.kind == Kind::volatile_ ? "volatile" : "restrict";
                const std::string inner = describe(r.size_or_type, from, depth + 1);
                return inner.ends_with('*') ? fmt::format("{} {}", inner, q) : fmt::format("{} {}", q, inner);
            }
            case Kind::array: {
                const ArrayInfo a = array(r);
                if (a.nelems == 0) return fmt::format("{}[]", describe(a.contents, from, depth + 1));
                return fmt::format("{}[{}]", describe(a.contents, from, depth + 1), a.nelems);
            }
            default:
                return n.empty() ? "?" : std::string(n);
        }
    }

    struct Found {
        std::uint64_t bit_offset = 0;  // from the start of the outermost structure
        std::uint32_t type = 0;
    };

    // A direct member of the structure or union `r` named `wanted`, looking
    // through anonymous structures and unions.
    std::optional<Found> find_member(const Record& r, std::string_view wanted, std::uint64_t base, int depth) const {
        if (depth > max_type_depth)
            corrupt(r.id,
                    fmt::format("anonymous members nested more than {} deep: the references loop", max_type_depth));
        for (std::uint32_t i = 0; i < r.vlen; ++i) {
            const Member m = member(r, i);
            const std::string_view n = name(m.name, r.id);
            const std::uint64_t at = checked_add(base, m.bit_offset, "CTF member offset");
            if (n == wanted) return Found{at, m.type};
            if (!n.empty()) continue;
            const Record inner = peel(m.type, r.id);
            if (is_aggregate(inner.kind))
                if (auto f = find_member(inner, wanted, at, depth + 1)) return f;
        }
        return std::nullopt;
    }

    std::optional<MemberLayout> resolve(const Record& structure, const MemberRequest& want) const {
        Record current = structure;
        std::uint64_t base = 0;
        std::string_view rest = want.path;
        for (int depth = 0; depth <= max_type_depth; ++depth) {
            const auto dot = rest.find('.');
            const auto f = find_member(current, rest.substr(0, dot), base, 0);
            if (!f) return std::nullopt;
            const Record type = peel(f->type, structure.id);
            if (dot != std::string_view::npos) {
                if (f->bit_offset % 8 != 0 || !is_aggregate(type.kind)) return std::nullopt;
                current = type;
                base = f->bit_offset;
                rest = rest.substr(dot + 1);
                continue;
            }
            MemberLayout m{.name = want.path};
            m.type = describe(f->type, structure.id);
            m.meaning = want.meaning;
            if (type.kind == Kind::integer) {
                // A bit-field is an integer narrower than its storage, or
                // one that starts inside it (ctf.h's CTF_INT_OFFSET).
                const std::uint32_t encoding = load32(types.data() + type.data, header.order);
                const unsigned bits = encoding & 0xffff;
                const unsigned offset = (encoding >> 16) & 0xff;
                if (bits != type.size_or_type * 8 || offset != 0) {
                    if (bits == 0 || bits > 64)
                        corrupt(structure.id, fmt::format("member {} is a bit-field of {} bits", want.path, bits));
                    m.bit_offset = checked_add(f->bit_offset, offset, "CTF bit-field offset");
                    m.bit_size = bits;
                    m.offset = m.bit_offset / 8;
                    m.size = (m.bit_offset % 8 + bits + 7) / 8;
                    return m;
                }
            }
            if (f->bit_offset % 8 != 0)
                corrupt(structure.id, fmt::format("member {} is at bit {}, not on a byte", want.path, f->bit_offset));
            m.offset = f->bit_offset / 8;
            m.size = size_of(f->type, structure.id);
            m.count = array_count(f->type, structure.id);
            // A flexible array member has no size: it is where its first element starts.
            if (m.size == 0 && !m.type.ends_with("[]")) return std::nullopt;
            return m;
        }
        return std::nullopt;
    }
};

Types::Types(ByteSpan section, std::string origin, unsigned pointer_size, ByteSpan external_strings)
    : impl_(std::make_unique<Impl>()) {
    Impl& t = *impl_;
    t.origin = std::move(origin);
    t.header = check_header(section, t.origin);
    t.v = &version_info(t.header.version);
    if (pointer_size != 4 && pointer_size != 8)
        throw Error(ErrorKind::usage, fmt::format("CTF: a pointer size of {} bytes (4 or 8)", pointer_size));
    t.pointer_size = pointer_size;
    t.child = t.header.parname != 0;
    const std::uint64_t size = std::uint64_t{t.header.stroff} + t.header.strlen;
    const ByteSpan body = section.subspan(header_size);
    if (t.header.compressed()) {
        t.data = inflate_body(body, size, t.origin);
    } else {
        t.data.assign(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(size));
    }
    if (external_strings.size() > max_data_bytes)
        fail(t.origin, fmt::format("the ELF string table has {:#x} bytes, more than the {:#x} accepted",
                                   external_strings.size(), max_data_bytes));
    t.external.assign(external_strings.begin(), external_strings.end());
    const ByteSpan all(t.data);
    t.types = all.subspan(t.header.typeoff, t.header.stroff - t.header.typeoff);
    t.strings = all.subspan(t.header.stroff, t.header.strlen);
    t.index_types();
}

Types::~Types() = default;
Types::Types(Types&&) noexcept = default;
Types& Types::operator=(Types&&) noexcept = default;

const std::string& Types::origin() const noexcept {
    return impl_->origin;
}
const Header& Types::header() const noexcept {
    return impl_->header;
}
std::uint32_t Types::type_count() const noexcept {
    return static_cast<std::uint32_t>(impl_->offsets.size());
}

std::optional<std::int64_t> Types::enumerator(std::string_view wanted) const {
    const Impl& t = *impl_;
    for (std::size_t index = 1; index <= t.offsets.size(); ++index) {
        const Impl::Record r = t.record(t.id_of(index), t.id_of(index));
        if (r.kind != Kind::enumeration) continue;
        Decoder d(t.types.subspan(r.data, std::size_t{r.vlen} * 8), t.header.order, "CTF enumerators");
        for (std::uint32_t i = 0; i < r.vlen; ++i) {
            const std::uint32_t n = d.u32();
            const auto value = static_cast<std::int32_t>(d.u32());
            if (t.name(n, r.id) == wanted) return value;
        }
    }
    return std::nullopt;
}

StructLayouts Types::layouts(const LayoutRequest& request) const {
    const Impl& t = *impl_;
    StructLayouts out;
    out.order = t.header.order;
    out.pointer_size = t.pointer_size;
    out.source = fmt::format("CTF in {}", t.origin);
    out.derived = fmt::format("structure layouts read by kvmkit's CTF reader from {} (version {}, {} types)", t.origin,
                              t.header.version, t.offsets.size());
    for (const auto& want : request.structs) {
        const auto it = t.structs.find(want.name);
        if (it == t.structs.end()) continue;
        const Impl::Record r = t.record(it->second, it->second);
        StructLayout s{.name = want.name, .size = r.size_or_type};
        for (const auto& m : want.members)
            if (auto layout = t.resolve(r, m)) s.members.push_back(std::move(*layout));
        std::stable_sort(s.members.begin(), s.members.end(),
                         [](const MemberLayout& x, const MemberLayout& y) { return x.offset < y.offset; });
        out.structs.emplace(want.name, std::move(s));
    }
    for (const auto& v : request.values)
        if (const auto e = enumerator(v)) {
            out.values.push_back(NamedValue{.name = v,
                                            .value = static_cast<std::uint64_t>(*e),
                                            .meaning = fmt::format("enumerator in {}", out.source)});
        }
    return out;
}

// ---------------------------------------------------------------- ELF files

StructLayouts read_ctf_layouts(const std::string& path, const LayoutRequest& request) {
    const elf::File file(open_file(path));
    const elf::Section* s = file.find_section(".SUNW_ctf");
    if (s == nullptr) {
        Error e(ErrorKind::not_found, "no .SUNW_ctf section");
        e.with_path(path);
        throw e;
    }
    try {
        if (s->size > max_data_bytes)
            fail(".SUNW_ctf section",
                 fmt::format("{:#x} bytes, more than the {:#x} accepted", s->size, max_data_bytes));
        const Bytes data = file.section_data(*s);
        Bytes strtab;
        for (const elf::Section& sym : file.sections()) {
            if (sym.type != elf::sht_symtab || sym.link >= file.sections().size()) continue;
            const elf::Section& str = file.sections()[sym.link];
            if (str.type == elf::sht_strtab && str.size <= max_data_bytes) strtab = file.section_data(str);
            break;
        }
        const Types types(data, ".SUNW_ctf section", file.elf_class() == elf::elfclass64 ? 8 : 4, strtab);
        StructLayouts l = types.layouts(request);
        l.source = fmt::format("CTF in {}", path);
        l.derived = fmt::format(
            "structure layouts read by kvmkit's CTF reader from the .SUNW_ctf section of {} "
            "(version {}, {} types)",
            path, types.header().version, types.type_count());
        return l;
    } catch (Error& e) {
        e.with_path(path);
        throw;
    }
}

}  // namespace kvm::ctf

namespace kvm::detail {

bool has_ctf(const elf::File& file) {
    return file.find_section(".SUNW_ctf") != nullptr;
}

StructLayouts read_ctf(const std::string& path, const elf::File& /*file*/, const LayoutRequest& request) {
    return ctf::read_ctf_layouts(path, request);
}

}  // namespace kvm::detail
