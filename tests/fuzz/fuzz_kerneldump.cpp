// libFuzzer target: any bytes as a FreeBSD or DragonFly dump device and as
// a kerneldumpheader.  The trailer is found, the leader compared, the key
// area decoded and the body opened through the format table, as kvmdump
// and savecore do.  A crash, hang, leak or unbounded allocation is a bug;
// kvm::Error is not.
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kerneldump.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kd = kvm::kerneldump;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    kvm::Bytes bytes(size);
    if (size > 0) std::memcpy(bytes.data(), data, size);
    // The first 512 bytes as a header of their own.
    try {
        (void)kd::identify_magic(bytes);
        (void)kd::parity_xor(bytes);
        const kd::Header h = kd::decode(bytes);
        (void)kd::encode(h);
    } catch (const kvm::Error&) {
    }
    try {
        (void)kd::decode_key(bytes);
    } catch (const kvm::Error&) {
    }
    const auto device = std::make_shared<kvm::MemorySource>(std::move(bytes), "fuzz");
    try {
        if (const auto d = kd::find_device_dump(*device)) {
            (void)kd::device_dump_problems(*d);
            (void)kd::unreadable_body(*d);
            if (d->encrypted()) (void)kd::decode_key(device->read_bytes(d->key_offset, d->key_size, "key"));
        }
    } catch (const kvm::Error&) {
    }
    try {
        if (auto format = kd::probe_device(device, {})) {
            for (const kvm::PhysRun& r : format->phys_ranges()) {
                kvm::Bytes page(64);
                try {
                    format->read_phys(r.pa, page);
                } catch (const kvm::Error&) {
                }
            }
        }
    } catch (const kvm::Error&) {
    }
    return 0;
}
