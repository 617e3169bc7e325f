// Process groups, sessions and controlling terminals as the BSDs keep
// them: proc -> struct pgrp (pg_id, pg_session) -> struct session (s_sid,
// s_leader, s_ttyvp, s_ttyp, s_login) -> struct tty (t_dev, t_pgrp).  The
// members are named alike in NetBSD, FreeBSD and DragonFly; what differs
// is how a terminal's t_dev becomes a device number and a name, which each
// walker gives as a function.
#pragma once

#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include "procs/dead_kernel.h"

#include <cstdint>
#include <functional>
#include <string>

namespace kvm::detail {

struct TerminalDevice {
    std::uint64_t dev = no_dev;
    std::string name;  // as /dev names it, without "/dev/"
};

// The device behind a terminal, from its struct tty; may throw (the
// problem is then reported as the process's terminal).
using TerminalDeviceOf = std::function<TerminalDevice(WalkContext&, const KernelObject& tty)>;

class BsdSessions {
public:
    BsdSessions(const StructLayouts& layouts, TerminalDeviceOf device)
        : pgrp_(layouts.get("pgrp")),
          session_(layouts.get("session")),
          tty_(layouts.get("tty")),
          pg_id_(pgrp_.find("pg_id")),
          pg_session_(pgrp_.find("pg_session")),
          s_leader_(session_.find("s_leader")),
          s_ttyvp_(session_.find("s_ttyvp")),
          s_ttyp_(session_.find("s_ttyp")),
          s_login_(session_.find("s_login")),
          s_sid_(session_.find("s_sid")),
          t_pgrp_(tty_.find("t_pgrp")),
          device_(std::move(device)) {}

    // pgid, sid, session leader, the session's vnode (TTY "-") and login;
    // with a controlling terminal (`controlling`: the process's flag says
    // so) its device, name and foreground process group.  Problems are
    // warnings about the process; what was read before stays.
    void fill(WalkContext& ctx, ProcInfo& p, std::uint64_t pgrp_address, bool controlling) {
        if (pgrp_address == 0) return;
        std::uint64_t session_address = 0;
        try {
            const Pgrp& g = pgrp(ctx, pgrp_address);
            p.pgid = g.pgid;
            session_address = g.session;
        } catch (Error& e) {
            ctx.problem(p, "process group", pgrp_address, e);
            return;
        }
        if (session_address == 0) return;
        const Session* s = nullptr;
        try {
            s = &session(ctx, session_address);
        } catch (Error& e) {
            ctx.problem(p, "session", session_address, e);
            return;
        }
        p.sid = s->sid;
        p.session_leader = s->leader == p.paddr;
        p.ctty_vnode = s->ttyvp != 0;
        p.login = s->login;
        if (!controlling || s->ttyp == 0) return;
        try {
            const Tty& t = tty(ctx, s->ttyp);
            p.tdev = t.device.dev;
            p.tty = t.device.name;
            if (t.pgrp != 0) {
                try {
                    p.tpgid = pgrp(ctx, t.pgrp).pgid;
                } catch (Error& e) {
                    ctx.problem(p, "terminal's process group", t.pgrp, e);
                }
            }
        } catch (Error& e) {
            ctx.problem(p, "terminal", s->ttyp, e);
        }
    }

private:
    struct Pgrp {
        std::int32_t pgid = 0;
        std::uint64_t session = 0;
    };
    struct Session {
        std::int32_t sid = 0;
        std::uint64_t leader = 0, ttyvp = 0, ttyp = 0;
        std::string login;
    };
    struct Tty {
        TerminalDevice device;
        std::uint64_t pgrp = 0;
    };

    const Pgrp& pgrp(WalkContext& ctx, std::uint64_t address) {
        return pgrps_.get(address, [&](std::uint64_t a) {
            const KernelObject o = ctx.read(pgrp_, a);
            return Pgrp{static_cast<std::int32_t>(o.s(pg_id_)), o.u(pg_session_)};
        });
    }
    const Session& session(WalkContext& ctx, std::uint64_t address) {
        return sessions_.get(address, [&](std::uint64_t a) {
            const KernelObject o = ctx.read(session_, a);
            return Session{static_cast<std::int32_t>(o.s(s_sid_)), o.u(s_leader_), o.u(s_ttyvp_), o.u(s_ttyp_),
                           o.str(s_login_)};
        });
    }
    const Tty& tty(WalkContext& ctx, std::uint64_t address) {
        return ttys_.get(address, [&](std::uint64_t a) {
            const KernelObject o = ctx.read(tty_, a);
            return Tty{device_(ctx, o), o.u(t_pgrp_)};
        });
    }

    const StructLayout &pgrp_, &session_, &tty_;
    const MemberLayout *pg_id_, *pg_session_, *s_leader_, *s_ttyvp_, *s_ttyp_, *s_login_, *s_sid_, *t_pgrp_;
    TerminalDeviceOf device_;
    AddressCache<Pgrp> pgrps_;
    AddressCache<Session> sessions_;
    AddressCache<Tty> ttys_;
};

}  // namespace kvm::detail
