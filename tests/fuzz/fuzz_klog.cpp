// libFuzzer target: the kernel log readers on any memory.  The first byte
// picks a reader (klog_layout.h); the rest is kernel memory at a fixed
// address, where a fixed VMCOREINFO (or NetBSD layout) says the ring is, so
// every pointer, size, index and record is the fuzzer's.  Each log read is
// then printed every way (text with and without times and tags, JSON).  A crash, hang, leak or unbounded allocation is a
// bug; kvm::Error is not.
#include <kvm/error.h>
#include <kvm/msgbuf.h>
#include <kvm/synth_klog.h>

#include "klog_layout.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const auto reader = static_cast<klog_fuzz::Reader>(data[0] % klog_fuzz::readers);
    kvm::Bytes memory(size - 1);
    if (size > 1) std::memcpy(memory.data(), data + 1, size - 1);
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
            else
                log = kvm::klog::read_netbsd_msgbuf(image.memory(kvm::ByteOrder::little, 8), at,
                                                    klog_fuzz::netbsd_layouts(), warn);
        }
        (void)kvm::format_log(log, {.time = true, .raw = true, .caller = true});
        (void)kvm::format_log(log, {.time = false});
        (void)kvm::format_log_json(log);
    } catch (const kvm::Error&) {
    }
    return 0;
}
