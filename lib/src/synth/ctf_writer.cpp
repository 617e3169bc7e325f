// CTF containers written type by type (kvm/synth_ctf.h), in the record
// formats of kvm/ctf.h.
#include <kvm/error.h>
#include <kvm/synth_ctf.h>

#include <fmt/format.h>
#include <zlib.h>

#include <map>

namespace kvm::synth {

namespace {

unsigned version_checked(unsigned version) {
    (void)ctf::version_info(version);
    return version;
}

}  // namespace

CtfWriter::CtfWriter(unsigned version, ByteOrder order)
    : v_(ctf::version_info(version)), version_(version_checked(version)), order_(order), types_(order) {
    strings_.push_back('\0');
}

std::uint32_t CtfWriter::next_id() const {
    return count_ + 1;
}

std::uint32_t CtfWriter::name(std::string_view text) {
    if (text.empty()) return 0;
    std::string key(text);
    key.push_back('\0');
    if (const auto at = strings_.find(key); at != std::string::npos && (at == 0 || strings_[at - 1] == '\0'))
        return static_cast<std::uint32_t>(at);
    const auto at = static_cast<std::uint32_t>(strings_.size());
    strings_ += key;
    return at;
}

void CtfWriter::id(std::uint64_t v) {
    types_.uint(v, v_.id_width);
}

std::uint32_t CtfWriter::head(std::string_view text, ctf::Kind kind, std::uint32_t vlen, std::uint64_t size_or_type,
                              bool root) {
    if (vlen > v_.max_vlen) throw Error(ErrorKind::usage, fmt::format("CTF: vlen {} is over {}", vlen, v_.max_vlen));
    types_.u32(name(text));
    const auto k = static_cast<std::uint32_t>(kind);
    const bool large = size_or_type >= v_.size_sentinel;
    if (v_.id_width == 2) {
        types_.u16(static_cast<std::uint16_t>((k << 11) | (root ? 1u << 10 : 0u) | vlen));
        types_.u16(static_cast<std::uint16_t>(large ? v_.size_sentinel : size_or_type));
    } else {
        types_.u32((k << 26) | (root ? 1u << 25 : 0u) | vlen);
        types_.u32(static_cast<std::uint32_t>(large ? v_.size_sentinel : size_or_type));
    }
    if (large) {
        types_.u32(static_cast<std::uint32_t>(size_or_type >> 32));
        types_.u32(static_cast<std::uint32_t>(size_or_type));
    }
    return ++count_;
}

std::uint32_t CtfWriter::integer(std::string_view text, std::uint64_t size, unsigned bits, unsigned bit_offset,
                                 unsigned encoding) {
    const std::uint32_t t = head(text, ctf::Kind::integer, 0, size);
    types_.u32((encoding << 24) | (bit_offset << 16) | bits);
    return t;
}

std::uint32_t CtfWriter::pointer(std::uint32_t target) {
    return head("", ctf::Kind::pointer, 0, target);
}

std::uint32_t CtfWriter::typedef_(std::string_view text, std::uint32_t target) {
    return head(text, ctf::Kind::typedef_, 0, target);
}

std::uint32_t CtfWriter::qualifier(ctf::Kind kind, std::uint32_t target) {
    return head("", kind, 0, target);
}

std::uint32_t CtfWriter::forward(std::string_view text, ctf::Kind tag) {
    return head(text, ctf::Kind::forward, 0, static_cast<std::uint64_t>(tag));
}

std::uint32_t CtfWriter::array(std::uint32_t contents, std::uint32_t index, std::uint32_t nelems) {
    const std::uint32_t t = head("", ctf::Kind::array, 0, 0);
    id(contents);
    id(index);
    types_.u32(nelems);
    return t;
}

std::uint32_t CtfWriter::structure(std::string_view text, std::uint64_t size, const std::vector<Member>& members,
                                   bool is_union, bool root) {
    const std::uint32_t t = head(text, is_union ? ctf::Kind::union_ : ctf::Kind::structure,
                                 static_cast<std::uint32_t>(members.size()), size, root);
    const bool large = size >= v_.lstruct_thresh;
    for (const Member& m : members) {
        types_.u32(name(m.name));
        id(m.type);
        if (!large) {
            id(m.bit_offset);
        } else {
            if (v_.id_width == 2) types_.u16(0);
            types_.u32(static_cast<std::uint32_t>(m.bit_offset >> 32));
            types_.u32(static_cast<std::uint32_t>(m.bit_offset));
        }
    }
    return t;
}

std::uint32_t CtfWriter::enumeration(std::string_view text, std::uint64_t size,
                                     const std::vector<std::pair<std::string, std::int32_t>>& values) {
    const std::uint32_t t = head(text, ctf::Kind::enumeration, static_cast<std::uint32_t>(values.size()), size);
    for (const auto& [n, value] : values) {
        types_.u32(name(n));
        types_.u32(static_cast<std::uint32_t>(value));
    }
    return t;
}

std::uint32_t CtfWriter::function(std::uint32_t result, const std::vector<std::uint32_t>& args) {
    const std::uint32_t t = head("", ctf::Kind::function, static_cast<std::uint32_t>(args.size()), result);
    for (const std::uint32_t a : args)
        id(a);
    types_.pad_to(4);
    return t;
}

std::uint32_t CtfWriter::raw(ByteSpan record) {
    types_.bytes(record);
    return ++count_;
}

Bytes CtfWriter::build(bool compress, std::string_view parent_name) const {
    // Labels, objects and functions are empty: nothing here reads them.
    Encoder body(order_);
    const auto typeoff = static_cast<std::uint32_t>(body.size());
    body.bytes(types_.data());
    const auto stroff = static_cast<std::uint32_t>(body.size());
    std::string strings = strings_;
    std::uint32_t parname = 0;
    if (!parent_name.empty()) {
        parname = static_cast<std::uint32_t>(strings.size());
        strings += std::string(parent_name) + '\0';
    }
    body.string(strings);

    Encoder out(order_);
    out.u16(ctf::magic).u8(static_cast<std::uint8_t>(version_)).u8(compress ? ctf::flag_compress : 0);
    out.u32(0).u32(parname);
    out.u32(typeoff).u32(typeoff).u32(typeoff).u32(typeoff).u32(stroff).u32(static_cast<std::uint32_t>(strings.size()));
    if (!compress) {
        out.bytes(body.data());
        return out.take();
    }
    uLongf packed = ::compressBound(static_cast<uLong>(body.size()));
    Bytes z(packed);
    if (::compress2(reinterpret_cast<Bytef*>(z.data()), &packed, reinterpret_cast<const Bytef*>(body.data().data()),
                    static_cast<uLong>(body.size()), Z_BEST_COMPRESSION) != Z_OK)
        throw Error(ErrorKind::io, "zlib: cannot compress the CTF body");
    z.resize(packed);
    out.bytes(z);
    return out.take();
}

// ---------------------------------------------------------------- from layouts

namespace {

// Members of one structure level: direct members by name, and nested
// structures by the first part of their paths.
struct Level {
    std::vector<const MemberLayout*> leaves;
    std::map<std::string, std::vector<std::pair<std::string, const MemberLayout*>>> nested;
};

class LayoutCtf {
public:
    LayoutCtf(CtfWriter& w, unsigned pointer_size) : w_(w), pointer_size_(pointer_size) {}

    std::uint32_t integer_of(std::uint64_t size) {
        if (auto it = ints_.find(size); it != ints_.end()) return it->second;
        const std::uint32_t t = size == 1 ? w_.integer("char", 1, 8, 0, 3)
                                          : w_.integer(fmt::format("uint{}_t", size * 8), size, size * 8, 0, 0);
        return ints_.emplace(size, t).first->second;
    }

    std::uint32_t leaf_type(const MemberLayout& m) {
        if (m.is_bitfield()) return w_.integer("unsigned int", 4, m.bit_size, 0, 0);
        if (m.count > 0) {
            const std::uint64_t elem = m.size / m.count;
            const bool pointers = m.type.find('*') != std::string::npos;
            const std::uint32_t e = pointers && elem == pointer_size_ ? w_.pointer(0) : integer_of(elem);
            return w_.array(e, integer_of(4), static_cast<std::uint32_t>(m.count));
        }
        if (m.type.ends_with('*') && m.size == pointer_size_) return w_.pointer(0);
        if (m.size == 1 || m.size == 2 || m.size == 4 || m.size == 8) return integer_of(m.size);
        return w_.array(integer_of(1), integer_of(4), static_cast<std::uint32_t>(m.size));
    }

    // A structure of the members given as (path relative to it, layout),
    // starting at byte `base` of the outermost one.
    std::uint32_t level(std::string_view tag, std::uint64_t size, std::uint64_t base,
                        const std::vector<std::pair<std::string, const MemberLayout*>>& members) {
        std::vector<CtfWriter::Member> out;
        std::map<std::string, std::vector<std::pair<std::string, const MemberLayout*>>> nested;
        for (const auto& [path, m] : members) {
            const auto dot = path.find('.');
            if (dot == std::string::npos) {
                const std::uint64_t bits = m->is_bitfield() ? m->bit_offset - base * 8 : (m->offset - base) * 8;
                out.push_back({path, leaf_type(*m), bits});
            } else {
                nested[path.substr(0, dot)].emplace_back(path.substr(dot + 1), m);
            }
        }
        for (const auto& [name, inner] : nested) {
            std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
            for (const auto& [p, m] : inner) {
                lo = std::min(lo, m->offset);
                hi = std::max(hi, m->offset + m->size);
            }
            const std::uint32_t t = level("", hi - lo, lo, inner);
            out.push_back({name, t, (lo - base) * 8});
        }
        return w_.structure(tag, size, out, false, !tag.empty());
    }

private:
    CtfWriter& w_;
    unsigned pointer_size_;
    std::map<std::uint64_t, std::uint32_t> ints_;
};

}  // namespace

Bytes ctf_from_layouts(const StructLayouts& layouts, unsigned version, bool compress) {
    CtfWriter w(version, layouts.order);
    LayoutCtf l(w, layouts.pointer_size);
    for (const auto& [name, s] : layouts.structs) {
        std::vector<std::pair<std::string, const MemberLayout*>> members;
        for (const MemberLayout& m : s.members)
            members.emplace_back(m.name, &m);
        l.level(name, s.size, 0, members);
    }
    return w.build(compress);
}

}  // namespace kvm::synth
