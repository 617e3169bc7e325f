// Helpers shared by the unit tests.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/io.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace kvm::test {

// The repository root, as CMake knows it: __FILE__ may be relative (ccache's
// base_dir, -fmacro-prefix-map), so it is not used to find files.
inline std::filesystem::path source_root() {
    return KVMKIT_SOURCE_DIR;
}

// A fresh directory removed with everything in it at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "kvmkit-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// The message of the kvm::Error `f` throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

// A source that counts the bytes read through it (and the largest single
// read, which bounds what a reader allocates for one): tests of work done.
class CountingSource final : public ByteSource {
public:
    explicit CountingSource(std::shared_ptr<ByteSource> inner) : inner_(std::move(inner)) {}
    std::uint64_t size() const override { return inner_->size(); }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        const std::size_t got = inner_->read_at(offset, out);
        bytes_read_ += got;
        largest_read_ = std::max<std::uint64_t>(largest_read_, out.size());
        return got;
    }
    const std::string& name() const override { return inner_->name(); }
    std::uint64_t bytes_read() const { return bytes_read_; }
    std::uint64_t largest_read() const { return largest_read_; }
    void reset() { bytes_read_ = largest_read_ = 0; }

private:
    std::shared_ptr<ByteSource> inner_;
    mutable std::uint64_t bytes_read_ = 0;
    mutable std::uint64_t largest_read_ = 0;
};

// `head`, then zeros up to `size` bytes, holding only the head: a sparse
// file's apparent size without its memory.
class ZeroTailSource final : public ByteSource {
public:
    ZeroTailSource(Bytes head, std::uint64_t size, std::string name)
        : head_(std::move(head)), size_(size), name_(std::move(name)) {}
    std::uint64_t size() const override { return size_; }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        if (offset >= size_) return 0;
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
        std::fill_n(out.begin(), n, std::byte{0});
        if (offset < head_.size()) {
            const std::size_t from_head = std::min<std::size_t>(n, head_.size() - offset);
            std::copy_n(head_.begin() + static_cast<std::ptrdiff_t>(offset), from_head, out.begin());
        }
        return n;
    }
    const std::string& name() const override { return name_; }

private:
    Bytes head_;
    std::uint64_t size_;
    std::string name_;
};

inline ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    throw std::runtime_error("no error thrown");
}

}  // namespace kvm::test
