// libkvm's C interface (<kvm.h>) over kvmkit: every call is a thin
// translation to the C++ library, with NetBSD's return values and error
// reporting.  No exception crosses the C boundary: each entry point catches
// and turns what it caught into libkvm's error (stderr with the program
// name for kvm_open, the handle's buffer otherwise).  Every buffer a call
// returns is owned by the handle and lives until the next such call or
// kvm_close, as libkvm's do.
#include <kvm.h>
#include <nlist.h>
#include <sys/sysctl.h>

#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/netbsd.h>
#include <kvm/procs.h>
#include <kvm/symbols.h>
#include <kvm/target.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <vector>

struct __kvm {
    // kvm_open's errstr: errors go to stderr prefixed with it.  Empty with
    // kvm_openfiles and with a NULL errstr: errors go to errbuf.
    std::string program;
    bool print_errors = false;
    char errbuf[_POSIX2_LINE_MAX] = {};
    int flags = O_RDONLY;
    bool no_files = false;  // KVM_NO_FILES
    bool live = false;      // the running host (no core named)
    std::string execfile;
    std::string corefile;
    std::shared_ptr<const kvm::Namelist> namelist;
    std::unique_ptr<kvm::Kernel> kernel;
    // Why kernel is null for a core that holds no dump kvmkit recognises
    // (a swap device before kvm_dump_mkheader): what kvm_read says.
    std::string no_dump_reason;
    std::unique_ptr<kvm::ProcessWalker> walker;
    // What the last kvm_getproc2 / kvm_getlwps / kvm_getargv2 returned.
    std::vector<std::byte> procs;
    std::vector<std::byte> lwps;
    std::vector<std::string> strings;
    std::vector<char*> string_pointers;
};

namespace {

constexpr unsigned nzero = 20;  // NetBSD's NZERO: p_nice is nice + NZERO

// libkvm's _kvm_err: to stderr after the program name when kvm_open was
// given one, else into the handle's buffer for kvm_geterr.
void report(kvm_t* kd, const std::string& message) {
    if (kd->print_errors) {
        std::fprintf(stderr, "%s: %s\n", kd->program.c_str(), message.c_str());
        return;
    }
    const std::size_t n = std::min(message.size(), sizeof kd->errbuf - 1);
    std::memcpy(kd->errbuf, message.data(), n);
    kd->errbuf[n] = '\0';
}

// Runs `body`, turning any exception into libkvm's error and `failed`.
template <typename T, typename F>
T guarded(kvm_t* kd, T failed, F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        report(kd, "out of memory");
    } catch (const std::exception& e) {
        report(kd, e.what());
    } catch (...) {
        report(kd, "unknown error");
    }
    return failed;
}

void copy_string(char* to, std::size_t size, const std::string& from) {
    const std::size_t n = std::min(from.size(), size - 1);
    std::memcpy(to, from.data(), n);
    to[n] = '\0';
}

std::string os_of(const kvm_t* kd) {
    if (kd->kernel) return kd->kernel->machine().os;
    return {};
}

const kvm::Kernel& dump_kernel(const kvm_t* kd, const char* call) {
    if (kd->no_files)
        throw kvm::Error(kvm::ErrorKind::usage, std::string(call) + ": kvm_open called with KVM_NO_FILES");
    if (!kd->kernel) throw kvm::Error(kvm::ErrorKind::format, kd->no_dump_reason);
    return *kd->kernel;
}

// The handle's kernel, opened anew on the same files (kvm_dump_mkheader
// names where the dump starts).
std::unique_ptr<kvm::Kernel> open_kernel(const kvm_t* kd, std::optional<std::uint64_t> dumplo_blocks) {
    kvm::OpenOptions o;
    o.namelist = kd->execfile;
    o.core = kd->corefile;
    o.dumplo_blocks = dumplo_blocks;
    o.writable = (kd->flags & O_ACCMODE) != O_RDONLY;
    o.loaded_namelist = kd->namelist;
    return kvm::Kernel::open(o);
}

void open_files(kvm_t* kd, const char* execfile, const char* corefile, int flags) {
    kd->no_files = (flags & static_cast<int>(KVM_NO_FILES)) != 0;
    flags &= ~static_cast<int>(KVM_NO_FILES);
    if ((flags & ~O_ACCMODE) != 0 || (flags & O_ACCMODE) == O_ACCMODE)
        throw kvm::Error(kvm::ErrorKind::usage, "bad flags arg");
    kd->flags = flags;
    if (kd->no_files) {
        kd->live = true;
        return;
    }
    kd->execfile = execfile != nullptr ? execfile : "";
    kd->corefile = corefile != nullptr ? corefile : "";
    if (kd->corefile.empty()) {
        // The running kernel, as _PATH_KSYMS and _PATH_MEM are on NetBSD.
        kvm::Target t = kvm::open_target({.namelist = kd->execfile, .need_memory = true});
        kd->namelist = t.namelist;
        kd->kernel = std::move(t.kernel);
        kd->live = true;
        return;
    }
    if (!kd->execfile.empty()) kd->namelist = kvm::Namelist::load(kd->execfile);
    try {
        kd->kernel = open_kernel(kd, std::nullopt);
    } catch (const kvm::Error& e) {
        // libkvm opens any file as memory; a swap device without a dump
        // it recognises is what kvm_dump_mkheader is then asked about.
        if (e.kind() != kvm::ErrorKind::format) throw;
        kd->no_dump_reason = e.what();
    }
    if (kd->kernel) kd->namelist = kd->kernel->shared_namelist();
}

kvm_t* open_handle(const char* execfile, const char* corefile, int flags, const char* program, char* errbuf) {
    kvm_t* kd = new (std::nothrow) kvm_t;
    if (kd == nullptr) {
        if (program != nullptr) std::fprintf(stderr, "%s: out of memory\n", program);
        if (errbuf != nullptr) copy_string(errbuf, _POSIX2_LINE_MAX, "out of memory");
        return nullptr;
    }
    if (program != nullptr) {
        kd->print_errors = true;
        kd->program = program;
    }
    const bool ok = guarded(kd, false, [&] {
        open_files(kd, execfile, corefile, flags);
        return true;
    });
    if (ok) return kd;
    if (errbuf != nullptr) copy_string(errbuf, _POSIX2_LINE_MAX, kd->errbuf);
    delete kd;
    return nullptr;
}

const kvm::ProcessWalker& walker(kvm_t* kd) {
    if (!kd->walker) {
        // The running host's processes come from /proc, as NetBSD's come
        // from sysctl; a dump's from its kernel memory.
        if (kd->live)
            kd->walker = kvm::make_process_walker({});
        else
            kd->walker = kvm::make_process_walker({.kernel = &dump_kernel(kd, "kvm_getproc2")});
    }
    return *kd->walker;
}

std::vector<kvm::ProcInfo> walk(kvm_t* kd, const kvm::WalkOptions& options) {
    std::vector<kvm::ProcInfo> rows;
    // A damaged list ends with what was read, as libkvm's walk does; the
    // problem is kept for kvm_geterr.
    walker(kd).walk(
        options, [&](const kvm::ProcInfo& p) { rows.push_back(p); },
        [&](const kvm::Error& e) { copy_string(kd->errbuf, sizeof kd->errbuf, e.what()); });
    return rows;
}

// NetBSD's S* process state and LS* LWP state from the ps letter, for
// systems whose own states are another encoding.
struct States {
    std::int64_t proc;
    std::int64_t lwp;
};
States states_from_letter(char letter) {
    switch (letter) {
        case 'R':
            return {SACTIVE, LSRUN};
        case 'O':
            return {SACTIVE, LSONPROC};
        case 'S':
        case 'I':
        case 'D':
            return {SACTIVE, LSSLEEP};
        case 'T':
        case 't':
            return {SSTOP, LSSTOP};
        case 'Z':
            return {SZOMB, LSZOMB};
        case 'X':
            return {SDEAD, LSDEAD};
        case 'U':
            return {SACTIVE, LSSUSPENDED};
        default:
            return {0, 0};
    }
}

States states_of(const kvm_t* kd, const kvm::ProcInfo& p) {
    if (!kd->live && os_of(kd) == "netbsd") return {p.state, p.lwp_state};
    return states_from_letter(p.stat.empty() ? '?' : p.stat[0]);
}

bool stat_has(const kvm::ProcInfo& p, char letter) {
    return p.stat.size() > 1 && p.stat.find(letter, 1) != std::string::npos;
}

std::uint64_t pages(std::uint64_t kib, std::uint64_t page_size) {
    return page_size == 0 ? 0 : kib * 1024 / page_size;
}

std::uint32_t tdev32(std::uint64_t dev) {
    return static_cast<std::uint32_t>(dev);  // NODEV stays all ones
}

std::uint64_t raw_value(const kvm::ProcInfo& p, std::string_view name) {
    for (const auto& [n, v] : p.raw)
        if (n == name) return v;
    return 0;
}

kinfo_proc2 to_kinfo_proc2(const kvm_t* kd, const kvm::ProcInfo& p, std::uint64_t page_size) {
    kinfo_proc2 k{};
    k.p_paddr = p.paddr;
    k.p_eflag = (p.ctty_vnode ? EPROC_CTTY : 0) | (p.session_leader ? EPROC_SLEADER : 0);
    if (!kd->live && os_of(kd) == "netbsd") {
        // The dead-kernel path of NetBSD's libkvm: the raw p_flag.
        k.p_flag = static_cast<std::int32_t>(p.flags);
    } else {
        k.p_flag = (p.tdev != kvm::no_dev ? P_CONTROLT : 0) | (p.system ? P_SYSTEM : 0) |
                   (stat_has(p, 'X') ? P_TRACED : 0) | (stat_has(p, 'E') ? P_WEXIT : 0) |
                   (stat_has(p, 'V') ? P_PPWAIT : 0);
    }
    k.p_pid = p.pid;
    k.p_ppid = p.ppid;
    k.p_sid = p.sid;
    k.p__pgid = p.pgid;
    k.p_tpgid = p.tpgid;
    k.p_uid = p.uid;
    k.p_ruid = p.ruid;
    k.p_gid = p.gid;
    k.p_rgid = p.rgid;
    k.p_svuid = p.svuid;
    k.p_svgid = p.svgid;
    const std::size_t ngroups = std::min<std::size_t>(p.groups.size(), KI_NGROUPS);
    std::copy_n(p.groups.begin(), ngroups, k.p_groups);
    k.p_ngroups = static_cast<std::int16_t>(ngroups);
    k.p_tdev = tdev32(p.tdev);
    k.p_rtime_sec = static_cast<std::uint32_t>(p.rtime_usec / 1000000);
    k.p_rtime_usec = static_cast<std::uint32_t>(p.rtime_usec % 1000000);
    const States s = states_of(kd, p);
    // A zombie whose LWPs are gone has no LWP state; NetBSD says LSZOMB.
    k.p_stat = static_cast<std::int8_t>(s.lwp == 0 && p.zombie ? LSZOMB : s.lwp);
    k.p_realstat = static_cast<std::uint64_t>(s.proc);
    k.p_nice = static_cast<std::uint8_t>(std::clamp(p.nice + static_cast<int>(nzero), 0, 255));
    copy_string(k.p_comm, sizeof k.p_comm, p.comm);
    copy_string(k.p_wmesg, sizeof k.p_wmesg, p.wmesg);
    k.p_wchan = p.wchan;
    copy_string(k.p_login, sizeof k.p_login, p.login);
    k.p_vm_rssize = static_cast<std::int32_t>(pages(p.rss_kib.value_or(0), page_size));
    k.p_vm_vsize = static_cast<std::int64_t>(pages(p.vsz_kib.value_or(0), page_size));
    k.p_cpuid = KI_NOCPU;
    k.p_nlwps = static_cast<std::uint64_t>(p.nlwps);
    k.p_realflag = static_cast<std::uint64_t>(static_cast<std::uint32_t>(k.p_flag));
    return k;
}

kinfo_lwp to_kinfo_lwp(const kvm_t* kd, const kvm::ProcInfo& p) {
    kinfo_lwp l{};
    l.l_laddr = p.laddr;
    l.l_lid = p.lid;
    l.l_flag = static_cast<std::int32_t>(raw_value(p, "l_flag"));
    l.l_stat = static_cast<std::int8_t>(states_of(kd, p).lwp);
    copy_string(l.l_wmesg, sizeof l.l_wmesg, p.wmesg);
    l.l_wchan = p.wchan;
    l.l_cpuid = KI_NOCPU;
    l.l_rtime_sec = static_cast<std::uint32_t>(p.rtime_usec / 1000000);
    l.l_rtime_usec = static_cast<std::uint32_t>(p.rtime_usec % 1000000);
    l.l_pid = static_cast<std::uint32_t>(p.pid);
    copy_string(l.l_name, sizeof l.l_name, p.lname);
    return l;
}

// Lays records out `elemsize` apart, as libkvm does for callers built
// against an older (shorter) or newer (longer) structure.
template <typename Record>
void store(std::vector<std::byte>& out, const std::vector<Record>& records, std::size_t elemsize) {
    out.assign(records.size() * elemsize, std::byte{0});
    for (std::size_t i = 0; i < records.size(); ++i)
        std::memcpy(out.data() + i * elemsize, &records[i], std::min(elemsize, sizeof(Record)));
}

std::uint64_t page_size_of(const kvm_t* kd) {
    if (kd->kernel && !kd->live) return kd->kernel->arch().page_size;
    return static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

kvm::ProcFilter filter_of(int op, int arg) {
    if (op < KERN_PROC_ALL || op > KERN_PROC_RGID)
        throw kvm::Error(kvm::ErrorKind::usage, "kvm_getproc2: invalid op " + std::to_string(op));
    std::uint64_t value = static_cast<std::uint64_t>(static_cast<std::int64_t>(arg));
    if (op == KERN_PROC_TTY) {
        if (arg == KERN_PROC_TTY_NODEV)
            value = kvm::no_dev;
        else if (arg == KERN_PROC_TTY_REVOKE)
            value = kvm::tty_revoked;
        else
            value = static_cast<std::uint32_t>(arg);
    }
    return {static_cast<kvm::ProcOp>(op), value};
}

char** string_vector(kvm_t* kd, std::vector<std::string> strings) {
    kd->strings = std::move(strings);
    kd->string_pointers.clear();
    for (std::string& s : kd->strings)
        kd->string_pointers.push_back(s.data());
    kd->string_pointers.push_back(nullptr);
    return kd->string_pointers.data();
}

// A process of the running host, for the calls that read user memory.
kvm::ProcInfo live_process(const kvm_t* kd, const kinfo_proc2* p, const char* call) {
    if (p == nullptr) throw kvm::Error(kvm::ErrorKind::usage, std::string(call) + ": no process given");
    kvm::ProcInfo info;
    info.pid = p->p_pid;
    info.live = kd->live;
    return info;
}

}  // namespace

extern "C" {

kvm_t* kvm_open(const char* execfile, const char* corefile, const char* /*swapfile*/, int flags, const char* errstr) {
    return open_handle(execfile, corefile, flags, errstr, nullptr);
}

kvm_t* kvm_openfiles(const char* execfile, const char* corefile, const char* /*swapfile*/, int flags, char* errbuf) {
    if (errbuf != nullptr) errbuf[0] = '\0';
    return open_handle(execfile, corefile, flags, nullptr, errbuf);
}

int kvm_close(kvm_t* kd) {
    delete kd;
    return 0;
}

char* kvm_geterr(kvm_t* kd) {
    return kd->errbuf;
}

int kvm_nlist(kvm_t* kd, struct nlist* nl) {
    return guarded(kd, -1, [&] {
        if (nl == nullptr) throw kvm::Error(kvm::ErrorKind::usage, "kvm_nlist: no nlist array given");
        if (!kd->namelist) throw kvm::Error(kvm::ErrorKind::usage, "kvm_nlist: no namelist was opened");
        std::vector<kvm::NlistEntry> entries;
        for (const struct nlist* p = nl; p->n_name != nullptr && p->n_name[0] != '\0'; ++p)
            entries.push_back({.name = p->n_name});
        // NetBSD's rule exactly for NetBSD kernels; elsewhere the name as
        // written first (Linux's "_text"), as FreeBSD's nlist does.
        const kvm::NlistNames rule = os_of(kd) == "netbsd" ? kvm::NlistNames::netbsd : kvm::NlistNames::freebsd;
        const int missing = kvm::nlist(kd->namelist->symbols(), entries, rule);
        for (std::size_t i = 0; i < entries.size(); ++i) {
            nl[i].n_type = entries[i].n_type;
            nl[i].n_value = static_cast<unsigned long>(entries[i].n_value);
        }
        return missing;
    });
}

ssize_t kvm_read(kvm_t* kd, unsigned long addr, void* buf, size_t nbytes) {
    return guarded(kd, ssize_t{-1}, [&]() -> ssize_t {
        const kvm::Kernel& kernel = dump_kernel(kd, "kvm_read");
        const kvm::PartialRead r = kernel.read_partial(addr, {static_cast<std::byte*>(buf), nbytes});
        if (r.bytes < nbytes && r.error) {
            // An address that does not translate fails the call, as in
            // libkvm; a core that ends early gives what it has.
            if (r.bytes == 0 || r.error->kind() == kvm::ErrorKind::fault) throw *r.error;
            report(kd, r.error->what());
        }
        return static_cast<ssize_t>(r.bytes);
    });
}

ssize_t kvm_write(kvm_t* kd, unsigned long addr, const void* buf, size_t nbytes) {
    return guarded(kd, ssize_t{-1}, [&]() -> ssize_t {
        if (!kd->live) throw kvm::Error(kvm::ErrorKind::unsupported, "kvm_write not implemented for dead kernels");
        if ((kd->flags & O_ACCMODE) == O_RDONLY)
            throw kvm::Error(kvm::ErrorKind::usage, "kvm_write: the kernel was opened O_RDONLY");
        // Linux writes kernel memory only through /dev/kmem, which kernels
        // since 5.13 no longer have; /proc/kcore is read-only.
        const int fd = ::open("/dev/kmem", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            throw kvm::Error(kvm::ErrorKind::unsupported,
                             std::string("kvm_write: /dev/kmem: ") + std::strerror(errno) +
                                 ": this host offers no way to write the running kernel's memory");
        const ssize_t n = ::pwrite(fd, buf, nbytes, static_cast<off_t>(addr));
        const int err = errno;
        ::close(fd);
        if (n < 0) throw kvm::Error(kvm::ErrorKind::io, std::string("kvm_write: /dev/kmem: ") + std::strerror(err));
        return n;
    });
}

int kvm_dump_mkheader(kvm_t* kd, off_t dump_off) {
    return guarded(kd, -1, [&] {
        if (kd->live || kd->no_files)
            throw kvm::Error(kvm::ErrorKind::usage, "kvm_dump_mkheader: no dump device was opened");
        if (dump_off < 0 || static_cast<std::uint64_t>(dump_off) % kvm::netbsd::dev_bsize != 0)
            throw kvm::Error(kvm::ErrorKind::usage, "kvm_dump_mkheader: dump offset " + std::to_string(dump_off) +
                                                        " is not a multiple of 512");
        std::unique_ptr<kvm::Kernel> kernel;
        try {
            kernel = open_kernel(kd, static_cast<std::uint64_t>(dump_off) / kvm::netbsd::dev_bsize);
        } catch (const kvm::Error& e) {
            if (e.kind() != kvm::ErrorKind::format) throw;
            report(kd, e.what());  // no header there: not fatal
            return 0;
        }
        const kvm::netbsd::DumpLayout* layout = kvm::netbsd::layout_of(kernel->format());
        if (layout == nullptr || !layout->on_device) {
            report(kd, "kvm_dump_mkheader: " + kd->corefile + ": no dump header at offset " + std::to_string(dump_off));
            return 0;
        }
        kd->kernel = std::move(kernel);
        kd->namelist = kd->kernel->shared_namelist();
        kd->walker.reset();
        return static_cast<int>(layout->memory_offset - layout->header_offset);
    });
}

int kvm_dump_wrtheader(kvm_t* kd, FILE* fp, int dumpsize) {
    return guarded(kd, -1, [&] {
        const kvm::netbsd::DumpLayout* layout = kd->kernel ? kvm::netbsd::layout_of(kd->kernel->format()) : nullptr;
        if (layout == nullptr || !layout->on_device)
            throw kvm::Error(kvm::ErrorKind::usage, "kvm_dump_wrtheader: no dump header: call kvm_dump_mkheader first");
        // c_size is 32 bits, as dumpsize is: NetBSD passes (int)dumpbytes.
        const kvm::Bytes header = kvm::netbsd::kcore_file_header(*layout, static_cast<std::uint32_t>(dumpsize));
        // Written forward only: fp may be a compressing stream.
        if (std::fwrite(header.data(), 1, header.size(), fp) != header.size() || std::fflush(fp) != 0)
            throw kvm::Error(kvm::ErrorKind::io, std::string("kvm_dump_wrtheader: ") + std::strerror(errno));
        return 0;
    });
}

int kvm_dump_inval(kvm_t* kd) {
    return guarded(kd, -1, [&] {
        if (!kd->kernel || kvm::netbsd::layout_of(kd->kernel->format()) == nullptr)
            throw kvm::Error(kvm::ErrorKind::usage, "kvm_dump_inval: no dump header: call kvm_dump_mkheader first");
        if ((kd->flags & O_ACCMODE) == O_RDONLY)
            throw kvm::Error(kvm::ErrorKind::usage, "kvm_dump_inval: the dump was opened O_RDONLY");
        kvm::netbsd::invalidate_dump(*kd->kernel);
        return 0;
    });
}

struct kinfo_proc2* kvm_getproc2(kvm_t* kd, int op, int arg, size_t elemsize, int* cnt) {
    return guarded(kd, static_cast<kinfo_proc2*>(nullptr), [&] {
        if (elemsize == 0) throw kvm::Error(kvm::ErrorKind::usage, "kvm_getproc2: element size 0");
        kvm::WalkOptions options;
        if (op != KERN_PROC_ALL) options.filters.push_back(filter_of(op, arg));
        const std::vector<kvm::ProcInfo> rows = walk(kd, options);
        const std::uint64_t page_size = page_size_of(kd);
        std::vector<kinfo_proc2> records;
        records.reserve(rows.size());
        for (const kvm::ProcInfo& p : rows)
            records.push_back(to_kinfo_proc2(kd, p, page_size));
        store(kd->procs, records, elemsize);
        if (cnt != nullptr) *cnt = static_cast<int>(records.size());
        // An empty array is still an answer, as libkvm's is.
        kd->procs.resize(std::max(kd->procs.size(), elemsize));
        return reinterpret_cast<kinfo_proc2*>(kd->procs.data());
    });
}

struct kinfo_lwp* kvm_getlwps(kvm_t* kd, int pid, unsigned long paddr, size_t elemsize, int* cnt) {
    return guarded(kd, static_cast<kinfo_lwp*>(nullptr), [&] {
        if (elemsize == 0) throw kvm::Error(kvm::ErrorKind::usage, "kvm_getlwps: element size 0");
        kvm::WalkOptions options{.filters = {{kvm::ProcOp::pid, static_cast<std::uint64_t>(pid)}}, .per_lwp = true};
        std::vector<kinfo_lwp> records;
        // A process with no LWP left (a zombie) still has its process
        // row, which is not an LWP.
        for (const kvm::ProcInfo& p : walk(kd, options))
            if (p.lwp_row && (paddr == 0 || p.paddr == 0 || p.paddr == paddr)) records.push_back(to_kinfo_lwp(kd, p));
        store(kd->lwps, records, elemsize);
        if (cnt != nullptr) *cnt = static_cast<int>(records.size());
        kd->lwps.resize(std::max(kd->lwps.size(), elemsize));
        return reinterpret_cast<kinfo_lwp*>(kd->lwps.data());
    });
}

char** kvm_getargv2(kvm_t* kd, const struct kinfo_proc2* p, int nchr) {
    return guarded(kd, static_cast<char**>(nullptr), [&] {
        return string_vector(
            kd, kvm::getargv(live_process(kd, p, "kvm_getargv2"), nchr > 0 ? static_cast<std::size_t>(nchr) : 0));
    });
}

char** kvm_getenvv2(kvm_t* kd, const struct kinfo_proc2* p, int nchr) {
    return guarded(kd, static_cast<char**>(nullptr), [&] {
        return string_vector(
            kd, kvm::getenvv(live_process(kd, p, "kvm_getenvv2"), nchr > 0 ? static_cast<std::size_t>(nchr) : 0));
    });
}

struct kinfo_proc* kvm_getprocs(kvm_t* kd, int /*op*/, int /*arg*/, int* /*cnt*/) {
    return guarded(kd, static_cast<kinfo_proc*>(nullptr), []() -> kinfo_proc* {
        throw kvm::Error(kvm::ErrorKind::unsupported,
                         "kvm_getprocs: struct kinfo_proc is the kernel's own struct proc, which kvmkit does not "
                         "have; use kvm_getproc2");
    });
}

char** kvm_getargv(kvm_t* kd, const struct kinfo_proc* /*p*/, int /*nchr*/) {
    return guarded(kd, static_cast<char**>(nullptr), []() -> char** {
        throw kvm::Error(kvm::ErrorKind::unsupported,
                         "kvm_getargv: struct kinfo_proc is not available from kvmkit; use kvm_getargv2");
    });
}

char** kvm_getenvv(kvm_t* kd, const struct kinfo_proc* /*p*/, int /*nchr*/) {
    return guarded(kd, static_cast<char**>(nullptr), []() -> char** {
        throw kvm::Error(kvm::ErrorKind::unsupported,
                         "kvm_getenvv: struct kinfo_proc is not available from kvmkit; use kvm_getenvv2");
    });
}

ssize_t kvm_uread(kvm_t* kd, const struct kinfo_proc2* p, unsigned long uva, char* buf, size_t len) {
    return guarded(kd, ssize_t{-1}, [&] {
        const std::size_t n =
            kvm::uread(live_process(kd, p, "kvm_uread"), uva, {reinterpret_cast<std::byte*>(buf), len});
        return static_cast<ssize_t>(n);
    });
}

}  // extern "C"
