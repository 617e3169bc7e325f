#include <kvm/error.h>
#include <kvm/io.h>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace kvm {

namespace {

// Writes whole buffers with write(2): one syscall per MiB, retried on EINTR
// and short writes.
void write_all(int fd, const std::byte* p, std::size_t n, const std::string& path) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_os("write failed", errno, path);
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

class BufferedFileSink final : public Sink {
public:
    BufferedFileSink(std::string path, unsigned mode) : path_(std::move(path)) {
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
        if (fd_ < 0) throw_os("cannot create", errno, path_);
        buf_.reserve(buffer_size);
    }
    ~BufferedFileSink() override {
        if (fd_ >= 0) ::close(fd_);
    }
    BufferedFileSink(const BufferedFileSink&) = delete;
    BufferedFileSink& operator=(const BufferedFileSink&) = delete;

    void write(ByteSpan data) override {
        if (fd_ < 0) throw Error(ErrorKind::usage, fmt::format("{}: write after finish", path_));
        if (buf_.size() + data.size() > buffer_size) flush();
        if (data.size() >= buffer_size) {
            write_all(fd_, data.data(), data.size(), path_);
        } else {
            buf_.insert(buf_.end(), data.begin(), data.end());
        }
        position_ += data.size();
    }

    void finish() override {
        flush();
        if (::fsync(fd_) != 0) throw_os("fsync failed", errno, path_);
        if (::close(fd_) != 0) throw_os("close failed", errno, path_);
        fd_ = -1;
    }

    std::uint64_t position() const override { return position_; }

private:
    static constexpr std::size_t buffer_size = 1u << 20;

    void flush() {
        write_all(fd_, buf_.data(), buf_.size(), path_);
        buf_.clear();
    }

    std::string path_;
    int fd_ = -1;
    Bytes buf_;
    std::uint64_t position_ = 0;
};

}  // namespace

std::unique_ptr<Sink> create_file_sink(const std::string& path, unsigned mode) {
    return std::make_unique<BufferedFileSink>(path, mode);
}

}  // namespace kvm
