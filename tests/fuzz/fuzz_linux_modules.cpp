// libFuzzer target: the Linux module reader over memory the fuzzer
// controls.  A synthetic Linux machine with modules (their use lists and
// symbol tables) is built once; its dump is patched by the input
// (fuzz_setup.h: only the bytes a clean read read), then the modules and
// their symbols are read, printed and looked up.
#include "fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto fixture = kvm::fuzz::make_linux_modules();
    (void)fixture->run(kvm::ByteSpan(reinterpret_cast<const std::byte*>(data), size));
    return 0;
}
