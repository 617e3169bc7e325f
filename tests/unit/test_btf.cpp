// BTF: the header checks, layouts from a blob built here type by type (so
// every expected offset is known), both byte orders, gcc's own BTF against
// its DWARF, and damaged blobs that must fail with a message, never crash.
#include <kvm/btf.h>
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/namelist.h>
#include <kvm/procs.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test_util.h"

#include <cstdlib>
#include <filesystem>

using namespace kvm;
using kvm::test::error_of;
using kvm::test::TempDir;

namespace {

// BTF kinds and the header's field offsets (include/uapi/linux/btf.h).
enum Kind : std::uint32_t {
    k_int = 1,
    k_ptr = 2,
    k_array = 3,
    k_struct = 4,
    k_union = 5,
    k_enum = 6,
    k_typedef = 8,
    k_volatile = 9,
    k_const = 10,
};
constexpr std::size_t at_version = 2, at_flags = 3, at_hdr_len = 4, at_type_len = 12, at_str_off = 16, at_str_len = 20;

struct Member {
    std::string name;
    std::uint32_t type;
    std::uint32_t bit_offset;
    std::uint32_t bitfield_size = 0;  // kflag structures only
};

// A blob written type by type; ids count from 1 in the order of adding.
class BtfBuilder {
public:
    explicit BtfBuilder(ByteOrder order = ByteOrder::little) : order_(order), types_(order) {}

    std::uint32_t integer(std::string_view name, std::uint32_t size, std::uint32_t bits, std::uint32_t offset = 0,
                          std::uint32_t encoding = 0) {
        const std::uint32_t id = head(name, k_int, 0, false, size);
        types_.u32((encoding << 24) | (offset << 16) | bits);
        return id;
    }
    std::uint32_t ref(Kind kind, std::string_view name, std::uint32_t type) { return head(name, kind, 0, false, type); }
    std::uint32_t array(std::uint32_t elem, std::uint32_t index, std::uint32_t n) {
        const std::uint32_t id = head("", k_array, 0, false, 0);
        types_.u32(elem).u32(index).u32(n);
        return id;
    }
    std::uint32_t aggregate(Kind kind, std::string_view name, std::uint32_t size, const std::vector<Member>& members,
                            bool kflag) {
        const std::uint32_t id = head(name, kind, static_cast<std::uint32_t>(members.size()), kflag, size);
        for (const Member& m : members)
            types_.u32(str(m.name)).u32(m.type).u32(kflag ? (m.bitfield_size << 24) | m.bit_offset : m.bit_offset);
        return id;
    }
    std::uint32_t enumeration(std::string_view name, const std::vector<std::pair<std::string, std::int32_t>>& values) {
        const std::uint32_t id = head(name, k_enum, static_cast<std::uint32_t>(values.size()), false, 4);
        for (const auto& [n, v] : values)
            types_.u32(str(n)).u32(static_cast<std::uint32_t>(v));
        return id;
    }
    // Raw words, for records kvmkit must refuse.
    void raw(std::uint32_t word) { types_.u32(word); }

    std::uint32_t str(std::string_view s) {
        if (s.empty()) return 0;
        const auto at = static_cast<std::uint32_t>(strings_.size());
        strings_ += s;
        strings_ += '\0';
        return at;
    }

    Bytes blob() const {
        Encoder e(order_);
        const auto type_len = static_cast<std::uint32_t>(types_.size());
        e.u16(btf::magic).u8(btf::version).u8(0).u32(btf::header_size);
        e.u32(0).u32(type_len).u32(type_len).u32(static_cast<std::uint32_t>(strings_.size()));
        Bytes types = types_.data();
        e.bytes(types);
        e.string(strings_);
        return e.take();
    }
    ByteOrder order() const { return order_; }

private:
    std::uint32_t head(std::string_view name, std::uint32_t kind, std::uint32_t vlen, bool kflag,
                       std::uint32_t size_or_type) {
        types_.u32(str(name)).u32((kflag ? 1u << 31 : 0u) | (kind << 24) | vlen).u32(size_or_type);
        return ++count_;
    }

    ByteOrder order_;
    mutable Encoder types_;
    std::string strings_{std::string(1, '\0')};
    std::uint32_t count_ = 0;
};

// The test types, with their ids.
struct Sample {
    BtfBuilder b;
    std::uint32_t task = 0;
};

Sample sample(ByteOrder order = ByteOrder::little) {
    Sample s{BtfBuilder(order)};
    BtfBuilder& b = s.b;
    const std::uint32_t int_t = b.integer("int", 4, 32, 0, 1);        // 1
    const std::uint32_t uint_t = b.integer("unsigned int", 4, 32);    // 2
    const std::uint32_t char_t = b.integer("char", 1, 8, 0, 2);       // 3
    const std::uint32_t long_t = b.integer("long int", 8, 64, 0, 1);  // 4
    const std::uint32_t pid_t = b.ref(k_typedef, "pid_t", int_t);     // 5
    const std::uint32_t const_pid = b.ref(k_const, "", pid_t);        // 6
    const std::uint32_t cv_pid = b.ref(k_volatile, "", const_pid);    // 7
    const std::uint32_t task_ptr = b.ref(k_ptr, "", 12);              // 8
    const std::uint32_t comm = b.array(char_t, int_t, 16);            // 9
    const std::uint32_t list_head = b.aggregate(k_struct, "list_head", 16, {{"next", 11, 0}, {"prev", 11, 64}},
                                                false);  // 10
    b.ref(k_ptr, "", list_head);                         // 11
    s.task = b.aggregate(k_struct, "task", 80,
                         {{"pid", int_t, 0},
                          {"", 13, 32},
                          {"", 14, 64},
                          {"tasks", list_head, 128},
                          {"tgid", cv_pid, 256},
                          {"comm", comm, 288},
                          {"parent", task_ptr, 448},
                          {"flag", uint_t, 517, 1},
                          {"numbers", 16, 576}},
                         true);                                                      // 12
    b.aggregate(k_struct, "", 4, {{"a", uint_t, 0, 3}, {"b", uint_t, 3, 5}}, true);  // 13
    b.aggregate(k_union, "", 8, {{"x", long_t, 0}, {"c", char_t, 0}}, false);        // 14
    b.enumeration("pid_type",
                  {{"PIDTYPE_PID", 0}, {"PIDTYPE_TGID", 1}, {"PIDTYPE_PGID", 2}, {"PIDTYPE_SID", 3}});  // 15
    b.array(int_t, int_t, 0);                                                                           // 16
    b.aggregate(k_struct, "old", 4, {{"bf", 18, 0}}, false);                                            // 17
    b.integer("unsigned int", 4, 3, 2);                                                                 // 18
    return s;
}

LayoutRequest sample_request() {
    LayoutRequest r;
    r.structs = {{"task",
                  {{"pid", "the id"},
                   {"a", ""},
                   {"b", ""},
                   {"x", ""},
                   {"c", ""},
                   {"tasks.next", ""},
                   {"tasks.prev", ""},
                   {"tgid", ""},
                   {"comm", ""},
                   {"parent", ""},
                   {"flag", ""},
                   {"numbers", ""},
                   {"missing", "", false},
                   {"pid.deeper", "", false}}},
                 {"old", {{"bf", ""}}},
                 {"absent", {}}};
    r.values = {"PIDTYPE_PGID", "NOT_AN_ENUMERATOR"};
    return r;
}

std::string parse_error(const Bytes& blob) {
    return error_of([&] {
        const btf::Types t(blob, "test blob");
        (void)t.layouts(sample_request());
    });
}

using kvm::test::source_root;

}  // namespace

TEST_CASE("BTF layouts: nested, anonymous, qualified, array, pointer, bitfield and flexible members") {
    Sample s = sample();
    const Bytes blob = s.b.blob();
    const btf::Types types(blob, "test blob");
    CHECK(types.type_count() == 19);
    CHECK(types.pointer_size() == 8);
    CHECK(types.order() == ByteOrder::little);
    CHECK(types.header().str_len > 1);

    const StructLayouts l = types.layouts(sample_request());
    CHECK(l.pointer_size == 8);
    CHECK(l.source == "BTF in test blob");
    CHECK(l.find("absent") == nullptr);
    const StructLayout& t = l.get("task");
    CHECK(t.size == 80);
    CHECK(t.member("pid") == MemberLayout{.name = "pid", .offset = 0, .size = 4, .type = "int", .meaning = "the id"});
    CHECK(t.member("a") ==
          MemberLayout{.name = "a", .offset = 4, .size = 1, .bit_offset = 32, .bit_size = 3, .type = "unsigned int"});
    CHECK(t.member("b") ==
          MemberLayout{.name = "b", .offset = 4, .size = 1, .bit_offset = 35, .bit_size = 5, .type = "unsigned int"});
    CHECK(t.member("x") == MemberLayout{.name = "x", .offset = 8, .size = 8, .type = "long int"});
    CHECK(t.member("c") == MemberLayout{.name = "c", .offset = 8, .size = 1, .type = "char"});
    CHECK(t.member("tasks.next") ==
          MemberLayout{.name = "tasks.next", .offset = 16, .size = 8, .type = "struct list_head *"});
    CHECK(t.member("tasks.prev").offset == 24);
    CHECK(t.member("tgid") == MemberLayout{.name = "tgid", .offset = 32, .size = 4, .type = "volatile const pid_t"});
    CHECK(t.member("comm") == MemberLayout{.name = "comm", .offset = 36, .size = 16, .count = 16, .type = "char[16]"});
    CHECK(t.member("parent") == MemberLayout{.name = "parent", .offset = 56, .size = 8, .type = "struct task *"});
    CHECK(t.member("flag") ==
          MemberLayout{
              .name = "flag", .offset = 64, .size = 1, .bit_offset = 517, .bit_size = 1, .type = "unsigned int"});
    CHECK(t.member("numbers") == MemberLayout{.name = "numbers", .offset = 72, .size = 0, .type = "int[]"});
    CHECK(t.find("missing") == nullptr);
    CHECK(t.find("pid.deeper") == nullptr);
    // The older bitfield encoding: the int type says where the bits are.
    CHECK(l.get("old").member("bf") ==
          MemberLayout{.name = "bf", .offset = 0, .size = 1, .bit_offset = 2, .bit_size = 3, .type = "unsigned int"});
    // Enumerators are values the types do have.
    REQUIRE(l.values.size() == 1);
    CHECK(l.values[0].name == "PIDTYPE_PGID");
    CHECK(l.values[0].value == 2);
    CHECK(types.enumerator("PIDTYPE_SID") == 3);
    CHECK(!types.enumerator("PIDTYPE_NONE"));

    // Bits written where the layout says read back through it.
    Bytes obj(80);
    obj[4] = std::byte{0b10101'110};  // a = 6, b = 21
    obj[64] = std::byte{0x20};        // flag: bit 5 of byte 64
    CHECK(load_member_unsigned(obj, t.member("a"), ByteOrder::little) == 6);
    CHECK(load_member_unsigned(obj, t.member("b"), ByteOrder::little) == 21);
    CHECK(load_member_unsigned(obj, t.member("flag"), ByteOrder::little) == 1);

    // Layouts from BTF print as a layout file and read back the same.
    StructLayouts printed = l;
    printed.os = "linux";
    printed.release = "6";
    printed.arch = "amd64";
    StructLayouts back = parse_layouts_json(to_json(printed), "back.json");
    back.source = printed.source;
    CHECK(back == printed);
}

TEST_CASE("BTF of the other byte order reads the same") {
    const Bytes le = sample().b.blob();
    const Bytes be = sample(ByteOrder::big).b.blob();
    CHECK(le != be);
    const btf::Types big(be, "big blob");
    CHECK(big.order() == ByteOrder::big);
    CHECK(big.type_count() == 19);
    const StructLayouts lb = big.layouts(sample_request());
    const StructLayouts ll = btf::Types(le, "little blob").layouts(sample_request());
    CHECK(lb.order == ByteOrder::big);
    CHECK(lb.structs == ll.structs);
    REQUIRE(lb.values.size() == 1);
    CHECK(lb.values[0].name == ll.values[0].name);
    CHECK(lb.values[0].value == ll.values[0].value);
}

TEST_CASE("BTF headers: every field is checked before libbpf sees the blob") {
    const Bytes good = sample().b.blob();
    const std::uint64_t data = good.size() - btf::header_size;
    const std::uint32_t type_len = load32(good.data() + at_type_len, ByteOrder::little);
    const std::uint32_t str_len = load32(good.data() + at_str_len, ByteOrder::little);
    const auto patched = [&](std::size_t at, std::uint64_t value, unsigned width) {
        Bytes b = good;
        store_uint(b.data() + at, value, width, ByteOrder::little);
        return b;
    };
    CHECK(parse_error(good) == "no error");
    CHECK(parse_error(Bytes(good.begin(), good.begin() + 10)) ==
          "test blob: BTF: truncated: the header needs 24 bytes, but the blob has 10");
    CHECK(parse_error(patched(0, 0x1234, 2)) == "test blob: BTF: bad magic 0x1234 (expected 0xeb9f): not BTF data");
    CHECK(parse_error(Bytes(24)) == "test blob: BTF: bad magic 0x0000 (expected 0xeb9f): not BTF data");
    CHECK(parse_error(patched(at_version, 2, 1)) == "test blob: BTF: version 2 (kvmkit reads version 1)");
    CHECK(kvm::test::kind_of([&] { btf::check_header(patched(at_version, 2, 1), "x"); }) == ErrorKind::unsupported);
    CHECK(parse_error(patched(at_flags, 1, 1)) == "test blob: BTF: header flags 0x1 (none are defined)");
    CHECK(parse_error(patched(at_hdr_len, 20, 4)) ==
          fmt::format("test blob: BTF: header length 20 is not between 24 and the blob's {} bytes", good.size()));
    CHECK(
        parse_error(patched(at_hdr_len, 1u << 30, 4)) ==
        fmt::format("test blob: BTF: header length 1073741824 is not between 24 and the blob's {} bytes", good.size()));
    // Sections outside the blob, or in each other.
    CHECK(parse_error(patched(at_type_len, 0xfffffff0, 4)) ==
          fmt::format("test blob: BTF: type section at offset 0x0, length 0xfffffff0, is outside the {:#x} bytes "
                      "after the header",
                      data));
    CHECK(parse_error(patched(at_str_off, 0xffffffff, 4)) ==
          fmt::format("test blob: BTF: string section at offset 0xffffffff, length {:#x}, is outside the {:#x} bytes "
                      "after the header",
                      str_len, data));
    CHECK(parse_error(patched(at_type_len, type_len + 4, 4)) ==
          fmt::format("test blob: BTF: type section (0x0+{:#x}) runs into the string section at {:#x}", type_len + 4,
                      type_len));
    CHECK(parse_error(patched(8, 2, 4)) == "test blob: BTF: type section at offset 0x2 is not 4-byte aligned");
    CHECK(parse_error(patched(at_str_len, 0, 4)) == "test blob: BTF: the string section is empty");
    Bytes unterminated = good;
    unterminated.back() = std::byte{'x'};
    CHECK(parse_error(unterminated) == "test blob: BTF: the string section does not start and end with NUL");
    // A blob cut short: its sections now run past its end.
    const std::string half =
        parse_error(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2)));
    CHECK(half ==
          fmt::format(
              "test blob: BTF: type section at offset 0x0, length {:#x}, is outside the {:#x} bytes after the header",
              type_len, good.size() / 2 - 24));
    // Too big to be a kernel's.
    CHECK(error_of([] { btf::check_header(Bytes(btf::max_blob_bytes + 1), "huge"); }) ==
          "huge: BTF: 67108865 bytes, more than the 0x4000000 accepted");
}

TEST_CASE("BTF type records libbpf refuses fail with its reason") {
    // A structure claiming more members than the type section holds.
    Sample s = sample();
    s.b.aggregate(k_struct, "short", 8, {}, false);
    Bytes blob = s.b.blob();
    // The last record's info word: vlen 5 instead of 0.
    const std::uint32_t type_len = load32(blob.data() + at_type_len, ByteOrder::little);
    store32(blob.data() + btf::header_size + type_len - 8, (k_struct << 24) | 5, ByteOrder::little);
    CHECK(parse_error(blob) == "test blob: BTF: libbpf cannot parse it: BTF type [19] is malformed");
    // A kind no BTF version defines.
    BtfBuilder b;
    b.integer("int", 4, 32);
    b.raw(0);
    b.raw(31u << 24);
    b.raw(0);
    CHECK(parse_error(b.blob()) == "test blob: BTF: libbpf cannot parse it: Unsupported BTF_KIND:31");
}

TEST_CASE("BTF references that go nowhere or in circles are corrupt, naming the type") {
    const auto error_for = [](BtfBuilder& b) {
        return error_of([&] {
            const btf::Types t(b.blob(), "test blob");
            (void)t.layouts(sample_request());
        });
    };
    {
        // A member's type id past the last type.
        BtfBuilder b;
        b.integer("int", 4, 32);
        b.aggregate(k_struct, "task", 8, {{"pid", 99, 0}}, false);
        CHECK(error_for(b) == "test blob: BTF: type [2]: refers to type [99], but there are only 2 types");
    }
    {
        // A member's name outside the strings.
        BtfBuilder b;
        b.integer("int", 4, 32);
        const std::uint32_t task = b.str("task");
        b.raw(task);
        b.raw((k_struct << 24) | 1);
        b.raw(4);
        b.raw(0x10000);  // the member: name_off, type, offset
        b.raw(1);
        b.raw(0);
        CHECK(error_for(b) == "test blob: BTF: type [2]: name offset 0x10000 is outside the 0xa bytes of strings");
    }
    {
        // Typedefs naming each other.
        BtfBuilder b;
        b.ref(k_typedef, "a_t", 2);
        b.ref(k_typedef, "b_t", 1);
        b.aggregate(k_struct, "task", 8, {{"pid", 1, 0}}, false);
        CHECK(error_for(b) ==
              "test blob: BTF: type [1]: more than 32 typedefs and qualifiers in a row: the "
              "references loop");
    }
    {
        // A structure that is its own anonymous member.
        BtfBuilder b;
        b.aggregate(k_struct, "task", 8, {{"", 1, 0}}, false);
        CHECK(error_for(b) ==
              "test blob: BTF: type [1]: anonymous members nested more than 32 deep: the references loop");
    }
    {
        // A path through a member whose type is a loop of qualifiers.
        BtfBuilder b;
        b.ref(k_const, "", 2);
        b.ref(k_volatile, "", 1);
        b.aggregate(k_struct, "list_head", 8, {}, false);
        b.aggregate(k_struct, "task", 8, {{"tasks", 1, 0}}, false);
        CHECK(error_for(b) ==
              "test blob: BTF: type [1]: more than 32 typedefs and qualifiers in a row: the "
              "references loop");
    }
    {
        // An array of itself.
        BtfBuilder b;
        b.integer("int", 4, 32);
        b.array(2, 1, 4);
        b.aggregate(k_struct, "task", 8, {{"comm", 2, 0}}, false);
        CHECK(error_for(b) ==
              "test blob: BTF: type [3]: its size needs more than 32 steps through types: the "
              "references loop");
    }
}

TEST_CASE("damaged BTF blobs give errors, never a crash") {
    // Every byte of the sample, in turn, set to values that break lengths,
    // ids and offsets; with ASan this proves the reads stay inside the blob.
    const Bytes good = sample().b.blob();
    std::size_t parsed = 0;
    std::size_t refused = 0;
    for (std::size_t at = 0; at < good.size(); ++at)
        for (const std::uint8_t v : {0x00, 0x01, 0x1f, 0x80, 0xff}) {
            Bytes b = good;
            b[at] = std::byte{v};
            try {
                const btf::Types t(b, "mutated");
                (void)t.layouts(sample_request());
                (void)t.enumerator("PIDTYPE_SID");
                ++parsed;
            } catch (const Error&) {
                ++refused;
            }
        }
    CHECK(parsed + refused == good.size() * 5);
    CHECK(refused > 50);
    CHECK(parsed > 50);
}

TEST_CASE("a vmlinux's .BTF section is a type-information row") {
    TempDir dir;
    synth::ElfWriter w({});
    w.add_section(".BTF", elf::sht_progbits, 0, 0, sample().b.blob(), 4);
    const std::uint16_t data =
        w.add_section(".data", elf::sht_progbits, elf::shf_alloc | elf::shf_write, 0xffffffff81000000, Bytes(64), 8);
    w.add_symbol(
        {.name = "init_task", .value = 0xffffffff81000000, .size = 64, .type = elf::stt_object, .shndx = data});
    const std::string vmlinux = dir / "vmlinux";
    synth::write_file(vmlinux, w.build());

    LayoutRequest r = sample_request();
    r.structs.pop_back();  // "absent": resolve_layouts requires every structure
    const StructLayouts direct = btf::read_btf_layouts(vmlinux, r);
    CHECK(direct.source == fmt::format("BTF in {}", vmlinux));
    CHECK(direct.get("task").member("comm").offset == 36);

    // resolve_layouts reaches it through the namelist, and completes the
    // constants the BTF lacks from the known ones.
    const auto namelist = Namelist::load(vmlinux);
    r.flags = {"F_KNOWN"};
    r.values = {"PIDTYPE_PGID", "V_KNOWN"};
    const StructLayouts l =
        resolve_layouts({.os = "linux",
                         .release = "6",
                         .arch = "amd64",
                         .namelist = namelist.get(),
                         .dirs = {dir.path().string()},
                         .known_flags = {{.name = "F_KNOWN", .value = 4}},
                         .known_values = {{.name = "PIDTYPE_PGID", .value = 99}, {.name = "V_KNOWN", .value = 7}}},
                        r);
    CHECK(l.source == fmt::format("BTF in {}", vmlinux));
    CHECK(l.os == "linux");
    CHECK(l.structs == direct.structs);
    CHECK(l.flag("F_KNOWN") == 4);
    CHECK(l.value("PIDTYPE_PGID") == 2);  // the BTF's enumerator, not the table's
    CHECK(l.value("V_KNOWN") == 7);
    CHECK(l.derived.ends_with("; F_KNOWN, V_KNOWN from kvmkit's table of linux constants"));

    // Memory's type information comes after the namelist's, and is used
    // when the namelist has none.
    int asked = 0;
    const auto from_memory = [&](const LayoutRequest& req) -> std::optional<StructLayouts> {
        ++asked;
        return btf::Types(sample().b.blob(), "memory").layouts(req);
    };
    r.flags.clear();
    r.values.clear();
    (void)resolve_layouts({.os = "linux",
                           .arch = "amd64",
                           .namelist = namelist.get(),
                           .dirs = {dir.path().string()},
                           .kernel_type_info = from_memory},
                          r);
    CHECK(asked == 0);
    const StructLayouts m = resolve_layouts(
        {.os = "linux", .arch = "amd64", .dirs = {dir.path().string()}, .kernel_type_info = from_memory}, r);
    CHECK(asked == 1);
    CHECK(m.source == "BTF in memory");

    // An ELF file without .BTF.
    synth::ElfWriter plain({});
    plain.add_section(".data", elf::sht_progbits, elf::shf_alloc, 0x1000, Bytes(8), 8);
    synth::write_file(dir / "plain", plain.build());
    CHECK(error_of([&] { (void)btf::read_btf_layouts(dir / "plain", sample_request()); }) ==
          dir / "plain" + ": no .BTF section");
    // A damaged .BTF section names the file and the section.
    Bytes bad = sample().b.blob();
    bad[0] = std::byte{0};
    synth::ElfWriter damaged({});
    damaged.add_section(".BTF", elf::sht_progbits, 0, 0, bad, 4);
    synth::write_file(dir / "damaged", damaged.build());
    CHECK(error_of([&] { (void)btf::read_btf_layouts(dir / "damaged", sample_request()); }) ==
          dir / "damaged" + ": .BTF section: BTF: bad magic 0xeb00 (expected 0xeb9f): not BTF data");
}

TEST_CASE("gcc's BTF of the NetBSD 10 declarations gives the shipped layouts, as its DWARF does") {
    TempDir dir;
    const std::string src = (source_root() / "tools/layouts/netbsd10-types.c").string();
    for (const auto& abi : {std::pair{"amd64", "-m64"}, std::pair{"i386", "-m32"}}) {
        const std::string arch = abi.first;
        const std::string flags = abi.second;
        const std::string so = dir / fmt::format("{}.so", arch);
        const std::string cmd = fmt::format("gcc {} -gbtf -ffreestanding -nostdlib -shared -o '{}' '{}' 2>'{}'", flags,
                                            so, src, dir / "gcc.err");
        if (std::system(cmd.c_str()) != 0) {
            MESSAGE("no gcc with -gbtf for " << arch << ": BTF of the declarations not checked");
            continue;
        }
        CAPTURE(arch);
        const StructLayouts from_btf = btf::read_btf_layouts(so, netbsd::shipped_layout_request());
        const StructLayouts file = load_layouts_file(
            (source_root() / "share/kvmkit/layouts" / fmt::format("netbsd-10-{}.json", arch)).string());
        CHECK(from_btf.pointer_size == file.pointer_size);
        REQUIRE(from_btf.structs.size() == file.structs.size());
        std::size_t members = 0;
        for (const auto& entry : file.structs) {
            const std::string& name = entry.first;
            const StructLayout& s = entry.second;
            CAPTURE(name);
            const StructLayout& b = from_btf.get(name);
            CHECK(b.size == s.size);
            REQUIRE(b.members.size() == s.members.size());
            for (std::size_t i = 0; i < s.members.size(); ++i) {
                MemberLayout want = s.members[i];
                MemberLayout got = b.members[i];
                want.meaning = got.meaning = "";
                CHECK(got == want);
                ++members;
            }
        }
        CHECK(members >= 50);
    }
}
