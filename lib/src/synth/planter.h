// Planting kernel objects in a synthetic machine through structure
// layouts: what the process-tree planters of every system share.
#pragma once

#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/synth.h>
#include <kvm/synth_procs.h>

#include <fmt/format.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kvm::synth::detail {

[[noreturn]] inline void bad_tree(const std::string& what) {
    throw Error(ErrorKind::usage, "process tree: " + what);
}

// The structure a flag belongs to, from its layout entry ("thread.td_flags").
inline std::string flag_owner(const StructLayouts& l, const std::string& name) {
    for (const auto& v : l.flags)
        if (v.name == name) return v.field.substr(0, v.field.find('.'));
    bad_tree(fmt::format("{} defines no flag {}", l.source, name));
}

class Planter {
public:
    Planter(CrashedMachine& m, const StructLayouts& l) : m_(m), l_(l) {
        if (l_.pointer_size != m_.arch().pointer_size || l_.arch != m_.arch().name)
            bad_tree(fmt::format("layouts for {} ({}-byte pointers) cannot describe an {} machine", l_.arch,
                                 l_.pointer_size, m_.arch().name));
    }

    // A zeroed object of struct `name` on the heap.
    std::uint64_t alloc(std::string_view name) {
        const StructLayout& s = l_.get(name);
        const std::uint64_t a = m_.kmem_alloc(s.size, 64);
        m_.write(a, Bytes(s.size));
        return a;
    }

    void set(std::uint64_t object, std::string_view strct, std::string_view member, std::uint64_t value) {
        const MemberLayout* mem = l_.get(strct).find(member);
        if (mem == nullptr) return;  // not described: not needed by any walker
        if (mem->is_bitfield() || mem->size > 8) bad_tree(fmt::format("{}.{} is not a plain integer", strct, member));
        m_.write_uint(object + mem->offset, value, static_cast<unsigned>(mem->size));
    }

    void set_string(std::uint64_t object, std::string_view strct, std::string_view member, std::string_view text) {
        const MemberLayout* mem = l_.get(strct).find(member);
        if (mem == nullptr) return;
        if (text.size() >= mem->size)
            bad_tree(fmt::format("{}.{} holds {} characters: \"{}\" is too long", strct, member, mem->size - 1, text));
        Bytes b = to_bytes(text);
        b.resize(mem->size);
        m_.write(object + mem->offset, b);
    }

    void set_array(std::uint64_t object, std::string_view strct, std::string_view member,
                   const std::vector<std::uint32_t>& values) {
        const MemberLayout* mem = l_.get(strct).find(member);
        if (mem == nullptr) return;
        if (mem->count == 0 || values.size() > mem->count)
            bad_tree(fmt::format("{}.{} holds {} elements, not {}", strct, member, mem->count, values.size()));
        const std::uint64_t elem = mem->size / mem->count;
        for (std::size_t i = 0; i < values.size(); ++i)
            m_.write_uint(object + mem->offset + i * elem, values[i], static_cast<unsigned>(elem));
    }

    std::uint64_t value(const std::string& name) const {
        if (const auto v = l_.value(name)) return *v;
        bad_tree(fmt::format("{} defines no value {}", l_.source, name));
    }

    // Sets a named flag in the member the layouts say it belongs to.
    void add_flag(std::uint64_t object, std::string_view strct, const std::string& name) {
        const NamedValue* f = nullptr;
        for (const auto& v : l_.flags)
            if (v.name == name) f = &v;
        if (f == nullptr) bad_tree(fmt::format("{} defines no flag {}", l_.source, name));
        const auto dot = f->field.find('.');
        if (dot == std::string::npos || f->field.substr(0, dot) != strct)
            bad_tree(fmt::format("flag {} belongs to {}, not to struct {}", name, f->field, strct));
        const std::string member = f->field.substr(dot + 1);
        const MemberLayout& mem = l_.get(strct).member(member);
        const std::uint64_t old = m_.read_uint(object + mem.offset, static_cast<unsigned>(mem.size));
        m_.write_uint(object + mem.offset, old | f->value, static_cast<unsigned>(mem.size));
    }

    std::uint64_t string(std::string_view text) {
        if (auto it = strings_.find(std::string(text)); it != strings_.end()) return it->second;
        const std::uint64_t a = m_.kmem_alloc(text.size() + 1, 8);
        m_.write_string(a, text);
        return strings_.emplace(std::string(text), a).first->second;
    }

    // One object of struct `strct` per name, its `member` pointing at the
    // name, as a kernel has one per ABI (NetBSD's emul e_name, FreeBSD's
    // sysentvec sv_name); 0 where the layouts have no such struct.
    std::uint64_t named(const std::string& strct, std::string_view member, const std::string& name) {
        if (l_.find(strct) == nullptr) return 0;
        if (auto it = named_.find({strct, name}); it != named_.end()) return it->second;
        const std::uint64_t a = alloc(strct);
        set(a, strct, member, string(name));
        return named_.emplace(std::pair(strct, name), a).first->second;
    }

    // The process's p_stats: a struct pstats whose p_start is `sec`.`usec`
    // (NetBSD: the wall clock; FreeBSD: an uptime); nothing where the
    // layouts have no struct pstats.
    void start_time(std::uint64_t proc, std::uint64_t sec, std::uint64_t usec) {
        if (l_.find("pstats") == nullptr) return;
        const std::uint64_t stats = alloc("pstats");
        set(stats, "pstats", "p_start.tv_sec", sec);
        set(stats, "pstats", "p_start.tv_usec", usec);
        set(proc, "proc", "p_stats", stats);
    }

    std::uint64_t symbol_or_define(const std::string& name, char section, std::uint64_t size) {
        try {
            return m_.symbol(name);
        } catch (const Error&) {
            return m_.define_object(name, section, size, m_.arch().pointer_size);
        }
    }

    void bintime(std::uint64_t object, std::string_view strct, std::string_view member, std::uint64_t usec) {
        const std::uint64_t rem = usec % 1000000;
        // The smallest fraction whose top 32 bits give back `rem` microseconds.
        const std::uint64_t hi = ((rem << 32) + 999999) / 1000000;
        set(object, strct, fmt::format("{}.sec", member), usec / 1000000);
        set(object, strct, fmt::format("{}.frac", member), hi << 32);
    }

    CrashedMachine& m_;
    const StructLayouts& l_;
    std::map<std::string, std::uint64_t> strings_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> named_;  // (struct, name) -> object
};

// What the FreeBSD and DragonFly planters plant first, in this order (the
// addresses every test expects follow from it): each process's struct proc,
// the last process first; then a session per session id and a process
// group per group id, in tree order.
struct ProcsAndGroups {
    std::vector<std::uint64_t> proc_addr;  // by index in tree.procs
    std::map<std::int32_t, std::uint64_t> sessions, pgrps;
};
inline ProcsAndGroups plant_procs_and_groups(Planter& p, const ProcessTree& tree, PlantedProcesses& out) {
    ProcsAndGroups g;
    std::set<std::int32_t> pids;
    for (const ProcSpec& s : tree.procs)
        if (!pids.insert(s.pid).second) bad_tree(fmt::format("pid {} twice", s.pid));
    g.proc_addr.resize(tree.procs.size());
    for (std::size_t i = tree.procs.size(); i-- > 0;) {
        g.proc_addr[i] = p.alloc("proc");
        out.proc[tree.procs[i].pid] = g.proc_addr[i];
    }
    for (const ProcSpec& s : tree.procs) {
        if (g.sessions.contains(s.sid)) continue;
        const std::uint64_t a = p.alloc("session");
        g.sessions[s.sid] = a;
        p.set(a, "session", "s_sid", static_cast<std::uint32_t>(s.sid));
        if (auto it = out.proc.find(s.sid); it != out.proc.end()) p.set(a, "session", "s_leader", it->second);
    }
    for (const ProcSpec& s : tree.procs) {
        if (g.pgrps.contains(s.pgid)) continue;
        const std::uint64_t a = p.alloc("pgrp");
        g.pgrps[s.pgid] = a;
        p.set(a, "pgrp", "pg_id", static_cast<std::uint32_t>(s.pgid));
        p.set(a, "pgrp", "pg_session", g.sessions.at(s.sid));
    }
    return g;
}

}  // namespace kvm::synth::detail
