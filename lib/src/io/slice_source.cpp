// A byte range of another source, seen as a source of its own.
#include <kvm/error.h>
#include <kvm/io.h>

#include <fmt/format.h>

#include <algorithm>

namespace kvm {

namespace {

class SliceSource final : public ByteSource {
public:
    SliceSource(std::shared_ptr<ByteSource> inner, std::uint64_t offset, std::uint64_t length, std::string name)
        : inner_(std::move(inner)), offset_(offset), length_(length), name_(std::move(name)) {}

    std::uint64_t size() const override { return length_; }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        if (offset >= length_ || out.empty()) return 0;
        const std::size_t n = std::min<std::uint64_t>(out.size(), length_ - offset);
        return inner_->read_at(offset_ + offset, out.first(n));
    }
    void write_at(std::uint64_t offset, ByteSpan data) override {
        if (offset > length_ || data.size() > length_ - offset) {
            Error e(ErrorKind::io, fmt::format("write of {} bytes at offset {:#x} is past the end ({:#x} bytes)",
                                               data.size(), offset, length_));
            e.with_path(name_);
            throw e;
        }
        inner_->write_at(offset_ + offset, data);
    }
    void sync() override { inner_->sync(); }
    const std::string& name() const override { return name_; }
    std::uint32_t write_granularity() const override { return inner_->write_granularity(); }

private:
    std::shared_ptr<ByteSource> inner_;
    std::uint64_t offset_;
    std::uint64_t length_;
    std::string name_;
};

}  // namespace

std::shared_ptr<ByteSource> slice_source(std::shared_ptr<ByteSource> inner, std::uint64_t offset, std::uint64_t length,
                                         std::string name) {
    const std::uint64_t size = inner->size();
    if (offset > size || length > size - offset)
        throw Error(ErrorKind::usage, fmt::format("{}: a slice of {:#x} bytes at offset {:#x} does not fit in its "
                                                  "{:#x} bytes",
                                                  inner->name(), length, offset, size));
    return std::make_shared<SliceSource>(std::move(inner), offset, length, std::move(name));
}

}  // namespace kvm
