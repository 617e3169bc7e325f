// Translators tested on planted page-table entries (libkdumpfile's
// addrxlat tests): physical memory made of raw entries, and exact checks of
// a mapping or a fault.
#pragma once

#include <kvm/arch.h>
#include <kvm/error.h>

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace kvmtest {

// Physical memory made only of planted entries.  A 4 KiB page holding at
// least one planted entry is in the dump (its other entries read as 0);
// every other page is not, and reading it throws a fault as a format's
// physical reader does.
class PlantedTables {
public:
    PlantedTables(unsigned entry_size, kvm::ByteOrder order, std::map<std::uint64_t, std::uint64_t> entries)
        : entry_size_(entry_size), order_(order), entries_(std::move(entries)) {}

    kvm::PhysReader reader() const {
        return [this](std::uint64_t pa, kvm::MutableByteSpan out) {
            for (std::size_t i = 0; i < out.size(); ++i) {
                const std::uint64_t at = pa + i;
                const std::uint64_t entry_pa = at & ~std::uint64_t{entry_size_ - 1};
                if (!page_present(at & ~std::uint64_t{0xfff}))
                    kvm::throw_fault(at, "pa " + kvm::hex(at) + " is not in the dump");
                const auto it = entries_.find(entry_pa);
                std::array<std::byte, 8> raw{};
                kvm::store_uint(raw.data(), it == entries_.end() ? 0 : it->second, entry_size_, order_);
                out[i] = raw[at - entry_pa];
            }
        };
    }

private:
    bool page_present(std::uint64_t page) const {
        const auto it = entries_.lower_bound(page);
        return it != entries_.end() && it->first < page + 0x1000;
    }

    unsigned entry_size_;
    kvm::ByteOrder order_;
    std::map<std::uint64_t, std::uint64_t> entries_;
};

inline void check_mapping(const kvm::Translator& t, const kvm::PhysReader& read, std::uint64_t va, std::uint64_t pa,
                          std::uint64_t length, std::uint64_t page_size) {
    INFO("va ", kvm::hex(va));
    const kvm::Mapping m = t.translate(va, read);
    CHECK(kvm::hex(m.va) == kvm::hex(va));
    CHECK(kvm::hex(m.pa) == kvm::hex(pa));
    CHECK(kvm::hex(m.length) == kvm::hex(length));
    CHECK(kvm::hex(m.page_size) == kvm::hex(page_size));
}

inline void check_fault(const kvm::Translator& t, const kvm::PhysReader& read, std::uint64_t va,
                        const std::string& message) {
    INFO("va ", kvm::hex(va));
    try {
        t.translate(va, read);
        FAIL("translated without a fault");
    } catch (const kvm::Error& e) {
        CHECK(e.kind() == kvm::ErrorKind::fault);
        REQUIRE(e.address().has_value());
        CHECK(kvm::hex(*e.address()) == kvm::hex(va));
        CHECK(e.message() == message);
    }
}

}  // namespace kvmtest
