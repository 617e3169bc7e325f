// CTF containers (kvm/ctf.h) written type by type: for the CTF reader's
// tests and fuzz seeds, and for synthetic FreeBSD kernels whose .SUNW_ctf
// describes the structures their dumps hold.
#pragma once

#include <kvm/bytes.h>
#include <kvm/ctf.h>
#include <kvm/layout.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvm::synth {

class CtfWriter {
public:
    // version 2 or 3, in `order`.
    CtfWriter(unsigned version, ByteOrder order);

    struct Member {
        std::string name;
        std::uint32_t type = 0;
        std::uint64_t bit_offset = 0;
    };

    // Ids count from 1 in the order types are added (with the child bit
    // in a child container); next_id() is the id the next type gets, for
    // types that refer to one added later.
    std::uint32_t next_id() const;

    // encoding: ctf.h's CTF_INT_* bits (1 signed, 2 char, 4 bool).
    std::uint32_t integer(std::string_view name, std::uint64_t size, unsigned bits, unsigned bit_offset = 0,
                          unsigned encoding = 1);
    std::uint32_t pointer(std::uint32_t target);
    std::uint32_t typedef_(std::string_view name, std::uint32_t target);
    // kind: const_, volatile_ or restrict_.
    std::uint32_t qualifier(ctf::Kind kind, std::uint32_t target);
    std::uint32_t forward(std::string_view name, ctf::Kind tag = ctf::Kind::structure);
    std::uint32_t array(std::uint32_t contents, std::uint32_t index, std::uint32_t nelems);
    // Members use the large form when size reaches the version's threshold,
    // and the size the large form when it does not fit the size field.
    std::uint32_t structure(std::string_view name, std::uint64_t size, const std::vector<Member>& members,
                            bool is_union = false, bool root = true);
    std::uint32_t enumeration(std::string_view name, std::uint64_t size,
                              const std::vector<std::pair<std::string, std::int32_t>>& values);
    std::uint32_t function(std::uint32_t result, const std::vector<std::uint32_t>& args);
    // A record exactly as given (damaged containers, external names).
    std::uint32_t raw(ByteSpan record);

    // A name's reference in the CTF string table (added when new).
    std::uint32_t name(std::string_view text);

    // The container: header, (optionally compressed) empty label, object and
    // function sections, the types, the strings.  parent_name != "" makes a
    // child container.
    Bytes build(bool compress, std::string_view parent_name = {}) const;

private:
    std::uint32_t head(std::string_view name, ctf::Kind kind, std::uint32_t vlen, std::uint64_t size_or_type,
                       bool root = true);
    void id(std::uint64_t v);

    const ctf::VersionInfo& v_;
    unsigned version_;
    ByteOrder order_;
    Encoder types_;
    std::string strings_;
    std::uint32_t count_ = 0;
};

// CTF describing the structures of `layouts` as a compiler would: every
// member at its offset, integers of its size (bit-fields as narrow
// integers), pointers for types ending in "*", arrays of `count` elements,
// nested paths ("p_list.le_next") through structures of their own; the
// gaps between members are left undescribed.  What kvmkit's synthetic
// FreeBSD kernels carry in .SUNW_ctf.
Bytes ctf_from_layouts(const StructLayouts& layouts, unsigned version, bool compress);

}  // namespace kvm::synth
