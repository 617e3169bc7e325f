// libFuzzer target: the NetBSD process walker over memory the fuzzer
// controls.  A synthetic NetBSD machine with a process tree is built once; its
// dump is patched by the input (fuzz_setup.h: only the bytes a clean walk
// read, so an input is a few hostile values in a meaningful dump), then
// walked per process and per LWP, every row formatted, terminals looked up.
#include "fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto fixture = kvm::fuzz::make_netbsd_walker();
    (void)fixture->run(kvm::ByteSpan(reinterpret_cast<const std::byte*>(data), size));
    return 0;
}
