// libFuzzer target: any bytes as a kernel namelist (ELF today, text
// namelists as they are added).  Symbols are indexed and looked up.
#include <kvm/error.h>
#include <kvm/namelist.h>

#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Namelist::load takes a path, as the tools do.
    char path[] = "/tmp/kvmkit-fuzz-namelist-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return 0;
    const bool written = ::write(fd, data, size) == static_cast<ssize_t>(size);
    ::close(fd);
    if (written) {
        try {
            auto nl = kvm::Namelist::load(path);
            const auto& syms = nl->symbols();
            for (const auto& s : syms.by_address()) {
                (void)syms.lookup(s.name);
                (void)syms.nearest(s.value + 1);
                try {
                    (void)nl->initial_value(s.name, 8);
                } catch (const kvm::Error&) {
                }
            }
        } catch (const kvm::Error&) {
        }
    }
    ::unlink(path);
    return 0;
}
