// libFuzzer target: the DragonFly process walker over memory the fuzzer
// controls.  A synthetic DragonFly 5.8 machine with a process tree is built
// once; its minidump is patched by the input (fuzz_setup.h: only the bytes a
// clean walk read), then walked per process and per LWP, every row
// formatted, terminals looked up.
#include "fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto fixture = kvm::fuzz::make_dragonfly_walker();
    (void)fixture->run(kvm::ByteSpan(reinterpret_cast<const std::byte*>(data), size));
    return 0;
}
