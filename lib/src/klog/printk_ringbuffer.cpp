// The printk ring buffer of Linux 5.10 and later, from VMCOREINFO alone
// (facts: kvm/msgbuf.h).  The descriptors from tail_id to head_id are read
// in order; each record is checked the way the kernel's own reader checks
// it (the descriptor holds the id asked for, in a state that has text; the
// info's sequence number belongs in the descriptor's slot; the text block
// is a legal, aligned block inside the data ring's live window and starts
// with the descriptor's id), and one that fails is skipped with a warning.
#include <kvm/error.h>
#include <kvm/msgbuf.h>

#include "klog/ring_memory.h"

#include <fmt/format.h>

namespace kvm::klog {

namespace {

using detail::Region;
using detail::VmcoreFields;

enum DescState : unsigned { desc_reserved = 0, desc_committed = 1, desc_finalized = 2, desc_reusable = 3 };
constexpr std::uint64_t empty_line_lpos = 3;  // begin = next = 3: a record with no text (NO_LPOS before 6.7)
constexpr unsigned max_count_bits = 24;       // max_descriptors
constexpr unsigned max_size_bits = 30;        // max_ring_bytes

struct PrbLayout {
    std::uint64_t rb_size = 0, desc_ring = 0, text_data_ring = 0;
    std::uint64_t count_bits = 0, descs = 0, infos = 0, head_id = 0, tail_id = 0;  // in struct prb_desc_ring
    std::uint64_t size_bits = 0, data = 0, head_lpos = 0, tail_lpos = 0;           // in struct prb_data_ring
    std::uint64_t desc_size = 0, state_var = 0, lpos_begin = 0, lpos_next = 0;     // in struct prb_desc
    std::uint64_t info_size = 0, seq = 0, ts_nsec = 0, text_len = 0, caller_id = 0;
    bool has_level = false;  // facility and level sit before caller_id
    std::optional<std::uint64_t> subsystem, subsystem_len, device, device_len;  // in struct printk_info
};

PrbLayout prb_layout(const VmcoreFields& f, unsigned word) {
    PrbLayout l;
    l.rb_size = f.size("printk_ringbuffer");
    l.desc_ring = f.offset("printk_ringbuffer.desc_ring");
    l.text_data_ring = f.offset("printk_ringbuffer.text_data_ring");
    l.count_bits = l.desc_ring + f.offset("prb_desc_ring.count_bits");
    l.descs = l.desc_ring + f.offset("prb_desc_ring.descs");
    l.infos = l.desc_ring + f.offset("prb_desc_ring.infos");
    l.head_id = l.desc_ring + f.offset("prb_desc_ring.head_id");
    l.tail_id = l.desc_ring + f.offset("prb_desc_ring.tail_id");
    l.size_bits = l.text_data_ring + f.offset("prb_data_ring.size_bits");
    l.data = l.text_data_ring + f.offset("prb_data_ring.data");
    l.head_lpos = l.text_data_ring + f.offset("prb_data_ring.head_lpos");
    l.tail_lpos = l.text_data_ring + f.offset("prb_data_ring.tail_lpos");
    for (const auto& [name, at, width] :
         {std::tuple{"prb_desc_ring.count_bits", l.count_bits, 4u}, std::tuple{"prb_desc_ring.descs", l.descs, word},
          std::tuple{"prb_desc_ring.infos", l.infos, word}, std::tuple{"prb_desc_ring.head_id", l.head_id, word},
          std::tuple{"prb_desc_ring.tail_id", l.tail_id, word}, std::tuple{"prb_data_ring.size_bits", l.size_bits, 4u},
          std::tuple{"prb_data_ring.data", l.data, word}, std::tuple{"prb_data_ring.head_lpos", l.head_lpos, word},
          std::tuple{"prb_data_ring.tail_lpos", l.tail_lpos, word}})
        f.check_fits(name, at, width, "printk_ringbuffer", l.rb_size);

    l.desc_size = f.size("prb_desc");
    l.state_var = f.offset("prb_desc.state_var");
    const std::uint64_t blk = f.offset("prb_desc.text_blk_lpos");
    l.lpos_begin = blk + f.offset("prb_data_blk_lpos.begin");
    l.lpos_next = blk + f.offset("prb_data_blk_lpos.next");
    f.check_fits("prb_desc.state_var", l.state_var, word, "prb_desc", l.desc_size);
    f.check_fits("prb_data_blk_lpos.begin", l.lpos_begin, word, "prb_desc", l.desc_size);
    f.check_fits("prb_data_blk_lpos.next", l.lpos_next, word, "prb_desc", l.desc_size);
    if (l.desc_size == 0) throw_corrupt("VMCOREINFO: SIZE(prb_desc)=0");

    l.info_size = f.size("printk_info");
    l.seq = f.offset("printk_info.seq");
    l.ts_nsec = f.offset("printk_info.ts_nsec");
    l.text_len = f.offset("printk_info.text_len");
    l.caller_id = f.offset("printk_info.caller_id");
    f.check_fits("printk_info.seq", l.seq, 8, "printk_info", l.info_size);
    f.check_fits("printk_info.ts_nsec", l.ts_nsec, 8, "printk_info", l.info_size);
    f.check_fits("printk_info.text_len", l.text_len, 2, "printk_info", l.info_size);
    f.check_fits("printk_info.caller_id", l.caller_id, 4, "printk_info", l.info_size);
    if (l.info_size == 0) throw_corrupt("VMCOREINFO: SIZE(printk_info)=0");
    // u16 text_len, u8 facility, u8 flags:5 level:3, u32 caller_id.
    l.has_level = l.caller_id >= l.text_len + 4;

    // dev_printk's subsystem and device names: optional (CONFIG_PRINTK
    // kernels export them, but nothing else depends on them).
    const auto dev = f.optional_offset("printk_info.dev_info");
    const auto sub = f.optional_offset("dev_printk_info.subsystem");
    const auto dvc = f.optional_offset("dev_printk_info.device");
    const auto sub_len = f.optional_length("printk_info_subsystem");
    const auto dvc_len = f.optional_length("printk_info_device");
    if (dev && sub && sub_len) {
        l.subsystem = *dev + *sub;
        l.subsystem_len = *sub_len;
        f.check_fits("dev_printk_info.subsystem", *l.subsystem, *sub_len, "printk_info", l.info_size);
    }
    if (dev && dvc && dvc_len) {
        l.device = *dev + *dvc;
        l.device_len = *dvc_len;
        f.check_fits("dev_printk_info.device", *l.device, *dvc_len, "printk_info", l.info_size);
    }
    return l;
}

class RingReader {
public:
    RingReader(const Memory& memory, const PrbLayout& l, ByteSpan rb, const LogWarn& warn)
        : memory_(memory), l_(l), warn_(warn), word_(memory.long_size) {
        const ByteOrder o = memory.order;
        const std::byte* p = rb.data();
        const std::uint64_t count_bits = load32(p + l.count_bits, o);
        const std::uint64_t size_bits = load32(p + l.size_bits, o);
        if (count_bits > max_count_bits)
            throw_corrupt(fmt::format("prb: count_bits is {}: more than the {} of a ring of {:#x} descriptors",
                                      count_bits, max_count_bits, max_descriptors));
        if (size_bits > max_size_bits || (std::uint64_t{1} << size_bits) < std::uint64_t{2} * word_)
            throw_corrupt(fmt::format("prb: the text data ring's size_bits is {}: not a ring of 2^{}..2^{} bytes",
                                      size_bits, word_ == 8 ? 4 : 3, max_size_bits));
        count_ = std::uint64_t{1} << count_bits;
        size_ = std::uint64_t{1} << size_bits;
        size_bits_ = static_cast<unsigned>(size_bits);
        id_mask_ = (std::uint64_t{1} << (8 * word_ - 2)) - 1;
        long_mask_ = word_ == 8 ? ~std::uint64_t{0} : 0xffffffffu;
        descs_ = load_uint(p + l.descs, word_, o);
        infos_ = load_uint(p + l.infos, word_, o);
        data_ = load_uint(p + l.data, word_, o);
        head_id_ = load_uint(p + l.head_id, word_, o);
        tail_id_ = load_uint(p + l.tail_id, word_, o);
        head_lpos_ = load_uint(p + l.head_lpos, word_, o);
        tail_lpos_ = load_uint(p + l.tail_lpos, word_, o);
        if ((head_id_ & ~id_mask_) != 0 || (tail_id_ & ~id_mask_) != 0)
            throw_corrupt(fmt::format("prb: head_id {:#x} or tail_id {:#x} has state bits set: not descriptor ids",
                                      head_id_, tail_id_));
        detail::check_ring_size(memory, checked_mul(count_, l.desc_size, "prb descriptors"),
                                "the descriptor ring of prb");
        detail::check_ring_size(memory, checked_mul(count_, l.info_size, "prb infos"), "the info ring of prb");
        detail::check_ring_size(memory, size_, "the text data ring of prb");
    }

    KernelLog read() {
        const Region descs(memory_, descs_, count_ * l_.desc_size);
        const Region infos(memory_, infos_, count_ * l_.info_size);
        const Region data(memory_, data_, size_);

        // The data ring's live window; a window that cannot be one is
        // reported once and each record's block is then checked alone.
        window_ok_ = ((head_lpos_ - tail_lpos_) & long_mask_) <= size_;
        if (!window_ok_)
            warn_(Error(ErrorKind::corrupt,
                        fmt::format("prb: the text data ring's tail_lpos {:#x} and head_lpos {:#x} are more than its "
                                    "{:#x} bytes apart: text blocks are checked without them",
                                    tail_lpos_, head_lpos_, size_)));

        std::uint64_t n = ((head_id_ - tail_id_) & id_mask_) + 1;
        std::uint64_t first = tail_id_;
        if (n > count_) {
            first = (head_id_ - count_ + 1) & id_mask_;
            warn_(Error(ErrorKind::corrupt,
                        fmt::format("prb: tail_id {:#x} is {} descriptors behind head_id {:#x}, more than the ring's "
                                    "{}: reading the last {}",
                                    tail_id_, n - 1, head_id_, count_, count_)));
            n = count_;
        }

        KernelLog log;
        log.source = fmt::format("printk ring buffer (prb) at {}", hex(prb_address));
        log.records.reserve(n);
        bool seen_record = false;
        std::optional<std::uint64_t> last_seq;
        for (std::uint64_t k = 0; k < n; ++k) {
            const std::uint64_t id = (first + k) & id_mask_;
            std::optional<LogRecord> r = record(id, descs, infos, data, seen_record, last_seq);
            if (!r) continue;
            seen_record = true;
            last_seq = r->sequence;
            log.records.push_back(std::move(*r));
        }
        return log;
    }

    std::uint64_t prb_address = 0;

private:
    void skip(std::uint64_t id, std::optional<std::uint64_t> seq, const std::string& why) const {
        const std::string what = seq ? fmt::format("printk record {} (descriptor {:#x})", *seq, id)
                                     : fmt::format("printk descriptor {:#x}", id);
        warn_(Error(ErrorKind::corrupt, fmt::format("{}: {}; skipped", what, why)));
    }

    std::uint64_t wraps(std::uint64_t lpos) const { return (lpos & long_mask_) >> size_bits_; }
    std::uint64_t index(std::uint64_t lpos) const { return lpos & (size_ - 1); }

    std::optional<LogRecord> record(std::uint64_t id, const Region& descs, const Region& infos, const Region& data,
                                    bool seen_record, std::optional<std::uint64_t> last_seq) const {
        const ByteOrder o = memory_.order;
        const std::uint64_t slot = id & (count_ - 1);
        const std::uint64_t desc_at = slot * l_.desc_size;
        if (!descs.present(desc_at, l_.desc_size)) {
            skip(id, std::nullopt, fmt::format("its descriptor at {} is not in the dump", hex(descs.va() + desc_at)));
            return std::nullopt;
        }
        const std::byte* desc = descs.bytes().data() + desc_at;
        const std::uint64_t sv = load_uint(desc + l_.state_var, word_, o);
        const auto state = static_cast<unsigned>((sv >> (8 * word_ - 2)) & 3);
        if ((sv & id_mask_) != id) {
            skip(id, std::nullopt,
                 fmt::format("slot {} holds descriptor {:#x} instead: the ring's ids lie", slot, sv & id_mask_));
            return std::nullopt;
        }

        const std::uint64_t info_at = slot * l_.info_size;
        std::optional<std::uint64_t> seq;
        const bool info_present = infos.present(info_at, l_.info_size);
        const std::byte* info = infos.bytes().data() + info_at;
        if (info_present) seq = load64(info + l_.seq, o);

        switch (state) {
            case desc_reusable:
                // The oldest descriptors whose text was recycled: not records
                // any more, as the kernel's readers see them.
                if (!seen_record) return std::nullopt;
                skip(id, seq, "marked reusable, yet newer than records with text");
                return std::nullopt;
            case desc_reserved:
                skip(id, seq, "still being written (reserved) when the dump was taken");
                return std::nullopt;
            default:
                break;  // committed or finalized: a record
        }
        if (!info_present) {
            skip(id, std::nullopt, fmt::format("its printk_info at {} is not in the dump", hex(infos.va() + info_at)));
            return std::nullopt;
        }
        if ((*seq & (count_ - 1)) != slot) {
            skip(id, seq,
                 fmt::format("its sequence number belongs in slot {}, not in slot {}", *seq & (count_ - 1), slot));
            return std::nullopt;
        }
        if (last_seq && *seq <= *last_seq) {
            skip(id, seq, fmt::format("it comes after record {}", *last_seq));
            return std::nullopt;
        }

        LogRecord r;
        r.sequence = seq;
        r.time_nsec = load64(info + l_.ts_nsec, o);
        r.caller_id = load32(info + l_.caller_id, o);
        if (l_.has_level) {
            r.facility = static_cast<std::uint8_t>(info[l_.caller_id - 2]);
            r.level = detail::level_of(static_cast<std::uint8_t>(info[l_.caller_id - 1]), o);
        }
        if (l_.subsystem)
            r.subsystem =
                detail::fixed_string(ByteSpan(info + *l_.subsystem, static_cast<std::size_t>(*l_.subsystem_len)));
        if (l_.device)
            r.device = detail::fixed_string(ByteSpan(info + *l_.device, static_cast<std::size_t>(*l_.device_len)));
        const std::uint64_t text_len = load16(info + l_.text_len, o);

        const std::uint64_t begin = load_uint(desc + l_.lpos_begin, word_, o);
        const std::uint64_t next = load_uint(desc + l_.lpos_next, word_, o);
        const std::optional<std::string> why = text(id, begin, next, text_len, data, r.text);
        if (why) {
            skip(id, seq, *why);
            return std::nullopt;
        }
        return r;
    }

    // The record's text from its block [begin, next), or why it cannot be had.
    std::optional<std::string> text(std::uint64_t id, std::uint64_t begin, std::uint64_t next, std::uint64_t text_len,
                                    const Region& data, std::string& out) const {
        const std::string block = fmt::format("its text block [{:#x}, {:#x})", begin, next);
        if ((begin & 1) != 0 && (next & 1) != 0) {
            if (begin == empty_line_lpos && next == empty_line_lpos) return std::nullopt;  // an empty line
            return "its text was lost (the kernel found no room for it)";
        }
        std::uint64_t at = 0;    // offset of the block's data (id first) in the ring
        std::uint64_t size = 0;  // bytes of the block from there, id included
        const std::uint64_t last = (next - 1) & long_mask_;
        if (wraps(begin) == wraps(last) && begin < next) {
            at = index(begin);
            size = next - begin;
        } else if (wraps(begin + size_) == wraps(last)) {
            at = 0;  // a wrapping block keeps its data at the start of the ring
            size = index(next);
        } else {
            return block + " is not a block of the text data ring";
        }
        if (begin % word_ != 0 || next % word_ != 0) return block + " is not aligned to a long";
        if (size < word_ || size > size_ - word_)
            return block + fmt::format(" holds {} bytes: not a legal block", size);
        if (window_ok_) {
            const std::uint64_t window = (head_lpos_ - tail_lpos_) & long_mask_;
            if (((begin - tail_lpos_) & long_mask_) > window || ((next - tail_lpos_) & long_mask_) > window ||
                ((next - begin) & long_mask_) > window)
                return block +
                       fmt::format(" lies outside the data ring's live text [{:#x}, {:#x})", tail_lpos_, head_lpos_);
        }
        if (!data.present(index(begin), word_) || !data.present(at, size))
            return block + fmt::format(" at {} is not in the dump", hex(data.va() + at));
        const std::uint64_t owner = load_uint(data.bytes().data() + index(begin), word_, memory_.order);
        if (owner != id) return block + fmt::format(" belongs to descriptor {:#x}: overwritten", owner);
        if (text_len > size - word_)
            return fmt::format("its text_len {} is more than the {} bytes of its text block", text_len, size - word_);
        out.assign(as_chars(data.bytes().subspan(at + word_, text_len)));
        return std::nullopt;
    }

    const Memory& memory_;
    const PrbLayout& l_;
    const LogWarn& warn_;
    unsigned word_;
    std::uint64_t count_ = 0, size_ = 0, id_mask_ = 0, long_mask_ = 0;
    unsigned size_bits_ = 0;
    std::uint64_t descs_ = 0, infos_ = 0, data_ = 0;
    std::uint64_t head_id_ = 0, tail_id_ = 0, head_lpos_ = 0, tail_lpos_ = 0;
    bool window_ok_ = true;
};

}  // namespace

KernelLog read_printk_ringbuffer(const Memory& memory, const linux_kernel::VmcoreInfo& info, const LogWarn& warn) {
    const unsigned word = memory.long_size;
    if (word != 4 && word != 8) throw Error(ErrorKind::usage, fmt::format("a long of {} bytes", word));
    const VmcoreFields f(info, "the printk ring buffer");
    const std::uint64_t prb_symbol = f.symbol("prb");
    const PrbLayout layout = prb_layout(f, word);

    const std::uint64_t prb = detail::read_word(memory, prb_symbol, word, "prb");
    if (layout.rb_size > max_ring_bytes) throw_corrupt("VMCOREINFO: SIZE(printk_ringbuffer) is impossible");
    Bytes rb(layout.rb_size);
    detail::read_exact(memory, prb, rb, fmt::format("prb: struct printk_ringbuffer at {}", hex(prb)));
    RingReader reader(memory, layout, rb, warn);
    reader.prb_address = prb;
    return reader.read();
}

}  // namespace kvm::klog
