// Structure layouts: the JSON format, member loads, checks against a
// request, the DWARF reader on objects compiled here, and the choice
// between a named file, type information and shipped files.
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test_util.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

using namespace kvm;
using kvm::test::error_of;
using kvm::test::TempDir;

namespace {

void write_text(const std::string& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using kvm::test::source_root;

std::string shipped(std::string_view arch) {
    return (source_root() / "share/kvmkit/layouts" / fmt::format("netbsd-10-{}.json", arch)).string();
}

// Compiles C source into a shared object with DWARF (gcc -g), as the layout
// generator does; false when there is no gcc to do it with.
bool compile(const TempDir& dir, std::string_view source, const std::string& flags, const std::string& out) {
    const std::string c = dir / "src.c";
    write_text(c, source);
    const std::string cmd =
        fmt::format("gcc {} -g -ffreestanding -nostdlib -shared -o '{}' '{}' 2>'{}'", flags, out, c, dir / "gcc.err");
    return std::system(cmd.c_str()) == 0;
}

constexpr std::string_view minimal = R"({
  "format": "kvmkit-layout-1", "os": "netbsd", "release": "10", "arch": "amd64",
  "pointer_size": 8, "byte_order": "little", "derived": "by hand, for a test",
  "structs": { "s": { "size": 16, "members": {
      "b": { "offset": 8, "size": 4, "type": "int", "meaning": "second" },
      "a": { "offset": 0, "size": 8 } } } },
  "flags": { "F_ONE": 1, "F_HIGH": { "value": "0x80000000", "field": "s.b", "meaning": "top bit" } },
  "values": { "V": 7 },
  "devices": [ { "major": 5, "driver": "pts", "name": "pts/%u" } ]
})";

}  // namespace

TEST_CASE("a layout file reads into structures, members in offset order, flags, values and devices") {
    const StructLayouts l = parse_layouts_json(minimal, "t.json");
    CHECK(l.os == "netbsd");
    CHECK(l.release == "10");
    CHECK(l.arch == "amd64");
    CHECK(l.pointer_size == 8);
    CHECK(l.order == ByteOrder::little);
    CHECK(l.source == "t.json");
    const StructLayout& s = l.get("s");
    CHECK(s.size == 16);
    REQUIRE(s.members.size() == 2);
    CHECK(s.members[0].name == "a");
    CHECK(s.members[1] == MemberLayout{.name = "b", .offset = 8, .size = 4, .type = "int", .meaning = "second"});
    CHECK(l.flag("F_HIGH") == 0x80000000u);
    CHECK(l.flags[1].field == "s.b");
    CHECK(l.require_flag("F_ONE") == 1);
    CHECK(l.value("V") == 7u);
    CHECK(!l.value("W"));
    REQUIRE(l.devices.size() == 1);
    CHECK(l.devices[0] == DeviceName{5, "pts", "pts/%u"});
    CHECK(error_of([&] { (void)l.get("proc"); }) == "no layout of struct proc in t.json");
    CHECK(error_of([&] { (void)s.member("c"); }) == "struct s has no member c");
    CHECK(error_of([&] { (void)l.require_value("W"); }) == "t.json defines no value W");
}

TEST_CASE("to_json writes what parse_layouts_json reads back") {
    for (const char* arch : {"amd64", "i386"}) {
        const StructLayouts l = load_layouts_file(shipped(arch));
        StructLayouts again = parse_layouts_json(to_json(l), l.source);
        CHECK(again == l);
        // The shipped files are to_json's output byte for byte.
        CHECK(to_json(l) == read_text(shipped(arch)));
    }
}

TEST_CASE("layout file errors name the file and the JSON path") {
    const auto err = [](std::string text) { return error_of([&] { (void)parse_layouts_json(text, "x.json"); }); };
    std::string s(minimal);
    CHECK(err("{ \"format\": ") ==
          "x.json: parse error at line 1, column 13: syntax error while parsing value - unexpected end of input; "
          "expected '[', "
          "'{', or a literal");
    CHECK(err("[]") == "x.json: a layout file is a JSON object");
    CHECK(err(std::string(s).replace(s.find("kvmkit-layout-1"), 15, "kvmkit-layout-9")) ==
          "x.json: format: is \"kvmkit-layout-9\", expected \"kvmkit-layout-1\"");
    CHECK(err(std::string(s).replace(s.find("\"offset\": 8,"), 12, "")) ==
          "x.json: structs.s.members.b: offset is missing");
    CHECK(err(std::string(s).replace(s.find("\"offset\": 8"), 11, "\"offset\": 14")) ==
          "x.json: structs.s.members.b: offset 14 size 4 is outside the 16-byte structure");
    CHECK(err(std::string(s).replace(s.find("\"little\""), 8, "\"middle\"")) ==
          "x.json: byte_order: is \"middle\", expected \"little\" or \"big\"");
    CHECK(err(std::string(s).replace(s.find("\"F_ONE\": 1"), 10, "\"F_ONE\": -1")) ==
          "x.json: flags.F_ONE: the value is not a non-negative integer");
    CHECK(err(std::string(s).replace(s.find("\"major\": 5"), 10, "\"major\": 4096")) ==
          "x.json: devices[0]: major 4096 is over 4095");
    CHECK(test::kind_of([&] { (void)parse_layouts_json("[]", "x.json"); }) == ErrorKind::corrupt);
}

TEST_CASE("members load in the layout's byte order, signed, as strings and as bitfields") {
    const Bytes b = {std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0xfe},
                     std::byte{'a'},  std::byte{'b'},  std::byte{0},    std::byte{'c'}};
    const MemberLayout word{.name = "w", .offset = 0, .size = 4};
    CHECK(load_member_unsigned(b, word, ByteOrder::little) == 0xfe030201u);
    CHECK(load_member_unsigned(b, word, ByteOrder::big) == 0x010203feu);
    CHECK(load_member_signed(b, word, ByteOrder::little) == -0x01fcfdff);
    CHECK(load_member_signed(b, MemberLayout{.name = "x", .offset = 3, .size = 1}, ByteOrder::little) == -2);
    CHECK(load_member_string(b, MemberLayout{.name = "s", .offset = 4, .size = 4}) == "ab");
    // Bits 4..11 of the first two bytes 0x01 0x02.
    const MemberLayout bits{.name = "f", .offset = 0, .size = 2, .bit_offset = 4, .bit_size = 8};
    CHECK(load_member_unsigned(b, bits, ByteOrder::little) == 0x20);  // 0x0201 >> 4 & 0xff
    CHECK(load_member_unsigned(b, bits, ByteOrder::big) == 0x10);     // 0x0102 >> 4 & 0xff
    const MemberLayout sbits{.name = "g", .offset = 3, .size = 1, .bit_offset = 24, .bit_size = 4};
    CHECK(load_member_signed(b, sbits, ByteOrder::little) == -2);  // low nibble of 0xfe
    CHECK(error_of([&] {
              (void)load_member_unsigned(b, MemberLayout{.name = "far", .offset = 6, .size = 4}, ByteOrder::little);
          }) == "far at offset 0x6, length 0x4 is outside the 0x8 bytes available");
}

TEST_CASE("check_layouts lists everything a request needs and the layouts lack") {
    const StructLayouts l = parse_layouts_json(minimal, "t.json");
    LayoutRequest r;
    r.structs = {{"s", {{"a", ""}, {"b", ""}, {"c", "", false}, {"d", ""}}}, {"t", {{"x", ""}}}};
    r.flags = {"F_ONE", "F_TWO"};
    r.values = {"V", "W"};
    CHECK(error_of([&] { check_layouts(l, r); }) == "t.json lacks s.d, struct t, flag F_TWO, value W");
    r.structs = {{"s", {{"a", ""}, {"c", "", false}}}};
    r.flags = {"F_ONE"};
    r.values = {"V"};
    CHECK(error_of([&] { check_layouts(l, r); }) == "no error");
    // The shipped files hold everything the NetBSD walker asks for.
    for (const char* arch : {"amd64", "i386"})
        CHECK(error_of([&] { check_layouts(load_layouts_file(shipped(arch)), netbsd::process_layout_request()); }) ==
              "no error");
}

TEST_CASE("the DWARF reader gives flexible array members as BTF does") {
    // Linux's struct pid ends in "struct upid numbers[]": DWARF has no bound
    // for it (GCC's older "[0]" has a count of 0), BTF has 0 elements; both
    // read as where the first element starts, with no size.
    TempDir dir;
    constexpr std::string_view source = R"(
        struct upid { int nr; void *ns; };
        struct pid { int count; unsigned level; long tasks[3]; struct upid numbers[]; };
        struct old { int n; char tail[0]; };
        struct pid object;
        struct old old_object;
    )";
    const std::string so = dir / "flex.so";
    if (!compile(dir, source, "-m64", so)) {
        MESSAGE("no gcc for x86-64: DWARF reader not tested");
        return;
    }
    LayoutRequest r;
    r.structs = {{"pid", {{"numbers", "the ids"}, {"tasks", ""}}}, {"old", {{"tail", ""}}}};
    const StructLayouts l = read_dwarf_layouts(so, r);
    CHECK(l.get("pid").member("numbers") ==
          MemberLayout{.name = "numbers", .offset = 32, .size = 0, .type = "struct upid[]", .meaning = "the ids"});
    CHECK(l.get("pid").member("tasks") ==
          MemberLayout{.name = "tasks", .offset = 8, .size = 24, .count = 3, .type = "long int[3]"});
    CHECK(l.get("old").member("tail") == MemberLayout{.name = "tail", .offset = 4, .size = 0, .type = "char[]"});
}

TEST_CASE("the DWARF reader finds nested, anonymous, array and bitfield members") {
    TempDir dir;
    constexpr std::string_view source = R"(
        struct inner { int a; union { long u1; char u2; }; };
        struct t {
            char c;
            struct inner in;
            unsigned bf1 : 3, bf2 : 5;
            int arr[4];
            struct { int x; } named;
            const struct t *volatile self;
        };
        struct t object;
    )";
    const std::string so = dir / "t.so";
    if (!compile(dir, source, "-m64", so)) {
        MESSAGE("no gcc for x86-64: DWARF reader not tested");
        return;
    }
    LayoutRequest r;
    r.structs = {{"t",
                  {{"c", "a char"},
                   {"in.a", ""},
                   {"in.u1", ""},
                   {"in.u2", ""},
                   {"bf1", ""},
                   {"bf2", ""},
                   {"arr", ""},
                   {"named.x", ""},
                   {"self", ""},
                   {"missing", ""}}},
                 {"absent", {}}};
    const StructLayouts l = read_dwarf_layouts(so, r);
    CHECK(l.pointer_size == 8);
    CHECK(l.order == ByteOrder::little);
    CHECK(l.source == fmt::format("DWARF in {}", so));
    CHECK(l.find("absent") == nullptr);
    const StructLayout& t = l.get("t");
    CHECK(t.size == 56);
    CHECK(t.member("c") == MemberLayout{.name = "c", .offset = 0, .size = 1, .type = "char", .meaning = "a char"});
    CHECK(t.member("in.a").offset == 8);
    CHECK(t.member("in.u1") == MemberLayout{.name = "in.u1", .offset = 16, .size = 8, .type = "long int"});
    CHECK(t.member("in.u2").offset == 16);
    CHECK(
        t.member("bf1") ==
        MemberLayout{.name = "bf1", .offset = 24, .size = 1, .bit_offset = 192, .bit_size = 3, .type = "unsigned int"});
    CHECK(
        t.member("bf2") ==
        MemberLayout{.name = "bf2", .offset = 24, .size = 1, .bit_offset = 195, .bit_size = 5, .type = "unsigned int"});
    CHECK(t.member("arr") == MemberLayout{.name = "arr", .offset = 28, .size = 16, .count = 4, .type = "int[4]"});
    CHECK(t.member("named.x").offset == 44);
    CHECK(t.member("self") ==
          MemberLayout{.name = "self", .offset = 48, .size = 8, .type = "const struct t * volatile"});
    CHECK(t.find("missing") == nullptr);

    // Values written as the compiler lays them out read back through the layout.
    Bytes obj(56);
    obj[24] = std::byte{0b10101'110};  // bf1 = 6, bf2 = 21
    CHECK(load_member_unsigned(obj, t.member("bf1"), ByteOrder::little) == 6);
    CHECK(load_member_unsigned(obj, t.member("bf2"), ByteOrder::little) == 21);
}

TEST_CASE("compiling the NetBSD 10 declarations gives the shipped layouts") {
    TempDir dir;
    const std::string types = read_text((source_root() / "tools/layouts/netbsd10-types.c").string());
    for (const auto& [arch, flags] : {std::pair{"amd64", "-m64"}, std::pair{"i386", "-m32"}}) {
        const std::string so = dir / fmt::format("{}.so", arch);
        if (!compile(dir, types, flags, so)) {
            MESSAGE("no gcc for " << arch << ": generated layouts not checked");
            continue;
        }
        const StructLayouts from_dwarf = read_dwarf_layouts(so, netbsd::shipped_layout_request());
        const StructLayouts file = load_layouts_file(shipped(arch));
        CHECK(from_dwarf.structs == file.structs);
        CHECK(from_dwarf.pointer_size == file.pointer_size);
    }
}

TEST_CASE("layouts come from the named file, else the shipped file of the release") {
    TempDir dir;
    const LayoutRequest& r = netbsd::process_layout_request();
    const std::vector<std::string> dirs = {(source_root() / "share/kvmkit/layouts").string()};

    StructLayouts l = resolve_layouts({.os = "netbsd", .release = "10", .arch = "i386", .dirs = dirs}, r);
    CHECK(l.source == shipped("i386"));
    CHECK(l.arch == "i386");

    // A file named by the user wins, whatever its release.
    StructLayouts custom = load_layouts_file(shipped("amd64"));
    custom.release = "9";
    const std::string path = dir / "custom.json";
    write_text(path, to_json(custom));
    l = resolve_layouts({.os = "netbsd", .release = "10", .arch = "amd64", .file = path, .dirs = dirs}, r);
    CHECK(l.source == path);
    CHECK(l.release == "9");

    CHECK(error_of([&] {
              (void)resolve_layouts({.os = "netbsd", .release = "10", .arch = "i386", .file = path, .dirs = dirs}, r);
          }) == fmt::format("{}: describes netbsd 9 amd64, but the dump is netbsd i386", path));
    CHECK(error_of([&] {
              (void)resolve_layouts({.os = "netbsd", .release = "9", .arch = "amd64", .dirs = dirs}, r);
          }) == fmt::format("no structure layouts for netbsd 9 amd64: the namelist has no type information and there "
                            "is no netbsd-9-amd64.json in {}; {}",
                            dirs[0], library_layout_advice));

    // A file without a member the walker needs is refused, naming it.
    custom.structs.at("proc").members.erase(custom.structs.at("proc").members.begin());
    custom.flags.erase(custom.flags.begin());
    write_text(path, to_json(custom));
    CHECK(error_of([&] {
              (void)resolve_layouts({.os = "netbsd", .release = "10", .arch = "amd64", .file = path, .dirs = dirs}, r);
          }) == fmt::format("{} lacks proc.p_list.le_next, flag PK_SYSTEM", path));
}

TEST_CASE("shipped layouts are found next to the executable") {
    const auto dirs = shipped_layout_dirs();
    REQUIRE(!dirs.empty());
    // The tests run from build/tests: build/share/kvmkit/layouts has the files.
    const auto file = find_shipped_layout(dirs, "netbsd", "10", "amd64");
    REQUIRE(file.has_value());
    CHECK(read_text(*file) == read_text(shipped("amd64")));
    CHECK(!find_shipped_layout(dirs, "netbsd", "10", "sparc64"));
}

TEST_CASE("a name that is not UTF-8 prints as U+FFFD, and the printed file reads back") {
    // Type names from BTF or DWARF are the dump's bytes (fuzz_btf found
    // to_json throwing on one).
    StructLayouts l;
    l.os = "linux";
    l.release = "6";
    l.arch = "amd64";
    l.pointer_size = 8;
    l.structs["task_struct"] = {
        .name = "task_struct",
        .size = 16,
        .members = {{.name = "comm", .offset = 0, .size = 16, .count = 16, .type = "ch\xffr[16]"}}};
    const StructLayouts back = parse_layouts_json(to_json(l), "printed.json");
    CHECK(back.get("task_struct").member("comm").type == "ch\xef\xbf\xbdr[16]");
    CHECK(back.get("task_struct").member("comm").offset == 0);
    CHECK(back.get("task_struct").member("comm").size == 16);
}
