// A kernel structure read out of a dump, and loads of its members through
// its layout: what the dead-kernel process walkers read everything with.
#pragma once

#include <kvm/bytes.h>
#include <kvm/layout.h>

#include "procs/page_cache.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace kvm::detail {

class KernelObject {
public:
    // The first `bytes` bytes of the structure at `address` (a walker that
    // uses only the front of a large structure reads only that).
    KernelObject(PageCache& memory, ByteOrder order, std::uint64_t bytes, std::uint64_t address)
        : buf_(bytes), order_(order) {
        memory.read(address, buf_);
    }
    KernelObject(PageCache& memory, ByteOrder order, const StructLayout& layout, std::uint64_t address)
        : KernelObject(memory, order, layout.size, address) {}

    // A missing (optional) member reads as 0 or "".
    std::uint64_t u(const MemberLayout* m) const { return m == nullptr ? 0 : load_member_unsigned(buf_, *m, order_); }
    std::int64_t s(const MemberLayout* m) const { return m == nullptr ? 0 : load_member_signed(buf_, *m, order_); }
    std::string str(const MemberLayout* m) const { return m == nullptr ? std::string() : load_member_string(buf_, *m); }
    ByteSpan bytes() const { return buf_; }

private:
    Bytes buf_;
    ByteOrder order_;
};

// The leading digits of a kernel's release string ("10" of "10.0_STABLE",
// "6" of "6.1.0-56-cloud-amd64"): what shipped layout files are named by.
inline std::string major_release(std::string_view osrelease) {
    std::size_t n = 0;
    while (n < osrelease.size() && osrelease[n] >= '0' && osrelease[n] <= '9')
        ++n;
    return std::string(osrelease.substr(0, n));
}

}  // namespace kvm::detail
