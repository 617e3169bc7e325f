// mklayout: writes a kvmkit layout file from the DWARF of an object
// compiled from C declarations (netbsd10-types.c, dragonfly5-types.c, ...)
// plus a file of constants.
// gen-layouts.sh runs it; the shipped layouts are its output, never edited
// by hand.  The structures and members written are exactly what the
// readers' LayoutRequests ask for (shipped_layout_request), with the
// meanings the requests give.
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

namespace {

struct Options {
    std::string dwarf, constants, os = "netbsd", release = "10", arch, cflags, output;
};

std::uint64_t number(const nlohmann::json& v) {
    if (v.is_string()) return std::stoull(v.get<std::string>(), nullptr, 0);
    return v.get<std::uint64_t>();
}

std::vector<kvm::NamedValue> named(const nlohmann::ordered_json& group) {
    std::vector<kvm::NamedValue> out;
    for (const auto& [name, v] : group.items())
        out.push_back({.name = name,
                       .value = number(v.at("value")),
                       .field = v.value("field", ""),
                       .meaning = v.value("meaning", "")});
    return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
        s.replace(p, from.size(), to);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"write a kvmkit layout file from DWARF and a constants file (developer tool)", "mklayout"};
    Options o;
    app.add_option("--dwarf", o.dwarf, "object with DWARF for the structures")->required();
    app.add_option("--constants", o.constants, "JSON file with flags, values, devices and the derivation text")
        ->required();
    app.add_option("--os", o.os, "operating system")->check(CLI::IsMember({"netbsd", "dragonfly", "freebsd"}));
    app.add_option("--release", o.release, "major release");
    app.add_option("--arch", o.arch, "architecture")->required()->check(CLI::IsMember({"amd64", "i386"}));
    app.add_option("--cflags", o.cflags, "how the object was compiled, for the derivation text");
    app.add_option("-o,--output", o.output, "output file (default: stdout)");
    CLI11_PARSE(app, argc, argv);

    try {
        // The BSDs' files also hold what the message buffer reader asks for.
        const kvm::LayoutRequest* wanted = kvm::shipped_layout_request(o.os);
        if (wanted == nullptr) throw kvm::Error(kvm::ErrorKind::usage, fmt::format("no process walker for {}", o.os));
        const kvm::LayoutRequest& request = *wanted;
        kvm::StructLayouts l = kvm::read_dwarf_layouts(o.dwarf, request);
        l.os = o.os;
        l.release = o.release;
        l.arch = o.arch;

        const kvm::Bytes text = kvm::read_whole_file(o.constants, 1 << 20);
        const auto c = nlohmann::ordered_json::parse(kvm::as_chars(text));
        l.derived =
            replace_all(replace_all(c.at("derived").get<std::string>(), "{CFLAGS}", o.cflags), "{ARCH}", o.arch);
        l.flags = named(c.at("flags"));
        l.values = named(c.at("values"));
        for (const auto& d : c.at("devices"))
            l.devices.push_back({.major = static_cast<std::uint32_t>(number(d.at("major"))),
                                 .driver = d.value("driver", ""),
                                 .pattern = d.at("name").get<std::string>()});
        l.source = o.dwarf;
        kvm::check_layouts(l, request);

        const std::string json = kvm::to_json(l);
        if (o.output.empty()) {
            std::fwrite(json.data(), 1, json.size(), stdout);
        } else {
            auto out = kvm::create_file_sink(o.output);
            out->write(kvm::to_bytes(json));
            out->finish();
        }
    } catch (const kvm::Error& e) {
        fmt::print(stderr, "mklayout: {}\n", e.what());
        return 1;
    } catch (const nlohmann::json::exception& e) {
        fmt::print(stderr, "mklayout: {}: {}\n", o.constants, e.what());
        return 1;
    }
    return 0;
}
