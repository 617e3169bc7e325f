// The Linux walker's constants: the state letter /proc shows for each
// combination of task state bits, and a request whose every flag and value
// the table of known constants defines (so layouts from type information
// are always complete).  The walk itself is tested on real dumps
// (test_realdump_ps.cpp, tests/cli/kvmps_linux.sh).
#include <kvm/layout.h>
#include <kvm/procs.h>

#include <doctest/doctest.h>

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
                                              "tty_struct", "tty_driver", "mm_struct"});
}
