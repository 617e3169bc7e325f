// The kernel message buffer: what dmesg(8) prints, read from a crash dump
// (BSD libkvm's dmesg -M core -N system, crash's `log`) or from the running
// host.
//
// A dump's log is read by a row of all_log_readers(), chosen by what the
// dump is (MachineState::os) and what it names:
//   linux-prb     the printk ring buffer of Linux 5.10 and later, found and
//                 laid out entirely by VMCOREINFO (SYMBOL(prb), SIZE(...),
//                 OFFSET(...)): no namelist or type information needed;
//   linux-log_buf the struct printk_log records of Linux 3.5 to 5.9, also
//                 from VMCOREINFO (SYMBOL(log_buf), log_buf_len,
//                 log_first_idx, log_next_idx, OFFSET(printk_log.*));
//   netbsd        msgbufp and its struct kern_msgbuf, whose layout is data
//                 (the shipped NetBSD layout files, or the kernel's DWARF);
//   bsd-msgbuf    FreeBSD and DragonFly: the ring a minidump carries
//                 (Format::message_buffer) or, in a full dump, the one
//                 msgbufp's struct msgbuf points to; the write position
//                 from struct msgbuf (layouts from a file, the namelist's
//                 CTF or DWARF, the shipped files, else the declaration).
// Adding a system is one reader and one row.
//
// A damaged buffer is read as far as it is sound: each record (Linux) or
// run of bytes (BSD) that cannot be trusted is skipped with a warning that
// names it, through the warn callback, and the rest is returned.  Only a
// buffer that cannot be found at all (no VMCOREINFO, a pointer outside the
// dump, a bad magic number, a size over the limits) is an error.
//
// Facts (layouts and semantics; no kernel code is used):
//   - printk ring buffer (kernel/printk/printk_ringbuffer.h, 5.10-6.x):
//     descriptors are found by id (index = id & (2^count_bits - 1)); a
//     descriptor's state_var holds its id in the low bits and its state in
//     the top two bits of a long (0 reserved, 1 committed, 2 finalized,
//     3 reusable); its text block [begin, next) is in logical positions of
//     the data ring (index = lpos & (2^size_bits - 1), wrap = lpos >>
//     size_bits), starts with the descriptor's id as a long, and is
//     long-aligned; a block whose next lies in the following wrap keeps its
//     text at index 0 (after a second copy of the id).  begin = next = 3 is
//     an empty line, lpos with bit 0 set otherwise a lost text.  A record's
//     seq has the descriptor's index in its low bits.  struct printk_info
//     puts u8 facility and u8 flags:5, level:3 in the two bytes before
//     caller_id (VMCOREINFO gives caller_id's offset, not theirs).
//   - struct printk_log (3.5-5.9): a header of SIZE(printk_log) bytes, the
//     text, the dictionary, padding to the record's len; len 0 (or no room
//     for a header before the end) sends the reader to index 0; facility
//     and flags:5, level:3 follow the u16 dict_len.
//   - NetBSD struct kern_msgbuf (sys/sys/msgbuf.h 1.18): long msg_magic
//     (MSG_MAGIC 0x063061), msg_bufx (write index: the oldest byte once the
//     ring has wrapped), msg_bufr (read index of /dev/klog), msg_bufs (ring
//     bytes), then the ring msg_bufc.  NUL bytes are unused space.
//   - FreeBSD struct msgbuf (sys/sys/msgbuf.h, 7.0 and later): char
//     *msg_ptr (the ring), u_int msg_magic (MSG_MAGIC 0x063062), msg_size,
//     msg_wseq and msg_rseq (sequence numbers modulo msg_seqmod, 16 times
//     the size; a position is a sequence number modulo msg_size), msg_cksum,
//     msg_seqmod, ...  Before 7.0, and DragonFly: u_int msg_magic, msg_size,
//     msg_bufx (write index), msg_bufr (read index), then msg_ptr; DragonFly
//     later added msg_bufl (the /dev/klog index) and MSG_MAGIC 0x063064,
//     with msg_bufx and msg_bufr free-running (masked by the reader, the text
//     is msg_bufr..msg_bufx) and the older buffer's 0x063062 kept as
//     MSG_OMAGIC.  A minidump carries the ring (msg_size bytes at msg_ptr)
//     but not the header.  Both systems' dmesg unwrap the ring from the
//     write position, skip NULs, strip "<N>" at a line's start and leave out
//     the line when N's facility is not kern (unless -a), and print the
//     rest through vis(3) without VIS_NOSLASH (\^G, \M-i, \\).
//   - The running Linux host: /dev/kmsg, one record per read:
//     "prio,seq,usec,flags[,...];text\n" with bytes outside 0x20-0x7e (and
//     backslash) as \xNN, then " KEY=value" lines.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/linux.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {

// One record of a structured log (Linux).  Fields the source does not have
// are empty.
struct LogRecord {
    std::optional<std::uint64_t> sequence;   // the kernel's sequence number
    std::optional<std::uint64_t> time_nsec;  // since boot (printk's local clock)
    std::optional<std::uint8_t> level;       // 0 (KERN_EMERG) .. 7 (KERN_DEBUG)
    std::optional<std::uint8_t> facility;    // 0 kernel, 1 user (/dev/kmsg writes), ...
    // printk's caller id: a task id, or 0x80000000 plus a CPU number
    // (printed T<pid> or C<cpu>).
    std::optional<std::uint32_t> caller_id;
    std::string subsystem;  // dev_printk's SUBSYSTEM= and DEVICE=, when set
    std::string device;
    std::string text;  // without a trailing newline; may hold '\n' (a multi-line record)
};

// Which BSD's dmesg a text stream is printed as (format_log).
enum class TextDialect {
    netbsd,   // vis(3) VIS_NOSLASH (^G, M-i), every line
    freebsd,  // FreeBSD's and DragonFly's: vis(3) with backslashes (\^G, \M-i, \\); a line whose
              // "<N>" names a facility other than kern left out unless LogFormat::all
};

struct KernelLog {
    // Where it came from, for people: "printk ring buffer prb at 0x...".
    std::string source;
    TextDialect dialect = TextDialect::netbsd;
    // A BSD message buffer is a stream of characters, not records: `text`
    // holds the ring's bytes, oldest first, without its NUL bytes, and
    // `records` is empty.  A Linux log has records and no text.
    bool text_stream = false;
    std::vector<LogRecord> records;
    std::string text;
};

// Called once for every record or span that was skipped.
using LogWarn = std::function<void(const Error&)>;

struct LogOptions {
    // Structure layouts (the BSD readers): a file the user names, and the
    // directories of shipped files (empty: shipped_layout_dirs()).
    std::optional<std::string> layout_file;
    std::vector<std::string> layout_dirs;
};

// The log of a dump: the first row of all_log_readers() that accepts it.
// Throws unsupported for a dump of a system no reader knows.
KernelLog read_kernel_log(const Kernel& kernel, const LogWarn& warn, const LogOptions& options = {});

// The running host's log (Linux: /dev/kmsg, read without waiting for new
// records).  Errors name the device; permission problems say what is needed
// ("reading the kernel log needs CAP_SYSLOG (kernel.dmesg_restrict is 1)").
KernelLog read_host_log(const LogWarn& warn, const std::string& device = "/dev/kmsg");
// The records of /dev/kmsg's format in `data` (one record per line, as the
// device returns them one per read).  A malformed record is skipped with a
// warning naming it.
KernelLog parse_kmsg(std::string_view data, const LogWarn& warn);

// ---------------------------------------------------------------- output

struct LogFormat {
    bool time = true;     // "[    1.234567] " before each line (dmesg's default)
    bool raw = false;     // "<N>" before each line: (facility << 3) | level, as dmesg -r
    bool caller = false;  // "[  T123]" after the time (the kernel's CONFIG_PRINTK_CALLER format)
    // FreeBSD and DragonFly (TextDialect::freebsd): also the lines whose
    // "<N>" names a facility other than kern (syslog's), as their dmesg -a.
    bool all = false;
};

// What dmesg prints.  Linux: the kernel's own syslog format (what dmesg(1)
// of busybox and syslog(2) show): each line of each record gets the prefix
// "<N>" (raw), "[%5lu.%06lu]" (time), "[%6s]" (caller), then one space
// when a time or caller was printed, then the line.  BSD: the ring as
// NetBSD's dmesg(8) (9 and later) prints it: the "<N>" that log(9) puts at
// the start of a line left out (kept with raw), the kernel's "[ sec.frac] "
// timestamp after it kept as written (left out without time, as its -t),
// characters that are not printable shown with vis(3) VIS_NOSLASH (^C,
// M-x), and a newline at the end; FreeBSD's and DragonFly's (their
// TextDialect) the same but vis(3) with backslashes (\^C, \M-x, \\) and
// the lines of facilities other than kern left out unless `all`.
std::string format_log(const KernelLog& log, const LogFormat& format = {});

// JSON Lines, one object per record (per line of a BSD buffer, whose
// timestamp and "<N>" become fields): "sequence",
// "time_usec" (microseconds since boot, as /dev/kmsg gives them),
// "level", "facility", "caller" ("T123", "C1"), "subsystem", "device" when
// known, and "text" (valid UTF-8 as it is, any other byte as U+FFFD).
std::string format_log_json(const KernelLog& log);

// ---------------------------------------------------------------- readers

namespace klog {

// Limits on sizes read from a dump, besides the dump's own size: no kernel
// keeps more log than this (Linux's log_buf_len is at most 2 GiB, and no
// distribution goes beyond a few MiB).
inline constexpr std::uint64_t max_ring_bytes = 1ull << 30;
inline constexpr std::uint64_t max_descriptors = 1ull << 24;

// Kernel virtual memory as the ring readers see it, so that they can be
// tested and fuzzed on memory images without a dump.
struct Memory {
    // Reads as much of [va, va + out.size()) as it can from va onwards.
    std::function<PartialRead(std::uint64_t va, MutableByteSpan out)> read;
    ByteOrder order = ByteOrder::little;
    unsigned long_size = 8;  // sizeof(long) and of pointers
    // The bytes of memory the dump holds: no ring is larger.
    std::uint64_t bytes = 0;
};
Memory kernel_memory(const Kernel& kernel);

// Linux, from VMCOREINFO alone.  `first_seq` numbers log_buf records (its
// log_first_seq is not in VMCOREINFO; a namelist has it).
KernelLog read_printk_ringbuffer(const Memory& memory, const linux_kernel::VmcoreInfo& info, const LogWarn& warn);
KernelLog read_printk_log(const Memory& memory, const linux_kernel::VmcoreInfo& info, const LogWarn& warn,
                          std::optional<std::uint64_t> first_seq = std::nullopt);

// NetBSD: the struct kern_msgbuf that the pointer at `msgbufp` points to.
KernelLog read_netbsd_msgbuf(const Memory& memory, std::uint64_t msgbufp, const StructLayouts& layouts,
                             const LogWarn& warn);
// What read_netbsd_msgbuf reads: struct kern_msgbuf and MSG_MAGIC.
const LayoutRequest& netbsd_msgbuf_layout_request();

// FreeBSD and DragonFly: struct msgbuf through the pointer at `msgbufp`
// (nullopt: no namelist names it), and the ring a minidump carries
// (`carried`; nullopt for a full dump, whose ring is read at msg_ptr).  A
// carried ring is printed even when the header cannot be read, has a bad
// magic or another size (from its start, with a warning); without one
// those are errors.
KernelLog read_bsd_msgbuf(const Memory& memory, std::optional<std::uint64_t> msgbufp, const StructLayouts& layouts,
                          const std::optional<Bytes>& carried, const LogWarn& warn);
// What read_bsd_msgbuf reads: struct msgbuf (msg_ptr, msg_magic and
// msg_size, and msg_wseq or msg_bufx) and MSG_MAGIC.
const LayoutRequest& bsd_msgbuf_layout_request();
// MSG_MAGIC, the same in every release of `os` ("freebsd", "dragonfly"),
// and DragonFly's MSG_OMAGIC: for layouts from type information, which
// has no macros.
const std::vector<NamedValue>& bsd_msgbuf_known_values(std::string_view os);
// struct msgbuf as the system's sys/sys/msgbuf.h declares it (FreeBSD 7
// and later; DragonFly with msg_bufl, whose head older DragonFly shares),
// laid out for the pointer size: for a kernel with neither type
// information nor a shipped layout file of its release.
StructLayouts declared_bsd_msgbuf_layouts(std::string_view os, unsigned pointer_size, ByteOrder order);

struct LogReader {
    std::string_view name;  // "linux-prb"
    bool (*accepts)(const Kernel& kernel);
    KernelLog (*read)(const Kernel& kernel, const LogWarn& warn, const LogOptions& options);
};
std::span<const LogReader> all_log_readers();

}  // namespace klog

}  // namespace kvm
