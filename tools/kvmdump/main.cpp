// kvmdump: kernel virtual memory of a crash dump (or the running kernel),
// or physical memory with -P, as hexdump -C shows a file, or raw.  See
// kvmdump(1).
#include <kvm/error.h>
#include <kvm/expr.h>
#include <kvm/hexdump.h>
#include <kvm/target.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cstdio>

namespace {

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;
constexpr std::uint64_t default_length = 256;
constexpr std::string_view usage =
    "usage: kvmdump [-P] [-1 | -2 | -4 | -8] [-S] [-s] [-N system] [-M core ...] [--dumplo blocks] [-n length]\n"
    "               [-r | --json] [--zero-excluded] [--no-index] [*]address|symbol[+offset] ...";

using Json = nlohmann::ordered_json;

struct Options {
    std::string system, length;
    std::vector<std::string> cores;
    std::optional<std::uint64_t> dumplo;
    bool physical = false;
    bool zero_excluded = false;
    bool raw = false;
    bool json = false;
    bool no_index = false;
    unsigned word_size = 0;  // -1 -2 -4 -8: words of that many bytes; 0: hexdump -C
    bool symbolic = false;   // -S: words that point into symbols print as symbol+offset
    bool string = false;     // -s: the NUL-terminated string
    std::vector<std::string> addresses;
};

constexpr std::uint64_t default_string_length = 4096;

// "*panicstr": the address the pointer at panicstr holds.
struct Argument {
    kvm::AddressExpr expr;
    bool follow = false;
};

// The symbol's size from the offset on, when the expression names a symbol
// of known size and stays inside it; else the default.
std::uint64_t length_for(const kvm::AddressExpr& e, const kvm::ResolvedAddress& r) {
    if (r.symbol == nullptr || r.symbol->size == 0 || e.minus || e.offset >= r.symbol->size) return default_length;
    return r.symbol->size - e.offset;
}

std::string hex_bytes(const kvm::Bytes& b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(b.size() * 2, '0');
    for (std::size_t i = 0; i < b.size(); ++i) {
        const auto v = static_cast<unsigned char>(b[i]);
        s[2 * i] = digits[v >> 4];
        s[2 * i + 1] = digits[v & 15];
    }
    return s;
}

int run(const Options& o) {
    // Everything the command line can get wrong is rejected before any file is opened.
    if (o.raw && o.json) throw kvm::Error(kvm::ErrorKind::usage, "-r and --json exclude each other");
    const unsigned views = (o.word_size != 0 || o.symbolic ? 1 : 0) + (o.string ? 1 : 0) + (o.raw ? 1 : 0);
    if (views > 1)
        throw kvm::Error(kvm::ErrorKind::usage, "a word view (-1 -2 -4 -8 -S), -s and -r exclude each other");
    if (o.json && (o.word_size != 0 || o.symbolic))
        throw kvm::Error(kvm::ErrorKind::usage, "--json holds the bytes: a word view (-1 -2 -4 -8 -S) does not apply");
    std::optional<std::uint64_t> length;
    if (!o.length.empty()) length = kvm::parse_length(o.length);
    if (length && o.word_size > 1 && *length % o.word_size != 0)
        throw kvm::Error(kvm::ErrorKind::usage,
                         fmt::format("-n {}: not a whole number of {}-byte words", o.length, o.word_size));
    std::vector<Argument> args;
    std::vector<kvm::AddressExpr> exprs;
    for (const std::string& a : o.addresses) {
        const bool follow = a.starts_with('*');
        if (follow && o.physical)
            throw kvm::Error(kvm::ErrorKind::usage,
                             fmt::format("{}: -P reads physical memory, which holds no kernel pointers to follow", a));
        args.push_back({kvm::parse_address(follow ? std::string_view(a).substr(1) : std::string_view(a)), follow});
        args.back().expr.text = a;
        exprs.push_back(args.back().expr);
        if (o.physical && !exprs.back().symbol.empty())
            throw kvm::Error(kvm::ErrorKind::usage, fmt::format("{}: -P takes physical addresses, and {} is a symbol",
                                                                a, exprs.back().symbol));
    }
    const kvm::CoreFiles files = kvm::core_files(o.cores);
    if (o.physical && files.core.empty())
        throw kvm::Error(kvm::ErrorKind::usage, "-P reads the physical memory of a dump named with -M");
    // A dump without -N has no symbols (the running host's are another kernel's).
    if (o.system.empty() && !files.core.empty())
        for (const kvm::AddressExpr& e : exprs)
            if (!e.symbol.empty())
                throw kvm::Error(kvm::ErrorKind::usage,
                                 fmt::format("{}: a symbol needs a namelist (-N system)", e.symbol));

    const kvm::Target t =
        kvm::open_target({.namelist = o.system,
                          .core = files.core,
                          .core_parts = files.parts,
                          .zero_excluded = o.zero_excluded,
                          .warn = [](const std::string& s) { fmt::print(stderr, "kvmdump: {}\n", s); },
                          .dumplo_blocks = o.dumplo,
                          .index = {.enabled = !o.no_index},
                          .decompress = kvm::tool_decompress_options("kvmdump")});
    const auto space = o.physical ? kvm::AddressSpace::physical : kvm::AddressSpace::kernel_virtual;
    // Physical memory has no symbols: lines are not annotated.
    const kvm::SymbolTable* symbols = t.namelist && !o.physical ? &t.namelist->symbols() : nullptr;
    kvm::OutputBuffer out(STDOUT_FILENO);
    int status = 0;
    bool printed = false;  // a dump is on stdout: the next one starts after a blank line
    for (const Argument& arg : args) {
        const kvm::AddressExpr& e = arg.expr;
        Json j{{"expression", e.text}};
        std::optional<kvm::Error> problem;  // this argument's; output errors end the run
        std::optional<kvm::ResolvedAddress> r;
        std::uint64_t n = 0;
        try {
            r = kvm::resolve_address(e, symbols);
            if (arg.follow) {
                // What the pointer holds: the symbol's size says nothing of it.
                r = kvm::ResolvedAddress{.address = t.kernel->read_pointer(r->address)};
            }
            n = length.value_or(o.string                     ? default_string_length
                                : o.word_size > 1 && !length ? length_for(e, *r) / o.word_size * o.word_size
                                                             : length_for(e, *r));
            if (o.word_size > 1 && n == 0) n = o.word_size;
            kvm::check_memory_range(r->address, n);
        } catch (const kvm::Error& err) {
            problem = err;
            r.reset();
        }
        if (r) {
            kvm::PartialRead read;
            if (o.raw) {
                read = kvm::copy_memory(*t.kernel, r->address, n, out, space);
            } else if (o.string) {
                kvm::MemoryString str = kvm::read_memory_string(*t.kernel, r->address, n, space);
                if (o.json) {
                    j["address"] = fmt::format("{:#x}", r->address);
                    j["string"] = str.text;
                } else {
                    out.write(str.text + "\n");
                }
                read.bytes = str.text.size();
                read.error = std::move(str.error);
            } else if (o.word_size != 0 || o.symbolic) {
                // -S alone: words of a pointer's size.
                const unsigned word = o.word_size != 0 ? o.word_size : t.kernel->pointer_size();
                read = kvm::worddump_memory(*t.kernel, r->address, n,
                                            {.word_size = word, .symbols = symbols, .symbolic = o.symbolic}, out,
                                            printed ? "\n" : "", space);
                printed = printed || read.bytes != 0;
            } else if (o.json) {
                kvm::Bytes data;
                read = kvm::read_memory(
                    *t.kernel, r->address, n, [&](kvm::ByteSpan b) { data.insert(data.end(), b.begin(), b.end()); },
                    space);
                j["address"] = fmt::format("{:#x}", r->address);
                j["length"] = n;
                j["read"] = read.bytes;
                j["data"] = hex_bytes(data);
            } else {
                read = kvm::hexdump_memory(*t.kernel, r->address, n, symbols, out, printed ? "\n" : "", space);
                printed = printed || read.bytes != 0;
            }
            problem = std::move(read.error);
        }
        if (problem) {
            out.flush();  // what was readable comes first
            fmt::print(stderr, "kvmdump: {}\n", problem->message());
            j["error"] = problem->message();
            status = exit_failure;
        }
        // JSON Lines, one object per address.  A name or argument that is
        // not UTF-8 prints as U+FFFD rather than throw.
        if (o.json) out.write(j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
    }
    out.flush();
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"dump kernel virtual (or physical) memory of a crash dump or the running kernel", "kvmdump"};
    app.set_version_flag("--version", "kvmdump (kvmkit) " KVMKIT_VERSION);
    Options o;
    app.add_option("-N", o.system, "the kernel namelist (default: the running kernel's)")->option_text("system");
    app.add_option("-M", o.cores,
                   "the crash dump (default: the running kernel's memory); again for each file of a split dump")
        ->option_text("core")
        ->allow_extra_args(false);
    app.add_flag("-P", o.physical, "the addresses are physical (as crash's rd -p)");
    app.add_flag("--zero-excluded", o.zero_excluded, "read pages the dump level excluded as zeros");
    app.add_option("--dumplo", o.dumplo, "the dump's start on the -M device, in 512-byte blocks")
        ->option_text("blocks");
    app.add_option("-n", o.length, "bytes to dump (decimal, 0x..., k/m/g); default: the symbol's size, else 256")
        ->option_text("length");
    app.add_flag("-r", o.raw, "write the raw bytes and nothing else");
    app.add_flag("--json", o.json,
                 "JSON Lines: one object per address: address, length, bytes read, data in hex, error");
    app.add_flag("--no-index", o.no_index, "neither read nor write the symbol index file");
    for (const unsigned size : {1u, 2u, 4u, 8u})
        app.add_flag_callback(
            fmt::format("-{}", size), [&o, size] { o.word_size = size; },
            fmt::format("{}-byte words in the dumped machine's byte order (crash's rd -{})", size, size));
    app.add_flag("-S", o.symbolic,
                 "words that point into symbols print as symbol+offset (rd -s); words of a pointer's size unless -1 -2 "
                 "-4 -8 say otherwise");
    app.add_flag("-s", o.string, "the NUL-terminated string at each address (at most -n bytes, default 4096)");
    app.add_option("address", o.addresses, "symbol, symbol+offset, symbol-offset, 0xaddr or decimal")->required();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        fmt::print(stderr, "kvmdump: {}\n{}\n", e.what(), usage);
        return exit_usage;
    }
    try {
        return run(o);
    } catch (const kvm::Error& e) {
        fmt::print(stderr, "kvmdump: {}\n", e.what());
        return e.kind() == kvm::ErrorKind::usage ? exit_usage : exit_failure;
    }
}
