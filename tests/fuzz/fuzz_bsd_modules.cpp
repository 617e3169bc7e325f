// libFuzzer target: the FreeBSD and DragonFly module reader (linker_files)
// over memory the fuzzer controls.  A synthetic FreeBSD machine with its
// loaded files is built once; its minidump is patched by the input
// (fuzz_setup.h: only the bytes a clean read read), then the files are
// read and printed as kvmmod prints them.
#include "fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto fixture = kvm::fuzz::make_bsd_modules();
    (void)fixture->run(kvm::ByteSpan(reinterpret_cast<const std::byte*>(data), size));
    return 0;
}
