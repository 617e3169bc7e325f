// A forward-only sink over a file descriptor, optionally sparse: savecore's
// uncompressed core leaves free (all-zero) pages as holes, as FreeBSD's
// savecore does, and the size is set with ftruncate at the end.
#include <kvm/error.h>
#include <kvm/io.h>

#include "io/pwrite_all.h"
#include "io/zero.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>

namespace kvm {

namespace {

// Writeback is started each time this much more has been written, so the
// disk works while the copy goes on and the final fsync is short.
constexpr std::uint64_t writeback_step = 32u << 20;

class FdSink final : public Sink {
public:
    FdSink(int fd, std::string name, const FileSinkOptions& options)
        : fd_(fd),
          name_(std::move(name)),
          sparse_(options.sparse),
          durable_(options.durable),
          block_(options.block),
          stage_(options.block),
          writeback_(options.durable) {
        if (block_ == 0 || (block_ & (block_ - 1)) != 0)
            throw Error(ErrorKind::usage, fmt::format("{}: sink block size {} is not a power of two", name_, block_));
    }

    void write(ByteSpan data) override {
        if (finished_) throw Error(ErrorKind::usage, fmt::format("{}: write after finish", name_));
        std::size_t off = 0;
        // Complete the partly filled block first.
        if (const std::size_t in_block = pos_ % block_; in_block != 0) {
            const std::size_t n = std::min<std::size_t>(block_ - in_block, data.size());
            std::copy_n(data.begin(), n, stage_.begin() + static_cast<std::ptrdiff_t>(in_block));
            pos_ += n;
            off = n;
            if (pos_ % block_ == 0) emit(pos_ - block_, ByteSpan(stage_.data(), block_));
        }
        // Whole blocks straight from the caller's buffer.
        const std::size_t whole = (data.size() - off) / block_ * block_;
        if (whole > 0) {
            emit(pos_, data.subspan(off, whole));
            pos_ += whole;
            off += whole;
        }
        // The rest waits for the next write or finish().
        if (off < data.size()) {
            std::copy(data.begin() + static_cast<std::ptrdiff_t>(off), data.end(), stage_.begin());
            pos_ += data.size() - off;
        }
    }

    void finish() override {
        if (finished_) return;
        if (const std::size_t tail = pos_ % block_; tail != 0) emit(pos_ - tail, ByteSpan(stage_.data(), tail));
        // The size covers a trailing hole; on a fresh file the rest is holes.
        if (::ftruncate(fd_, static_cast<off_t>(pos_)) != 0)
            throw_os(fmt::format("cannot set the size to {:#x}", pos_), errno, name_);
        if (durable_ && ::fsync(fd_) != 0) throw_os("fsync failed", errno, name_);
        finished_ = true;
    }

    std::uint64_t position() const override { return pos_; }

private:
    // Writes `data` at `offset`; sparse sinks skip all-zero blocks.
    void emit(std::uint64_t offset, ByteSpan data) {
        if (!sparse_) {
            pwrite_all(offset, data);
            return;
        }
        std::size_t i = 0;
        while (i < data.size()) {
            // A run of zero blocks is skipped...
            while (i < data.size() && detail::all_zero(data.data() + i, std::min<std::size_t>(block_, data.size() - i)))
                i += block_;
            // ...and a run of data blocks written with one call.
            std::size_t end = i;
            while (end < data.size() &&
                   !detail::all_zero(data.data() + end, std::min<std::size_t>(block_, data.size() - end)))
                end += block_;
            end = std::min(end, data.size());
            if (end > i) pwrite_all(offset + i, data.subspan(i, end - i));
            i = end;
        }
    }

    void pwrite_all(std::uint64_t offset, ByteSpan data) {
        detail::pwrite_all(fd_, offset, data, name_);
        start_writeback(offset + data.size());
    }

    void start_writeback([[maybe_unused]] std::uint64_t written_to) {
#ifdef SYNC_FILE_RANGE_WRITE
        if (!writeback_ || written_to < kicked_ + writeback_step) return;
        // Asynchronous: it only queues the dirty pages for the disk.
        if (::sync_file_range(fd_, static_cast<off_t>(kicked_), static_cast<off_t>(written_to - kicked_),
                              SYNC_FILE_RANGE_WRITE) != 0)
            writeback_ = false;  // not supported here; fsync does it all
        kicked_ = written_to;
#endif
    }

    int fd_;
    std::string name_;
    bool sparse_;
    bool durable_;
    std::uint32_t block_;
    Bytes stage_;  // the partly written block at the end
    std::uint64_t pos_ = 0;
    std::uint64_t kicked_ = 0;
    bool writeback_;
    bool finished_ = false;
};

}  // namespace

std::unique_ptr<Sink> create_fd_sink(int fd, std::string name, const FileSinkOptions& options) {
    return std::make_unique<FdSink>(fd, std::move(name), options);
}

}  // namespace kvm
