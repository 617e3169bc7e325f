// Linux tasks planted in the synthetic machine of linux_fixture.h through
// structure layouts: task_structs on the task list from init_task, their
// signal_structs, credentials, struct pids, mm_structs, kthreads, terminals
// and tty drivers, each member where the layouts put it.  Tests then know
// every field the Linux walker should read back, and the fuzzers have a
// machine whose walk reaches every member.
//
// The layouts are those of a real kernel: tests/unit/linux-6.1-amd64.json is
// what `kvmps -N System.map -M vmcore.kdump --print-layout` prints for the
// real dump of tests/realdump (Debian's 6.1 cloud kernel, its own BTF).
#pragma once

#include <kvm/bytes.h>
#include <kvm/layout.h>

#include "linux_fixture.h"

#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kvmtest {

// KVMKIT_SOURCE_DIR: the repository, absolute (tests/CMakeLists.txt), so
// that the file is found from any working directory.
inline std::string linux_layout_path() {
    return std::string(KVMKIT_SOURCE_DIR) + "/tests/unit/linux-6.1-amd64.json";
}

// Task state bits (include/linux/sched.h) and task flags, as the layouts name them.
namespace task {
inline constexpr std::uint64_t running = 0x0, interruptible = 0x1, uninterruptible = 0x2, stopped = 0x4, traced = 0x8,
                               noload = 0x400;
inline constexpr std::uint64_t exit_zombie = 0x20;
inline constexpr std::uint64_t pf_exiting = 0x4, pf_wq_worker = 0x20, pf_kthread = 0x00200000;
inline constexpr std::uint64_t pt_ptraced = 0x1;
}  // namespace task

struct LinuxThread {
    std::int32_t tid = 0;
    std::string comm;
    std::uint64_t state = task::interruptible;
    std::uint64_t time_ns = 0;  // utime; stime is 0
};

struct LinuxTask {
    std::int32_t pid = 0;
    std::int32_t ppid = 0;  // 0: init_task
    std::int32_t pgid = 0, sid = 0;
    std::uint32_t uid = 0, euid = 0, suid = 0, gid = 0, egid = 0, sgid = 0;
    std::string comm;
    std::string full_name;  // a kernel thread's whole name (struct kthread); empty: none
    std::uint64_t state = task::interruptible;
    std::uint64_t exit_state = 0;
    std::uint64_t flags = 0;
    std::uint64_t ptrace = 0;
    int nice = 0;
    std::string tty;                     // the kernel's name of its controlling terminal ("pts0", "ttyS0"); empty: none
    std::uint64_t total_vm = 0;          // pages; 0 with no mm (kernel threads)
    std::int64_t rss[4] = {0, 0, 0, 0};  // MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES
    std::uint64_t utime_ns = 0, stime_ns = 0;
    std::uint64_t dead_threads_ns = 0;  // signal->utime
    std::vector<LinuxThread> threads;   // besides the leader
    std::optional<std::int32_t> prio;   // task->prio; unset: static_prio's (not real-time)
    std::uint32_t cpu = 0;              // thread_info.cpu of the leader; its threads run on the next CPUs
    std::uint64_t start_ns = 0;         // start_boottime
};

struct LinuxTtyDriver {
    std::string name;  // "ttyS", "pts"
    std::uint32_t major = 0;
    std::int32_t minor_start = 0;
    std::int32_t name_base = 0;
    std::uint32_t num = 0;
};

struct LinuxTty {
    std::string name;  // the kernel's name: driver name + index ("pts0")
    std::string driver;
    std::int32_t index = 0;
    std::int32_t foreground_pgid = 0;  // 0: none
};

// shadow_timekeeper's clocks and the memory size.
struct LinuxClock {
    std::int64_t xtime_sec = 0;
    std::int64_t offs_real = 0;  // ns
    std::int64_t offs_boot = 0;  // ns
};

struct LinuxTree {
    std::vector<LinuxTtyDriver> drivers;
    std::vector<LinuxTty> ttys;
    std::vector<LinuxTask> tasks;  // in task-list order
    LinuxClock clock;
    std::uint64_t totalram_pages = 0;  // _totalram_pages
};

// The default tree's clocks: booted at 1700000000 (the Epoch's seconds),
// suspended for 2 s, crashed 600 s of boot time later.
inline constexpr std::int64_t default_boot_sec = 1'700'000'000;

struct PlantedTasks {
    std::uint64_t init_task = 0;
    std::map<std::int32_t, std::uint64_t> task;  // tid -> task_struct (leaders and threads)
    std::map<std::int32_t, std::uint64_t> signal;
};

// A small Debian guest: kernel threads (a worker, one with a long name),
// daemons, a login on pts0 with a foreground job, a stopped and a traced
// job in the background, a zombie, a getty on ttyS0, a niced threaded daemon.
inline LinuxTree default_linux_tree() {
    using namespace task;
    LinuxTree t;
    t.drivers = {{.name = "ttyS", .major = 4, .minor_start = 64, .num = 4},
                 {.name = "pts", .major = 136, .minor_start = 0, .num = 1024}};
    t.ttys = {{.name = "pts0", .driver = "pts", .index = 0, .foreground_pgid = 410},
              {.name = "ttyS0", .driver = "ttyS", .index = 0, .foreground_pgid = 500}};
    t.clock = {.xtime_sec = default_boot_sec + 600,
               .offs_real = default_boot_sec * 1'000'000'000 + 2'000'000'000,
               .offs_boot = 2'000'000'000};
    t.totalram_pages = 32768;  // 128 MiB
    auto& v = t.tasks;
    v.push_back({.pid = 1,
                 .pgid = 1,
                 .sid = 1,
                 .comm = "systemd",
                 .total_vm = 4200,
                 .rss = {1500, 700, 0, 20},
                 .utime_ns = 900'000'000,
                 .stime_ns = 300'000'000,
                 .cpu = 1,
                 .start_ns = 1'000'000'000});
    v.push_back({.pid = 2, .comm = "kthreadd", .flags = pf_kthread});
    v.push_back({.pid = 7,
                 .ppid = 2,
                 .comm = "kworker/0:1",
                 .full_name = "kworker/0:1-events",
                 .state = uninterruptible | noload,
                 .flags = pf_kthread | pf_wq_worker});
    v.push_back({.pid = 24,
                 .ppid = 2,
                 .comm = "irq/24-virtio0-",
                 .full_name = "irq/24-virtio0-config",
                 .flags = pf_kthread,
                 .nice = -20,
                 .prio = 49});  // SCHED_FIFO at rt_priority 50
    v.push_back(
        {.pid = 300, .ppid = 1, .pgid = 300, .sid = 300, .comm = "sshd", .total_vm = 3000, .rss = {800, 200, 0, 0}});
    v.push_back({.pid = 400,
                 .ppid = 300,
                 .pgid = 400,
                 .sid = 400,
                 .uid = 1000,
                 .euid = 1000,
                 .suid = 1000,
                 .gid = 1000,
                 .egid = 1000,
                 .sgid = 1000,
                 .comm = "bash",
                 .tty = "pts0",
                 .total_vm = 2000,
                 .rss = {300, 400, 0, 0}});
    LinuxTask make{.pid = 410,
                   .ppid = 400,
                   .pgid = 410,
                   .sid = 400,
                   .uid = 1000,
                   .euid = 1000,
                   .suid = 1000,
                   .gid = 1000,
                   .egid = 1000,
                   .sgid = 1000,
                   .comm = "make",
                   .state = running,
                   .nice = 5,
                   .tty = "pts0",
                   .total_vm = 5000,
                   .rss = {100, 900, 0, 0},
                   .utime_ns = 2'000'000'000,
                   .dead_threads_ns = 500'000'000,
                   .cpu = 1,
                   .start_ns = 500'000'000'000};
    make.threads = {{.tid = 411, .comm = "make", .state = uninterruptible, .time_ns = 1'000'000'000},
                    {.tid = 412, .comm = "make", .state = running, .time_ns = 250'000'000}};
    v.push_back(make);
    v.push_back({.pid = 415,
                 .ppid = 410,
                 .pgid = 410,
                 .sid = 400,
                 .uid = 1000,
                 .euid = 1000,
                 .suid = 1000,
                 .gid = 1000,
                 .egid = 1000,
                 .sgid = 1000,
                 .comm = "cc1",
                 .state = 0,
                 .exit_state = exit_zombie,
                 .flags = pf_exiting,
                 .tty = "pts0"});
    v.push_back({.pid = 420,
                 .ppid = 400,
                 .pgid = 420,
                 .sid = 400,
                 .uid = 1000,
                 .euid = 0,
                 .suid = 0,
                 .gid = 1000,
                 .egid = 1000,
                 .sgid = 1000,
                 .comm = "vi",
                 .state = stopped,
                 .tty = "pts0",
                 .total_vm = 900});
    v.push_back({.pid = 430,
                 .ppid = 400,
                 .pgid = 430,
                 .sid = 400,
                 .uid = 1000,
                 .euid = 1000,
                 .suid = 1000,
                 .gid = 1000,
                 .egid = 1000,
                 .sgid = 1000,
                 .comm = "prog",
                 .state = traced,
                 .ptrace = pt_ptraced,
                 .tty = "pts0",
                 .total_vm = 100});
    v.push_back({.pid = 500, .ppid = 1, .pgid = 500, .sid = 500, .comm = "agetty", .tty = "ttyS0", .total_vm = 700});
    LinuxTask daemon{.pid = 600,
                     .ppid = 1,
                     .pgid = 600,
                     .sid = 600,
                     .uid = 104,
                     .euid = 104,
                     .suid = 104,
                     .gid = 110,
                     .egid = 110,
                     .sgid = 110,
                     .comm = "rsyslogd",
                     .nice = 10,
                     .total_vm = 6000,
                     .rss = {400, 100, 0, 5}};
    daemon.threads = {{.tid = 601, .comm = "in:imuxsock"}, {.tid = 602, .comm = "rs:main Q:Reg"}};
    v.push_back(daemon);
    return t;
}

// Plants `tree` (and init_task, tty_drivers) in `m` through `layouts`.
inline PlantedTasks plant_tasks(LinuxMachine& m, const kvm::StructLayouts& layouts, const LinuxTree& tree) {
    const auto layout = [&](const char* name) -> const kvm::StructLayout& { return layouts.get(name); };
    const kvm::StructLayout& ts = layout("task_struct");
    const kvm::StructLayout& ss = layout("signal_struct");
    const kvm::StructLayout& cs = layout("cred");
    const kvm::StructLayout& ps = layout("pid");
    const kvm::StructLayout& us = layout("upid");
    const kvm::StructLayout& ys = layout("tty_struct");
    const kvm::StructLayout& ds = layout("tty_driver");
    const kvm::StructLayout& ms = layout("mm_struct");
    const kvm::StructLayout& ks = layout("kthread");
    const kvm::StructLayout& tk = layout("timekeeper");
    const auto put = [&](std::uint64_t object, const kvm::StructLayout& s, const char* member, std::uint64_t value) {
        const kvm::MemberLayout& mem = s.member(member);
        m.write_uint(object + mem.offset, value, static_cast<unsigned>(mem.size));
    };
    const auto put_string = [&](std::uint64_t object, const kvm::StructLayout& s, const char* member,
                                const std::string& text) {
        const kvm::MemberLayout& mem = s.member(member);
        kvm::Bytes b(mem.size);
        std::memcpy(b.data(), text.data(), std::min<std::size_t>(text.size(), mem.size - 1));
        m.write(object + mem.offset, b);
    };
    const auto string = [&](const std::string& text) {
        const std::uint64_t va = m.kmalloc(text.size() + 1);
        kvm::Bytes b = kvm::to_bytes(text);
        b.push_back(std::byte{0});
        m.write(va, b);
        return va;
    };
    const auto offset = [&](const kvm::StructLayout& s, const char* member) { return s.member(member).offset; };

    PlantedTasks planted;
    // struct pid: one per id, its numbers[0].nr.
    std::map<std::int32_t, std::uint64_t> pids;
    const auto pid_of = [&](std::int32_t id) -> std::uint64_t {
        if (id == 0) return 0;
        if (auto it = pids.find(id); it != pids.end()) return it->second;
        const std::uint64_t p = m.kmalloc(ps.size + us.size);
        put(p + offset(ps, "numbers"), us, "nr", static_cast<std::uint64_t>(id));
        return pids[id] = p;
    };

    // tty_drivers: a list head in the image, the drivers on it.
    const std::uint64_t drivers_head = m.define_variable("tty_drivers", 'D', 16);
    std::map<std::string, std::uint64_t> drivers;
    std::uint64_t previous_link = drivers_head;
    for (const LinuxTtyDriver& d : tree.drivers) {
        const std::uint64_t a = m.kmalloc(ds.size);
        put(a, ds, "name", string(d.name));
        put(a, ds, "name_base", static_cast<std::uint32_t>(d.name_base));
        put(a, ds, "major", d.major);
        put(a, ds, "minor_start", static_cast<std::uint32_t>(d.minor_start));
        put(a, ds, "num", d.num);
        m.write_uint(previous_link, a + offset(ds, "tty_drivers.next"), 8);
        previous_link = a + offset(ds, "tty_drivers.next");
        drivers[d.name] = a;
    }
    m.write_uint(previous_link, drivers_head, 8);
    std::map<std::string, std::uint64_t> ttys;
    for (const LinuxTty& y : tree.ttys) {
        const std::uint64_t a = m.kmalloc(ys.size);
        put(a, ys, "driver", drivers.at(y.driver));
        put(a, ys, "index", static_cast<std::uint32_t>(y.index));
        put_string(a, ys, "name", y.name);
        put(a, ys, "ctrl.pgrp", pid_of(y.foreground_pgid));
        ttys[y.name] = a;
    }

    const std::uint64_t timekeeper = m.define_variable("shadow_timekeeper", 'b', tk.size);
    put(timekeeper, tk, "xtime_sec", static_cast<std::uint64_t>(tree.clock.xtime_sec));
    put(timekeeper, tk, "offs_real", static_cast<std::uint64_t>(tree.clock.offs_real));
    put(timekeeper, tk, "offs_boot", static_cast<std::uint64_t>(tree.clock.offs_boot));
    m.write_uint(m.define_variable("_totalram_pages", 'D', 8), tree.totalram_pages, 8);

    // init_task, the idle task: the head of the task list.
    const std::uint64_t init = m.define_variable("init_task", 'D', ts.size);
    planted.init_task = init;
    put(init, ts, "flags", task::pf_kthread);
    put_string(init, ts, "comm", "swapper/0");
    const std::uint64_t nice0 = layouts.require_value("DEFAULT_PRIO");

    const auto new_task = [&](std::int32_t tid, std::int32_t tgid, const std::string& comm, std::uint64_t state) {
        const std::uint64_t a = m.kmalloc(ts.size);
        put(a, ts, "pid", static_cast<std::uint32_t>(tid));
        put(a, ts, "tgid", static_cast<std::uint32_t>(tgid));
        put(a, ts, "__state", state);
        put_string(a, ts, "comm", comm);
        planted.task[tid] = a;
        return a;
    };
    std::uint64_t previous_task_link = init + offset(ts, "tasks.next");
    for (const LinuxTask& t : tree.tasks) {
        const std::uint64_t leader = new_task(t.pid, t.pid, t.comm, t.state);
        m.write_uint(previous_task_link, leader + offset(ts, "tasks.next"), 8);
        previous_task_link = leader + offset(ts, "tasks.next");
    }
    m.write_uint(previous_task_link, init + offset(ts, "tasks.next"), 8);

    for (const LinuxTask& t : tree.tasks) {
        const std::uint64_t leader = planted.task.at(t.pid);
        const auto parent = t.ppid == 0 ? init : planted.task.at(t.ppid);
        const std::uint64_t cred = m.kmalloc(cs.size);
        put(cred, cs, "uid.val", t.uid);
        put(cred, cs, "euid.val", t.euid);
        put(cred, cs, "suid.val", t.suid);
        put(cred, cs, "gid.val", t.gid);
        put(cred, cs, "egid.val", t.egid);
        put(cred, cs, "sgid.val", t.sgid);
        const std::uint64_t signal = m.kmalloc(ss.size);
        planted.signal[t.pid] = signal;
        put(signal, ss, "nr_threads", t.threads.size() + 1);
        put(signal, ss, "utime", t.dead_threads_ns);
        if (!t.tty.empty()) put(signal, ss, "tty", ttys.at(t.tty));
        const kvm::MemberLayout& pids_member = ss.member("pids");
        const std::uint64_t slot = pids_member.size / pids_member.count;
        m.write_uint(signal + pids_member.offset + layouts.require_value("PIDTYPE_PGID") * slot, pid_of(t.pgid), 8);
        m.write_uint(signal + pids_member.offset + layouts.require_value("PIDTYPE_SID") * slot, pid_of(t.sid), 8);
        std::uint64_t mm = 0;
        if (t.total_vm != 0) {
            mm = m.kmalloc(ms.size);
            put(mm, ms, "total_vm", t.total_vm);
            const kvm::MemberLayout& rss = ms.member("rss_stat.count");
            for (unsigned i = 0; i < 4 && i < rss.count; ++i)
                m.write_uint(mm + rss.offset + i * (rss.size / rss.count), static_cast<std::uint64_t>(t.rss[i]),
                             static_cast<unsigned>(rss.size / rss.count));
        }
        std::uint64_t kthread = 0;
        if (!t.full_name.empty()) {
            kthread = m.kmalloc(ks.size);
            put(kthread, ks, "full_name", string(t.full_name));
        }

        // The leader, then its threads: every one shares the group's state.
        std::vector<std::uint64_t> group{leader};
        for (const LinuxThread& th : t.threads)
            group.push_back(new_task(th.tid, t.pid, th.comm, th.state));
        for (std::size_t i = 0; i < group.size(); ++i) {
            const std::uint64_t a = group[i];
            const LinuxThread* th = i == 0 ? nullptr : &t.threads[i - 1];
            put(a, ts, "exit_state", i == 0 ? t.exit_state : 0);
            put(a, ts, "flags", t.flags);
            put(a, ts, "ptrace", t.ptrace);
            put(a, ts, "static_prio", nice0 + static_cast<std::uint64_t>(t.nice));
            put(a, ts, "prio",
                t.prio ? static_cast<std::uint64_t>(*t.prio) : nice0 + static_cast<std::uint64_t>(t.nice));
            put(a, ts, "thread_info.cpu", t.cpu + i);
            put(a, ts, "start_boottime", t.start_ns);
            put(a, ts, "real_parent", parent);
            put(a, ts, "real_cred", cred);
            put(a, ts, "cred", cred);
            put(a, ts, "signal", signal);
            put(a, ts, "mm", mm);
            put(a, ts, "worker_private", kthread);
            put(a, ts, "utime", th != nullptr ? th->time_ns : t.utime_ns);
            put(a, ts, "stime", th != nullptr ? 0 : t.stime_ns);
            // thread_group: a circle through the threads; thread_node: the
            // list on signal->thread_head.
            const std::uint64_t next = group[(i + 1) % group.size()];
            put(a, ts, "thread_group.next", next + offset(ts, "thread_group.next"));
            put(a, ts, "thread_node.next",
                i + 1 == group.size() ? signal + offset(ss, "thread_head.next")
                                      : next + offset(ts, "thread_node.next"));
        }
        put(signal, ss, "thread_head.next", leader + offset(ts, "thread_node.next"));
    }
    return planted;
}

}  // namespace kvmtest
