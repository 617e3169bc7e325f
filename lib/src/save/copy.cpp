#include "save/copy.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace kvm::save::detail {

namespace {

constexpr std::size_t chunk_size = 2u << 20;  // one read; a multiple of every page and sector size
constexpr std::size_t slots = 4;              // chunks in the ring: 8 MiB

// A reader thread fills free slots in order; the caller's thread writes
// filled slots in order and hands them back.
class ReadAhead {
public:
    ReadAhead(const ByteSource& src, std::uint64_t offset, std::uint64_t length)
        : src_(src), offset_(offset), length_(length) {
        for (std::size_t i = 0; i < slots; ++i) {
            buffers_[i].resize(static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, length)));
            free_.push_back(i);
        }
        thread_ = std::thread([this] { read_all(); });
    }
    ~ReadAhead() {
        {
            const std::lock_guard lock(mutex_);
            cancelled_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;

    // The next chunk, in order; rethrows the reader's error once every
    // chunk before it has been taken.
    ByteSpan next(std::size_t& slot) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return !filled_.empty() || error_; });
        if (filled_.empty()) std::rethrow_exception(error_);
        slot = filled_.front().first;
        const std::size_t n = filled_.front().second;
        filled_.pop_front();
        return {buffers_[slot].data(), n};
    }

    void release(std::size_t slot) {
        {
            const std::lock_guard lock(mutex_);
            free_.push_back(slot);
        }
        cv_.notify_all();
    }

private:
    void read_all() {
        try {
            for (std::uint64_t done = 0; done < length_;) {
                std::size_t slot = 0;
                {
                    std::unique_lock lock(mutex_);
                    cv_.wait(lock, [this] { return cancelled_ || !free_.empty(); });
                    if (cancelled_) return;
                    slot = free_.front();
                    free_.pop_front();
                }
                const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, length_ - done));
                const std::uint64_t at = offset_ + done;
                const std::size_t got = src_.read_at(at, MutableByteSpan(buffers_[slot].data(), want));
                if (got < want) {
                    Error e(ErrorKind::io,
                            fmt::format("read of {} bytes at offset {:#x} returned {}: the device ended early", want,
                                        at, got));
                    e.with_path(src_.name());
                    throw e;
                }
                {
                    const std::lock_guard lock(mutex_);
                    filled_.emplace_back(slot, want);
                }
                cv_.notify_all();
                done += want;
            }
        } catch (...) {
            {
                const std::lock_guard lock(mutex_);
                error_ = std::current_exception();
            }
            cv_.notify_all();
        }
    }

    const ByteSource& src_;
    std::uint64_t offset_;
    std::uint64_t length_;
    std::array<Bytes, slots> buffers_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::size_t> free_;
    std::deque<std::pair<std::size_t, std::size_t>> filled_;  // slot, bytes
    std::exception_ptr error_;
    bool cancelled_ = false;
    std::thread thread_;
};

}  // namespace

void copy_range(const ByteSource& src, std::uint64_t offset, std::uint64_t length, Sink& out, const CopyHooks& hooks) {
    if (length == 0) return;
    ReadAhead reader(src, offset, length);
    for (std::uint64_t done = 0; done < length;) {
        std::size_t slot = 0;
        const ByteSpan chunk = reader.next(slot);
        out.write(chunk);
        done += chunk.size();
        reader.release(slot);
        if (hooks.progress) hooks.progress(done);
        if (hooks.interrupted != nullptr && hooks.interrupted->load()) throw Error(ErrorKind::io, "interrupted");
    }
}

}  // namespace kvm::save::detail
