// libFuzzer target: the NetBSD module reader (module_list) over memory the
// fuzzer controls.  A synthetic NetBSD machine with its modules (their
// modinfo and kobj) is built once; its kcore is patched by the input
// (fuzz_setup.h: only the bytes a clean read read), then the modules are
// read and printed as kvmmod prints them.
#include "fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto fixture = kvm::fuzz::make_netbsd_modules();
    (void)fixture->run(kvm::ByteSpan(reinterpret_cast<const std::byte*>(data), size));
    return 0;
}
