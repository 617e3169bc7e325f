// libFuzzer target: any bytes as a dump.  Every format's probe runs; when
// one accepts, the Kernel reads a few addresses through its translator.  A
// crash, hang, leak or unbounded allocation is a bug; kvm::Error is not.
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kernel.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    kvm::Bytes bytes(size);
    if (size > 0) std::memcpy(bytes.data(), data, size);
    try {
        auto format = kvm::open_format(std::make_shared<kvm::MemorySource>(std::move(bytes), "fuzz"));
        (void)format->message_buffer();
        for (const kvm::PhysRun& r : format->phys_ranges()) {
            kvm::Bytes page(64);
            try {
                format->read_phys(r.pa, page);
            } catch (const kvm::Error&) {
            }
        }
        kvm::Kernel kernel(std::move(format), nullptr);
        for (const std::uint64_t va : {0xffffffff80200000ull, 0xffffffff80201000ull, 0xffffffff84000000ull,
                                       0xffff800000001000ull, 0xffffffff80000000ull, 0xc0400000ull, 0x1000ull}) {
            kvm::Bytes buf(4096 + 64);
            (void)kernel.read_partial(va - 32, buf);
        }
    } catch (const kvm::Error&) {
    }
    return 0;
}
