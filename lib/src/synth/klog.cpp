// Kernel message buffers written as the kernels write them (synth_klog.h;
// facts: kvm/msgbuf.h).
#include <kvm/error.h>
#include <kvm/synth_klog.h>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace kvm::synth {

namespace {

[[noreturn]] void bad_log(const std::string& what) {
    throw Error(ErrorKind::usage, "synthetic kernel log: " + what);
}

constexpr std::uint64_t failed_lpos = 1;
constexpr std::uint64_t empty_line_lpos = 3;
constexpr std::uint64_t info_size = 88;  // struct printk_info with dev_printk_info
constexpr std::uint64_t subsystem_len = 16;
constexpr std::uint64_t device_len = 48;

void put_string(std::byte* p, std::string_view s, std::uint64_t field) {
    if (s.size() >= field) bad_log(fmt::format("\"{}\" does not fit in {} bytes", s, field));
    std::memcpy(p, s.data(), s.size());
}

}  // namespace

// ---------------------------------------------------------------- MemoryImage

void MemoryImage::add(std::uint64_t va, Bytes bytes) {
    regions_[va] = std::move(bytes);
}

klog::Memory MemoryImage::memory(ByteOrder order, unsigned long_size) const {
    klog::Memory m;
    m.order = order;
    m.long_size = long_size;
    for (const auto& [va, b] : regions_)
        m.bytes += b.size();
    m.read = [this](std::uint64_t va, MutableByteSpan out) {
        PartialRead r;
        while (r.bytes < out.size()) {
            const std::uint64_t at = va + r.bytes;
            auto it = regions_.upper_bound(at);
            if (it == regions_.begin() || at - std::prev(it)->first >= std::prev(it)->second.size()) {
                r.error = Error(ErrorKind::fault, fmt::format("{}: not in the memory image", hex(at)));
                break;
            }
            --it;
            const std::uint64_t off = at - it->first;
            const std::size_t n = std::min<std::uint64_t>(out.size() - r.bytes, it->second.size() - off);
            std::memcpy(out.data() + r.bytes, it->second.data() + off, n);
            r.bytes += n;
        }
        return r;
    };
    return m;
}

// ---------------------------------------------------------------- PrintkRing

PrintkRing::PrintkRing(unsigned count_bits, unsigned size_bits, unsigned long_size, ByteOrder order)
    : long_size_(long_size), order_(order), size_bits_(size_bits) {
    if (long_size != 4 && long_size != 8) bad_log("a long is 4 or 8 bytes");
    if (count_bits > 20 || size_bits > 24 || (std::uint64_t{1} << size_bits) < std::uint64_t{4} * long_size)
        bad_log("ring too large or too small");
    const std::uint64_t count = std::uint64_t{1} << count_bits;
    long_mask_ = long_size == 8 ? ~std::uint64_t{0} : 0xffffffffu;
    id_mask_ = (std::uint64_t{1} << (8 * long_size - 2)) - 1;
    descs_.resize(count);
    infos_.resize(count);
    data_.resize(std::uint64_t{1} << size_bits);
    // The kernel's bootstrap: one reusable descriptor with id -(count + 1)
    // in the last slot, both ids pointing at it; the first record gets slot
    // 0 and seq 0; the data positions start one ring before 0.
    const std::uint64_t desc0 = (long_mask_ - count) & id_mask_;
    descs_[count - 1] = {state_var(desc0, desc_reusable), failed_lpos, failed_lpos};
    infos_[0].seq = ~count + 1;
    infos_[count - 1].seq = 0;
    head_id = tail_id = desc0;
    head_lpos = tail_lpos = (long_mask_ - data_.size() + 1) & long_mask_;
}

std::uint64_t PrintkRing::state_var(std::uint64_t id, unsigned state) const {
    return (std::uint64_t{state} << (8 * long_size_ - 2)) | (id & id_mask_);
}

std::uint64_t PrintkRing::data_wraps() const {
    const std::uint64_t start = (long_mask_ - data_.size() + 1) & long_mask_;
    return ((head_lpos - start) & long_mask_) >> size_bits_;
}

void PrintkRing::free_oldest_block() {
    const Block b = live_.front();
    live_.pop_front();
    Descriptor& d = descs_[b.id & (count() - 1)];
    if ((d.state_var & id_mask_) == b.id) d.state_var = state_var(b.id, desc_reusable);
    tail_lpos = b.next;
}

std::uint64_t PrintkRing::append(const PrintkMessage& m) {
    const std::uint64_t count = this->count();
    const std::uint64_t size = data_.size();
    const std::uint64_t id = (head_id + 1) & id_mask_;
    const std::uint64_t slot = id & (count - 1);
    // A full descriptor ring recycles its tail, whose text goes first.
    if (((id - count) & id_mask_) == tail_id) {
        Descriptor& t = descs_[tail_id & (count - 1)];
        if ((t.state_var >> (8 * long_size_ - 2)) != desc_reusable) {
            while (!live_.empty()) {
                const bool last = live_.front().id == tail_id;
                free_oldest_block();
                if (last) break;
            }
            t.state_var = state_var(tail_id, desc_reusable);
        }
        tail_id = (tail_id + 1) & id_mask_;
    }

    Info& info = infos_[slot];
    const std::uint64_t seq = info.seq == 0 && slot != 0 ? slot : info.seq + count;
    info = {.seq = seq,
            .ts_nsec = m.ts_nsec,
            .text_len = static_cast<std::uint16_t>(m.text.size()),
            .facility = m.facility,
            .level = m.level,
            .caller_id = m.caller_id,
            .subsystem = m.subsystem,
            .device = m.device};
    if (m.text.size() > 0xffff) bad_log("a record's text is at most 65535 bytes");

    Descriptor d{.state_var = state_var(id, desc_finalized), .begin = empty_line_lpos, .next = empty_line_lpos};
    if (!m.text.empty()) {
        const std::uint64_t block = align_up(m.text.size() + long_size_, long_size_);
        if (block > size - long_size_) bad_log(fmt::format("{} bytes of text do not fit in the ring", m.text.size()));
        const std::uint64_t begin = head_lpos;
        std::uint64_t next = (begin + block) & long_mask_;
        const bool wrapping = (begin >> size_bits_) != (next >> size_bits_);
        if (wrapping) next = (((next >> size_bits_) << size_bits_) + block) & long_mask_;
        // Push the data tail to one ring behind the new head.
        const std::uint64_t lowest = (next - size) & long_mask_;
        const auto behind = [&] {
            const std::uint64_t gap = (lowest - tail_lpos) & long_mask_;
            return gap != 0 && gap <= long_mask_ / 2;
        };
        while (behind() && !live_.empty())
            free_oldest_block();
        if (behind()) tail_lpos = lowest;

        const std::uint64_t at = begin & (size - 1);
        store_uint(data_.data() + at, id, long_size_, order_);
        const std::uint64_t text_at = wrapping ? 0 : at;
        if (wrapping) store_uint(data_.data(), id, long_size_, order_);
        std::memcpy(data_.data() + text_at + long_size_, m.text.data(), m.text.size());
        live_.push_back({id, begin, next});
        head_lpos = next;
        d.begin = begin;
        d.next = next;
    }
    descs_[slot] = d;
    head_id = id;
    return seq;
}

Bytes PrintkRing::ring_struct(const Placement& at) const {
    const unsigned l = long_size_;
    Bytes b(std::size_t{11} * l);
    std::byte* p = b.data();
    store32(p, static_cast<std::uint32_t>(std::countr_zero(count())), order_);
    store_uint(p + l, at.descs, l, order_);
    store_uint(p + std::size_t{2} * l, at.infos, l, order_);
    store_uint(p + std::size_t{3} * l, head_id, l, order_);
    store_uint(p + std::size_t{4} * l, tail_id, l, order_);
    std::byte* text = p + std::size_t{6} * l;
    store32(text, size_bits_, order_);
    store_uint(text + l, at.data, l, order_);
    store_uint(text + std::size_t{2} * l, head_lpos, l, order_);
    store_uint(text + std::size_t{3} * l, tail_lpos, l, order_);
    return b;
}

Bytes PrintkRing::descs_bytes() const {
    const unsigned l = long_size_;
    Bytes b(descs_.size() * 3 * l);
    for (std::size_t i = 0; i < descs_.size(); ++i) {
        std::byte* p = b.data() + i * 3 * l;
        store_uint(p, descs_[i].state_var, l, order_);
        store_uint(p + l, descs_[i].begin, l, order_);
        store_uint(p + std::size_t{2} * l, descs_[i].next, l, order_);
    }
    return b;
}

Bytes PrintkRing::infos_bytes() const {
    Bytes b(infos_.size() * info_size);
    for (std::size_t i = 0; i < infos_.size(); ++i) {
        std::byte* p = b.data() + i * info_size;
        const Info& f = infos_[i];
        store64(p, f.seq, order_);
        store64(p + 8, f.ts_nsec, order_);
        store16(p + 16, f.text_len, order_);
        p[18] = std::byte{f.facility};
        // flags:5, level:3 in one byte, from the low bit on little-endian.
        p[19] = std::byte(order_ == ByteOrder::little ? (f.level & 7) << 5 : (f.level & 7));
        store32(p + 20, f.caller_id, order_);
        put_string(p + 24, f.subsystem, subsystem_len);
        put_string(p + 24 + subsystem_len, f.device, device_len);
    }
    return b;
}

void PrintkRing::place(MemoryImage& image, const Placement& at) const {
    Bytes pointer(long_size_);
    store_uint(pointer.data(), at.ring, long_size_, order_);
    image.add(at.prb, std::move(pointer));
    image.add(at.ring, ring_struct(at));
    image.add(at.descs, descs_bytes());
    image.add(at.infos, infos_bytes());
    image.add(at.data, data_);
}

std::string PrintkRing::vmcoreinfo(const Placement& at) const {
    const unsigned l = long_size_;
    return fmt::format(
        "SYMBOL(prb)={:x}\nSYMBOL(printk_rb_static)={:x}\n"
        "SIZE(printk_ringbuffer)={}\nOFFSET(printk_ringbuffer.desc_ring)=0\n"
        "OFFSET(printk_ringbuffer.text_data_ring)={}\nOFFSET(printk_ringbuffer.fail)={}\n"
        "SIZE(prb_desc_ring)={}\nOFFSET(prb_desc_ring.count_bits)=0\nOFFSET(prb_desc_ring.descs)={}\n"
        "OFFSET(prb_desc_ring.infos)={}\nOFFSET(prb_desc_ring.head_id)={}\nOFFSET(prb_desc_ring.tail_id)={}\n"
        "SIZE(prb_desc)={}\nOFFSET(prb_desc.state_var)=0\nOFFSET(prb_desc.text_blk_lpos)={}\n"
        "SIZE(prb_data_blk_lpos)={}\nOFFSET(prb_data_blk_lpos.begin)=0\nOFFSET(prb_data_blk_lpos.next)={}\n"
        "SIZE(printk_info)={}\nOFFSET(printk_info.seq)=0\nOFFSET(printk_info.ts_nsec)=8\n"
        "OFFSET(printk_info.text_len)=16\nOFFSET(printk_info.caller_id)=20\nOFFSET(printk_info.dev_info)=24\n"
        "SIZE(dev_printk_info)={}\nOFFSET(dev_printk_info.subsystem)=0\nLENGTH(printk_info_subsystem)={}\n"
        "OFFSET(dev_printk_info.device)={}\nLENGTH(printk_info_device)={}\n"
        "SIZE(prb_data_ring)={}\nOFFSET(prb_data_ring.size_bits)=0\nOFFSET(prb_data_ring.data)={}\n"
        "OFFSET(prb_data_ring.head_lpos)={}\nOFFSET(prb_data_ring.tail_lpos)={}\n"
        "SIZE(atomic_long_t)={}\nOFFSET(atomic_long_t.counter)=0\n",
        at.prb, at.ring, 11 * l, 6 * l, 10 * l, 6 * l, l, 2 * l, 3 * l, 4 * l, 3 * l, l, 2 * l, l, info_size,
        subsystem_len + device_len, subsystem_len, subsystem_len, device_len, 4 * l, l, 2 * l, 3 * l, l);
}

// ---------------------------------------------------------------- PrintkLogBuffer

PrintkLogBuffer::PrintkLogBuffer(std::uint32_t buf_len, ByteOrder order) : order_(order), buf_(buf_len) {
    if (buf_len % 8 != 0 || buf_len < 64) bad_log("log_buf_len is a multiple of 8 and at least 64");
}

bool PrintkLogBuffer::has_space(std::uint32_t size) const {
    const std::uint64_t len = buf_.size();
    std::uint64_t free = 0;
    if (next_idx > first_idx || first_seq == next_seq)
        free = std::max<std::uint64_t>(len - next_idx, first_idx);
    else
        free = first_idx - next_idx;
    return free >= std::uint64_t{size} + header_size;
}

std::uint64_t PrintkLogBuffer::append(const PrintkMessage& m) {
    const auto size = static_cast<std::uint32_t>(align_up(header_size + m.text.size(), 8));
    if (size + header_size > buf_.size()) bad_log("a record longer than log_buf");
    // Drop the oldest records until the new one fits.
    while (first_seq < next_seq && !has_space(size)) {
        std::uint32_t len = load16(buf_.data() + first_idx + 8, order_);
        if (len == 0) {  // a wrap marker: the next record is at 0
            first_idx = 0;
            len = load16(buf_.data() + 8, order_);
        }
        first_idx += len;
        ++first_seq;
    }
    if (next_idx + size + header_size > buf_.size()) {
        // No room for the record and a header after it: a header of
        // length 0 sends readers to index 0.
        std::fill_n(buf_.begin() + next_idx, std::min<std::size_t>(header_size, buf_.size() - next_idx), std::byte{0});
        next_idx = 0;
    }
    std::byte* h = buf_.data() + next_idx;
    std::fill_n(h, size, std::byte{0});
    store64(h, m.ts_nsec, order_);
    store16(h + 8, static_cast<std::uint16_t>(size), order_);
    store16(h + 10, static_cast<std::uint16_t>(m.text.size()), order_);
    store16(h + 12, 0, order_);
    h[14] = std::byte{m.facility};
    h[15] = std::byte(order_ == ByteOrder::little ? (m.level & 7) << 5 : (m.level & 7));
    std::memcpy(h + header_size, m.text.data(), m.text.size());
    next_idx += size;
    return next_seq++;
}

void PrintkLogBuffer::place(MemoryImage& image, const Placement& at) const {
    const auto word = [&](std::uint64_t v, unsigned width) {
        Bytes b(width);
        store_uint(b.data(), v, width, order_);
        return b;
    };
    image.add(at.log_buf, word(at.buffer, 8));
    image.add(at.buffer, buf_);
    image.add(at.log_buf_len, word(buf_.size(), 4));
    image.add(at.log_first_idx, word(first_idx, 4));
    image.add(at.log_next_idx, word(next_idx, 4));
}

std::string PrintkLogBuffer::vmcoreinfo(const Placement& at) const {
    return fmt::format(
        "SYMBOL(log_buf)={:x}\nSYMBOL(log_buf_len)={:x}\nSYMBOL(log_first_idx)={:x}\nSYMBOL(log_next_idx)={:x}\n"
        "SIZE(printk_log)={}\nOFFSET(printk_log.ts_nsec)=0\nOFFSET(printk_log.len)=8\n"
        "OFFSET(printk_log.text_len)=10\nOFFSET(printk_log.dict_len)=12\n",
        at.log_buf, at.log_buf_len, at.log_first_idx, at.log_next_idx, header_size);
}

// ---------------------------------------------------------------- NetBSD

PlantedMsgbuf plant_msgbuf(CrashedMachine& machine, const StructLayouts& layouts, const MsgbufSpec& spec) {
    if (layouts.arch != machine.arch().name)
        bad_log(fmt::format("layouts for {} cannot describe an {} machine", layouts.arch, machine.arch().name));
    const StructLayout& s = layouts.get("kern_msgbuf");
    const std::uint64_t ring_at = s.member("msg_bufc").offset;
    if (spec.size == 0) bad_log("a message buffer of 0 bytes");
    PlantedMsgbuf p;
    p.address = machine.kmem_alloc(ring_at + spec.size, 64);

    // logputchar: store at the write index, wrap, and once full push the
    // read index along so that it points at the oldest byte.
    Bytes ring(spec.size);
    std::uint64_t bufx = 0;
    std::uint64_t bufr = 0;
    for (const char c : spec.text) {
        ring[bufx++] = static_cast<std::byte>(c);
        if (bufx >= spec.size) bufx = 0;
        if (bufr == bufx && ++bufr >= spec.size) bufr = 0;
    }
    Bytes header(ring_at);
    const auto set = [&](std::string_view member, std::uint64_t v) {
        const MemberLayout& m = s.member(member);
        store_uint(header.data() + m.offset, v, static_cast<unsigned>(m.size), layouts.order);
    };
    set("msg_magic", spec.magic.value_or(layouts.require_value("MSG_MAGIC")));
    set("msg_bufx", spec.bufx.value_or(bufx));
    set("msg_bufr", spec.bufr.value_or(bufr));
    set("msg_bufs", spec.bufs.value_or(spec.size));
    machine.write(p.address, header);
    machine.write(p.address + ring_at, ring);

    const unsigned ptr = machine.arch().pointer_size;
    p.msgbufp = machine.define_object("msgbufp", 'b', ptr, ptr);
    machine.write_pointer(p.msgbufp, p.address);
    const auto sign = [&](std::string_view member) {
        const MemberLayout& m = s.member(member);
        return load_member_signed(header, m, layouts.order);
    };
    p.bufx = sign("msg_bufx");
    p.bufr = sign("msg_bufr");
    p.bufs = sign("msg_bufs");
    return p;
}

std::string netbsd_boot_log() {
    std::string log =
        "[     1.000000] Copyright (c) 1996, 1997, 1998, 1999, 2000, 2001, 2002, 2003, 2004, 2005,\n"
        "[     1.000000]     2006, 2007, 2008, 2009, 2010, 2011, 2012, 2013, 2014, 2015, 2016, 2017,\n"
        "[     1.000000]     2018, 2019, 2020, 2021, 2022, 2023, 2024\n"
        "[     1.000000]     The NetBSD Foundation, Inc.  All rights reserved.\n"
        "[     1.000000] Copyright (c) 1982, 1986, 1989, 1991, 1993\n"
        "[     1.000000]     The Regents of the University of California.  All rights reserved.\n\n"
        "[     1.000000] NetBSD 10.0 (GENERIC) #0: Thu Mar 28 08:33:33 UTC 2024\n"
        "[     1.000000] \tmkrepro@mkrepro.NetBSD.org:/usr/src/sys/arch/amd64/compile/GENERIC\n"
        "[     1.000000] total memory = 16 MB\n"
        "[     1.000000] avail memory = 12 MB\n"
        "[     1.000000] mainbus0 (root)\n"
        "[     1.000000] cpu0 at mainbus0 apid 0\n"
        "[     1.000000] cpu0: QEMU Virtual CPU version 2.5+, id 0x663\n";
    for (int i = 0; i < 24; ++i)
        log += fmt::format("[     1.{:06}] wd{}: drive supports PIO mode 4, DMA mode 2, Ultra-DMA mode 5\n",
                           3000 + 125 * i, i % 4);
    log += "<4>[     2.500000] kern.maxfiles: table is full\n";
    log += "[     3.141592] panic: kernel diagnostic assertion \"l->l_stat == LSONPROC\" failed\n";
    log += "[     3.141592] cpu0: Begin traceback...\n";
    log += "[     3.141592] dumping to dev 0,1 offset 8\n";
    return log;
}

}  // namespace kvm::synth
