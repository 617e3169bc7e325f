// kvmps on a real Linux vmcore (REALDUMP_DIR): the kernel's BTF as the
// dump holds it, structure layouts from it checked against the offsets the
// kernel itself wrote into VMCOREINFO, and the task list against the
// guest's own process list (truth/ps.txt), on the ELF, kdump and flattened
// files.  Expected values come from the truth files of the run that made
// the dump; the only differences allowed are those its README names (PID 1
// in S rather than R; kworkers named comm-workqueue in /proc, and come or
// gone).  Damaged copies end with an error or warnings, never a crash.
#include <kvm/btf.h>
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kernel.h>
#include <kvm/linux.h>
#include <kvm/procs.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "realdump_fixture.h"
#include "test_util.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

using namespace kvm;
using kvmtest::DamagedSource;
using kvmtest::realdump_dir;
using kvmtest::slurp;

namespace {

// One line of truth/ps.txt (PID PPID UID GID STATE THREADS STARTTIME COMM CMDLINE).
struct TruthRow {
    std::int32_t pid = 0, ppid = 0;
    std::uint32_t uid = 0, gid = 0;
    char state = '?';
    std::int32_t threads = 0;
    std::uint64_t start_ticks = 0;  // clock ticks (USER_HZ, 100) of boot time
    std::string comm;
    std::string cmdline;
    bool kernel_thread() const { return pid == 2 || ppid == 2; }
};

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> out;
    std::size_t at = 0;
    for (;;) {
        const auto tab = line.find('\t', at);
        out.push_back(line.substr(at, tab - at));
        if (tab == std::string::npos) return out;
        at = tab + 1;
    }
}

// One line of truth/sessions.txt (PID PGID SID TTY_NR TPGID: /proc/PID/stat).
struct SessionRow {
    std::int32_t pgid = 0, sid = 0;
    std::uint64_t tty_nr = 0;
    std::int32_t tpgid = -1;
};

// The rows of a TSV truth file, split at tabs, after its header line.
std::vector<std::vector<std::string>> truth_rows(const std::string& path, std::string_view header) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(slurp(path));
    std::string line;
    std::getline(in, line);
    REQUIRE(line == header);
    while (std::getline(in, line))
        rows.push_back(split_tabs(line));
    return rows;
}

std::map<std::int32_t, SessionRow> truth_sessions(const std::string& dir) {
    std::map<std::int32_t, SessionRow> out;
    const std::string_view header = "PID\tPGID\tSID\tTTY_NR\tTPGID";
    for (const auto& f : truth_rows(dir + "/truth/sessions.txt", header)) {
        REQUIRE(f.size() == 5);
        out.emplace(std::stoi(f[0]), SessionRow{.pgid = std::stoi(f[1]),
                                                .sid = std::stoi(f[2]),
                                                .tty_nr = std::stoull(f[3]),
                                                .tpgid = std::stoi(f[4])});
    }
    return out;
}

std::map<std::int32_t, TruthRow> truth_ps(const std::string& dir) {
    std::map<std::int32_t, TruthRow> out;
    const std::string_view ps_header = "PID\tPPID\tUID\tGID\tSTATE\tTHREADS\tSTARTTIME\tCOMM\tCMDLINE";
    for (const auto& f : truth_rows(dir + "/truth/ps.txt", ps_header)) {
        REQUIRE(f.size() >= 8);
        TruthRow r{.pid = std::stoi(f[0]),
                   .ppid = std::stoi(f[1]),
                   .uid = static_cast<std::uint32_t>(std::stoul(f[2])),
                   .gid = static_cast<std::uint32_t>(std::stoul(f[3])),
                   .state = f[4].empty() ? '?' : f[4][0],
                   .threads = std::stoi(f[5]),
                   .start_ticks = std::stoull(f[6]),
                   .comm = f[7],
                   .cmdline = f.size() > 8 ? f[8] : ""};
        out.emplace(r.pid, std::move(r));
    }
    return out;
}

bool is_kworker(std::string_view comm) {
    return comm.starts_with("kworker/");
}

// /proc names a kworker comm-workqueue; task_struct.comm holds the part before '-'.
std::string kernel_comm(const TruthRow& t) {
    return is_kworker(t.comm) ? t.comm.substr(0, t.comm.find('-')) : t.comm;
}

struct Listing {
    std::vector<ProcInfo> rows;
    std::vector<std::string> warnings;
    std::map<std::int32_t, const ProcInfo*> by_pid() const {
        std::map<std::int32_t, const ProcInfo*> out;
        for (const auto& p : rows)
            out.emplace(p.pid, &p);
        return out;
    }
};

Listing list(const Kernel& k, const WalkOptions& options = {}) {
    Listing l;
    const auto walker = make_process_walker({.kernel = &k});
    walker->walk(
        options, [&](const ProcInfo& p) { l.rows.push_back(p); },
        [&](const Error& e) { l.warnings.emplace_back(e.what()); });
    return l;
}

// With the namelist that gives the structures (realdump_namelist) unless one is named.
std::unique_ptr<Kernel> open_dump(const std::string& dir, const std::string& core, const std::string& namelist = "") {
    return Kernel::open({.namelist = dir + "/" + (namelist.empty() ? kvmtest::realdump_namelist(dir) : namelist),
                         .core = dir + "/" + core});
}

// The file offset of a kernel address in an ELF vmcore.
std::uint64_t file_offset(const Kernel& k, std::uint64_t va) {
    const auto off = k.format().phys_to_offset(k.translate(va).pa);
    REQUIRE(off.has_value());
    return *off;
}

const std::vector<std::string> cores = {"vmcore.elf", "vmcore.kdump", "vmcore.kdump-flat"};

}  // namespace

TEST_CASE("real dump: the BTF in memory is /sys/kernel/btf/vmlinux, and agrees with VMCOREINFO") {
    const auto dir = realdump_dir();
    if (!dir) return;
    if (slurp(*dir + "/truth/btf.txt") == "absent\n") return;  // 686-pae: no BTF to compare
    const std::string truth = slurp(*dir + "/truth/btf.vmlinux");
    const auto info = linux_kernel::VmcoreInfo::parse(slurp(*dir + "/truth/vmcoreinfo.txt"));
    for (const std::string& core : cores) {
        CAPTURE(core);
        const auto k = open_dump(*dir, core);
        const Bytes blob = btf::read_kernel_blob(*k);
        CHECK(blob == to_bytes(truth));
        const btf::Types types(blob, core);
        CHECK(types.type_count() > 10000);
        CHECK(types.pointer_size() == k->arch().pointer_size);

        // Every OFFSET(s.m) and SIZE(s) the kernel wrote into VMCOREINFO for a
        // structure: the same number from BTF (page's members are in
        // anonymous unions, pglist_data's far into a large structure).
        LayoutRequest r;
        std::map<std::string, std::int64_t> offsets;
        std::map<std::string, std::int64_t> sizes;
        for (const auto& [key, value] : info.entries()) {
            const bool offset = key.starts_with("OFFSET(");
            if (!offset && !key.starts_with("SIZE(")) continue;
            const std::string name = key.substr(key.find('(') + 1, key.size() - key.find('(') - 2);
            const std::string s = name.substr(0, name.find('.'));
            auto it =
                std::find_if(r.structs.begin(), r.structs.end(), [&](const StructRequest& x) { return x.name == s; });
            if (it == r.structs.end()) it = r.structs.insert(r.structs.end(), StructRequest{s, {}});
            if (offset) {
                it->members.push_back({name.substr(s.size() + 1), "", false});
                offsets[name] = std::stoll(value);
            } else {
                sizes[s] = std::stoll(value);
            }
        }
        const StructLayouts l = types.layouts(r);
        std::size_t compared = 0;
        for (const auto& entry : offsets) {
            const std::string& name = entry.first;
            const std::int64_t off = entry.second;
            CAPTURE(name);
            const std::string s = name.substr(0, name.find('.'));
            if (l.find(s) == nullptr) continue;  // a typedef (atomic_long_t)
            const MemberLayout* m = l.get(s).find(name.substr(s.size() + 1));
            REQUIRE(m != nullptr);
            CHECK(static_cast<std::int64_t>(m->offset) == off);
            ++compared;
        }
        for (const auto& entry : sizes) {
            const std::string& s = entry.first;
            const std::int64_t size = entry.second;
            CAPTURE(s);
            if (l.find(s) == nullptr) continue;
            CHECK(static_cast<std::int64_t>(l.get(s).size) == size);
            ++compared;
        }
        CHECK(compared > 50);
    }
}

TEST_CASE("real dump: the task list is the guest's process list") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto truth = truth_ps(*dir);
    const auto sessions = truth_sessions(*dir);
    std::vector<Listing> listings;
    for (const std::string& core : cores) {
        CAPTURE(core);
        const auto k = open_dump(*dir, core);
        const Listing l = list(*k);
        CHECK(l.warnings.empty());
        const auto rows = l.by_pid();
        CHECK(rows.size() == l.rows.size());  // one row per process

        std::size_t user = 0;
        std::size_t kernel = 0;
        std::size_t kworkers_gone = 0;
        for (const auto& entry : truth) {
            const std::int32_t pid = entry.first;
            const TruthRow& t = entry.second;
            CAPTURE(pid);
            CAPTURE(t.comm);
            const auto it = rows.find(pid);
            if (it == rows.end()) {
                // Only a kworker may have gone since ps.txt was listed.
                CHECK(is_kworker(t.comm));
                ++kworkers_gone;
                continue;
            }
            const ProcInfo& p = *it->second;
            CHECK(p.ppid == t.ppid);
            CHECK(p.ruid == t.uid);
            CHECK(p.rgid == t.gid);
            CHECK(p.uid == t.uid);
            CHECK(p.nlwps == t.threads);
            CHECK(p.comm == kernel_comm(t));
            CHECK(p.lid == pid);
            CHECK(p.system == t.kernel_thread());
            CHECK((p.stat.find('K') != std::string::npos) == t.kernel_thread());
            // Process group, session and terminal as /proc/PID/stat had them.
            const auto st = sessions.find(pid);
            REQUIRE(st != sessions.end());
            CHECK(p.pgid == st->second.pgid);
            CHECK(p.sid == st->second.sid);
            CHECK(p.tdev == (st->second.tty_nr == 0 ? no_dev : st->second.tty_nr));
            CHECK(p.tpgid == st->second.tpgid);
            if (pid == 1 && t.state == 'R') {
                CHECK(p.stat[0] == 'S');  // blocked opening a FIFO when the dump was taken
            } else if (t.kernel_thread() && (t.state == 'R' || p.stat[0] == 'R')) {
                // A kernel thread running on the other vCPU while ps.txt was
                // listed (rcu_preempt, say) sleeps by the time of the dump,
                // and the other way round.
                CHECK(std::string_view("RSID").find(p.stat[0]) != std::string_view::npos);
            } else {
                CHECK(p.stat[0] == t.state);
            }
            ++(t.kernel_thread() ? kernel : user);
        }
        // Nothing the guest did not list, but kworkers started since.
        for (const auto& entry : rows) {
            const std::int32_t pid = entry.first;
            const ProcInfo* p = entry.second;
            CAPTURE(pid);
            if (!truth.contains(pid)) CHECK(is_kworker(p->comm));
        }
        CHECK(user >= 10);
        CHECK(kernel >= 40);
        CHECK(kworkers_gone <= 3);

        // The processes the guest set up, by name.
        const auto named = [&](std::string_view comm) {
            const auto f =
                std::find_if(l.rows.begin(), l.rows.end(), [&](const ProcInfo& p) { return p.comm == comm; });
            REQUIRE(f != l.rows.end());
            return *f;
        };
        const ProcInfo zombie = named("zombie-kid");
        CHECK(zombie.stat == "Z");
        CHECK(zombie.zombie);
        CHECK(zombie.ppid == named("zombie-parent").pid);
        CHECK(named("stopped-proc").stat == "T");
        CHECK(named("uid1000-sleeper").uid == 1000u);
        CHECK(named("uid1000-sleeper").gid == 1000u);
        CHECK(named("very-long-proce").comm.size() == 15);
        CHECK(named("worker-a").stat == "S");
        // The one process with a session and a terminal of its own (the
        // others are in init's session 0, without job control): a session
        // leader in the foreground of the serial console, as Linux ps shows it.
        const ProcInfo leader = named("tty-sleeper");
        CHECK(leader.sid == leader.pid);
        CHECK(leader.pgid == leader.pid);
        CHECK(leader.tpgid == leader.pid);
        CHECK(leader.tty == kvmtest::realdump_console(*dir));
        CHECK(leader.session_leader);
        CHECK(leader.stat == "Ss+");
        for (const ProcInfo& p : l.rows) {
            if (p.pid != leader.pid) CHECK(p.tty.empty());
        }
        listings.push_back(l);
    }
    // The three files hold the same memory: the same rows.
    for (std::size_t i = 1; i < listings.size(); ++i) {
        REQUIRE(listings[i].rows.size() == listings[0].rows.size());
        for (std::size_t j = 0; j < listings[0].rows.size(); ++j) {
            CHECK(listings[i].rows[j].pid == listings[0].rows[j].pid);
            CHECK(listings[i].rows[j].stat == listings[0].rows[j].stat);
            CHECK(listings[i].rows[j].paddr == listings[0].rows[j].paddr);
            CHECK(listings[i].rows[j].rtime_usec == listings[0].rows[j].rtime_usec);
        }
    }
}

TEST_CASE("real dump: threads, filters and kallsyms as the namelist") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto truth = truth_ps(*dir);
    const auto k = open_dump(*dir, "vmcore.kdump");
    const Listing all = list(*k);

    // -H: every thread once; all of these processes have one.
    const Listing threads = list(*k, {.per_lwp = true});
    CHECK(threads.warnings.empty());
    std::size_t expected = 0;
    for (const ProcInfo& p : all.rows)
        expected += static_cast<std::size_t>(p.nlwps);
    CHECK(threads.rows.size() == expected);
    for (const ProcInfo& t : threads.rows) {
        CHECK(t.lwp_row);
        CHECK(t.lid == t.pid);
        CHECK(t.lname == t.comm);
    }

    const auto pids = [&](std::vector<ProcFilter> filters) {
        std::vector<std::int32_t> out;
        for (const ProcInfo& p : list(*k, {.filters = std::move(filters)}).rows)
            out.push_back(p.pid);
        return out;
    };
    const auto truth_pids = [&](auto pred) {
        std::vector<std::int32_t> out;
        for (const auto& entry : truth) {
            const std::int32_t pid = entry.first;
            if (pred(entry.second) &&
                std::any_of(all.rows.begin(), all.rows.end(), [&](const ProcInfo& p) { return p.pid == pid; }))
                out.push_back(pid);
        }
        return out;
    };
    const std::int32_t sleeper = truth_pids([](const TruthRow& t) { return t.comm == "uid1000-sleeper"; }).at(0);
    CHECK(pids({{ProcOp::pid, static_cast<std::uint64_t>(sleeper)}}) == std::vector<std::int32_t>{sleeper});
    CHECK(pids({{ProcOp::uid, 1000}}) == std::vector<std::int32_t>{sleeper});
    CHECK(pids({{ProcOp::ruid, 1000}}) == std::vector<std::int32_t>{sleeper});
    CHECK(pids({{ProcOp::gid, 1000}}) == std::vector<std::int32_t>{sleeper});
    CHECK(pids({{ProcOp::rgid, 1000}}) == std::vector<std::int32_t>{sleeper});
    CHECK(pids({{ProcOp::uid, 0}}) == truth_pids([](const TruthRow& t) { return t.uid == 0; }));
    CHECK(pids({{ProcOp::uid, 1000}, {ProcOp::pid, 1}}).empty());
    // Everything but tty-sleeper is in process group and session 0, without
    // a terminal; it leads a session of its own on the serial console.
    const std::int32_t leader = truth_pids([](const TruthRow& t) { return t.comm == "tty-sleeper"; }).at(0);
    const auto leader_id = static_cast<std::uint64_t>(leader);
    const auto not_leader = [&](const TruthRow& t) { return t.pid != leader; };
    CHECK(pids({{ProcOp::pgrp, 0}}) == truth_pids(not_leader));
    CHECK(pids({{ProcOp::session, 0}}) == truth_pids(not_leader));
    CHECK(pids({{ProcOp::tty, no_dev}}) == truth_pids(not_leader));
    CHECK(pids({{ProcOp::pgrp, leader_id}}) == std::vector<std::int32_t>{leader});
    CHECK(pids({{ProcOp::session, leader_id}}) == std::vector<std::int32_t>{leader});
    CHECK(pids({{ProcOp::session, 1}}).empty());
    // Terminals are named as the kernel's tty drivers name them.
    const auto walker = make_process_walker({.kernel = k.get()});
    CHECK(walker->tty_device("ttyS0") == (std::uint64_t{0} | (4u << 8) | 64u));  // 4:64
    CHECK(walker->tty_device("/dev/ttyS1") == (std::uint64_t{4} << 8 | 65u));
    CHECK(walker->tty_device("pts/0") == (std::uint64_t{136} << 8));
    CHECK(!walker->tty_device("ttyS9999"));
    CHECK(!walker->tty_device("nosuch"));
    const std::string console = kvmtest::realdump_console(*dir);
    CHECK(pids({{ProcOp::tty, *walker->tty_device(console)}}) == std::vector<std::int32_t>{leader});
    CHECK(pids({{ProcOp::tty, *walker->tty_device("ttyS1")}}).empty());
    // ps -t's names: "S0" is ttyS0, "?" no terminal, "-" a revoked one
    // (none here).
    CHECK(terminal_device(*walker, "S0") == walker->tty_device("ttyS0"));
    CHECK(terminal_device(*walker, "pts/0") == walker->tty_device("pts/0"));
    CHECK(terminal_device(*walker, "?") == no_dev);
    CHECK(terminal_device(*walker, "-") == tty_revoked);
    CHECK(pids({{ProcOp::tty, tty_revoked}}).empty());
    CHECK(!terminal_device(*walker, "S9999"));

    // The guest's own /proc/kallsyms serves as the namelist just as well,
    // where it lists data (CONFIG_KALLSYMS_ALL: init_task is data).
    if (slurp(*dir + "/truth/kallsyms.txt").find(" init_task\n") != std::string::npos) {
        const auto by_kallsyms = open_dump(*dir, "vmcore.kdump", "truth/kallsyms.full.txt");
        const Listing again = list(*by_kallsyms);
        REQUIRE(again.rows.size() == all.rows.size());
        for (std::size_t i = 0; i < all.rows.size(); ++i)
            CHECK(again.rows[i].comm == all.rows[i].comm);
    }

    // The layouts in use name their source.
    const StructLayouts& layouts = *walker->layouts();
    CHECK(layouts.os == "linux");
    CHECK(layouts.source.starts_with(
        kvmtest::realdump_namelist(*dir) == "vmlinux" ? "DWARF in " : "the kernel's BTF (__start_BTF..__stop_BTF, "));
    CHECK(layouts.get("task_struct").member("comm").count == 16);
    CHECK(layouts.value("PIDTYPE_PGID") == 2);
}

TEST_CASE("real dump: without the kernel's symbols, or with its BTF damaged, kvmps says why") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto bare = Kernel::open({.core = *dir + "/vmcore.kdump"});
    CHECK(kvm::test::error_of([&] { (void)make_process_walker({.kernel = bare.get()}); }) ==
          "listing the processes of a Linux dump needs the kernel's symbols (init_task, and __start_BTF and "
          "__stop_BTF for its type information): give -N System.map, the crashed kernel's /proc/kallsyms, or its "
          "vmlinux");
    CHECK(kvm::test::kind_of([&] { (void)make_process_walker({.kernel = bare.get()}); }) == ErrorKind::usage);
    if (kvmtest::realdump_namelist(*dir) == "vmlinux") {
        // No BTF to damage (686-pae): System.map alone has no types.
        const auto map_only = open_dump(*dir, "vmcore.elf", "System.map");
        CHECK(kvm::test::error_of([&] { (void)make_process_walker({.kernel = map_only.get()}); }) ==
              *dir +
                  "/System.map: no __start_BTF and __stop_BTF: the kernel was built without "
                  "CONFIG_DEBUG_INFO_BTF and carries no type information of its own; give its vmlinux with debug "
                  "information (-N) or a layout file (--layout)");
        return;
    }

    const auto good = open_dump(*dir, "vmcore.elf");
    const std::uint64_t start = good->symbols().find("__start_BTF")->value;
    const std::uint64_t stop = good->symbols().find("__stop_BTF")->value;
    const auto file = open_file(*dir + "/vmcore.elf");
    const auto damaged_kernel = [&](const std::shared_ptr<DamagedSource>& source) {
        return std::make_unique<Kernel>(open_format(source), good->shared_namelist());
    };

    // The whole blob zeroed.
    auto zeroed = std::make_shared<DamagedSource>(file, file->size());
    zeroed->zero(file_offset(*good, start), stop - start);
    auto k = damaged_kernel(zeroed);
    CHECK(kvm::test::error_of([&] { (void)make_process_walker({.kernel = k.get()}); }) ==
          fmt::format("kernel memory at __start_BTF ({}): BTF: bad magic 0x0000 (expected 0xeb9f): not BTF data",
                      hex(start)));
    // A type section that runs past the blob.
    auto long_types = std::make_shared<DamagedSource>(file, file->size());
    long_types->patch(file_offset(*good, start) + 12, 0x7fffffff, 4);
    k = damaged_kernel(long_types);
    CHECK(kvm::test::error_of([&] { (void)make_process_walker({.kernel = k.get()}); })
              .starts_with(fmt::format("kernel memory at __start_BTF ({}): BTF: type section at offset 0x0, length "
                                       "0x7fffffff, is outside the ",
                                       hex(start))));

    // kdump files cut short: memory past the cut is not in the dump.  Every
    // cut ends in an error or in warnings; cuts before the BTF's pages say
    // what the read was for.
    const auto kdump = open_file(*dir + "/vmcore.kdump");
    std::size_t btf_unreadable = 0;
    for (int percent = 5; percent < 100; percent += 5) {
        CAPTURE(percent);
        const auto cut =
            std::make_shared<DamagedSource>(kdump, kdump->size() * static_cast<std::uint64_t>(percent) / 100);
        std::string error;
        std::unique_ptr<Kernel> damaged;
        try {
            damaged = std::make_unique<Kernel>(open_format(cut), good->shared_namelist());
            const Listing l = list(*damaged);
            CHECK((!l.rows.empty() || !l.warnings.empty()));
            continue;
        } catch (const Error& e) {
            error = e.what();
        }
        if (error.starts_with(fmt::format("reading the kernel's BTF ({} bytes at {}): ", stop - start, hex(start))))
            ++btf_unreadable;
        else
            CHECK(error.starts_with(*dir + "/vmcore.kdump: "));
    }
    CHECK(btf_unreadable > 0);
}

TEST_CASE("real dump: a damaged task list ends with a warning and the rows before it") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto good = open_dump(*dir, "vmcore.elf");
    const Listing all = list(*good);
    const auto walker = make_process_walker({.kernel = good.get()});
    const std::uint64_t tasks = walker->layouts()->get("task_struct").member("tasks.next").offset;
    const auto find = [&](std::string_view comm) {
        return *std::find_if(all.rows.begin(), all.rows.end(), [&](const ProcInfo& p) { return p.comm == comm; });
    };
    const ProcInfo a = find("worker-a");
    const ProcInfo b = find("worker-b");
    // The rows up to worker-b, in list order.
    const auto upto_b = static_cast<std::size_t>(
        std::find_if(all.rows.begin(), all.rows.end(), [&](const ProcInfo& p) { return p.pid == b.pid; }) -
        all.rows.begin() + 1);
    const auto file = open_file(*dir + "/vmcore.elf");
    const auto with = [&](std::uint64_t next) {
        auto source = std::make_shared<DamagedSource>(file, file->size());
        source->patch(file_offset(*good, b.paddr + tasks), next, 8);
        const auto k = std::make_unique<Kernel>(open_format(source), good->shared_namelist());
        return list(*k);
    };

    // worker-b's next is worker-a again: a cycle.
    Listing l = with(a.paddr + tasks);
    CHECK(l.rows.size() == upto_b);
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0] == fmt::format("task list (init_task.tasks): entry {} ({}) was already visited: the list has "
                                       "a cycle; stopped there",
                                       upto_b, hex(a.paddr)));
    // worker-b's next is a "task" 32 bytes into worker-a: they overlap.
    l = with(a.paddr + 32 + tasks);
    CHECK(l.rows.size() == upto_b);
    REQUIRE(l.warnings.size() == 1);
    // A task is at least as long as the members the walker reads.
    std::uint64_t read_bytes = 0;
    for (const MemberLayout& m : walker->layouts()->get("task_struct").members)
        read_bytes = std::max(read_bytes, m.offset + m.size);
    CHECK(l.warnings[0] == fmt::format("task list (init_task.tasks): entry {} ({}) overlaps the task_struct at {} (32 "
                                       "bytes apart; each is at least {} bytes): the list is corrupt; stopped there",
                                       upto_b, hex(a.paddr + 32), hex(a.paddr), read_bytes));
    // A pointer into nothing.
    l = with(0x10 + tasks);
    CHECK(l.rows.size() == upto_b);
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0].starts_with(fmt::format("task list (init_task.tasks): entry {} (0x10): ", upto_b)));
    // NULL, in a list that must come back to init_task.
    l = with(0);
    CHECK(l.rows.size() == upto_b);
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0] ==
          fmt::format("task list: pid {} ({}) has a NULL next link; the list ends there", b.pid, hex(b.paddr)));

    // A thread list that loops on itself: that process still has its row.
    auto source = std::make_shared<DamagedSource>(file, file->size());
    const std::uint64_t node = walker->layouts()->get("task_struct").member("thread_node.next").offset;
    source->patch(file_offset(*good, a.paddr + node), a.paddr + node, 8);  // the leader's next is itself
    const auto k = std::make_unique<Kernel>(open_format(source), good->shared_namelist());
    l = list(*k);
    CHECK(l.rows.size() == all.rows.size());
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0] == fmt::format("pid {} ({}): thread list: entry 1 ({}) was already visited: the list has a "
                                       "cycle; stopped there",
                                       a.pid, hex(a.paddr), hex(a.paddr)));
}

// START from task_struct.start_boottime: /proc/PID/stat's starttime is the
// same nanoseconds in USER_HZ ticks (nsec_to_clock_t, 10 ms each), so every
// process of ps.txt still in the dump starts on its tick.  The clocks of
// shadow_timekeeper put the boot where truth/clock.txt does (its date is
// whole seconds, its uptime hundredths: the boot is in that second), %MEM
// counts against _totalram_pages (meminfo's MemTotal), CPUID names one of
// the guest's CPUs, and init (nice 0, not real-time) has PRI 20.
TEST_CASE("real dump: START, ETIME, %MEM, CPUID and PRI agree with the guest") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto truth = truth_ps(*dir);
    const std::string clock_text = slurp(*dir + "/truth/clock.txt");
    std::int64_t date_sec = 0;
    std::int64_t uptime_hundredths = 0;
    {
        unsigned whole = 0, hundredths = 0;
        REQUIRE(std::sscanf(clock_text.c_str(), "date_utc=%ld uptime=%u.%2u", &date_sec, &whole, &hundredths) == 3);
        uptime_hundredths = std::int64_t{whole} * 100 + hundredths;
    }
    std::uint64_t memtotal_kib = 0;
    REQUIRE(std::sscanf(slurp(*dir + "/truth/meminfo.txt").c_str(), "MemTotal: %lu kB", &memtotal_kib) == 1);
    unsigned last_cpu = 0;
    {
        const std::string cpus = slurp(*dir + "/truth/cpus.txt");
        unsigned first = 0;
        REQUIRE(std::sscanf(cpus.c_str(), "%u-%u", &first, &last_cpu) == 2);
        REQUIRE(first == 0);
    }
    for (const std::string& core : cores) {
        CAPTURE(core);
        const auto k = open_dump(*dir, core);
        const auto walker = make_process_walker({.kernel = k.get()});
        const SystemFacts facts = walker->system_facts();
        CHECK(facts.physmem_kib == memtotal_kib);
        REQUIRE(facts.now_sec.has_value());
        CHECK(*facts.now_sec >= date_sec);  // the crash came after clock.txt was written
        const Listing l = list(*k);
        CHECK(l.warnings.empty());
        std::size_t compared = 0;
        for (const ProcInfo& p : l.rows) {
            CAPTURE(p.pid);
            CHECK(p.emul == "linux");
            REQUIRE(p.cpuid.has_value());
            CHECK(*p.cpuid <= last_cpu);
            const auto start =
                std::find_if(p.raw.begin(), p.raw.end(), [](const auto& r) { return r.first == "start_boottime"; });
            REQUIRE(start != p.raw.end());
            REQUIRE(p.start_usec.has_value());
            // The boot's wall-clock time, the same for every process.
            const std::int64_t boot_usec = *p.start_usec - static_cast<std::int64_t>(start->second / 1000);
            CHECK(boot_usec >= (date_sec * 100 - uptime_hundredths) * 10000 - 1);
            CHECK(boot_usec < ((date_sec + 1) * 100 - uptime_hundredths) * 10000);
            const auto t = truth.find(p.pid);
            if (t == truth.end()) continue;
            CHECK(start->second / 10'000'000 == t->second.start_ticks);
            ++compared;
        }
        // Only kworkers may have gone since ps.txt was listed.
        CHECK(compared >= static_cast<std::size_t>(std::count_if(
                              truth.begin(), truth.end(), [](const auto& t) { return !is_kworker(t.second.comm); })));
        const auto init = std::find_if(l.rows.begin(), l.rows.end(), [](const ProcInfo& p) { return p.pid == 1; });
        REQUIRE(init != l.rows.end());
        CHECK(init->priority == 20);
    }
}
