// libFuzzer target: any bytes as a BTF blob (a Linux kernel's own type
// information, read out of the dump between __start_BTF and __stop_BTF).
// The header is checked, libbpf parses the types, and the layouts the Linux
// and NetBSD walkers ask for are resolved, checked and printed.
#include <kvm/btf.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include "fuzz_setup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kvm;
    fuzz::expect_errors([&] {
        const btf::Types types(ByteSpan(reinterpret_cast<const std::byte*>(data), size), "fuzz");
        (void)types.pointer_size();
        for (const char* name : {"PIDTYPE_PGID", "PIDTYPE_SID", "MM_ANONPAGES"})
            (void)types.enumerator(name);
        for (const LayoutRequest* request :
             {&linux_kernel::process_layout_request(), &netbsd::process_layout_request()}) {
            fuzz::expect_errors([&] {
                const StructLayouts layouts = types.layouts(*request);
                (void)to_json(layouts);
                fuzz::expect_errors([&] { check_layouts(layouts, *request); });
            });
        }
    });
    return 0;
}
