// kvmnm: a kernel's symbols by name and by address, from its namelist and,
// with -M, checked against a crash dump.  See kvmnm(1).
#include <kvm/error.h>
#include <kvm/hexdump.h>
#include <kvm/modules.h>
#include <kvm/nm.h>
#include <kvm/target.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cstdio>
#include <optional>

namespace {

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;
constexpr std::string_view usage =
    "usage: kvmnm [-agPSu] [-t d|o|x] [-N system] [-M core ...] [--dumplo blocks] [--json] [--no-index]\n"
    "             [--zero-excluded] [name | pattern | address] ...";

struct Options {
    std::string system;
    std::vector<std::string> cores;
    bool zero_excluded = false;
    std::optional<std::uint64_t> dumplo;
    bool json = false;
    bool no_index = false;
    kvm::NmListOptions list;
    std::string radix = "x";
    std::vector<std::string> queries;
};

using Json = nlohmann::ordered_json;

std::string hex_value(std::uint64_t v) {
    return fmt::format("{:#x}", v);
}

// JSON Lines, as every kvmkit tool prints JSON.  A name or argument that is
// not UTF-8 prints as U+FFFD rather than throw.
std::string json_line(const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Json symbol_json(const kvm::Symbol& s) {
    Json j{{"name", s.name}, {"type", std::string(1, s.type)}};
    j["value"] = kvm::nm_is_undefined(s) ? Json(nullptr) : Json(hex_value(s.value));
    j["size"] = s.size != 0 ? Json(s.size) : Json(nullptr);
    if (!s.module.empty()) j["module"] = s.module;
    return j;
}

Json answer_json(const kvm::NmAnswer& a, bool checked) {
    Json j{{"query", a.query}};
    if (a.error) {
        j["error"] = a.error->message();
        return j;
    }
    if (a.kind == kvm::NmAnswer::Kind::address) {
        j["address"] = hex_value(a.address);
        if (a.symbol == nullptr) {
            j["symbol"] = nullptr;
        } else {
            j["symbol"] = symbol_json(*a.symbol);
            j["offset"] = a.offset;
            if (a.past_end) j["past_end"] = true;
        }
    } else {
        j["symbol"] = symbol_json(*a.symbol);
    }
    if (checked) {
        j["in_dump"] = !a.dump_error.has_value();
        if (a.dump_error) j["dump_error"] = a.dump_error->message();
    }
    return j;
}

int run(Options o) {
    o.list.radix = kvm::nm_radix(o.radix);
    if (o.list.all && !o.queries.empty())
        throw kvm::Error(kvm::ErrorKind::usage, "-a lists every symbol: it takes no names or addresses");
    const kvm::CoreFiles files = kvm::core_files(o.cores);
    const kvm::Target t = kvm::open_target({.namelist = o.system,
                                            .core = files.core,
                                            .core_parts = files.parts,
                                            .zero_excluded = o.zero_excluded,
                                            .warn = [](const std::string& s) { fmt::print(stderr, "kvmnm: {}\n", s); },
                                            .dumplo_blocks = o.dumplo,
                                            .need_memory = false,
                                            .need_namelist = true,
                                            // -a reads the ELF file's own table, which the index does not keep.
                                            .index = {.enabled = !o.no_index && !o.list.all},
                                            .decompress = kvm::tool_decompress_options("kvmnm")});
    const kvm::SymbolTable& symbols = t.namelist->symbols();
    const unsigned digits = kvm::nm_value_digits(*t.namelist, t.kernel.get());
    kvm::OutputBuffer out(STDOUT_FILENO);
    std::string& text = out.buffer();

    if (o.list.all) {
        // The file's table as nm -a -n lists it, section and file symbols included.
        for (const kvm::Symbol& s : kvm::nm_every_symbol(*t.namelist)) {
            if (!kvm::nm_listed(s, o.list)) continue;
            if (o.json) {
                text += json_line(symbol_json(s));
            } else {
                kvm::format_nm_symbol(s, digits, o.list, text);
                text.push_back('\n');
            }
            out.flush_if_full();
        }
        out.flush();
        return 0;
    }
    if (o.queries.empty()) {
        // Everything, in address order, as nm -n lists it.
        if (o.json) {
            for (const kvm::Symbol& s : symbols.by_address()) {
                if (!kvm::nm_listed(s, o.list)) continue;
                text += json_line(symbol_json(s));
                out.flush_if_full();
            }
        } else {
            for (const kvm::Symbol& s : symbols.by_address()) {
                if (!kvm::nm_listed(s, o.list)) continue;
                kvm::format_nm_symbol(s, digits, o.list, text);
                text.push_back('\n');
                out.flush_if_full();
            }
        }
        out.flush();
        return 0;
    }

    // A dump's modules and their symbols, read once when a query needs them.
    std::optional<kvm::ModuleSymbols> modules;
    const auto module_symbols = [&]() -> const kvm::ModuleSymbols& {
        if (modules) return *modules;
        kvm::ModuleListing listing;
        const kvm::ModuleWarn warn = [&](const kvm::Error& e) {
            out.flush();
            fmt::print(stderr, "kvmnm: warning: module symbols: {}\n", e.what());
        };
        try {
            listing = kvm::list_modules(*t.kernel, {.symbols = true}, warn);
        } catch (const kvm::Error& e) {
            // A kernel without modules, or without the type information
            // to read them, has only the namelist's symbols.
            if (e.kind() != kvm::ErrorKind::not_found && e.kind() != kvm::ErrorKind::unsupported) warn(e);
        }
        return modules.emplace(listing);
    };

    // A malformed argument is a usage error, found before anything is printed.
    std::vector<kvm::NmAnswer> answers;
    answers.reserve(o.queries.size());
    for (const std::string& query : o.queries) {
        for (kvm::NmAnswer& a : kvm::nm_answers(symbols, query, o.list)) {
            if (a.error && a.error->kind() == kvm::ErrorKind::usage) throw *a.error;
            answers.push_back(std::move(a));
        }
    }
    int status = 0;
    for (kvm::NmAnswer& a : answers) {
        const std::string& query = a.query;
        if (t.kernel && kvm::nm_wants_modules(a)) kvm::nm_resolve_in_modules(module_symbols(), a);
        if (t.kernel) kvm::nm_check_dump(*t.kernel, a);
        if (o.json) {
            text += json_line(answer_json(a, t.kernel != nullptr));
        } else if (!a.error) {
            if (a.kind == kvm::NmAnswer::Kind::name) {
                kvm::format_nm_symbol(*a.symbol, digits, o.list, text);
            } else {
                kvm::format_nm_answer(a, digits, text);
            }
            text.push_back('\n');
            out.flush_if_full();
        }
        // Diagnostics go out after the answers before them, so the two
        // streams interleave in order on a terminal.
        if (a.error || a.dump_error) out.flush();
        if (a.error) {
            fmt::print(stderr, "kvmnm: {}\n", a.error->message());
            status = exit_failure;
        } else if (a.dump_error && !o.json) {
            // The message starts with the address; name the query when it was not that address.
            const std::string& why = a.dump_error->message();
            if (why.rfind(query + ": ", 0) == 0) {
                fmt::print(stderr, "kvmnm: warning: {}\n", why);
            } else {
                fmt::print(stderr, "kvmnm: warning: {}: {}\n", query, why);
            }
        }
    }
    out.flush();
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"print a kernel's symbols by name or address, optionally checked against a crash dump", "kvmnm"};
    app.set_version_flag("--version", "kvmnm (kvmkit) " KVMKIT_VERSION);
    Options o;
    app.add_option("-N", o.system, "the kernel namelist (default: the running kernel's)")->option_text("system");
    app.add_option("-M", o.cores,
                   "the crash dump: a core file, or a dump device with --dumplo; again for each file of a split dump")
        ->option_text("core")
        ->allow_extra_args(false);
    app.add_flag("--zero-excluded", o.zero_excluded, "read pages the dump level excluded as zeros");
    app.add_option("--dumplo", o.dumplo, "the dump's start on the -M device, in 512-byte blocks")
        ->option_text("blocks");
    app.add_flag("--json", o.json, "JSON Lines: one object per answer (per symbol without arguments)");
    app.add_flag("--no-index", o.no_index, "neither read nor write the symbol index file");
    app.add_flag("-a", o.list.all,
                 "every symbol of the ELF file, those naming a section or a source file too (values as in the file)");
    app.add_flag("-g", o.list.external_only, "only external symbols (upper-case letters, w and v)");
    app.add_flag("-u", o.list.undefined_only, "only undefined symbols");
    app.add_flag("-S", o.list.sizes, "the size after the value, for symbols with one");
    app.add_flag("-P", o.list.posix, "POSIX format: name, type, value, size");
    app.add_option("-t", o.radix, "the radix of values and sizes: d, o or x (default)")->option_text("radix");
    app.add_option("name | address", o.queries, "symbols (nlist rule) or addresses (0x..., symbol+offset)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        fmt::print(stderr, "kvmnm: {}\n{}\n", e.what(), usage);
        return exit_usage;
    }
    try {
        return run(o);
    } catch (const kvm::Error& e) {
        std::fflush(stdout);
        fmt::print(stderr, "kvmnm: {}\n", e.what());
        return e.kind() == kvm::ErrorKind::usage ? exit_usage : exit_failure;
    }
}
