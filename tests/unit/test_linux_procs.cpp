// The Linux walker's constants: the state letter /proc shows for each
// combination of task state bits, and a request whose every flag and value
// the table of known constants defines (so layouts from type information
// are always complete).  The walk: on tasks planted in a synthetic machine
// through a real kernel's layouts (every field known), and on real dumps
// (test_realdump_ps.cpp, tests/cli/kvmps_linux.sh).
#include <kvm/format.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/namelist.h>
#include <kvm/procs.h>
#include <kvm/ps.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "linux_procs_fixture.h"
#include "test_util.h"

#include <fstream>
#include <iterator>

using namespace kvm;

TEST_CASE("Linux task states give /proc's letters") {
    const StructLayouts c = linux_kernel::known_constants();
    const auto letter = [&](std::uint64_t state, std::uint64_t exit_state = 0) {
        return linux_kernel::task_state_letter(c, state, exit_state);
    };
    CHECK(letter(0x0) == 'R');
    CHECK(letter(0x1) == 'S');
    CHECK(letter(0x2) == 'D');
    CHECK(letter(0x4) == 'T');
    CHECK(letter(0x8) == 't');
    CHECK(letter(0x40) == 'P');        // TASK_PARKED
    CHECK(letter(0x80, 0x20) == 'Z');  // TASK_DEAD, EXIT_ZOMBIE
    CHECK(letter(0x80, 0x10) == 'X');  // TASK_DEAD, EXIT_DEAD
    CHECK(letter(0x0, 0x20) == 'Z');   // exit_state alone
    CHECK(letter(0x102) == 'D');       // TASK_KILLABLE
    CHECK(letter(0x104) == 'T');       // TASK_STOPPED with TASK_WAKEKILL
    CHECK(letter(0x402) == 'I');       // TASK_IDLE
    CHECK(letter(0x2402) == 'I');      // TASK_IDLE | TASK_FREEZABLE
    CHECK(letter(0x401) == 'S');       // NOLOAD alone is not idle
    CHECK(letter(0x1000) == 'D');      // TASK_RTLOCK_WAIT
    CHECK(letter(0x1402) == 'D');      // rtlock wins over idle
    CHECK(letter(0x200) == 'R');       // TASK_WAKING: not reported
    CHECK(letter(0x800) == 'R');       // TASK_NEW
    CHECK(letter(0x1 | 0x4) == 'T');   // the highest reported bit wins
}

TEST_CASE("the Linux request's flags and values are all known constants") {
    const StructLayouts c = linux_kernel::known_constants();
    const LayoutRequest& r = linux_kernel::process_layout_request();
    for (const auto& f : r.flags) {
        CAPTURE(f);
        CHECK(c.flag(f).has_value());
    }
    for (const auto& v : r.values) {
        CAPTURE(v);
        CHECK(c.value(v).has_value());
    }
    CHECK(c.flags.size() == r.flags.size());
    CHECK(c.values.size() == r.values.size());
    CHECK(c.require_flag("PF_KTHREAD") == 0x00200000u);
    CHECK(c.require_value("PIDTYPE_SID") == 3u);
    // Every structure the walker reads, and which members it cannot do without.
    std::vector<std::string> structs;
    for (const auto& s : r.structs)
        structs.push_back(s.name);
    CHECK(structs == std::vector<std::string>{"task_struct", "kthread", "signal_struct", "cred", "pid", "upid",
                                              "tty_struct", "tty_driver", "mm_struct", "timekeeper"});
}

namespace {

// A synthetic Linux machine with the default tree planted through the
// layouts of a real 6.1 kernel, as a QEMU ELF core with its namelist.
struct LinuxCrash {
    explicit LinuxCrash(kvmtest::LinuxSpec spec = {})
        : machine(std::move(spec)), layout_path(layout_file(machine, dir)), layouts(load_layouts_file(layout_path)) {
        planted = kvmtest::plant_tasks(machine, layouts, kvmtest::default_linux_tree());
        kernel = std::make_unique<Kernel>(open_format(std::make_shared<MemorySource>(machine.elf_qemu(), "vmcore")),
                                          std::make_shared<Namelist>("System.map", machine.symbol_table()));
        walker = make_process_walker({.kernel = kernel.get(), .layout_file = layout_path});
    }

    std::vector<ProcInfo> walk(bool per_lwp = false, std::vector<std::string>* warnings = nullptr) const {
        std::vector<ProcInfo> rows;
        walker->walk(
            {.per_lwp = per_lwp}, [&](const ProcInfo& p) { rows.push_back(p); },
            [&](const Error& e) {
                if (warnings != nullptr) warnings->push_back(e.what());
            });
        return rows;
    }

    // The real kernel's layouts; on arm64 the same structures under the
    // arm64 name, as a kernel built with the same members would lay them
    // out (the walk itself has nothing arch-specific to test beyond
    // pointers and pages).
    static std::string layout_file(const kvmtest::LinuxMachine& m, const kvm::test::TempDir& dir) {
        if (!m.arm64()) return kvmtest::linux_layout_path();
        std::ifstream in(kvmtest::linux_layout_path());
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::string from = "\"arch\": \"amd64\"";
        text.replace(text.find(from), from.size(), "\"arch\": \"arm64\"");
        const std::string path = dir / "linux-6-arm64.json";
        synth::write_file(path, to_bytes(text));
        return path;
    }

    kvmtest::LinuxMachine machine;
    kvm::test::TempDir dir;
    std::string layout_path;
    StructLayouts layouts;
    kvmtest::PlantedTasks planted;
    std::unique_ptr<Kernel> kernel;
    std::unique_ptr<ProcessWalker> walker;
};

std::string columns(const std::vector<ProcInfo>& rows, std::string_view format) {
    return format_ps_table(rows, parse_ps_format(format));
}

void check_planted_tasks(const std::string& arch) {
    CAPTURE(arch);
    const LinuxCrash crash({.arch = arch});
    CHECK(crash.kernel->arch().name == arch);
    std::vector<std::string> warnings;
    const std::vector<ProcInfo> rows = crash.walk(false, &warnings);
    CHECK(warnings.empty());
    // In task-list order; init_task (the idle task) is not listed.
    CHECK(columns(rows, "pid,ppid,pgid,sid,tpgid,uid,ruid,gid,nlwp,stat,tt,time,vsz,rss,comm") ==
          "PID PPID PGID SID TPGID  UID RUID  GID NLWP STAT TTY      TIME   VSZ  RSS COMMAND\n"
          "  1    0    1   1    -1    0    0    0    1 Ss   ?     0:01.20 16800 8880 systemd\n"
          "  2    0    0   0    -1    0    0    0    1 SK   ?     0:00.00     0    0 kthreadd\n"
          "  7    2    0   0    -1    0    0    0    1 IK   ?     0:00.00     0    0 kworker/0:1\n"
          " 24    2    0   0    -1    0    0    0    1 S<K  ?     0:00.00     0    0 irq/24-virtio0-config\n"
          "300    1  300 300    -1    0    0    0    1 Ss   ?     0:00.00 12000 4000 sshd\n"
          "400  300  400 400   410 1000 1000 1000    1 Ss   pts/0 0:00.00  8000 2800 bash\n"
          "410  400  410 400   410 1000 1000 1000    3 RNl+ pts/0 0:03.75 20000 4000 make\n"
          "415  410  410 400   410 1000 1000 1000    1 Z+   pts/0 0:00.00     0    0 cc1\n"
          "420  400  420 400   410    0 1000 1000    1 T    pts/0 0:00.00  3600    0 vi\n"
          "430  400  430 400   410 1000 1000 1000    1 tX   pts/0 0:00.00   400    0 prog\n"
          "500    1  500 500   500    0    0    0    1 Ss+  ttyS0 0:00.00  2800    0 agetty\n"
          "600    1  600 600    -1  104  104  110    3 SNsl ?     0:00.00 24000 2020 rsyslogd\n");
    for (const ProcInfo& p : rows)
        CHECK(p.paddr == crash.planted.task.at(p.pid));
    const auto& make = rows[6];
    CHECK(make.tdev == 0x8800);  // pts/0: major 136, minor 0
    CHECK(make.zombie == false);
    CHECK(rows[7].zombie);
    CHECK(rows[1].system);
    CHECK(rows[10].tdev == 0x440);  // ttyS0: major 4, minor 64

    // One row per thread: each its own state and time, the group's flags.
    const std::vector<ProcInfo> threads = crash.walk(true);
    CHECK(threads.size() == rows.size() + 4);
    CHECK(columns({threads.begin() + 6, threads.begin() + 9}, "pid,lid,stat,time,comm") ==
          "PID LID STAT    TIME COMMAND\n"
          "410 410 RNl+ 0:02.00 make\n"
          "410 411 DNl+ 0:01.00 make\n"
          "410 412 RNl+ 0:00.25 make\n");

    // Terminals by name, through the tty_drivers list.
    CHECK(crash.walker->tty_device("pts/0") == 0x8800);
    CHECK(crash.walker->tty_device("/dev/ttyS1") == 0x441);
    CHECK(crash.walker->tty_device("ttyS4") == std::nullopt);  // the driver has 4 lines
    CHECK(crash.walker->tty_device("ttyUSB0") == std::nullopt);
}

}  // namespace

TEST_CASE("Linux tasks planted through a real kernel's layouts read back as /proc shows them") {
    check_planted_tasks("amd64");
}

// The same walk on arm64: the arch's pointers and pages, translation
// through swapper_pg_dir and the linear map.
TEST_CASE("Linux/arm64 tasks planted through the same layouts read back the same") {
    check_planted_tasks("arm64");
}

TEST_CASE("a Linux thread list that loops ends with a warning, the rows read so far kept") {
    LinuxCrash crash;
    // rsyslogd's second thread links back to its first.
    const StructLayout& ts = crash.layouts.get("task_struct");
    const std::uint64_t link = ts.member("thread_node.next").offset;
    crash.machine.write_uint(crash.planted.task.at(602) + link, crash.planted.task.at(601) + link, 8);
    crash.kernel = std::make_unique<Kernel>(open_format(std::make_shared<MemorySource>(crash.machine.elf_qemu())),
                                            std::make_shared<Namelist>("System.map", crash.machine.symbol_table()));
    crash.walker = make_process_walker({.kernel = crash.kernel.get(), .layout_file = kvmtest::linux_layout_path()});
    std::vector<std::string> warnings;
    const std::vector<ProcInfo> rows = crash.walk(true, &warnings);
    CHECK(rows.size() == 16);
    CHECK(rows.back().lid == 602);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0] == fmt::format("pid 600 ({:#x}): thread list: entry 3 ({:#x}) was already visited: the list "
                                     "has a cycle; stopped there",
                                     crash.planted.task.at(600), crash.planted.task.at(601)));
}

// PRI is prio - MAX_RT_PRIO as /proc shows it, CPUID thread_info.cpu,
// START start_boottime moved to the wall clock by shadow_timekeeper's
// offsets, %CPU the run time over the time since the start (Linux ps's),
// %MEM the resident size over _totalram_pages, ETIME up to xtime_sec.
TEST_CASE("Linux PRI, CPUID, START, %CPU, %MEM and ETIME come from the dump") {
    const LinuxCrash crash;
    const SystemFacts facts = crash.walker->system_facts();
    CHECK(facts.now_sec == kvmtest::default_boot_sec + 600);
    CHECK(facts.physmem_kib == 131072u);  // 32768 pages of 4 KiB
    std::vector<std::string> warnings;
    const std::vector<ProcInfo> rows = crash.walk(false, &warnings);
    CHECK(warnings.empty());
    const PsTableOptions table{.now_sec = facts.now_sec, .physmem_kib = facts.physmem_kib};
    CHECK(format_ps_table(rows, parse_ps_fields("pid,pri,nice,cpuid,%cpu,%mem,etime,emul,comm"), table) ==
          "PID PRI  NI CPUID %CPU %MEM ELAPSED EMUL  COMMAND\n"
          "  1  20   0     1  0.2  6.8   09:59 linux systemd\n"
          "  2  20   0     0  0.0  0.0   10:00 linux kthreadd\n"
          "  7  20   0     0  0.0  0.0   10:00 linux kworker/0:1\n"
          " 24 -51 -20     0  0.0  0.0   10:00 linux irq/24-virtio0-config\n"
          "300  20   0     0  0.0  3.1   10:00 linux sshd\n"
          "400  20   0     0  0.0  2.1   10:00 linux bash\n"
          "410  25   5     1  3.7  3.1   01:40 linux make\n"
          "415  20   0     0  0.0  0.0   10:00 linux cc1\n"
          "420  20   0     0  0.0  0.0   10:00 linux vi\n"
          "430  20   0     0  0.0  0.0   10:00 linux prog\n"
          "500  20   0     0  0.0  0.0   10:00 linux agetty\n"
          "600  30  10     0  0.0  1.5   10:00 linux rsyslogd\n");
    CHECK(rows[0].start_usec == (kvmtest::default_boot_sec + 1) * 1'000'000);
    CHECK(rows[6].start_usec == (kvmtest::default_boot_sec + 500) * 1'000'000);
    // One row per thread: each its own CPU and %CPU.
    const std::vector<ProcInfo> threads = crash.walk(true);
    CHECK(
        format_ps_table({threads.begin() + 6, threads.begin() + 9}, parse_ps_fields("pid,lid,pri,cpuid,%cpu"), table) ==
        "PID LID PRI CPUID %CPU\n"
        "410 410  25     1  2.0\n"
        "410 411  25     2  1.0\n"
        "410 412  25     3  0.2\n");
}
