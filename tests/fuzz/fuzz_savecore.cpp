// libFuzzer target: any bytes as a swap device savecore scans for a NetBSD
// dump, with the namelist of a fixed synthetic kernel (-N).  Each input is
// checked (-n), then saved into a scratch directory and cleared, as at
// boot; the device is memory (Options::open_device), so its size, and what
// a save writes, is bounded by the input's.  A save that reports success
// must leave a core of the size it reports.
#include <kvm/save.h>

#include "fuzz_setup.h"

#include <sys/stat.h>

namespace {

class Quiet final : public kvm::save::Logger {
public:
    void log(kvm::save::Priority, std::string_view) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kvm;
    static const std::string crash_dir = [] {
        const std::string dir = fuzz::scratch_dir() + "/crash";
        ::mkdir(dir.c_str(), 0700);
        return dir;
    }();
    const fuzz::SavecoreFixture& fixture = fuzz::savecore_fixture();
    // One device for both runs: the save clears the dump on it.
    const auto device = std::make_shared<MemorySource>(fuzz::input_bytes(data, size), "/dev/fuzz");
    Quiet quiet;
    for (const save::Mode mode : {save::Mode::check, save::Mode::save}) {
        save::Options o;
        o.mode = mode;
        o.directory = crash_dir;
        o.devices = {device->name()};
        o.system = fixture.kernel;
        o.now = fixture.crash_time + 3600;
        o.threads = 1;
        o.open_device = [&](const std::string&, OpenMode) { return device; };
        const save::Result result = save::run(o, quiet);
        for (const save::DeviceResult& r : result.devices) {
            if (r.outcome != save::Outcome::saved) continue;
            struct stat st {};
            if (::stat(r.core.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != r.core_size)
                fuzz::broken_promise("savecore reported a core it did not write whole: " + r.core);
        }
    }
    fuzz::empty_directory(crash_dir);
    return 0;
}
