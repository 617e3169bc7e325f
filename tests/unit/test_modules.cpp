// The module list: Linux modules planted in a synthetic machine through a
// real 6.1 kernel's layouts (every field known), and the 6.4 layout of
// memory regions; damaged lists and symbol tables; the table and JSON
// kvmmod prints; kvmnm's lookups among module symbols.  The real dumps:
// test_realdump_modargs.cpp and tests/cli/kvmmod_linux.sh.
#include <kvm/format.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/modules.h>
#include <kvm/namelist.h>
#include <kvm/nm.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "linux_modules_fixture.h"
#include "procs/list_walk.h"
#include "test_util.h"

using namespace kvm;

namespace {

struct ModuleCrash {
    explicit ModuleCrash(std::vector<kvmtest::LinuxModule> modules = kvmtest::default_linux_modules(),
                         std::optional<StructLayouts> own_layouts = std::nullopt)
        : layouts(own_layouts ? *own_layouts : load_layouts_file(kvmtest::linux_module_layout_path())) {
        planted = kvmtest::plant_modules(machine, layouts, modules);
    }
    // Opens the dump as planted so far (damage goes in before).
    void open() {
        layout_file = dir / "modules.json";
        write_file(layout_file, to_json(layouts));
        kernel = std::make_unique<Kernel>(open_format(std::make_shared<MemorySource>(machine.elf_qemu(), "vmcore")),
                                          std::make_shared<Namelist>("System.map", machine.symbol_table()));
    }
    ModuleListing list(bool symbols = true) {
        warnings.clear();
        return list_modules(*kernel, {.layout_file = layout_file, .symbols = symbols},
                            [&](const Error& e) { warnings.emplace_back(e.what()); });
    }
    static void write_file(const std::string& path, const std::string& text) {
        synth::write_file(path, to_bytes(text));
    }

    test::TempDir dir;
    kvmtest::LinuxMachine machine;
    StructLayouts layouts;
    kvmtest::PlantedModules planted;
    std::string layout_file;
    std::unique_ptr<Kernel> kernel;
    std::vector<std::string> warnings;
};

std::vector<std::string> names(const ModuleListing& l) {
    std::vector<std::string> out;
    for (const auto& m : l.modules)
        out.push_back(m.name);
    return out;
}

}  // namespace

TEST_CASE("Linux modules planted through a real kernel's layouts read back as /proc/modules shows them") {
    ModuleCrash c;
    c.open();
    const ModuleListing l = c.list();
    CHECK(c.warnings.empty());
    // The unformed one is not listed.
    REQUIRE(names(l) == std::vector<std::string>{"virtio_blk", "virtio_pci", "virtio"});
    const ModuleInfo& blk = l.modules[0];
    CHECK(blk.base == c.planted.base.at("virtio_blk"));
    CHECK(blk.size == 0x7000);
    CHECK(blk.refs == 0);
    CHECK(blk.state == "Live");
    CHECK(blk.used_by.empty());
    CHECK(blk.address == c.planted.module.at("virtio_blk"));
    const ModuleInfo& pci = l.modules[1];
    CHECK(pci.size == 0x7000);  // core and init
    CHECK(pci.refs == 1);
    CHECK(pci.state == "Loading");
    const ModuleInfo& virtio = l.modules[2];
    CHECK(virtio.refs == 2);
    CHECK(virtio.used_by == std::vector<std::string>{"virtio_blk", "virtio_pci", "[permanent]"});

    const std::uint64_t blk_base = c.planted.base.at("virtio_blk");
    const std::uint64_t virtio_base = c.planted.base.at("virtio");
    CHECK(format_modules_table(l.modules) ==
          fmt::format("Module                Address  Size Used State   by\n"
                      "virtio_blk {:#x} 28672    0 Live\n"
                      "virtio_pci {:#x} 28672    1 Loading\n"
                      "virtio     {:#x} 20480    2 Live    virtio_blk,virtio_pci,[permanent]\n",
                      blk_base, pci.base, virtio_base));
    CHECK(format_module_json(virtio) ==
          fmt::format("{{\"name\":\"virtio\",\"base\":\"{:#x}\",\"size\":20480,\"refs\":2,\"state\":\"Live\","
                      "\"used_by\":[\"virtio_blk\",\"virtio_pci\",\"[permanent]\"],\"address\":\"{:#x}\"}}",
                      virtio_base, virtio.address));

    // Symbols: the null one left out, each with its module, value and letter.
    REQUIRE(l.symbols.size() == 6);
    CHECK(l.symbols[0].name == "virtblk_probe");
    CHECK(l.symbols[0].value == blk_base + 0x10);
    CHECK(l.symbols[0].size == 0x200);
    CHECK(l.symbols[0].type == 't');
    CHECK(l.symbols[0].module == "virtio_blk");
    CHECK(l.symbols[3].name == "vp_ops");
    CHECK(l.symbols[3].type == 'd');
    const ModuleSymbols symbols(l);
    const auto hit = symbols.nearest(blk_base + 0x15);
    REQUIRE(hit.has_value());
    CHECK(hit->symbol->name == "virtblk_probe");
    CHECK(hit->offset == 5);
    // Before the first symbol of its module, past its end, or outside any: no answer.
    CHECK(!symbols.nearest(blk_base + 0x8).has_value());
    CHECK(!symbols.nearest(virtio_base + 0x5000).has_value());
    CHECK(symbols.nearest(virtio_base + 0x4fff)->symbol->name == "virtio_bus");
    CHECK(symbols.find("vp_probe").size() == 1);
    CHECK(symbols.find("nosuch").empty());

    // kvmnm's answers.
    NmAnswer a = nm_query(c.kernel->symbols(), fmt::format("{:#x}", blk_base + 0x15));
    nm_resolve_in_modules(symbols, a);
    std::string text;
    format_nm_answer(a, 16, text);
    CHECK(text == fmt::format("{:#x}: virtblk_probe+0x5 [virtio_blk] (size 0x200)", blk_base + 0x15));
    NmAnswer named = nm_query(c.kernel->symbols(), "register_virtio_driver");
    CHECK(nm_wants_modules(named));
    nm_resolve_in_modules(symbols, named);
    CHECK(!named.error);
    text.clear();
    format_nm_answer(named, 16, text);
    CHECK(text == fmt::format("{:016x} T register_virtio_driver [virtio]", virtio_base + 0x20));
    NmAnswer kernel = nm_query(c.kernel->symbols(), "init_top_pgt");
    CHECK(!nm_wants_modules(kernel));
}

TEST_CASE("Linux 6.4 modules: memory regions, the text one giving the address") {
    StructLayouts l = load_layouts_file(kvmtest::linux_module_layout_path());
    StructLayout& module = l.structs.at("module");
    std::erase_if(module.members, [](const MemberLayout& m) {
        return m.name == "core_layout.base" || m.name == "core_layout.size" || m.name == "init_layout.size";
    });
    constexpr std::uint64_t regions = 7;  // MOD_MEM_NUM_TYPES
    const StructLayout memory{
        "module_memory", 0x50, {{.name = "base", .offset = 0, .size = 8}, {.name = "size", .offset = 8, .size = 4}}};
    l.structs["module_memory"] = memory;
    module.members.push_back({.name = "mem", .offset = module.size, .size = regions * memory.size, .count = regions});
    module.size += regions * memory.size;
    ModuleCrash c({{.name = "one", .symbols = {{"f", 0x40, 0x10, 't'}}}}, l);
    // The planter wrote no regions: text at the core, rodata elsewhere.
    const std::uint64_t a = c.planted.module.at("one");
    const std::uint64_t text = c.planted.base.at("one");
    const std::uint64_t rodata = c.machine.kmalloc(0x3000);
    const auto region = [&](std::uint64_t i, std::uint64_t base, std::uint64_t size) {
        c.machine.write_uint(a + module.size - regions * memory.size + i * memory.size, base, 8);
        c.machine.write_uint(a + module.size - regions * memory.size + i * memory.size + 8, size, 4);
    };
    region(0, text, 0x2000);    // MOD_TEXT
    region(2, rodata, 0x3000);  // MOD_RODATA
    c.open();
    const ModuleListing listing = c.list();
    CHECK(c.warnings.empty());
    REQUIRE(listing.modules.size() == 1);
    CHECK(listing.modules[0].base == text);
    CHECK(listing.modules[0].size == 0x5000);
    CHECK(listing.modules[0].ranges ==
          std::vector<std::pair<std::uint64_t, std::uint64_t>>{{text, 0x2000}, {rodata, 0x3000}});
    const ModuleSymbols symbols(listing);
    CHECK(symbols.nearest(text + 0x44)->offset == 4);
}

TEST_CASE("a damaged module list ends with a warning, the modules read so far kept") {
    SUBCASE("a cycle") {
        ModuleCrash c;
        const std::uint64_t next = c.layouts.get("module").member("list.next").offset;
        // virtio_pci's next is virtio_blk again.
        c.machine.write_uint(c.planted.module.at("virtio_pci") + next, c.planted.module.at("virtio_blk") + next, 8);
        c.open();
        const ModuleListing l = c.list(false);
        CHECK(names(l) == std::vector<std::string>{"virtio_blk", "virtio_pci"});
        REQUIRE(c.warnings.size() == 1);
        CHECK(c.warnings[0] == fmt::format("the module list (modules): entry 3 ({:#x}) was already visited: the "
                                           "list has a cycle; stopped there",
                                           c.planted.module.at("virtio_blk")));
    }
    SUBCASE("a symbol count past what the dump can hold") {
        ModuleCrash c;
        const kvm::MemberLayout& num = c.layouts.get("mod_kallsyms").member("num_symtab");
        const std::uint64_t kallsyms = c.planted.kallsyms.at("virtio");
        c.machine.write_uint(kallsyms + num.offset, 0x7fffffff, 4);
        c.open();
        const ModuleListing l = c.list();
        CHECK(l.modules.size() == 3);
        CHECK(l.symbols.size() == 4);  // virtio's left out
        REQUIRE(c.warnings.size() == 1);
        const std::uint64_t bound = std::min<std::uint64_t>(1u << 20, detail::entries_bound(*c.kernel, 24));
        CHECK(c.warnings[0] == fmt::format("module virtio ({:#x}): symbols at {:#x}: num_symtab is 2147483647, over "
                                           "the limit of {}",
                                           c.planted.module.at("virtio"), kallsyms, bound));
    }
    SUBCASE("a user list that leads nowhere") {
        ModuleCrash c;
        const std::uint64_t sources = c.layouts.get("module").member("source_list.next").offset;
        c.machine.write_uint(c.planted.module.at("virtio") + sources, 0xdead000000000000, 8);
        c.open();
        const ModuleListing l = c.list(false);
        CHECK(l.modules.size() == 3);
        CHECK(l.modules[2].used_by == std::vector<std::string>{"[permanent]"});
        REQUIRE(c.warnings.size() == 1);
        CHECK(c.warnings[0].starts_with(
            fmt::format("module virtio ({0:#x}): source_list: entry 0", c.planted.module.at("virtio"))));
    }
}

TEST_CASE("module lists: other systems and missing symbols say why") {
    ModuleCrash c;
    c.open();
    const Kernel bare(open_format(std::make_shared<MemorySource>(c.machine.elf_qemu(), "vmcore")), nullptr);
    CHECK(test::error_of([&] { (void)list_modules(bare, {}, {}); }) ==
          "listing the modules of a Linux dump needs the kernel's symbols (modules, and __start_BTF and __stop_BTF "
          "for its type information): give -N System.map, the crashed kernel's /proc/kallsyms, or its vmlinux");
}
