// kvmmod: the kernel modules a crash dump had loaded (-M core -N system),
// as lsmod and kldstat list them.  Flags, one library call,
// output.  See kvmmod(1).
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/modules.h>
#include <kvm/target.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;  // an error, or a list cut short by a damaged dump
constexpr int exit_usage = 2;

struct Options {
    std::string namelist;
    std::vector<std::string> cores;
    bool json = false;
    bool symbols = false;
    std::optional<std::string> layout;
    bool print_layout = false;
};

int run(const Options& o) {
    const kvm::CoreFiles files = kvm::core_files(o.cores);
    if (files.core.empty())
        throw kvm::Error(kvm::ErrorKind::usage, "no dump given (-M): the running host's modules are in /proc/modules");
    // A dump cut short still lists what it holds, with warnings where it ends.
    const auto kernel = kvm::Kernel::open({.namelist = o.namelist,
                                           .core = files.core,
                                           .allow_truncated = true,
                                           .core_parts = files.parts,
                                           .warn = [](const std::string& s) { fmt::print(stderr, "kvmmod: {}\n", s); },
                                           .decompress = kvm::tool_decompress_options("kvmmod")});
    const auto reader = kvm::make_module_reader(*kernel, {.layout_file = o.layout});
    if (o.print_layout) {
        std::fputs(kvm::to_json(reader->layouts()).c_str(), stdout);
        return exit_ok;
    }
    if (o.symbols && !reader->reads_symbols())
        throw kvm::Error(kvm::ErrorKind::unsupported,
                         fmt::format("-s: the symbols of {} modules are not read (only Linux's are)", reader->name()));
    bool incomplete = false;
    const kvm::ModuleListing listing = reader->read(o.symbols, [&](const kvm::Error& e) {
        incomplete = true;
        fmt::print(stderr, "kvmmod: warning: {}\n", e.what());
    });
    std::string out;
    if (o.symbols) {
        // /proc/kallsyms' lines for modules: "value type name\t[module]".
        for (const kvm::Symbol& s : listing.symbols)
            out += fmt::format("{:0{}x} {} {}\t[{}]\n", s.value, kernel->pointer_size() * 2, s.type, s.name, s.module);
    } else if (o.json) {
        for (const kvm::ModuleInfo& m : listing.modules)
            out += kvm::format_module_json(m) + "\n";
    } else {
        out = kvm::format_modules_table(listing);
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return incomplete ? exit_failure : exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    kvm::set_layout_advice("give a debug kernel (-N) or a layout file (--layout)");
    CLI::App app{"list the kernel modules a crash dump had loaded", "kvmmod"};
    Options o;
    app.add_option("-N", o.namelist, "the kernel that crashed (namelist)");
    app.add_option("-M", o.cores, "the crash dump; again for each file of a split dump")->allow_extra_args(false);
    app.add_flag("--json", o.json, "one JSON object per module");
    app.add_flag("-s", o.symbols, "the modules' symbols, as /proc/kallsyms lists them");
    app.add_option("--layout", o.layout, "structure layout file for the dumped kernel (JSON)");
    app.add_flag("--print-layout", o.print_layout, "print the structure layouts in use and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }
    try {
        return run(o);
    } catch (const kvm::Error& e) {
        fmt::print(stderr, "kvmmod: {}\n", e.what());
        return e.kind() == kvm::ErrorKind::usage ? exit_usage : exit_failure;
    }
}
