// libFuzzer target: any bytes as a kernel namelist (an ELF kernel, or a
// System.map or /proc/kallsyms symbol list).  Symbols are indexed and looked
// up, and an ELF kernel's initialised data read.
#include <kvm/namelist.h>

#include "fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kvm;
    // Namelist::load takes a path, as the tools do.
    const std::string path =
        fuzz::write_scratch_file("namelist", ByteSpan(reinterpret_cast<const std::byte*>(data), size));
    fuzz::expect_errors([&] {
        const auto nl = Namelist::load(path);
        const SymbolTable& syms = nl->symbols();
        for (const Symbol& s : syms.by_address()) {
            (void)syms.lookup(s.name);
            (void)syms.nearest(s.value + 1);
            fuzz::expect_errors([&] { (void)nl->initial_value(s.name, 8); });
        }
    });
    return 0;
}
