// CTF: a container encoded here byte by byte (which pins the writer too),
// layouts from containers of both versions in both byte orders, compressed
// and not, with every construct the reader must handle (large sizes and
// members, bit-fields, forward declarations, typedef chains, qualifiers,
// anonymous members, enumerators), an ELF kernel's .SUNW_ctf through the
// type-information table, and damaged containers that must fail with a
// message naming what is wrong.
#include <kvm/ctf.h>
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/namelist.h>
#include <kvm/procs.h>
#include <kvm/synth.h>
#include <kvm/synth_ctf.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test_util.h"

#include <filesystem>

using namespace kvm;
using kvm::test::error_of;
using kvm::test::TempDir;

namespace {

using synth::CtfWriter;
using Kind = ctf::Kind;

MemberRequest want(std::string path) {
    return MemberRequest{std::move(path), "", false};
}

StructLayouts read(ByteSpan blob, unsigned pointer_size, const LayoutRequest& request, ByteSpan external = {}) {
    const ctf::Types t(blob, "test blob", pointer_size, external);
    return t.layouts(request);
}

const MemberLayout& member(const StructLayouts& l, std::string_view s, std::string_view m) {
    const MemberLayout* found = l.get(s).find(m);
    REQUIRE_MESSAGE(found != nullptr, fmt::format("{}.{} missing", s, m));
    return *found;
}

// One struct of the kinds a kernel's structures use, in version `version`.
struct Rich {
    Bytes blob;
    LayoutRequest request;
};

Rich rich(unsigned version, ByteOrder order, bool compress) {
    CtfWriter w(version, order);
    const std::uint32_t i32 = w.integer("int", 4, 32);
    const std::uint32_t ch = w.integer("char", 1, 8, 0, 3);
    const std::uint32_t u64 = w.integer("unsigned long", 8, 64, 0, 0);
    // typedef chain: pid_t -> __pid_t -> __int32_t -> int
    const std::uint32_t int32 = w.typedef_("__int32_t", i32);
    const std::uint32_t pid_inner = w.typedef_("__pid_t", int32);
    const std::uint32_t pid = w.typedef_("pid_t", pid_inner);
    // A forward declaration of pgrp before its definition, pointed to.
    const std::uint32_t pgrp_fwd = w.forward("pgrp");
    const std::uint32_t pgrp_ptr = w.pointer(pgrp_fwd);
    // An embedded structure known first only by a forward declaration.
    const std::uint32_t inner_fwd = w.forward("inner");
    const std::uint32_t proc_id = w.next_id() + 10;  // struct proc, defined below
    const std::uint32_t proc_ptr = w.pointer(proc_id);
    const std::uint32_t comm = w.array(ch, i32, 20);
    const std::uint32_t cv = w.qualifier(Kind::const_, w.qualifier(Kind::volatile_, i32));
    // Anonymous LIST_ENTRY: { struct proc *le_next; struct proc **le_prev; }
    const std::uint32_t list =
        w.structure("", 16, {{"le_next", proc_ptr, 0}, {"le_prev", w.pointer(proc_ptr), 64}}, false, false);
    // Bit-fields: 3 bits at bit 0 and 5 bits at bit 3 of a word; one with
    // the encoding's own offset.
    const std::uint32_t bf3 = w.integer("unsigned int", 4, 3, 0, 0);
    const std::uint32_t bf5 = w.integer("unsigned int", 4, 5, 0, 0);
    const std::uint32_t bf2 = w.integer("unsigned int", 4, 2, 4, 0);
    const std::uint32_t anon_union = w.structure("", 8, {{"u_long", u64, 0}, {"u_int", i32, 0}}, true, false);
    const std::uint32_t proc = w.structure("proc", 128,
                                           {
                                               {"p_list", list, 0},
                                               {"p_pid", pid, 128},
                                               {"p_flag", cv, 160},
                                               {"p_pgrp", pgrp_ptr, 192},
                                               {"p_comm", comm, 256},
                                               {"p_inner", inner_fwd, 448},
                                               {"bf_a", bf3, 704},
                                               {"bf_b", bf5, 707},
                                               {"bf_c", bf2, 712},
                                               {"", anon_union, 768},
                                           });
    REQUIRE(proc == proc_id);
    w.structure("inner", 24, {{"in_a", u64, 0}, {"in_b", i32, 128}});
    w.structure("pgrp", 40, {{"pg_id", pid, 256}});
    w.enumeration("procstat", 4, {{"SIDL", 1}, {"SACTIVE", 2}, {"SZOMB", -4}});
    // Large structures: over the size field's range in v2, over the large
    // member threshold in both versions.
    const std::uint64_t big = version == 2 ? 0x12345 : (std::uint64_t{1} << 32) + 0x100;
    const std::uint64_t far_bits = version == 2 ? 0x10000 * 8 : (std::uint64_t{1} << 29) * 8;
    w.structure("big", big, {{"b_first", i32, 0}, {"b_far", u64, far_bits}});

    Rich r;
    r.blob = w.build(compress);
    r.request.structs = {
        {"proc",
         {want("p_list.le_next"), want("p_list.le_prev"), want("p_pid"), want("p_flag"), want("p_pgrp"), want("p_comm"),
          want("p_inner.in_b"), want("p_inner"), want("bf_a"), want("bf_b"), want("bf_c"), want("u_long"),
          want("u_int"), want("p_nothere")}},
        {"pgrp", {want("pg_id")}},
        {"big", {want("b_first"), want("b_far")}},
        {"absent", {want("x")}},
    };
    r.request.values = {"SIDL", "SZOMB", "NOT_AN_ENUMERATOR"};
    return r;
}

}  // namespace

TEST_CASE("ctf: a version 2 container encoded byte by byte") {
    // struct proc { int p_pid; struct proc *p_next; } as ctfconvert writes
    // it for a little-endian LP64 kernel: int [1], pointer [2], proc [3].
    Encoder types(ByteOrder::little);
    types.u32(1).u16((1 << 11) | (1 << 10)).u16(4).u32((1u << 24) | 32);  // int, signed, 32 bits
    types.u32(0).u16((3 << 11) | (1 << 10)).u16(3);                       // pointer to [3]
    types.u32(5).u16((6 << 11) | (1 << 10) | 2).u16(16);                  // struct proc, 2 members, 16 bytes
    types.u32(10).u16(1).u16(0);                                          // p_pid: [1] at bit 0
    types.u32(16).u16(2).u16(64);                                         // p_next: [2] at bit 64
    const std::string strings = std::string("\0int\0proc\0p_pid\0p_next\0", 23);
    Encoder blob(ByteOrder::little);
    blob.u16(0xcff1).u8(2).u8(0).u32(0).u32(0);
    blob.u32(0).u32(0).u32(0).u32(0).u32(static_cast<std::uint32_t>(types.size()));
    blob.u32(static_cast<std::uint32_t>(strings.size()));
    blob.bytes(types.data()).string(strings);

    // The writer produces the same bytes.
    CtfWriter w(2, ByteOrder::little);
    const std::uint32_t i = w.integer("int", 4, 32);
    const std::uint32_t p = w.pointer(3);
    w.name("proc");
    w.name("p_pid");
    w.structure("proc", 16, {{"p_pid", i, 0}, {"p_next", p, 64}});
    CHECK(w.build(false) == blob.data());

    LayoutRequest r;
    r.structs = {{"proc", {want("p_pid"), want("p_next")}}};
    const StructLayouts l = read(blob.data(), 8, r);
    CHECK(l.pointer_size == 8);
    CHECK(l.order == ByteOrder::little);
    CHECK(l.source == "CTF in test blob");
    CHECK(l.get("proc").size == 16);
    CHECK(member(l, "proc", "p_pid") == MemberLayout{.name = "p_pid", .offset = 0, .size = 4, .type = "int"});
    CHECK(member(l, "proc", "p_next") ==
          MemberLayout{.name = "p_next", .offset = 8, .size = 8, .type = "struct proc *"});
}

TEST_CASE("ctf: layouts from both versions, both byte orders, compressed and not") {
    for (const unsigned version : {2u, 3u})
        for (const ByteOrder order : {ByteOrder::little, ByteOrder::big})
            for (const bool compress : {false, true}) {
                CAPTURE(version);
                CAPTURE(to_string(order));
                CAPTURE(compress);
                const Rich r = rich(version, order, compress);
                const ctf::Types t(r.blob, "rich", 8);
                CHECK(t.header().version == version);
                CHECK(t.header().order == order);
                CHECK(t.header().compressed() == compress);
                CHECK(t.type_count() == 24);
                const StructLayouts l = t.layouts(r.request);
                CHECK(l.order == order);
                CHECK(l.structs.size() == 3);  // "absent" is not there

                const StructLayout& proc = l.get("proc");
                CHECK(proc.size == 128);
                CHECK(proc.find("p_nothere") == nullptr);
                CHECK(member(l, "proc", "p_list.le_next") ==
                      MemberLayout{.name = "p_list.le_next", .offset = 0, .size = 8, .type = "struct proc *"});
                CHECK(member(l, "proc", "p_list.le_prev") ==
                      MemberLayout{.name = "p_list.le_prev", .offset = 8, .size = 8, .type = "struct proc **"});
                // A typedef chain keeps the outermost name and the int's size.
                CHECK(member(l, "proc", "p_pid") ==
                      MemberLayout{.name = "p_pid", .offset = 16, .size = 4, .type = "pid_t"});
                CHECK(member(l, "proc", "p_flag") ==
                      MemberLayout{.name = "p_flag", .offset = 20, .size = 4, .type = "const volatile int"});
                CHECK(member(l, "proc", "p_pgrp") ==
                      MemberLayout{.name = "p_pgrp", .offset = 24, .size = 8, .type = "struct pgrp *"});
                CHECK(member(l, "proc", "p_comm") ==
                      MemberLayout{.name = "p_comm", .offset = 32, .size = 20, .count = 20, .type = "char[20]"});
                // Through a forward declaration to the definition, embedded.
                CHECK(member(l, "proc", "p_inner") ==
                      MemberLayout{.name = "p_inner", .offset = 56, .size = 24, .type = "struct inner"});
                CHECK(member(l, "proc", "p_inner.in_b") ==
                      MemberLayout{.name = "p_inner.in_b", .offset = 72, .size = 4, .type = "int"});
                CHECK(member(l, "proc", "bf_a") == MemberLayout{.name = "bf_a",
                                                                .offset = 88,
                                                                .size = 1,
                                                                .bit_offset = 704,
                                                                .bit_size = 3,
                                                                .type = "unsigned int"});
                CHECK(member(l, "proc", "bf_b") == MemberLayout{.name = "bf_b",
                                                                .offset = 88,
                                                                .size = 1,
                                                                .bit_offset = 707,
                                                                .bit_size = 5,
                                                                .type = "unsigned int"});
                // The encoding's own offset (4) adds to the member's (712).
                CHECK(member(l, "proc", "bf_c") == MemberLayout{.name = "bf_c",
                                                                .offset = 89,
                                                                .size = 1,
                                                                .bit_offset = 716,
                                                                .bit_size = 2,
                                                                .type = "unsigned int"});
                // Members of an anonymous union, named as direct members.
                CHECK(member(l, "proc", "u_long") ==
                      MemberLayout{.name = "u_long", .offset = 96, .size = 8, .type = "unsigned long"});
                CHECK(member(l, "proc", "u_int") ==
                      MemberLayout{.name = "u_int", .offset = 96, .size = 4, .type = "int"});

                // The definition, not the forward declaration before it.
                CHECK(l.get("pgrp").size == 40);
                CHECK(member(l, "pgrp", "pg_id") ==
                      MemberLayout{.name = "pg_id", .offset = 32, .size = 4, .type = "pid_t"});

                const StructLayout& big = l.get("big");
                CHECK(big.size == (version == 2 ? 0x12345 : (std::uint64_t{1} << 32) + 0x100));
                CHECK(member(l, "big", "b_first").offset == 0);
                CHECK(member(l, "big", "b_far") ==
                      MemberLayout{.name = "b_far",
                                   .offset = version == 2 ? 0x10000u : (std::uint64_t{1} << 29),
                                   .size = 8,
                                   .type = "unsigned long"});

                REQUIRE(l.values.size() == 2);
                CHECK(l.values[0].name == "SIDL");
                CHECK(l.values[0].value == 1);
                CHECK(l.values[1].name == "SZOMB");
                CHECK(l.values[1].value == static_cast<std::uint64_t>(std::int64_t{-4}));
                CHECK(t.enumerator("SACTIVE") == 2);
                CHECK(t.enumerator("SRUN") == std::nullopt);
            }
}

TEST_CASE("ctf: 32-bit pointers, a child container, external names") {
    CtfWriter w(3, ByteOrder::little);
    const std::uint32_t p = w.pointer(0);
    w.structure("s", 8, {{"a", p, 0}, {"b", p, 32}});
    const StructLayouts l32 = read(w.build(false), 4, {.structs = {{"s", {want("a"), want("b")}}}});
    CHECK(member(l32, "s", "b") == MemberLayout{.name = "b", .offset = 4, .size = 4, .type = "void *"});

    // A child container's ids carry the child bit, and its types resolve
    // among themselves.
    CtfWriter c(2, ByteOrder::little);
    Encoder rec(ByteOrder::little);
    rec.u32(c.name("int")).u16((1 << 11) | (1 << 10)).u16(4).u32(32);
    c.raw(rec.data());
    Encoder s(ByteOrder::little);
    s.u32(c.name("s")).u16((6 << 11) | (1 << 10) | 1).u16(4).u32(c.name("x")).u16(0x8001).u16(0);
    c.raw(s.data());
    const StructLayouts child = read(c.build(false, "kernel"), 8, {.structs = {{"s", {want("x")}}}});
    CHECK(member(child, "s", "x") == MemberLayout{.name = "x", .offset = 0, .size = 4, .type = "int"});

    // Names with bit 31 set are in the ELF string table.
    CtfWriter e(3, ByteOrder::little);
    Encoder ext(ByteOrder::little);
    ext.u32(0x80000001).u32((1u << 26) | (1u << 25)).u32(8).u32(64);  // "long", 8 bytes
    e.raw(ext.data());
    Encoder es(ByteOrder::little);
    es.u32(0x80000006).u32((6u << 26) | (1u << 25) | 1).u32(8).u32(0x8000000a).u32(1).u32(0);
    e.raw(es.data());
    const std::string strtab = std::string("\0long\0ext\0field\0", 16);
    const StructLayouts named = read(e.build(false), 8, {.structs = {{"ext", {want("field")}}}}, to_bytes(strtab));
    CHECK(member(named, "ext", "field") == MemberLayout{.name = "field", .offset = 0, .size = 8, .type = "long"});
}

TEST_CASE("ctf: damaged containers fail with the reason") {
    const Rich good = rich(2, ByteOrder::little, false);
    const auto fails = [](Bytes blob) { return error_of([&] { (void)ctf::Types(blob, "blob", 8); }); };
    const auto patched = [&](std::size_t at, std::uint32_t v, unsigned width = 4) {
        Bytes b = good.blob;
        store_uint(b.data() + at, v, width, ByteOrder::little);
        return b;
    };

    CHECK(fails(Bytes(20)) == "blob: CTF: truncated: the header needs 36 bytes, but the section has 20");
    CHECK(fails(patched(0, 0x1234, 2)) == "blob: CTF: bad magic 0x1234 (expected 0xcff1): not CTF data");
    CHECK(fails(patched(2, 1, 1)) == "blob: CTF: version 1 (kvmkit reads versions 2 and 3)");
    CHECK(test::kind_of([&] { (void)ctf::Types(patched(2, 4, 1), "blob", 8); }) == ErrorKind::unsupported);
    CHECK(fails(patched(3, 6, 1)) == "blob: CTF: header flags 0x6 (only 0x1, compressed, is defined)");
    CHECK(fails(patched(16, 0x20)) ==
          fmt::format("blob: CTF: the sections are out of order: labels at 0x0, objects at 0x20, functions at 0x0, "
                      "types at 0x0, strings at {:#x}",
                      load32(good.blob.data() + 28, ByteOrder::little)));
    CHECK(fails(patched(24, 2)) ==
          "blob: CTF: the label section (0x0) or the type section (0x2) is not 4-byte aligned");
    {
        Bytes cut = good.blob;
        cut.resize(cut.size() - 3);
        const std::uint32_t stroff = load32(good.blob.data() + 28, ByteOrder::little);
        const std::uint32_t strlen = load32(good.blob.data() + 32, ByteOrder::little);
        CHECK(fails(cut) == fmt::format("blob: CTF: truncated: the sections end at {:#x}, but the section has {:#x} "
                                        "bytes after the header",
                                        stroff + strlen, stroff + strlen - 3));
        CHECK(fails(patched(32, 0x7fffffff)) ==
              fmt::format("blob: CTF: the sections end at {:#x}, more than the 0x4000000 bytes accepted",
                          std::uint64_t{stroff} + 0x7fffffff));
    }
    {
        // A compressed body that inflates to less, or more, than the header says.
        const Rich z = rich(3, ByteOrder::little, true);
        Bytes shorter = z.blob;
        const std::uint32_t strlen = load32(z.blob.data() + 32, ByteOrder::little);
        store32(shorter.data() + 32, strlen + 5, ByteOrder::little);
        const std::uint32_t stroff = load32(z.blob.data() + 28, ByteOrder::little);
        CHECK(fails(shorter) == fmt::format("blob: CTF: the compressed data inflates to {} bytes, but the header's "
                                            "sections need {}",
                                            stroff + strlen, stroff + strlen + 5));
        Bytes longer = z.blob;
        store32(longer.data() + 32, strlen - 1, ByteOrder::little);
        CHECK(fails(longer) == fmt::format("blob: CTF: the compressed data inflates to more than the {} bytes the "
                                           "header's sections need",
                                           stroff + strlen - 1));
        Bytes damaged = z.blob;
        damaged[ctf::header_size] = std::byte{0xff};
        CHECK(fails(damaged) == fmt::format("blob: CTF: the compressed data ({} bytes) does not inflate: incorrect "
                                            "header check",
                                            z.blob.size() - ctf::header_size));
    }

    // Type records.
    const auto container = [](const std::function<void(CtfWriter&)>& add) {
        CtfWriter w(2, ByteOrder::little);
        add(w);
        return w.build(false);
    };
    LayoutRequest r{.structs = {{"s", {want("m")}}}};
    const auto layouts_fail = [&](const Bytes& blob) {
        return error_of([&] { (void)ctf::Types(blob, "blob", 8).layouts(r); });
    };
    // A struct of 3 members whose record is cut after 2.
    {
        Bytes b = container([](CtfWriter& w) {
            const std::uint32_t i = w.integer("int", 4, 32);
            w.structure("s", 12, {{"m", i, 0}, {"n", i, 32}, {"o", i, 64}});
        });
        const std::uint32_t stroff = load32(b.data() + 28, ByteOrder::little);
        // Move the strings' start back by 8 bytes: the type section ends inside the record.
        store32(b.data() + 28, stroff - 8, ByteOrder::little);
        store32(b.data() + 32, load32(b.data() + 32, ByteOrder::little) + 8, ByteOrder::little);
        CHECK(fails(b) ==
              "blob: CTF: type [2]: its record (32 bytes at offset 0xc) runs past the 0x24-byte type section");
    }
    CHECK(fails(container([](CtfWriter& w) {
              Encoder e(ByteOrder::little);
              e.u32(0).u16(20 << 11).u16(0);  // kind 20
              w.raw(e.data());
          })) == "blob: CTF: type [1]: unknown kind 20");
    CHECK(layouts_fail(container([](CtfWriter& w) {
              w.structure("s", 4, {{"m", 7, 0}});
          })) == "blob: CTF: type [1]: refers to type [7], but there are only 1 types");
    CHECK(layouts_fail(container([](CtfWriter& w) {
              w.structure("s", 4, {{"m", 0x8001, 0}});
          })) == "blob: CTF: type [1]: refers to type [32769], which is in a child container this one does not have");
    CHECK(fails(container([](CtfWriter& w) {
              Encoder e(ByteOrder::little);
              e.u32(0x4000).u16((6 << 11) | (1 << 10)).u16(4);
              w.raw(e.data());
          })).starts_with("blob: CTF: type [1]: name offset 0x4000 is outside the "));
    CHECK(fails(container([](CtfWriter& w) {
              Encoder e(ByteOrder::little);
              e.u32(0x80000000).u16((6 << 11) | (1 << 10)).u16(4);
              w.raw(e.data());
          })) == "blob: CTF: type [1]: name offset 0x0 is outside the 0x0 bytes of the ELF string table");
    // typedef loops and over-deep chains end with an error, not a hang.
    CHECK(layouts_fail(container([](CtfWriter& w) {
              w.typedef_("a", 2);
              w.typedef_("b", 1);
              w.structure("s", 4, {{"m", 1, 0}});
          })) ==
          "blob: CTF: type [3]: more than 32 typedefs, qualifiers and forward declarations in a row: the "
          "references loop");
    CHECK(layouts_fail(container([](CtfWriter& w) {
              w.array(1, 1, 2);  // an array of itself
              w.structure("s", 4, {{"m", 1, 0}});
          })) == "blob: CTF: type [2]: its size needs more than 32 steps through types: the references loop");
    CHECK(layouts_fail(container([](CtfWriter& w) {
              w.structure("", 4, {{"", 1, 0}}, false, false);  // an anonymous member of itself
              w.structure("s", 4, {{"", 1, 0}});
          })) == "blob: CTF: type [1]: anonymous members nested more than 32 deep: the references loop");
    CHECK(layouts_fail(container([](CtfWriter& w) {
              const std::uint32_t f = w.forward("nowhere");
              w.structure("s", 4, {{"m", f, 0}});
          })) == "blob: CTF: type [2]: type [1] declares nowhere but the container does not define it: it has no size");
    CHECK(layouts_fail(container([](CtfWriter& w) {
              const std::uint32_t i = w.integer("int", 4, 32);
              w.structure("s", 4, {{"m", i, 3}});
          })) == "blob: CTF: type [2]: member m is at bit 3, not on a byte");
    CHECK(layouts_fail(container([](CtfWriter& w) {
              const std::uint32_t i = w.integer("int", 4, 0);
              w.structure("s", 4, {{"m", i, 0}});
          })) == "blob: CTF: type [2]: member m is a bit-field of 0 bits");
    // A container of v2's 32767 types plus one.
    {
        CtfWriter many(2, ByteOrder::little);
        for (int k = 0; k < 0x8000; ++k)
            many.pointer(0);
        CHECK(fails(many.build(false)) == "blob: CTF: more than 32767 types in a version 2 container");
    }
}

TEST_CASE("ctf: a kernel's .SUNW_ctf through the type-information table") {
    // What the shipped NetBSD files hold and its amd64 layouts, as CTF in a kernel
    // ELF file: every member comes back at the same place.
    const std::string shipped = (test::source_root() / "share/kvmkit/layouts/netbsd-10-amd64.json").string();
    const StructLayouts want_layouts = load_layouts_file(shipped);
    for (const unsigned version : {2u, 3u}) {
        CAPTURE(version);
        synth::ElfWriter elf({});
        const std::uint16_t text = elf.add_section(".text", elf::sht_progbits, elf::shf_alloc | elf::shf_execinstr,
                                                   0xffffffff80200000, Bytes(16), 16);
        elf.add_section(".SUNW_ctf", elf::sht_progbits, 0, 0,
                        synth::ctf_from_layouts(want_layouts, version, version == 3));
        elf.add_symbol(
            {.name = "allproc", .value = 0xffffffff80200000, .size = 8, .type = elf::stt_object, .shndx = text});
        TempDir dir;
        const std::string path = dir / "kernel";
        synth::write_file(path, elf.build());

        const elf::File file(open_file(path));
        const TypeInfoReader* reader = nullptr;
        for (const TypeInfoReader& r : all_type_info_readers())
            if (r.present(file) && reader == nullptr) reader = &r;
        REQUIRE(reader != nullptr);
        CHECK(reader->name == "ctf");
        const StructLayouts got = reader->read(path, file, netbsd::shipped_layout_request());
        CHECK(got.source == fmt::format("CTF in {}", path));
        CHECK(got.derived.starts_with(
            fmt::format("structure layouts read by kvmkit's CTF reader from the .SUNW_ctf section of {} (version {}, ",
                        path, version)));
        CHECK(got.pointer_size == 8);
        for (const auto& entry : want_layouts.structs) {
            // Not a structured binding: clang 14 cannot capture one in CAPTURE.
            const std::string& name = entry.first;
            const StructLayout& s = entry.second;
            CAPTURE(name);
            const StructLayout& g = got.get(name);
            CHECK(g.size == s.size);
            REQUIRE(g.members.size() == s.members.size());
            for (std::size_t i = 0; i < s.members.size(); ++i) {
                CAPTURE(s.members[i].name);
                CHECK(g.members[i].name == s.members[i].name);
                CHECK(g.members[i].offset == s.members[i].offset);
                CHECK(g.members[i].size == s.members[i].size);
                CHECK(g.members[i].count == s.members[i].count);
                CHECK(g.members[i].bit_offset == s.members[i].bit_offset);
                CHECK(g.members[i].bit_size == s.members[i].bit_size);
            }
        }
    }
    CHECK(error_of([] { (void)ctf::read_ctf_layouts("/nonexistent/kernel", {}); }).find("/nonexistent/kernel") !=
          std::string::npos);
}
