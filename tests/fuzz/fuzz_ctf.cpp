// libFuzzer target: any bytes as a CTF container (a FreeBSD kernel's
// .SUNW_ctf).  The header is checked, the types parsed, and the layouts
// every dead-kernel walker asks for resolved, checked and printed, with
// both pointer sizes and an external string table.
#include <kvm/ctf.h>
#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

template <typename F>
void expect_errors(F&& f) {
    try {
        f();
    } catch (const kvm::Error& e) {
        (void)e.message();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kvm;
    static constexpr std::string_view strtab{"\0proc\0p_pid\0thread\0td_tid\0", 27};
    const ByteSpan blob(reinterpret_cast<const std::byte*>(data), size);
    for (const unsigned pointer_size : {8u, 4u}) {
        expect_errors([&] {
            const ctf::Types types(blob, "fuzz", pointer_size,
                                   ByteSpan(reinterpret_cast<const std::byte*>(strtab.data()), strtab.size()));
            (void)types.type_count();
            for (const char* name : {"PRS_ZOMBIE", "TDS_RUNNING", "SZOMB"})
                (void)types.enumerator(name);
            for (const char* os : {"freebsd", "dragonfly", "netbsd", "linux"}) {
                const LayoutRequest& request = *process_layout_request(os);
                expect_errors([&] {
                    const StructLayouts layouts = types.layouts(request);
                    (void)to_json(layouts);
                    expect_errors([&] { check_layouts(layouts, request); });
                });
            }
        });
    }
    return 0;
}
