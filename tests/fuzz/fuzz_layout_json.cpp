// libFuzzer target: any bytes as a layout file (--layout, or a shipped
// share/kvmkit/layouts file).  A file that parses is checked against both
// walkers' requests, its members loaded from a structure of zeros, and
// printed and parsed again, which must give the same layouts.
#include <kvm/layout.h>
#include <kvm/procs.h>

#include "fuzz_setup.h"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kvm;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    fuzz::expect_errors([&] {
        const StructLayouts layouts = parse_layouts_json(text, "fuzz.json");
        for (const LayoutRequest* request :
             {&linux_kernel::process_layout_request(), &netbsd::process_layout_request()})
            fuzz::expect_errors([&] { check_layouts(layouts, *request); });
        const Bytes object(4096);
        for (const auto& [name, s] : layouts.structs)
            for (const MemberLayout& m : s.members) {
                const ByteSpan bytes = ByteSpan(object).first(std::min<std::uint64_t>(s.size, object.size()));
                fuzz::expect_errors([&] { (void)load_member_unsigned(bytes, m, layouts.order); });
                fuzz::expect_errors([&] { (void)load_member_signed(bytes, m, layouts.order); });
                fuzz::expect_errors([&] { (void)load_member_string(bytes, m); });
            }
        StructLayouts again = parse_layouts_json(to_json(layouts), "fuzz.json");
        again.source = layouts.source;
        if (!(again == layouts)) fuzz::broken_promise("to_json() and parse_layouts_json() do not round-trip");
    });
    return 0;
}
