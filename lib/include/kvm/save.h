// savecore as a library function: find a NetBSD crash dump on swap devices,
// save it as a kcore file (and a copy of the kernel) and clear it, as
// NetBSD's savecore(8) does, with FreeBSD's device arguments (several, or the
// swap entries of fstab).  Facts: netbsd-dump-format.md section 5.
//
// A device whose last sector holds a FreeBSD or DragonFly kerneldumpheader
// is saved as those systems' savecore does instead (vmcore.N, info.N, the
// *.last links; kern.N for DragonFly): the dump's own header picks the OS.
// Facts: freebsd-dragonfly-dump-format.md sections 1 and 4.
//
// Nothing is ever lost: the core is written under a temporary name, flushed
// and renamed into place only when complete; a failure removes the partial
// file and leaves the dump on the device; the dump is cleared only after the
// core and the kernel copy are on disk.  Files are created 0600 and a
// symlink planted in the directory is never followed.
//
// The tool (tools/savecore) parses flags and routes the Logger to stderr and
// syslog; tests pass their own Logger and read what was said.
#pragma once

#include <kvm/io.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvm::save {

enum class Mode {
    save,   // save the dump, then clear it
    clear,  // -c: clear only
    check,  // -n, -C: say whether there is one
};

// syslog priorities, in decreasing order of importance.
enum class Priority { alert, err, warning, notice, info };
std::string_view to_string(Priority priority);

class Logger {
public:
    virtual ~Logger() = default;
    virtual void log(Priority priority, std::string_view message) = 0;
};

// Where a copy stands; called after every chunk written.
struct Progress {
    std::string_view file;    // the file being written (its final name)
    std::uint64_t done = 0;   // bytes of it written (uncompressed)
    std::uint64_t total = 0;  // bytes it will have
    double seconds = 0;       // since the copy started
};
using ProgressCallback = std::function<void(const Progress&)>;

// Opens a device for reading or (to clear a dump) writing.  Tests replace
// it to simulate devices that end early or fail.
using DeviceOpener = std::function<std::shared_ptr<ByteSource>(const std::string& path, OpenMode mode)>;

struct Options {
    Mode mode = Mode::save;
    std::string directory = "/var/crash";
    // Dump devices; empty: the swap and dump entries of `fstab`.
    std::vector<std::string> devices;
    std::string fstab = "/etc/fstab";
    // -N: the kernel that crashed.  Its symbols locate dumpmag, version and
    // the rest in the dump; its initialised data gives the expected dumpmag
    // and version; it is copied next to the core.
    std::string system = "/netbsd";
    // DragonFly: the kernel copied to kern.N (DragonFly's savecore copies
    // the running kernel, getbootfile()).
    std::string dragonfly_system = "/boot/kernel/kernel";
    // The dump's start in 512-byte blocks; absent: the device is scanned.
    std::optional<std::uint64_t> dumplo_blocks;
    bool force = false;     // -f
    bool verbose = false;   // -v
    bool compress = false;  // -z: gzip members (kvm/compress.h), read in place by every tool
    bool zstd = false;      // --zstd: zstd frames and a seek table instead
    bool keep = false;      // -k: save, but do not clear the dump
    // -m (FreeBSD, DragonFly): keep at most this many dumps, as FreeBSD
    // does: the numbers wrap to 0 at maxdumps and the dump that had the
    // number is removed first.  0: no limit.
    std::uint64_t maxdumps = 0;
    bool uncompress = false;  // -u (FreeBSD): uncompress a dump the kernel compressed
    int level = 1;            // -Z: gzip 0-9, zstd 1-9
    unsigned threads = 0;     // compressing threads; 0: one per CPU
    // "Now", for the crash time check; absent: the clock.
    std::optional<std::int64_t> now;
    // Set (by a signal handler) to stop a copy; the partial file is removed.
    const std::atomic<bool>* interrupted = nullptr;
    DeviceOpener open_device;  // empty: kvm::open_file
};

enum class Outcome {
    saved,    // core and kernel copy on disk, dump cleared
    cleared,  // -c
    present,  // -n: there is a dump
    no_dump,  // nothing to save (no header, or dumpmag says it was saved)
    refused,  // a header that fails a check, or -f needed (time, space)
    failed,   // an error while saving: nothing was cleared
};
std::string_view to_string(Outcome outcome);

struct DeviceResult {
    std::string device;
    Outcome outcome = Outcome::no_dump;
    std::uint64_t dump_offset = 0;  // byte offset of the dump header, when found
    std::string core;               // paths of the saved files (FreeBSD: vmcore, textdump.tar)
    std::string kernel;             // NetBSD's netbsd.N, DragonFly's kern.N
    std::string info;               // FreeBSD, DragonFly: info.N
    std::string key;                // FreeBSD: key.N of an encrypted dump
    std::uint64_t core_size = 0;    // bytes of the core (uncompressed)
};

struct Result {
    std::vector<DeviceResult> devices;
    // Exit status as NetBSD's: 0 when every dump found was saved (or
    // cleared, or with -n one is present) and at least one was; 1 otherwise.
    int exit_status() const;
};

// Runs savecore.  Everything worth saying goes to `logger`; errors are
// logged and returned as outcomes, never thrown.
Result run(const Options& options, Logger& logger, const ProgressCallback& progress = {});

// Dump devices named in an fstab: entries of type "swap" or "dump", or
// with the FreeBSD "sw" option.  UUID=, LABEL=, PARTUUID= and PARTLABEL=
// become /dev/disk/by-*/ paths; \040-style escapes are decoded.
std::vector<std::string> fstab_dump_devices(std::string_view fstab_text);

}  // namespace kvm::save
