#include <kvm/error.h>
#include <kvm/io.h>

#include "io/fd_source.h"
#include "io/pwrite_all.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#ifdef __linux__
#include <linux/fs.h>
#include <sys/ioctl.h>
#endif

namespace kvm {

void ByteSource::write_at(std::uint64_t /*offset*/, ByteSpan /*data*/) {
    Error e(ErrorKind::usage, "opened read-only; cannot write");
    e.with_path(name());
    throw e;
}

void ByteSource::read_exact(std::uint64_t offset, MutableByteSpan out, std::string_view what) const {
    const std::size_t got = read_at(offset, out);
    if (got != out.size()) {
        Error e(ErrorKind::corrupt, fmt::format("truncated: {} needs {} bytes at offset {:#x}, but the file has {:#x}",
                                                what, out.size(), offset, size()));
        e.with_path(name());
        throw e;
    }
}

Bytes ByteSource::read_bytes(std::uint64_t offset, std::size_t length, std::string_view what) const {
    if (offset > size() || length > size() - offset) {
        Error e(ErrorKind::corrupt, fmt::format("truncated: {} needs {} bytes at offset {:#x}, but the file has {:#x}",
                                                what, length, offset, size()));
        e.with_path(name());
        throw e;
    }
    Bytes out(length);
    read_exact(offset, out, what);
    return out;
}

namespace {

class FileSource final : public ByteSource {
public:
    FileSource(std::string path, OpenMode mode) : path_(std::move(path)) {
        // O_NONBLOCK: open(2) of a FIFO waits for a writer, forever at
        // boot; it is refused below, and the flag cleared for the rest.
        const int flags = (mode == OpenMode::read_write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK;
        fd_ = ::open(path_.c_str(), flags);
        if (fd_ < 0) throw_os("cannot open", errno, path_);
        describe();
    }
    FileSource(int fd, std::string name) : path_(std::move(name)), fd_(fd) { describe(); }
    ~FileSource() override {
        if (fd_ >= 0) ::close(fd_);
    }
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;

    void describe() {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) {
            const int err = errno;
            ::close(fd_);
            throw_os("cannot stat", err, path_);
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode)) {
            ::close(fd_);
            Error e(ErrorKind::io, S_ISDIR(st.st_mode)
                                       ? std::string("is a directory")
                                       : fmt::format("is {}, not a regular file or a device",
                                                     S_ISFIFO(st.st_mode) ? "a FIFO" : "a special file"));
            e.with_path(path_);
            throw e;
        }
        if (const int fl = ::fcntl(fd_, F_GETFL); fl < 0 || ::fcntl(fd_, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            const int err = errno;
            ::close(fd_);
            throw_os("cannot clear O_NONBLOCK", err, path_);
        }
        if (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)) {
            is_device_ = true;
            size_ = device_size();
        } else {
            size_ = static_cast<std::uint64_t>(st.st_size);
        }
    }

    std::uint64_t size() const override { return size_; }

    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        std::size_t done = 0;
        while (done < out.size()) {
            const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_os(fmt::format("read of {} bytes at offset {:#x} failed", out.size() - done, offset + done),
                         errno, path_);
            }
            if (n == 0) break;
            done += static_cast<std::size_t>(n);
        }
        return done;
    }

    void write_at(std::uint64_t offset, ByteSpan data) override { detail::pwrite_all(fd_, offset, data, path_); }

    void sync() override {
        if (::fsync(fd_) != 0) throw_os("fsync failed", errno, path_);
    }

    const std::string& name() const override { return path_; }
    std::uint32_t write_granularity() const override { return is_device_ ? sector_size() : 1; }

private:
    std::uint64_t device_size() const {
#ifdef BLKGETSIZE64
        std::uint64_t bytes = 0;
        if (::ioctl(fd_, BLKGETSIZE64, &bytes) == 0) return bytes;
#endif
        const off_t end = ::lseek(fd_, 0, SEEK_END);
        if (end < 0) throw_os("cannot find the device size", errno, path_);
        return static_cast<std::uint64_t>(end);
    }

    std::uint32_t sector_size() const {
#ifdef BLKSSZGET
        int bytes = 0;
        if (::ioctl(fd_, BLKSSZGET, &bytes) == 0 && bytes >= 512) return static_cast<std::uint32_t>(bytes);
#endif
        return 512;
    }

    std::string path_;
    int fd_ = -1;
    bool is_device_ = false;
    std::uint64_t size_ = 0;
};

}  // namespace

std::shared_ptr<ByteSource> open_file(const std::string& path, OpenMode mode) {
    return std::make_shared<FileSource>(path, mode);
}

std::shared_ptr<ByteSource> detail::adopt_fd(int fd, std::string name) {
    return std::make_shared<FileSource>(fd, std::move(name));
}

MemorySource::MemorySource(Bytes data, std::string name) : data_(std::move(data)), name_(std::move(name)) {}

std::size_t MemorySource::read_at(std::uint64_t offset, MutableByteSpan out) const {
    if (out.empty() || offset >= data_.size()) return 0;
    const std::size_t n = std::min<std::uint64_t>(out.size(), data_.size() - offset);
    std::memcpy(out.data(), data_.data() + offset, n);
    return n;
}

void MemorySource::write_at(std::uint64_t offset, ByteSpan data) {
    if (offset > data_.size() || data.size() > data_.size() - offset) {
        Error e(ErrorKind::io, fmt::format("write of {} bytes at offset {:#x} is past the end ({:#x} bytes)",
                                           data.size(), offset, data_.size()));
        e.with_path(name_);
        throw e;
    }
    std::memcpy(data_.data() + offset, data.data(), data.size());
}

Bytes read_whole_file(const std::string& path, std::uint64_t limit) {
    auto src = open_file(path);
    if (src->size() > limit) {
        Error e(ErrorKind::corrupt,
                fmt::format("is {} bytes, more than the {} this reader accepts", src->size(), limit));
        e.with_path(path);
        throw e;
    }
    return src->read_bytes(0, src->size(), "the whole file");
}

void Sink::zeros(std::uint64_t n) {
    static constexpr std::size_t chunk = std::size_t{64} * 1024;
    static const Bytes zero_block(chunk);
    while (n > 0) {
        const std::size_t k = std::min<std::uint64_t>(n, chunk);
        write(ByteSpan(zero_block.data(), k));
        n -= k;
    }
}

void MemorySink::write(ByteSpan data) {
    if (finished_) throw Error(ErrorKind::usage, "write after finish");
    data_.insert(data_.end(), data.begin(), data.end());
}

}  // namespace kvm
