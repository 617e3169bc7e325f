// The struct printk_log records of Linux 3.5 to 5.9, from VMCOREINFO alone
// (facts: kvm/msgbuf.h).  Records are walked from log_first_idx to
// log_next_idx; a record header that cannot be one ends the walk with a
// warning (the layout has no way to find the next record without it).
#include <kvm/error.h>
#include <kvm/msgbuf.h>

#include "klog/ring_memory.h"

#include <fmt/format.h>

namespace kvm::klog {

namespace {

struct LogLayout {
    std::uint64_t header = 0;  // SIZE(printk_log)
    std::uint64_t ts_nsec = 0, len = 0, text_len = 0, dict_len = 0;
};

// 3.5 to 3.10 called the structure "log"; later kernels "printk_log".
LogLayout log_layout(const linux_kernel::VmcoreInfo& info, const detail::VmcoreFields& f) {
    const std::string name = info.size("printk_log") ? "printk_log" : "log";
    LogLayout l;
    l.header = f.size(name);
    l.ts_nsec = f.offset(name + ".ts_nsec");
    l.len = f.offset(name + ".len");
    l.text_len = f.offset(name + ".text_len");
    l.dict_len = f.offset(name + ".dict_len");
    f.check_fits(name + ".ts_nsec", l.ts_nsec, 8, name, l.header);
    f.check_fits(name + ".len", l.len, 2, name, l.header);
    f.check_fits(name + ".text_len", l.text_len, 2, name, l.header);
    // u16 dict_len, u8 facility, u8 flags:5 level:3.
    f.check_fits(name + ".dict_len", l.dict_len, 4, name, l.header);
    if (l.header == 0) throw_corrupt(fmt::format("VMCOREINFO: SIZE({})=0", name));
    return l;
}

}  // namespace

KernelLog read_printk_log(const Memory& memory, const linux_kernel::VmcoreInfo& info, const LogWarn& warn,
                          std::optional<std::uint64_t> first_seq) {
    const unsigned word = memory.long_size;
    const detail::VmcoreFields f(info, "the kernel log (log_buf)");
    const std::uint64_t buf_symbol = f.symbol("log_buf");
    const std::uint64_t len_symbol = f.symbol("log_buf_len");
    const std::uint64_t first_symbol = f.symbol("log_first_idx");
    const std::uint64_t next_symbol = f.symbol("log_next_idx");
    const LogLayout l = log_layout(info, f);

    const std::uint64_t buf = detail::read_word(memory, buf_symbol, word, "log_buf");
    const std::uint64_t buf_len = detail::read_word(memory, len_symbol, 4, "log_buf_len");
    std::uint64_t first_idx = detail::read_word(memory, first_symbol, 4, "log_first_idx");
    std::uint64_t next_idx = detail::read_word(memory, next_symbol, 4, "log_next_idx");
    if (buf_len < l.header) throw_corrupt(fmt::format("log_buf_len is {}: too small for one record", buf_len));
    detail::check_ring_size(memory, buf_len, "log_buf (log_buf_len)");

    KernelLog log;
    log.source = fmt::format("log_buf at {}", hex(buf));
    const auto warning = [&](std::uint64_t idx, std::optional<std::uint64_t> seq, const std::string& why) {
        const std::string what = seq ? fmt::format("printk record {} (log_buf+{:#x})", *seq, idx)
                                     : fmt::format("printk record at log_buf+{:#x}", idx);
        warn(Error(ErrorKind::corrupt, fmt::format("{}: {}", what, why)));
    };
    if (first_idx >= buf_len) {
        warn(Error(ErrorKind::corrupt,
                   fmt::format("log_first_idx {:#x} is past the end of the {:#x}-byte log_buf: reading from its start",
                               first_idx, buf_len)));
        first_idx = 0;
        first_seq.reset();
    }
    const bool next_known = next_idx < buf_len;
    if (!next_known)
        warn(Error(ErrorKind::corrupt,
                   fmt::format("log_next_idx {:#x} is past the end of the {:#x}-byte log_buf: reading from "
                               "log_first_idx to where the log wraps",
                               next_idx, buf_len)));

    const detail::Region ring(memory, buf, buf_len);
    const ByteOrder o = memory.order;
    std::uint64_t idx = first_idx;
    std::optional<std::uint64_t> seq = first_seq;
    bool wrapped = false;
    // Records lie in order between first and next: [first, next) in one
    // piece, or [first, end) and [0, next) once the writer has wrapped.
    const bool one_piece = next_known && first_idx <= next_idx;
    const auto finished = [&] { return next_known && idx == next_idx; };
    // Every record is at least a header: this many steps reach any index.
    const std::uint64_t max_steps = buf_len / l.header + 2;
    for (std::uint64_t step = 0; !finished(); ++step) {
        if (step > max_steps) {
            warning(idx, seq, "more records than log_buf can hold; stopped");
            break;
        }
        // No room for a header before the end, or a header of length 0:
        // the writer went on at index 0.
        const bool at_end = idx + l.header > buf_len;
        if (!at_end && !ring.present(idx, l.header)) {
            warning(idx, seq,
                    fmt::format("its header at {} is not in the dump; the rest of the log cannot be found",
                                hex(buf + idx)));
            break;
        }
        const std::byte* h = ring.bytes().data() + idx;
        const std::uint64_t len = at_end ? 0 : load16(h + l.len, o);
        if (len == 0) {
            if (!next_known) break;
            if (wrapped || one_piece) {
                warning(idx, seq,
                        fmt::format("the log wraps to the start of log_buf here, but log_next_idx {:#x} is not "
                                    "reached that way; stopped",
                                    next_idx));
                break;
            }
            wrapped = true;
            idx = 0;
            continue;
        }
        const std::uint64_t text_len = load16(h + l.text_len, o);
        const std::uint64_t dict_len = load16(h + l.dict_len, o);
        if (len < l.header + text_len + dict_len || len > buf_len - idx) {
            warning(idx, seq,
                    fmt::format("its length {} cannot hold its header, {} bytes of text and {} of dictionary inside "
                                "log_buf; the rest of the log cannot be found",
                                len, text_len, dict_len));
            break;
        }
        if (next_known && (wrapped || one_piece) && idx < next_idx && idx + len > next_idx) {
            warning(idx, seq, fmt::format("it runs past log_next_idx {:#x}; stopped", next_idx));
            break;
        }
        if (!ring.present(idx, len)) {
            warning(idx, seq, "its text is not in the dump; skipped");
        } else {
            LogRecord r;
            r.sequence = seq;
            r.time_nsec = load64(h + l.ts_nsec, o);
            r.facility = static_cast<std::uint8_t>(h[l.dict_len + 2]);
            r.level = detail::level_of(static_cast<std::uint8_t>(h[l.dict_len + 3]), o);
            r.text.assign(as_chars(ring.bytes().subspan(idx + l.header, text_len)));
            log.records.push_back(std::move(r));
        }
        if (seq) ++*seq;
        idx += len;
    }
    return log;
}

}  // namespace kvm::klog
