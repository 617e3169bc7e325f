// What the real-dump tests share: where the dump is (REALDUMP_DIR, made by
// tests/realdump/make-linux-vmcore.sh; without it a test says so and does
// nothing), reading its truth files, and a dump seen through a cut or a few
// changed bytes without copying it.
#pragma once

#include <kvm/bytes.h>
#include <kvm/io.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace kvmtest {

inline std::optional<std::string> realdump_dir() {
    const char* dir = std::getenv(KVMKIT_REALDUMP_ENV);
    if (dir == nullptr || *dir == '\0') {
        MESSAGE(KVMKIT_REALDUMP_ENV " is not set: real-dump test not run (scripts/test.sh sets it)");
        return std::nullopt;
    }
    return std::string(dir);
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The guest's arch, as make-linux-vmcore.sh's manifest names it ("amd64",
// "arm64", "i386"); a manifest from before REALDUMP_ARCH names none: amd64.
inline std::string realdump_arch(const std::string& dir) {
    std::istringstream in(slurp(dir + "/manifest.txt"));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("arch=", 0) == 0) return line.substr(5);
    return "amd64";
}

// The namelist that gives the process walk its structures: System.map
// where the kernel holds BTF, else the -dbg package's vmlinux (DWARF), which
// make-linux-vmcore.sh links in beside the dump (Debian's 686-pae kernel).
inline std::string realdump_namelist(const std::string& dir) {
    return slurp(dir + "/truth/btf.txt") == "absent\n" ? "vmlinux" : "System.map";
}

// The guest's serial console, the one controlling terminal (console= of
// truth/cmdline.txt: ttyS0 on x86, ttyAMA0 on arm64).
inline std::string realdump_console(const std::string& dir) {
    const std::string cmdline = slurp(dir + "/truth/cmdline.txt");
    const auto at = cmdline.find("console=");
    REQUIRE(at != std::string::npos);
    const auto end = cmdline.find_first_of(" \n", at);
    return cmdline.substr(at + 8, end - at - 8);
}

// A real dump seen through a cut, a few changed bytes or zeroed ranges.
class DamagedSource final : public kvm::ByteSource {
public:
    DamagedSource(std::shared_ptr<kvm::ByteSource> base, std::uint64_t size) : base_(std::move(base)), size_(size) {}
    void patch(std::uint64_t offset, std::uint64_t value, unsigned width) {
        kvm::Bytes b(width);
        kvm::store_uint(b.data(), value, width, kvm::ByteOrder::little);
        for (unsigned i = 0; i < width; ++i)
            patches_[offset + i] = b[i];
    }
    void zero(std::uint64_t offset, std::uint64_t length) { zeros_.emplace_back(offset, offset + length); }
    std::uint64_t size() const override { return size_; }
    std::size_t read_at(std::uint64_t offset, kvm::MutableByteSpan out) const override {
        if (offset >= size_) return 0;
        const std::size_t n = base_->read_at(offset, out.first(std::min<std::uint64_t>(out.size(), size_ - offset)));
        for (const auto& [begin, end] : zeros_) {
            const std::uint64_t from = std::max(begin, offset);
            const std::uint64_t to = std::min(end, offset + n);
            if (from < to)
                std::fill(out.begin() + static_cast<std::ptrdiff_t>(from - offset),
                          out.begin() + static_cast<std::ptrdiff_t>(to - offset), std::byte{0});
        }
        for (auto it = patches_.lower_bound(offset); it != patches_.end() && it->first < offset + n; ++it)
            out[it->first - offset] = it->second;
        return n;
    }
    const std::string& name() const override { return base_->name(); }

private:
    std::shared_ptr<kvm::ByteSource> base_;
    std::uint64_t size_;
    std::map<std::uint64_t, std::byte> patches_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> zeros_;
};

}  // namespace kvmtest
