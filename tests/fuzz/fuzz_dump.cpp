// libFuzzer target: any bytes as a dump.  Every format's probe runs (NetBSD
// kcore and raw device dumps, ELF cores of QEMU, kdump and /proc/kcore,
// kdump-compressed, makedumpfile's flattened form, FreeBSD and DragonFly
// minidumps and full dumps); when one accepts, its message buffer, its
// physical runs and a few kernel addresses are read through the Kernel.
// A crash, hang, leak or unbounded allocation is a bug; kvm::Error is not.
#include <kvm/format.h>
#include <kvm/kernel.h>

#include "fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kvm;
    fuzz::expect_errors([&] {
        auto format = open_format(std::make_shared<MemorySource>(fuzz::input_bytes(data, size), "fuzz"));
        fuzz::expect_errors([&] { (void)format->message_buffer(); });
        for (const PhysRun& r : format->phys_ranges()) {
            Bytes page(64);
            fuzz::expect_errors([&] { format->read_phys(r.pa, page); });
        }
        const Kernel kernel(std::move(format), nullptr);
        for (const std::uint64_t va :
             {0xffffffff80200000ull, 0xffffffff80201000ull, 0xffffffff84000000ull, 0xffff800000001000ull,
              0xffffffff80000000ull, 0xc0400000ull, 0x1000ull, 0xffff80000b001000ull, 0xffff000000000000ull}) {
            Bytes buf(4096 + 64);
            (void)kernel.read_partial(va - 32, buf);
        }
    });
    return 0;
}
