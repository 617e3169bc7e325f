// Kernel message buffers whose every byte is known, for tests, fuzz seeds
// and the demo: Linux's printk ring buffer and printk_log records written
// as the kernels' writers write them (descriptors reserved and recycled,
// text blocks wrapping, tails pushed), and NetBSD's kern_msgbuf planted in
// a synthetic crashed machine.  Each writer also gives the VMCOREINFO
// lines a kernel of its layout exports.  Faults are made by changing the
// written state through the accessors before the bytes are taken.
#pragma once

#include <kvm/bytes.h>
#include <kvm/layout.h>
#include <kvm/msgbuf.h>
#include <kvm/synth.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kvm::synth {

// Kernel virtual memory made of a few regions (rings placed at addresses a
// test chooses), readable as klog::Memory.
class MemoryImage {
public:
    void add(std::uint64_t va, Bytes bytes);
    // Reads stop at the first byte no region holds.
    klog::Memory memory(ByteOrder order, unsigned long_size) const;

private:
    std::map<std::uint64_t, Bytes> regions_;
};

// One printk() call.
struct PrintkMessage {
    std::string text;
    std::uint64_t ts_nsec = 0;
    std::uint8_t level = 6;  // KERN_INFO
    std::uint8_t facility = 0;
    std::uint32_t caller_id = 1;  // T1
    std::string subsystem, device;
};

// ---------------------------------------------------------------- printk ring buffer

// The printk ring buffer of Linux 5.10 and later (6.1's layout: struct
// printk_ringbuffer of 11 longs, prb_desc of 3, printk_info of 88 bytes),
// written by one writer as the kernel's does: a new record takes the next
// descriptor id (pushing the descriptor tail when the ring is full, and
// first the text of the descriptor it recycles), its seq is its slot's
// previous seq plus the ring's size, and its text block is allocated at
// the data head (moved to the start of the next wrap when it would cross
// the end), pushing the data tail and marking the descriptors whose text
// it overwrites reusable.  Records are finalized.
class PrintkRing {
public:
    static constexpr unsigned desc_reserved = 0, desc_committed = 1, desc_finalized = 2, desc_reusable = 3;

    PrintkRing(unsigned count_bits, unsigned size_bits, unsigned long_size = 8, ByteOrder order = ByteOrder::little);

    // Appends a record; returns its sequence number.
    std::uint64_t append(const PrintkMessage& message);

    std::uint64_t count() const noexcept { return descs_.size(); }
    std::uint64_t data_size() const noexcept { return data_.size(); }
    std::uint64_t id_mask() const noexcept { return id_mask_; }
    // Descriptor ids and the data ring's logical positions, as the kernel
    // keeps them.
    std::uint64_t head_id = 0, tail_id = 0, head_lpos = 0, tail_lpos = 0;
    struct Descriptor {
        std::uint64_t state_var = 0, begin = 0, next = 0;
    };
    struct Info {
        std::uint64_t seq = 0, ts_nsec = 0;
        std::uint16_t text_len = 0;
        std::uint8_t facility = 0, level = 0;
        std::uint32_t caller_id = 0;
        std::string subsystem, device;
    };
    Descriptor& descriptor(std::uint64_t slot) { return descs_.at(slot); }
    Info& info(std::uint64_t slot) { return infos_.at(slot); }
    Bytes& data() noexcept { return data_; }
    std::uint64_t slot_of_seq(std::uint64_t seq) const { return seq & (count() - 1); }
    std::uint64_t state_var(std::uint64_t id, unsigned state) const;
    // How many times the text blocks have gone round the data ring.
    std::uint64_t data_wraps() const;
    // Records whose text is still in the data ring (the writer's count).
    std::uint64_t live_records() const noexcept { return live_.size(); }

    // The memory: the struct at `ring`, descriptors, infos and text data at
    // the addresses given, and the pointer variable prb at `prb`.
    struct Placement {
        std::uint64_t prb = 0, ring = 0, descs = 0, infos = 0, data = 0;
    };
    void place(MemoryImage& image, const Placement& at) const;
    Bytes ring_struct(const Placement& at) const;
    Bytes descs_bytes() const;
    Bytes infos_bytes() const;
    // VMCOREINFO lines of this layout (SYMBOL(prb), SIZE(...), OFFSET(...)).
    std::string vmcoreinfo(const Placement& at) const;

private:
    void free_oldest_block();

    unsigned long_size_;
    ByteOrder order_;
    unsigned size_bits_;
    std::uint64_t id_mask_ = 0, long_mask_ = 0;
    std::vector<Descriptor> descs_;
    std::vector<Info> infos_;
    Bytes data_;
    struct Block {
        std::uint64_t id, begin, next;
    };
    std::deque<Block> live_;  // text blocks between the data tail and head, oldest first
};

// ---------------------------------------------------------------- printk_log

// The struct printk_log records of Linux 3.5 to 5.9 (the 64-bit layout:
// 16-byte header, records aligned to 8): each record after the last, a
// header of length 0 where the next one would not fit before the end (and
// index 0 after it), and the oldest records dropped until there is room.
class PrintkLogBuffer {
public:
    explicit PrintkLogBuffer(std::uint32_t buf_len, ByteOrder order = ByteOrder::little);
    std::uint64_t append(const PrintkMessage& message);  // returns the sequence number

    std::uint32_t first_idx = 0, next_idx = 0;
    std::uint64_t first_seq = 0, next_seq = 0;
    Bytes& buffer() noexcept { return buf_; }

    struct Placement {
        std::uint64_t log_buf = 0;      // the pointer variable
        std::uint64_t buffer = 0;       // the buffer it points to
        std::uint64_t log_buf_len = 0;  // u32 variables
        std::uint64_t log_first_idx = 0;
        std::uint64_t log_next_idx = 0;
    };
    void place(MemoryImage& image, const Placement& at) const;
    std::string vmcoreinfo(const Placement& at) const;
    static constexpr std::uint32_t header_size = 16;

private:
    bool has_space(std::uint32_t size) const;
    ByteOrder order_;
    Bytes buf_;
};

// ---------------------------------------------------------------- NetBSD

// A NetBSD message buffer: a struct kern_msgbuf of `size` ring bytes on the
// kernel heap, msgbufp pointing to it, and `text` written into it as the
// kernel's logputchar writes each character (the ring wraps; once full the
// read pointer is pushed along).  Then, for corrupted buffers, the header
// fields are overwritten with the values given.
struct MsgbufSpec {
    std::uint64_t size = 4096;
    std::string text;
    std::optional<std::uint64_t> magic, bufx, bufr, bufs;
};
struct PlantedMsgbuf {
    std::uint64_t msgbufp = 0;                  // the pointer variable
    std::uint64_t address = 0;                  // the struct kern_msgbuf
    std::int64_t bufx = 0, bufr = 0, bufs = 0;  // as planted
};
PlantedMsgbuf plant_msgbuf(CrashedMachine& machine, const StructLayouts& layouts, const MsgbufSpec& spec);

// A NetBSD 10 boot log a few KiB long, as the kernel prints it.
std::string netbsd_boot_log();

}  // namespace kvm::synth
