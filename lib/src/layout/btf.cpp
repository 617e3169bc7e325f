// Structure layouts from BTF, parsed with libbpf (kvm/btf.h).
//
// libbpf's btf__new checks the section bounds and the size of every type
// record; it does not check that the type ids a record names exist, that
// names lie inside the string section, or that references end.  Every
// lookup here therefore goes through btf__type_by_id and
// btf__name_by_offset (both range-checked) and every walk along type
// references is bounded by max_type_depth.
#include <kvm/btf.h>
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/namelist.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace kvm::btf {

namespace {

// "<origin>: BTF: <what>".  The origin is a place in a dump or a section
// of a file; readers of files add the path.
[[noreturn]] void fail(std::string_view origin, const std::string& what) {
    Error e(ErrorKind::corrupt, fmt::format("BTF: {}", what));
    e.add_context(origin);
    throw e;
}

// libbpf reports why it refused a blob through its print callback; the last
// message of a parse is kept for the error instead of going to stderr.
thread_local std::string* libbpf_message = nullptr;

int capture_libbpf(enum libbpf_print_level /*level*/, const char* format, va_list args) {
    if (libbpf_message == nullptr) return 0;
    std::array<char, 512> buf{};
    const int n = std::vsnprintf(buf.data(), buf.size(), format, args);  // NOLINT(clang-analyzer-valist.Uninitialized)
    if (n <= 0) return 0;
    std::string text(buf.data(), std::min<std::size_t>(static_cast<std::size_t>(n), buf.size() - 1));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    if (text.starts_with("libbpf: ")) text.erase(0, 8);
    if (!text.empty()) *libbpf_message = std::move(text);
    return 0;
}

// btf__new with libbpf's messages captured, not printed.
struct btf* parse_with_libbpf(ByteSpan blob, std::string& message) {
    libbpf_message = &message;
    const libbpf_print_fn_t previous = libbpf_set_print(capture_libbpf);
    errno = 0;
    struct btf* b = btf__new(blob.data(), static_cast<std::uint32_t>(blob.size()));
    const int err = errno;
    libbpf_set_print(previous);
    libbpf_message = nullptr;
    errno = err;
    return b;
}

}  // namespace

// ---------------------------------------------------------------- header

Header check_header(ByteSpan blob, std::string_view origin) {
    if (blob.size() < header_size)
        fail(origin,
             fmt::format("truncated: the header needs {} bytes, but the blob has {}", header_size, blob.size()));
    if (blob.size() > max_blob_bytes)
        fail(origin, fmt::format("{} bytes, more than the {:#x} accepted", blob.size(), max_blob_bytes));
    Header h;
    const std::uint16_t le = load16(blob.data(), ByteOrder::little);
    if (le == magic) {
        h.order = ByteOrder::little;
    } else if (load16(blob.data(), ByteOrder::big) == magic) {
        h.order = ByteOrder::big;
    } else {
        fail(origin, fmt::format("bad magic {:#06x} (expected {:#06x}): not BTF data", le, magic));
    }
    Decoder d(blob, h.order, "BTF header");
    d.skip(2);
    h.version = d.u8();
    h.flags = d.u8();
    h.hdr_len = d.u32();
    h.type_off = d.u32();
    h.type_len = d.u32();
    h.str_off = d.u32();
    h.str_len = d.u32();
    if (h.version != version) {
        Error e(ErrorKind::unsupported, fmt::format("BTF: version {} (kvmkit reads version {})", h.version, version));
        e.add_context(origin);
        throw e;
    }
    if (h.flags != 0) fail(origin, fmt::format("header flags {:#x} (none are defined)", h.flags));
    if (h.hdr_len < header_size || h.hdr_len > blob.size())
        fail(origin, fmt::format("header length {} is not between {} and the blob's {} bytes", h.hdr_len, header_size,
                                 blob.size()));
    // libbpf reads a blob of the other byte order only with the version 1 header.
    const bool swapped = (h.order == ByteOrder::big) != (std::endian::native == std::endian::big);
    if (swapped && h.hdr_len != header_size)
        fail(origin, fmt::format("{}-endian BTF with a {}-byte header (libbpf reads the other byte order only with "
                                 "the {}-byte header)",
                                 to_string(h.order), h.hdr_len, header_size));
    const std::uint64_t data = blob.size() - h.hdr_len;
    const auto section = [&](std::string_view name, std::uint64_t off, std::uint64_t len) {
        if (off > data || len > data - off)
            fail(origin, fmt::format("{} section at offset {:#x}, length {:#x}, is outside the {:#x} bytes after the "
                                     "header",
                                     name, off, len, data));
    };
    section("type", h.type_off, h.type_len);
    section("string", h.str_off, h.str_len);
    if (h.type_off % 4 != 0)
        fail(origin, fmt::format("type section at offset {:#x} is not 4-byte aligned", h.type_off));
    if (std::uint64_t{h.type_off} + h.type_len > h.str_off)
        fail(origin, fmt::format("type section ({:#x}+{:#x}) runs into the string section at {:#x}", h.type_off,
                                 h.type_len, h.str_off));
    if (h.str_len == 0) fail(origin, "the string section is empty");
    const ByteSpan strings = blob.subspan(h.hdr_len + h.str_off, h.str_len);
    if (strings.front() != std::byte{0} || strings.back() != std::byte{0})
        fail(origin, "the string section does not start and end with NUL");
    return h;
}

// ---------------------------------------------------------------- types

struct Types::Impl {
    std::string origin;
    Header header;
    struct btf* btf = nullptr;
    std::uint32_t count = 0;

    ~Impl() { btf__free(btf); }

    [[noreturn]] void corrupt(std::uint32_t id, const std::string& what) const {
        fail(origin, fmt::format("type [{}]: {}", id, what));
    }

    const btf_type* type(std::uint32_t id, std::uint32_t from) const {
        if (id >= count)
            corrupt(from,
                    fmt::format("refers to type [{}], but there are only {} types", id, count == 0 ? 0 : count - 1));
        const btf_type* t = btf__type_by_id(btf, id);
        if (t == nullptr) corrupt(from, fmt::format("refers to type [{}], which libbpf cannot find", id));
        return t;
    }

    std::string_view name(std::uint32_t offset, std::uint32_t id) const {
        const char* n = btf__name_by_offset(btf, offset);
        if (n == nullptr)
            corrupt(id, fmt::format("name offset {:#x} is outside the {:#x} bytes of strings", offset, header.str_len));
        return n;
    }

    // Through typedefs, qualifiers and type tags to the type they name.
    std::uint32_t peel(std::uint32_t id) const {
        const std::uint32_t start = id;
        for (int depth = 0; depth <= max_type_depth; ++depth) {
            const btf_type* t = type(id, start);
            switch (btf_kind(t)) {
                case BTF_KIND_TYPEDEF:
                case BTF_KIND_CONST:
                case BTF_KIND_VOLATILE:
                case BTF_KIND_RESTRICT:
                case BTF_KIND_TYPE_TAG:
                    id = t->type;
                    continue;
                default:
                    return id;
            }
        }
        corrupt(start,
                fmt::format("more than {} typedefs and qualifiers in a row: the references loop", max_type_depth));
    }

    std::uint64_t size_of(std::uint32_t id, std::uint32_t from, int depth = 0) const {
        if (depth > max_type_depth)
            corrupt(from, fmt::format("its size needs more than {} steps through types: the references loop",
                                      max_type_depth));
        const btf_type* t = type(id, from);
        switch (btf_kind(t)) {
            case BTF_KIND_INT:
            case BTF_KIND_FLOAT:
            case BTF_KIND_ENUM:
            case BTF_KIND_ENUM64:
            case BTF_KIND_STRUCT:
            case BTF_KIND_UNION:
                return t->size;
            case BTF_KIND_PTR: {
                const std::size_t p = btf__pointer_size(btf);
                return p == 0 ? 8 : p;
            }
            case BTF_KIND_TYPEDEF:
            case BTF_KIND_CONST:
            case BTF_KIND_VOLATILE:
            case BTF_KIND_RESTRICT:
            case BTF_KIND_TYPE_TAG:
                return size_of(t->type, from, depth + 1);
            case BTF_KIND_ARRAY: {
                const struct btf_array* a = btf_array(t);
                return checked_mul(a->nelems, size_of(a->type, from, depth + 1), "BTF array size");
            }
            default:
                corrupt(from, fmt::format("type [{}] (kind {}) has no size", id, btf_kind(t)));
        }
    }

    // Elements of an array (all dimensions), 0 when not an array.
    std::uint64_t array_count(std::uint32_t id, std::uint32_t from) const {
        std::uint64_t n = 0;
        id = peel(id);
        for (int depth = 0; depth <= max_type_depth; ++depth) {
            const btf_type* t = type(id, from);
            if (btf_kind(t) != BTF_KIND_ARRAY) return n;
            const struct btf_array* a = btf_array(t);
            n = checked_mul(n == 0 ? 1 : n, a->nelems, "BTF array elements");
            id = peel(a->type);
        }
        corrupt(from, fmt::format("arrays nested more than {} deep: the references loop", max_type_depth));
    }

    std::string describe(std::uint32_t id, std::uint32_t from, int depth = 0) const {
        if (id == 0) return "void";
        if (depth > max_type_depth) return "...";
        const btf_type* t = type(id, from);
        const std::string_view n = name(t->name_off, id);
        const auto tagged = [&](std::string_view tag) {
            return n.empty() ? fmt::format("{} {{...}}", tag) : fmt::format("{} {}", tag, n);
        };
        switch (btf_kind(t)) {
            case BTF_KIND_INT:
            case BTF_KIND_FLOAT:
            case BTF_KIND_TYPEDEF:
                return std::string(n);
            case BTF_KIND_STRUCT:
                return tagged("struct");
            case BTF_KIND_UNION:
                return tagged("union");
            case BTF_KIND_ENUM:
            case BTF_KIND_ENUM64:
                return tagged("enum");
            case BTF_KIND_FWD:
                return tagged(btf_kflag(t) ? "union" : "struct");
            case BTF_KIND_FUNC_PROTO:
                return "function";
            case BTF_KIND_PTR: {
                const std::string inner = describe(t->type, from, depth + 1);
                return inner.ends_with('*') ? inner + "*" : inner + " *";
            }
            case BTF_KIND_CONST:
            case BTF_KIND_VOLATILE:
            case BTF_KIND_RESTRICT: {
                const char* q = btf_kind(t) == BTF_KIND_CONST      ? "const"
                                : btf_kind(t) == BTF_KIND_VOLATILE ? "volatile"
                                                                   : "restrict";
                const std::string inner = describe(t->type, from, depth + 1);
                return inner.ends_with('*') ? fmt::format("{} {}", inner, q) : fmt::format("{} {}", q, inner);
            }
            case BTF_KIND_TYPE_TAG:
                return describe(t->type, from, depth + 1);
            case BTF_KIND_ARRAY: {
                const struct btf_array* a = btf_array(t);
                if (a->nelems == 0) return fmt::format("{}[]", describe(a->type, from, depth + 1));
                return fmt::format("{}[{}]", describe(a->type, from, depth + 1), a->nelems);
            }
            default:
                return n.empty() ? "?" : std::string(n);
        }
    }

    struct Found {
        std::uint64_t bit_offset = 0;  // from the start of the outermost structure
        std::uint32_t type = 0;
        unsigned bitfield_size = 0;  // kflag encoding; 0 otherwise
    };

    // A direct member of the structure or union `id` named `wanted`, looking
    // through anonymous structures and unions.
    std::optional<Found> find_member(std::uint32_t id, std::string_view wanted, std::uint64_t base, int depth) const {
        if (depth > max_type_depth)
            corrupt(id, fmt::format("anonymous members nested more than {} deep: the references loop", max_type_depth));
        const btf_type* t = type(id, id);
        const btf_member* m = btf_members(t);
        for (std::uint16_t i = 0; i < btf_vlen(t); ++i, ++m) {
            const std::string_view n = name(m->name_off, id);
            const std::uint64_t at = base + btf_member_bit_offset(t, i);
            if (n == wanted) return Found{at, m->type, btf_member_bitfield_size(t, i)};
            if (!n.empty()) continue;
            const std::uint32_t inner = peel(m->type);
            const btf_type* it = type(inner, id);
            if (btf_is_composite(it))
                if (auto f = find_member(inner, wanted, at, depth + 1)) return f;
        }
        return std::nullopt;
    }

    std::optional<MemberLayout> resolve(std::uint32_t struct_id, const MemberRequest& want) const {
        std::uint32_t current = struct_id;
        std::uint64_t base = 0;
        std::string_view rest = want.path;
        for (int depth = 0; depth <= max_type_depth; ++depth) {
            const auto dot = rest.find('.');
            const auto f = find_member(current, rest.substr(0, dot), base, 0);
            if (!f) return std::nullopt;
            if (dot != std::string_view::npos) {
                if (f->bitfield_size != 0 || f->bit_offset % 8 != 0) return std::nullopt;
                current = peel(f->type);
                if (!btf_is_composite(type(current, struct_id))) return std::nullopt;
                base = f->bit_offset;
                rest = rest.substr(dot + 1);
                continue;
            }
            MemberLayout m{.name = want.path};
            m.type = describe(f->type, struct_id);
            m.meaning = want.meaning;
            std::uint64_t bit_offset = f->bit_offset;
            unsigned bit_size = f->bitfield_size;
            if (bit_size == 0) {
                // The older encoding: an int type narrower than its storage.
                const btf_type* it = type(peel(f->type), struct_id);
                if (btf_is_int(it) && (btf_int_bits(it) != it->size * 8 || btf_int_offset(it) != 0)) {
                    bit_offset += btf_int_offset(it);
                    bit_size = btf_int_bits(it);
                }
            }
            if (bit_size != 0) {
                if (bit_size > 64)
                    corrupt(struct_id, fmt::format("member {} is a bitfield of {} bits", want.path, bit_size));
                m.bit_offset = bit_offset;
                m.bit_size = bit_size;
                m.offset = bit_offset / 8;
                m.size = (bit_offset % 8 + bit_size + 7) / 8;
                return m;
            }
            if (bit_offset % 8 != 0)
                corrupt(struct_id, fmt::format("member {} is at bit {}, not on a byte", want.path, bit_offset));
            m.offset = bit_offset / 8;
            m.size = size_of(f->type, struct_id);
            m.count = array_count(f->type, struct_id);
            // A flexible array member ("struct upid numbers[]") has no size
            // and no elements: it is where its first element starts.
            if (m.size == 0 && !m.type.ends_with("[]")) return std::nullopt;
            return m;
        }
        return std::nullopt;
    }
};

Types::Types(ByteSpan blob, std::string origin) : impl_(std::make_unique<Impl>()) {
    impl_->origin = std::move(origin);
    impl_->header = check_header(blob, impl_->origin);
    std::string message;
    impl_->btf = parse_with_libbpf(blob, message);
    if (impl_->btf == nullptr) {
        const int err = errno;
        fail(impl_->origin, fmt::format("libbpf cannot parse it: {}", !message.empty() ? message
                                                                      : err != 0       ? std::strerror(err)
                                                                                       : "unknown error"));
    }
    impl_->count = btf__type_cnt(impl_->btf);
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
ByteOrder Types::order() const noexcept {
    return impl_->header.order;
}
std::uint32_t Types::type_count() const noexcept {
    return impl_->count;
}
unsigned Types::pointer_size() const noexcept {
    return static_cast<unsigned>(btf__pointer_size(impl_->btf));
}

std::optional<std::int64_t> Types::enumerator(std::string_view wanted) const {
    const Impl& b = *impl_;
    for (std::uint32_t id = 1; id < b.count; ++id) {
        const btf_type* t = b.type(id, id);
        if (btf_is_enum(t)) {
            const struct btf_enum* e = btf_enum(t);
            for (std::uint16_t i = 0; i < btf_vlen(t); ++i, ++e)
                if (b.name(e->name_off, id) == wanted) {
                    return btf_kflag(t) ? std::int64_t{e->val} : std::int64_t{static_cast<std::uint32_t>(e->val)};
                }
        } else if (btf_is_enum64(t)) {
            const struct btf_enum64* e = btf_enum64(t);
            for (std::uint16_t i = 0; i < btf_vlen(t); ++i, ++e)
                if (b.name(e->name_off, id) == wanted) return static_cast<std::int64_t>(btf_enum64_value(e));
        }
    }
    return std::nullopt;
}

StructLayouts Types::layouts(const LayoutRequest& request) const {
    const Impl& b = *impl_;
    StructLayouts out;
    out.order = b.header.order;
    out.pointer_size = pointer_size();
    out.source = fmt::format("BTF in {}", b.origin);
    out.derived = fmt::format("structure layouts read with libbpf from the BTF in {} ({} types)", b.origin,
                              b.count == 0 ? 0 : b.count - 1);
    for (const auto& want : request.structs) {
        const std::int32_t id = btf__find_by_name_kind(b.btf, want.name.c_str(), BTF_KIND_STRUCT);
        if (id <= 0) continue;
        const auto sid = static_cast<std::uint32_t>(id);
        StructLayout s{.name = want.name, .size = b.type(sid, sid)->size};
        for (const auto& m : want.members)
            if (auto layout = b.resolve(sid, m)) s.members.push_back(std::move(*layout));
        std::stable_sort(s.members.begin(), s.members.end(),
                         [](const MemberLayout& x, const MemberLayout& y) { return x.offset < y.offset; });
        out.structs.emplace(want.name, std::move(s));
    }
    // Enumerators are values the type information does have.
    for (const auto& v : request.values)
        if (const auto e = enumerator(v)) {
            out.values.push_back(NamedValue{.name = v,
                                            .value = static_cast<std::uint64_t>(*e),
                                            .meaning = fmt::format("enumerator in {}", out.source)});
        }
    return out;
}

// ---------------------------------------------------------------- where BTF is

Bytes read_kernel_blob(const Kernel& kernel) {
    const Namelist& namelist = kernel.namelist();
    const Symbol* start = namelist.symbols().find("__start_BTF");
    const Symbol* stop = namelist.symbols().find("__stop_BTF");
    if (start == nullptr || stop == nullptr) {
        Error e(ErrorKind::not_found,
                "no __start_BTF and __stop_BTF: the kernel was built without CONFIG_DEBUG_INFO_BTF and "
                "carries no type information of its own; give its vmlinux with debug information (-N) or a "
                "layout file (--layout)");
        e.with_path(namelist.path());
        throw e;
    }
    if (stop->value < start->value || stop->value - start->value > max_blob_bytes)
        throw_corrupt(fmt::format("__start_BTF {} and __stop_BTF {} do not bound a BTF blob of at most {:#x} bytes",
                                  hex(start->value), hex(stop->value), max_blob_bytes));
    Bytes blob(stop->value - start->value);
    try {
        kernel.read(start->value, blob);
    } catch (Error& e) {
        e.add_context(fmt::format("reading the kernel's BTF ({} bytes at {})", blob.size(), hex(start->value)));
        throw;
    }
    return blob;
}

StructLayouts read_btf_layouts(const std::string& path, const LayoutRequest& request) {
    const elf::File file(open_file(path));
    const elf::Section* s = file.find_section(".BTF");
    if (s == nullptr) {
        Error e(ErrorKind::not_found, "no .BTF section");
        e.with_path(path);
        throw e;
    }
    try {
        const Bytes data = file.section_data(*s);
        const Types types(data, ".BTF section");
        StructLayouts l = types.layouts(request);
        if (l.pointer_size == 0) l.pointer_size = file.elf_class() == elf::elfclass64 ? 8 : 4;
        l.source = fmt::format("BTF in {}", path);
        l.derived = fmt::format("structure layouts read with libbpf from the .BTF section of {} ({} types)", path,
                                types.type_count() - 1);
        return l;
    } catch (Error& e) {
        e.with_path(path);
        throw;
    }
}

}  // namespace kvm::btf

namespace kvm::detail {

bool has_btf(const elf::File& file) {
    return file.find_section(".BTF") != nullptr;
}

StructLayouts read_btf(const std::string& path, const elf::File& /*file*/, const LayoutRequest& request) {
    return btf::read_btf_layouts(path, request);
}

}  // namespace kvm::detail
