// A program built against an installed libkvmkit (tests/cli/install.sh):
// the crash time and the process list of a dump, as kvmkit(3) shows.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/procs.h>

#include <cstdio>
#include <memory>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: example system core\n");
        return 2;
    }
    try {
        const std::unique_ptr<kvm::Kernel> kernel = kvm::Kernel::open({.namelist = argv[1], .core = argv[2]});
        const std::uint64_t time = kernel->read_uint(kernel->symbol_value("_time_second"), 8);
        std::printf("time_second %llu\n", static_cast<unsigned long long>(time));

        const auto walker = kvm::make_process_walker({.kernel = kernel.get()});
        walker->walk(
            {}, [](const kvm::ProcInfo& p) { std::printf("%d %s\n", p.pid, p.comm.c_str()); },
            [](const kvm::Error& e) { std::fprintf(stderr, "warning: %s\n", e.what()); });
    } catch (const kvm::Error& e) {
        std::fprintf(stderr, "example: %s\n", e.what());
        return 1;
    }
    return 0;
}
