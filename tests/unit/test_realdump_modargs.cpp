// Process arguments and loaded modules of a real Linux vmcore
// (REALDUMP_DIR): the command lines read through each process's own page
// tables against the guest's truth/ps.txt (the 7 KB one spans pages), on
// the ELF, kdump and flattened files; a kdump copy whose argument pages are
// left out, as a filtered dump leaves them; the module list against
// truth/modules.txt, and module symbols against truth/kallsyms.full.txt.
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/modules.h>
#include <kvm/procs.h>
#include <kvm/ps.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "realdump_fixture.h"
#include "test_util.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

using namespace kvm;
using kvmtest::realdump_dir;
using kvmtest::slurp;

namespace {

const std::vector<std::string> cores = {"vmcore.elf", "vmcore.kdump", "vmcore.kdump-flat"};

std::unique_ptr<Kernel> open_dump(const std::string& dir, const std::string& core) {
    return Kernel::open({.namelist = dir + "/" + kvmtest::realdump_namelist(dir), .core = dir + "/" + core});
}

struct TruthProc {
    std::int32_t pid = 0, ppid = 0;
    char state = '?';
    std::string comm, cmdline;
};

// truth/ps.txt: PID PPID UID GID STATE THREADS STARTTIME COMM CMDLINE.
std::map<std::int32_t, TruthProc> truth_ps(const std::string& dir) {
    std::map<std::int32_t, TruthProc> out;
    std::istringstream in(slurp(dir + "/truth/ps.txt"));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::size_t at = 0;
        for (;;) {
            const auto tab = line.find('\t', at);
            f.push_back(line.substr(at, tab - at));
            if (tab == std::string::npos) break;
            at = tab + 1;
        }
        REQUIRE(f.size() >= 8);
        out[std::stoi(f[0])] =
            TruthProc{std::stoi(f[0]), std::stoi(f[1]), f[4].empty() ? '?' : f[4][0], f[7], f.size() > 8 ? f[8] : ""};
    }
    return out;
}

std::string joined(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv)
        out += (out.empty() ? "" : " ") + a;
    return out;
}

struct Walked {
    std::vector<ProcInfo> rows;
    std::vector<std::string> warnings, notes;
    const ProcInfo* pid(std::int32_t pid) const {
        for (const auto& p : rows)
            if (p.pid == pid && !p.lwp_row) return &p;
        return nullptr;
    }
};

Walked walk(const Kernel& k, WalkOptions options) {
    Walked w;
    options.note = [&](const std::string& s) { w.notes.push_back(s); };
    make_process_walker({.kernel = &k})
        ->walk(
            options, [&](const ProcInfo& p) { w.rows.push_back(p); },
            [&](const Error& e) { w.warnings.emplace_back(e.what()); });
    return w;
}

bool user_process(const TruthProc& t) {
    return t.pid != 2 && t.ppid != 2;
}

}  // namespace

TEST_CASE("real dump: command lines are read from each process's user pages") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto truth = truth_ps(*dir);
    for (const std::string& core : cores) {
        CAPTURE(core);
        const auto k = open_dump(*dir, core);
        const Walked w = walk(*k, {.environment = true});
        CHECK(w.warnings.empty());
        CHECK(w.notes.empty());
        int compared = 0;
        bool long_one = false;
        for (const auto& entry : truth) {
            // Not a structured binding: clang 14 cannot capture one in CAPTURE.
            const auto& pid = entry.first;
            const auto& t = entry.second;
            if (!user_process(t)) continue;
            const ProcInfo* p = w.pid(pid);
            REQUIRE_MESSAGE(p != nullptr, "pid " << pid);
            CAPTURE(pid);
            CHECK(p->argv_read);
            CHECK(p->user_memory_error.empty());
            // Zombies have no memory left: no arguments, as /proc shows.
            CHECK(joined(p->argv) == t.cmdline);
            CHECK(getargv(*p) == p->argv);
            if (t.cmdline.size() > 4096) {
                long_one = true;
                // kvm_getargv's nchr: the strings cut at 20 bytes, NULs counted.
                CHECK(getargv(*p, 20) == std::vector<std::string>{"sh", "-c", "sleep 1000005;"});
            }
            ++compared;
        }
        CHECK(compared == 11);
        CHECK(long_one);
        // The kernel hands init HOME=/ and TERM=linux (init/main.c envp_init).
        const ProcInfo* init = w.pid(1);
        REQUIRE(init != nullptr);
        CHECK(init->envv_read);
        CHECK(std::count(init->envv.begin(), init->envv.end(), "HOME=/") == 1);
        CHECK(std::count(init->envv.begin(), init->envv.end(), "TERM=linux") == 1);
        CHECK(getenvv(*init) == init->envv);
        // Kernel threads have no user memory: read, and empty.
        const ProcInfo* kthreadd = w.pid(2);
        REQUIRE(kthreadd != nullptr);
        CHECK(kthreadd->argv_read);
        CHECK(kthreadd->argv.empty());
        CHECK(getargv(*kthreadd).empty());
    }
}

TEST_CASE("real dump: threads share the arguments, and a walk without them reads none") {
    const auto dir = realdump_dir();
    if (!dir) return;
    // worker-b's pid is whatever the guest gave it: take it from the truth.
    std::uint64_t worker = 0;
    for (const auto& entry : truth_ps(*dir))
        if (entry.second.comm == "worker-b") worker = static_cast<std::uint64_t>(entry.first);
    REQUIRE(worker != 0);
    const auto k = open_dump(*dir, "vmcore.kdump");
    const Walked threads = walk(*k, {.filters = {{ProcOp::pid, worker}}, .per_lwp = true});
    REQUIRE(threads.rows.size() == 1);
    CHECK(joined(threads.rows[0].argv) == "/bin/sh /bin/worker-b --role=b --flag");
    const Walked none = walk(*k, {.filters = {{ProcOp::pid, worker}}, .arguments = false});
    REQUIRE(none.rows.size() == 1);
    CHECK(none.rows[0].argv.empty());
    CHECK(!none.rows[0].argv_read);
    CHECK(test::error_of([&] { (void)getargv(none.rows[0]); }) ==
          fmt::format("pid {}: a crash dump holds no user memory to read arguments from", worker));
}

TEST_CASE("real dump: a kdump without the argument pages lists command names, and says why once") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto k = open_dump(*dir, "vmcore.kdump");
    const auto walker = make_process_walker({.kernel = k.get()});
    const StructLayouts& l = *walker->layouts();
    const auto at = [&](std::uint64_t object, std::string_view s, std::string_view m) {
        return k->read_pointer(object + l.get(s).member(m).offset);
    };
    // The first page of every user process's arguments, found as the walker
    // finds them: task->mm->pgd, then arg_start through those tables.
    const Walked full = walk(*k, {});
    // The file's page is its block (QEMU's arm64 kdump: 64 KiB, the largest granule).
    const std::uint64_t block =
        load32(open_file(*dir + "/vmcore.kdump")->read_bytes(428, 4, "block_size").data(), ByteOrder::little);
    synth::KdumpWriter copy = synth::copy_kdump(open_file(*dir + "/vmcore.kdump"));
    copy.set_codecs({});
    std::set<std::int32_t> left_out;
    std::string first_error;
    for (const ProcInfo& p : full.rows) {
        const std::uint64_t mm = at(p.paddr, "task_struct", "mm");
        if (mm == 0) continue;
        const ProcessAddressSpace space(*k, k->translate(at(mm, "mm_struct", "pgd")).pa);
        const std::uint64_t arg_start = at(mm, "mm_struct", "arg_start");
        const Mapping m = space.translate(arg_start);
        copy.exclude_page(m.pa / block);
        if (left_out.empty())
            first_error = fmt::format("pid {} ({}): arguments at {:#x}: {:#x}: ", p.pid, p.comm, arg_start, arg_start);
        left_out.insert(p.pid);
    }
    REQUIRE(left_out.size() == 10);  // ps.txt's 11 user processes, less the zombie (it has no memory)
    test::TempDir tmp;
    const std::string path = tmp / "vmcore.filtered";
    synth::write_file(path, copy.build());
    const auto filtered = Kernel::open({.namelist = *dir + "/" + kvmtest::realdump_namelist(*dir), .core = path});
    const Walked w = walk(*filtered, {});
    CHECK(w.warnings.empty());
    REQUIRE(w.notes.size() == 1);
    CHECK(w.notes[0].starts_with(
        fmt::format("the user pages of {} processes are not in the dump (a filtered dump leaves them out): COMMAND "
                    "shows the command name in parentheses (first: {}",
                    left_out.size(), first_error)));
    for (const std::int32_t pid : left_out) {
        const ProcInfo* p = w.pid(pid);
        REQUIRE(p != nullptr);
        CAPTURE(pid);
        CHECK(p->argv.empty());
        CHECK(!p->argv_read);
        CHECK(!p->user_memory_error.empty());
        CHECK(test::kind_of([&] { (void)getargv(*p); }) == ErrorKind::fault);
        CHECK(ps_command(*p) == "(" + p->comm + ")");
    }
}

namespace {

// truth/modules.txt as /proc/modules prints it: "name size refs users state address".
std::vector<std::string> truth_modules(const std::string& dir) {
    std::vector<std::string> out;
    std::istringstream in(slurp(dir + "/truth/modules.txt"));
    std::string line;
    while (std::getline(in, line))
        out.push_back(line);
    return out;
}

std::string proc_modules_line(const ModuleInfo& m) {
    std::string users;
    for (const auto& u : m.used_by)
        users += u + ",";
    return fmt::format("{} {} {} {} {} {:#x}", m.name, m.size, m.refs, users.empty() ? "-" : users, m.state, m.base);
}

// The module lines of truth/kallsyms.full.txt: "value type name\t[module]".
std::set<std::string> truth_module_symbols(const std::string& dir) {
    std::set<std::string> out;
    std::istringstream in(slurp(dir + "/truth/kallsyms.full.txt"));
    std::string line;
    while (std::getline(in, line))
        if (line.ends_with("]") && line.find("\t[") != std::string::npos) out.insert(line);
    return out;
}

}  // namespace

TEST_CASE("real dump: the module list is /proc/modules") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto truth = truth_modules(*dir);
    REQUIRE(truth.size() == 7);
    for (const std::string& core : cores) {
        CAPTURE(core);
        const auto k = open_dump(*dir, core);
        std::vector<std::string> warnings;
        const ModuleListing l = list_modules(*k, {}, [&](const Error& e) { warnings.emplace_back(e.what()); });
        CHECK(warnings.empty());
        std::vector<std::string> got;
        for (const ModuleInfo& m : l.modules)
            got.push_back(proc_modules_line(m));
        CHECK(got == truth);
        CHECK(l.symbols.empty());
    }
}

TEST_CASE("real dump: module symbols are /proc/kallsyms' module lines, and name addresses in modules") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto truth = truth_module_symbols(*dir);
    // Without CONFIG_KALLSYMS_ALL a module keeps its functions only (arm64, i386).
    REQUIRE(truth.size() > (kvmtest::realdump_arch(*dir) == "amd64" ? 600u : 200u));
    const auto k = open_dump(*dir, "vmcore.kdump");
    std::vector<std::string> warnings;
    const ModuleListing l =
        list_modules(*k, {.symbols = true}, [&](const Error& e) { warnings.emplace_back(e.what()); });
    CHECK(warnings.empty());
    std::set<std::string> got;
    for (const Symbol& s : l.symbols)
        got.insert(fmt::format("{:0{}x} {} {}\t[{}]", s.value, k->arch().pointer_size * 2, s.type, s.name, s.module));
    CHECK(got == truth);

    const ModuleSymbols symbols(l);
    int named = 0;
    for (const Symbol& s : l.symbols) {
        if (s.type != 't' && s.type != 'T') continue;
        const auto hit = symbols.nearest(s.value);
        REQUIRE(hit.has_value());
        CHECK(hit->symbol->value == s.value);
        CHECK(hit->offset == 0);
        CHECK(hit->symbol->module == s.module);
        if (s.size > 1) {
            const auto inside = symbols.nearest(s.value + 1);
            REQUIRE(inside.has_value());
            CHECK(inside->symbol->value == s.value);
            CHECK(inside->offset == 1);
        }
        ++named;
    }
    CHECK(named > 100);
    // Outside every module: no answer.
    CHECK(!symbols.nearest(k->symbol_value("init_task")).has_value());
    const auto found = symbols.find("fw_cfg_sysfs_attr_show");
    REQUIRE(found.size() == 1);
    CHECK(found[0]->module == "qemu_fw_cfg");
}
