// FreeBSD's and DragonFly's loaded files (kldstat's view of linker_files):
// files planted through the shipped layouts and through the kernel's own
// CTF, read back through a kcore and Kernel, every field and the exact
// table and JSON kvmmod prints; a file still being linked left out as
// kldnext leaves it; damaged lists (a cycle, a link or a name outside the
// dump, overlapping files) and missing symbols, with their full messages.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/modules.h>
#include <kvm/synth.h>
#include <kvm/synth_ctf.h>
#include <kvm/synth_modules.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "bsd_fixture.h"
#include "test_util.h"

using namespace kvm;
using kvm::test::BsdCrash;

namespace {

StructLayouts shipped(const std::string& name) {
    return load_layouts_file(test::shipped_layouts_dir() + "/" + name + ".json");
}

using FileDamage = std::function<void(synth::CrashedMachine&, const StructLayouts&, const synth::PlantedLinkerFiles&)>;

// A machine of `os` with default_linker_files(os) planted, damaged by
// `damage`, its osrelease `osrelease` (default: FreeBSD 14.1, DragonFly 5.8).
struct FilesCrash {
    FilesCrash(std::string os, StructLayouts layouts, const FileDamage& damage = {}, std::string osrelease = "")
        : crash(os, "amd64", std::move(layouts), [&](synth::CrashedMachine& m, const StructLayouts& l) {
              if (osrelease.empty()) osrelease = os == "freebsd" ? "14.1" : "5.8";
              m.write_string(m.symbol("osrelease"), osrelease);
              files = synth::plant_linker_files(m, l, synth::default_linker_files(os));
              if (damage) damage(m, l, files);
              return synth::PlantedProcesses{};
          }) {}

    ModuleListing list(const ModuleOptions& options = {.layout_dirs = {test::shipped_layouts_dir()}}) {
        kernel = crash.open();
        warnings.clear();
        return list_modules(*kernel, options, [&](const Error& e) { warnings.emplace_back(e.what()); });
    }
    std::uint64_t file(std::size_t i) const { return files.file.at(i); }
    std::uint64_t member(const char* name) const { return crash.layouts.get("linker_file").member(name).offset; }

    synth::PlantedLinkerFiles files;
    BsdCrash crash;
    std::unique_ptr<Kernel> kernel;
    std::vector<std::string> warnings;
};

// The kvm::Error `f` throws (a default one, of kind io and no message, when none).
Error caught(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    return Error(ErrorKind::io, "no error");
}

std::vector<std::string> names(const ModuleListing& l) {
    std::vector<std::string> out;
    for (const auto& m : l.modules)
        out.push_back(m.name);
    return out;
}

// kldstat's table of the default FreeBSD files at their planted addresses.
std::string freebsd_table(const synth::PlantedLinkerFiles& f) {
    return fmt::format(
        "Id Refs Address                Size Name\n"
        " 1   23 {:#x}  1f3e2d0 kernel\n"
        " 2    1 {:#x}    5d598 zfs.ko\n"
        " 3    2 {:#x}     7178 cryptodev.ko\n"
        " 6    1 {:#x}     31a8 accf_http.ko\n",
        f.address[0], f.address[1], f.address[2], f.address[4]);
}

}  // namespace

TEST_CASE("freebsd linker_files: every field, in list order, the file still being linked left out") {
    FilesCrash c("freebsd", shipped("freebsd-14-amd64"));
    const ModuleListing l = c.list();
    CHECK(c.warnings.empty());
    CHECK(l.table == ModuleTable::kldstat);
    CHECK(l.pointer_size == 8);
    REQUIRE(l.modules.size() == 4);
    const std::vector<synth::LinkerFileSpec> specs = synth::default_linker_files("freebsd");
    for (const std::size_t i : {0u, 1u, 2u, 4u}) {
        CAPTURE(i);
        const synth::LinkerFileSpec& s = specs[i];
        const ModuleInfo& m = l.modules[i == 4 ? 3 : i];
        CHECK(m.name == s.filename);
        CHECK(m.path == s.pathname);
        CHECK(m.id == s.id);
        CHECK(m.refs == s.refs);
        CHECK(m.base == c.files.address[i]);
        CHECK(m.size == s.size);
        CHECK(m.address == c.file(i));
        CHECK(m.ranges == std::vector<std::pair<std::uint64_t, std::uint64_t>>{{c.files.address[i], s.size}});
        CHECK(m.state.empty());
        CHECK(m.used_by.empty());
    }
    CHECK(format_modules_table(l) == freebsd_table(c.files));
    CHECK(format_module_json(l.modules[1]) ==
          fmt::format("{{\"name\":\"zfs.ko\",\"base\":\"{:#x}\",\"size\":382360,\"refs\":1,\"state\":\"\",\"used_by\":"
                      "[],\"address\":\"{:#x}\",\"id\":2,\"path\":\"/boot/kernel/zfs.ko\"}}",
                      c.files.address[1], c.file(1)));
    const auto reader = make_module_reader(*c.kernel, {.layout_dirs = {test::shipped_layouts_dir()}});
    CHECK(reader->name() == "freebsd");
    CHECK_FALSE(reader->reads_symbols());
    CHECK(reader->layouts().source == test::shipped_layouts_dir() + "/freebsd-14-amd64.json");
}

TEST_CASE("freebsd linker_files: the kernel's CTF gives the structure, kvmkit's table LINKER_FILE_LINKED") {
    // 13.2 has no shipped file: the flag comes from the table.
    FilesCrash c("freebsd", shipped("freebsd-14-amd64"), {}, "13.2");
    c.crash.machine.add_kernel_section(".SUNW_ctf", synth::ctf_from_layouts(c.crash.layouts, 3, true));
    synth::write_file(c.crash.kernel_path, c.crash.machine.kernel_elf());
    const ModuleListing l = c.list();
    CHECK(c.warnings.empty());
    CHECK(format_modules_table(l) == freebsd_table(c.files));
    const auto reader = make_module_reader(*c.kernel, {.layout_dirs = {test::shipped_layouts_dir()}});
    CHECK(reader->layouts().source == fmt::format("CTF in {}", c.crash.kernel_path));
    CHECK(reader->layouts().derived.ends_with("; LINKER_FILE_LINKED from kvmkit's table of freebsd constants"));
}

TEST_CASE("freebsd linker_files: a layout the reader has not seen, given as a file") {
    const StructLayouts moved = test::shifted(shipped("freebsd-14-amd64"), {"linker_file"}, 24);
    FilesCrash c("freebsd", moved);
    const test::TempDir dir;
    const std::string path = dir / "moved.json";
    synth::write_file(path, to_bytes(to_json(moved)));
    CHECK(format_modules_table(c.list({.layout_file = path})) == freebsd_table(c.files));
    CHECK(c.warnings.empty());
    // The shipped layouts read other bytes: no file is listed as planted.
    CHECK(format_modules_table(c.list()) != freebsd_table(c.files));
}

TEST_CASE("dragonfly linker_files: the same list without pathnames, through DragonFly 5's layouts") {
    FilesCrash c("dragonfly", shipped("dragonfly-5-amd64"));
    const ModuleListing l = c.list();
    CHECK(c.warnings.empty());
    CHECK(names(l) == std::vector<std::string>{"kernel", "ahci.ko", "tmpfs.ko", "nullfs.ko"});
    CHECK(format_modules_table(l) == fmt::format("Id Refs Address                Size Name\n"
                                                 " 1    4 {:#x}   1a2b3c kernel\n"
                                                 " 2    1 {:#x}     9000 ahci.ko\n"
                                                 " 3    2 {:#x}     5000 tmpfs.ko\n"
                                                 " 6    1 {:#x}     2800 nullfs.ko\n",
                                                 c.files.address[0], c.files.address[1], c.files.address[2],
                                                 c.files.address[4]));
    for (const ModuleInfo& m : l.modules)
        CHECK(m.path.empty());
    CHECK(format_module_json(l.modules[0]).ends_with(fmt::format("\"address\":\"{:#x}\",\"id\":1}}", c.file(0))));
}

TEST_CASE("kldstat's table is as wide as the kernel's pointers") {
    ModuleListing l;
    l.table = ModuleTable::kldstat;
    l.pointer_size = 4;
    l.modules.push_back({.name = "kernel", .base = 0xc0400000, .size = 0x9a2b3c, .refs = 7, .id = 1});
    l.modules.push_back(
        {.name = "a_module_with_a_long_name.ko", .base = 0, .size = 0x123456789, .refs = 12345, .id = 123});
    CHECK(format_modules_table(l) ==
          "Id Refs Address        Size Name\n"
          " 1    7 0xc0400000   9a2b3c kernel\n"
          "123 12345        0x0 123456789 a_module_with_a_long_name.ko\n");
}

TEST_CASE("freebsd linker_files: damaged lists keep what is sound and say what is wrong") {
    SUBCASE("a cycle from the last file back to the first") {
        FilesCrash c("freebsd", shipped("freebsd-14-amd64"),
                     [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedLinkerFiles& f) {
                         m.write_pointer(f.file[4] + l.get("linker_file").member("link.tqe_next").offset, f.file[0]);
                     });
        const ModuleListing l = c.list();
        CHECK(format_modules_table(l) == freebsd_table(c.files));
        CHECK(c.warnings == std::vector<std::string>{fmt::format(
                                "the loaded files (linker_files): entry 5 ({:#x}) was already visited: the list has a "
                                "cycle; stopped there",
                                c.file(0))});
    }
    SUBCASE("a name outside the dump: the file is listed without it, and the list goes on") {
        FilesCrash c("freebsd", shipped("freebsd-14-amd64"),
                     [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedLinkerFiles& f) {
                         m.write_pointer(f.file[1] + l.get("linker_file").member("filename").offset,
                                         0xfffffe00deadb000);
                     });
        const ModuleListing l = c.list();
        CHECK(names(l) == std::vector<std::string>{"kernel", "", "cryptodev.ko", "accf_http.ko"});
        CHECK(l.modules[1].path == "/boot/kernel/zfs.ko");
        REQUIRE(c.warnings.size() == 1);
        CHECK(c.warnings[0] == fmt::format("linker_file {:#x} (id 2): filename at 0xfffffe00deadb000: {}", c.file(1),
                                           test::error_of([&] { (void)c.kernel->read_uint(0xfffffe00deadb000, 1); })));
    }
    SUBCASE("a link outside the dump ends the list after the files before it") {
        FilesCrash c("freebsd", shipped("freebsd-14-amd64"),
                     [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedLinkerFiles& f) {
                         m.write_pointer(f.file[2] + l.get("linker_file").member("link.tqe_next").offset,
                                         0xfffffe00deadb000);
                     });
        const ModuleListing l = c.list();
        CHECK(names(l) == std::vector<std::string>{"kernel", "zfs.ko", "cryptodev.ko"});
        REQUIRE(c.warnings.size() == 1);
        CHECK(c.warnings[0] == fmt::format("the loaded files (linker_files): entry 3 (0xfffffe00deadb000): {}",
                                           test::error_of([&] { (void)c.kernel->read_uint(0xfffffe00deadb000, 1); })));
    }
    SUBCASE("a link into the middle of another file") {
        FilesCrash c("freebsd", shipped("freebsd-14-amd64"),
                     [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedLinkerFiles& f) {
                         m.write_pointer(f.file[1] + l.get("linker_file").member("link.tqe_next").offset,
                                         f.file[0] + 8);
                     });
        const ModuleListing l = c.list();
        CHECK(names(l) == std::vector<std::string>{"kernel", "zfs.ko"});
        CHECK(c.warnings == std::vector<std::string>{fmt::format(
                                "the loaded files (linker_files): entry 2 ({:#x}) overlaps the linker_file at {:#x} "
                                "(8 bytes apart; each is at least 80 bytes): the list is corrupt; stopped there",
                                c.file(0) + 8, c.file(0))});
    }
}

TEST_CASE("freebsd linker_files: what the reader needs, by name") {
    FilesCrash c("freebsd", shipped("freebsd-14-amd64"));
    (void)c.list();
    SUBCASE("a namelist") {
        auto format = open_format(std::make_shared<MemorySource>(c.crash.kcore, "vmcore.0"));
        const Kernel bare(std::make_unique<test::OsFormat>(std::move(format), "freebsd"), nullptr);
        const Error e = caught([&] { (void)make_module_reader(bare, {}); });
        CHECK(e.kind() == ErrorKind::usage);
    }
    SUBCASE("a release with neither type information nor a shipped file") {
        FilesCrash old("freebsd", shipped("freebsd-14-amd64"), {}, "12.4");
        const Error e = caught([&] { (void)old.list(); });
        CHECK(e.kind() == ErrorKind::not_found);
        CHECK(std::string(e.what()).starts_with(
            "no structure layouts for freebsd 12 amd64: the namelist has no type information and there is no "
            "freebsd-12-amd64.json in "));
    }
}

namespace {

using ModuleDamage =
    std::function<void(synth::CrashedMachine&, const StructLayouts&, const synth::PlantedNetbsdModules&)>;

// A NetBSD 10 machine of `arch` with default_netbsd_modules() planted.
struct NetbsdModulesCrash {
    explicit NetbsdModulesCrash(const char* arch = "amd64", const ModuleDamage& damage = {})
        : crash("netbsd", arch, shipped(fmt::format("netbsd-10-{}", arch)),
                [&](synth::CrashedMachine& m, const StructLayouts& l) {
                    modules = synth::plant_netbsd_modules(m, l, synth::default_netbsd_modules());
                    if (damage) damage(m, l, modules);
                    return synth::PlantedProcesses{};
                }) {}

    ModuleListing list() {
        kernel = crash.open();
        warnings.clear();
        return list_modules(*kernel, {.layout_dirs = {test::shipped_layouts_dir()}},
                            [&](const Error& e) { warnings.emplace_back(e.what()); });
    }
    std::uint64_t offset(const char* s, const char* m) const { return crash.layouts.get(s).member(m).offset; }

    synth::PlantedNetbsdModules modules;
    BsdCrash crash;
    std::unique_ptr<Kernel> kernel;
    std::vector<std::string> warnings;
};

}  // namespace

TEST_CASE("netbsd module_list: every field, as modstat -k prints them") {
    for (const char* arch : {"amd64", "i386"}) {
        CAPTURE(arch);
        NetbsdModulesCrash c(arch);
        const ModuleListing l = c.list();
        CHECK(c.warnings.empty());
        CHECK(l.table == ModuleTable::modstat);
        REQUIRE(l.modules.size() == 5);
        const std::vector<synth::NetbsdModuleSpec> specs = synth::default_netbsd_modules();
        for (std::size_t i = 0; i < specs.size(); ++i) {
            CAPTURE(i);
            const ModuleInfo& m = l.modules[i];
            CHECK(m.name == specs[i].name);
            CHECK(m.address == c.modules.module[i]);
            CHECK(m.base == c.modules.text[i]);
            CHECK(m.size == specs[i].text_size);
            CHECK(m.refs == static_cast<std::int32_t>(specs[i].refcnt));
            CHECK(m.id == -1);
        }
        const std::size_t w = std::string_view(arch) == "amd64" ? 16 : 8;
        CHECK(format_modules_table(l) ==
              fmt::format("NAME        CLASS  SOURCE  FLAG REFS {:>{}}   SIZE REQUIRES\n"
                          "ffs         vfs    builtin -       1 {:>{}}      0 -\n"
                          "compat_util misc   builtin -      -1 {:>{}}      0 -\n"
                          "nfs         vfs    boot    -       2 {:>{}x} 127424 -\n"
                          "compat_50   misc   filesys a       0 {:>{}x}  23096 compat_60,compat_util\n"
                          "drmkms      driver filesys af      1 {:>{}x} 246864 agp\n",
                          "ADDRESS", w, 0, w, 0, w, c.modules.text[2], w, c.modules.text[3], w, c.modules.text[4], w));
        CHECK(format_module_json(l.modules[3]) ==
              fmt::format("{{\"name\":\"compat_50\",\"base\":\"{:#x}\",\"size\":23096,\"refs\":0,\"state\":\"filesys\","
                          "\"used_by\":[],\"address\":\"{:#x}\",\"class\":\"misc\",\"flags\":\"a\",\"requires\":["
                          "\"compat_60\",\"compat_util\"]}}",
                          c.modules.text[3], c.modules.module[3]));
    }
}

TEST_CASE("netbsd module_list: a module whose modinfo or kobj is out of reach is listed without them") {
    NetbsdModulesCrash c("amd64",
                         [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedNetbsdModules& p) {
                             const auto& mod = l.get("module");
                             m.write_pointer(p.module[2] + mod.member("mod_info").offset, 0xffffc000deadb000);
                             m.write_pointer(p.module[4] + mod.member("mod_kobj").offset, 0xffffc000deadc000);
                         });
    const ModuleListing l = c.list();
    CHECK(names(l) == std::vector<std::string>{"ffs", "compat_util", "", "compat_50", "drmkms"});
    CHECK(l.modules[2].base == c.modules.text[2]);
    CHECK(l.modules[4].base == 0);
    CHECK(l.modules[4].required == std::vector<std::string>{"agp"});
    const auto fault = [&](std::uint64_t a) { return test::error_of([&] { (void)c.kernel->read_uint(a, 1); }); };
    CHECK(c.warnings ==
          std::vector<std::string>{fmt::format("module ? ({:#x}): mod_info at 0xffffc000deadb000: {}",
                                               c.modules.module[2], fault(0xffffc000deadb000)),
                                   fmt::format("module drmkms ({:#x}): mod_kobj at 0xffffc000deadc000: {}",
                                               c.modules.module[4], fault(0xffffc000deadc000))});
}

TEST_CASE("netbsd module_list: a cycle ends the list with a warning") {
    NetbsdModulesCrash c(
        "amd64", [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedNetbsdModules& p) {
            m.write_pointer(p.module[3] + l.get("module").member("mod_chain.tqe_next").offset, p.module[1]);
        });
    const ModuleListing l = c.list();
    CHECK(names(l) == std::vector<std::string>{"ffs", "compat_util", "nfs", "compat_50"});
    CHECK(c.warnings == std::vector<std::string>{fmt::format(
                            "the module list (module_list): entry 4 ({:#x}) was already visited: the list has a cycle; "
                            "stopped there",
                            c.modules.module[1])});
}
