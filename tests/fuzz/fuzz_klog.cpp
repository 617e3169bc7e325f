// libFuzzer target: the kernel log readers on any memory.  The first byte
// picks a reader (klog_layout.h); the rest is kernel memory at a fixed
// address, where a fixed VMCOREINFO (or BSD layout) says the ring is, so
// every pointer, size, index and record is the fuzzer's.  Each log read is
// then printed every way (text with and without times and tags, JSON).  A crash, hang, leak or unbounded allocation is
// a bug; kvm::Error is not.
#include <kvm/error.h>
#include <kvm/msgbuf.h>
#include <kvm/synth_klog.h>

#include "klog_layout.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

namespace {

kvm::KernelLog read_bsd(klog_fuzz::Reader reader, const kvm::synth::MemoryImage& image,
                        const std::optional<kvm::Bytes>& carried, const kvm::LogWarn& warn) {
    const bool dragonfly = reader == klog_fuzz::dragonfly32;
    const unsigned long_size = dragonfly ? 4 : 8;
    const kvm::StructLayouts layouts =
        kvm::klog::declared_bsd_msgbuf_layouts(dragonfly ? "dragonfly" : "freebsd", long_size, kvm::ByteOrder::little);
    return kvm::klog::read_bsd_msgbuf(image.memory(kvm::ByteOrder::little, long_size), klog_fuzz::base(reader), layouts,
                                      carried, warn);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const auto reader = static_cast<klog_fuzz::Reader>(data[0] % klog_fuzz::readers);
    kvm::Bytes memory(size - 1);
    if (size > 1) std::memcpy(memory.data(), data + 1, size - 1);
    std::optional<kvm::Bytes> carried;
    if (reader == klog_fuzz::freebsd64_carried)
        carried = kvm::Bytes(memory.begin() + static_cast<std::ptrdiff_t>(
                                                  std::min<std::size_t>(memory.size(), klog_fuzz::bsd_ring_offset)),
                             memory.end());
    const kvm::LogWarn warn = [](const kvm::Error&) {};
    try {
        kvm::KernelLog log;
        if (reader == klog_fuzz::kmsg) {
            log = kvm::parse_kmsg(kvm::as_chars(memory), warn);
        } else {
            const std::uint64_t at = klog_fuzz::base(reader);
            kvm::synth::MemoryImage image;
            image.add(at, std::move(memory));
            const auto info = kvm::linux_kernel::VmcoreInfo::parse(klog_fuzz::vmcoreinfo(reader));
            if (reader == klog_fuzz::prb64)
                log = kvm::klog::read_printk_ringbuffer(image.memory(kvm::ByteOrder::little, 8), info, warn);
            else if (reader == klog_fuzz::prb32)
                log = kvm::klog::read_printk_ringbuffer(image.memory(kvm::ByteOrder::little, 4), info, warn);
            else if (reader == klog_fuzz::log_buf)
                log = kvm::klog::read_printk_log(image.memory(kvm::ByteOrder::little, 8), info, warn, 7);
            else if (reader == klog_fuzz::netbsd64)
                log = kvm::klog::read_netbsd_msgbuf(image.memory(kvm::ByteOrder::little, 8), at,
                                                    klog_fuzz::netbsd_layouts(), warn);
            else
                log = read_bsd(reader, image, carried, warn);
        }
        (void)kvm::format_log(log, {.time = true, .raw = true, .caller = true});
        (void)kvm::format_log(log, {.time = false});
        (void)kvm::format_log(log, {.all = true});
        (void)kvm::format_log_json(log);
    } catch (const kvm::Error&) {
    }
    return 0;
}
