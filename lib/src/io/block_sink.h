// What the gzip and zstd writers share: a Sink that cuts its input into
// blocks of a fixed size, encodes them on worker threads, each block on its
// own (a gzip member, a zstd frame), and writes them in order.
//
// The caller's thread fills blocks and writes finished ones; workers only
// encode.  Blocks in flight come from a fixed pool bounded by max_memory, so
// a slow output blocks the input instead of growing memory.
#pragma once

#include <kvm/io.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kvm::detail {

// One per worker thread, made on that thread.
class BlockEncoder {
public:
    virtual ~BlockEncoder() = default;
    // Encodes `in`, whose first byte is at uncompressed offset `offset`,
    // into `out` (grown as needed); returns the bytes of `out` used.
    virtual std::size_t encode(ByteSpan in, std::uint64_t offset, Bytes& out) = 0;
};

struct BlockSinkOptions {
    std::string what;      // "gzip", "zstd": for messages
    unsigned threads = 0;  // 0: one per CPU, at most 16
    std::size_t block_size = 1u << 20;
    std::size_t max_memory = 32u << 20;
};

class BlockSink : public Sink {
public:
    ~BlockSink() override;
    BlockSink(const BlockSink&) = delete;
    BlockSink& operator=(const BlockSink&) = delete;

    void write(ByteSpan data) final;
    void finish() final;
    std::uint64_t position() const final { return position_; }

protected:
    using EncoderFactory = std::function<std::unique_ptr<BlockEncoder>()>;
    // Checks the options; `min_block`-`max_block` is the codec's range.
    BlockSink(Sink& out, const BlockSinkOptions& options, std::size_t min_block, std::size_t max_block);
    // Starts the workers; the derived constructor calls it last.
    void start(EncoderFactory factory);
    // Stops the workers; the derived destructor calls it first, since
    // encoders may use the derived object's members.
    void stop() noexcept;

    // After each block is written, on the caller's thread.
    virtual void block_written(std::size_t input_size, std::size_t output_size) {
        static_cast<void>(input_size);
        static_cast<void>(output_size);
    }
    // After the last block: what ends the stream (an end member, a seek table).
    virtual void write_trailer(Sink& out) = 0;

private:
    struct Job {
        Bytes input;  // capacity block_size
        std::size_t used = 0;
        std::uint64_t offset = 0;
        Bytes output;
        std::size_t out_used = 0;
        bool done = false;
        std::exception_ptr error;
    };

    void check_usable() const;
    void fill(ByteSpan data);
    void end_stream();
    Job* acquire();
    void submit();
    bool is_done(Job* job);
    void retire_front();
    void work();

    Sink& out_;
    std::string what_;
    std::size_t block_;
    unsigned threads_ = 1;
    std::size_t max_jobs_ = 0;
    EncoderFactory factory_;

    // Caller's thread only.
    std::vector<std::unique_ptr<Job>> pool_;
    std::deque<Job*> free_;
    std::deque<Job*> inflight_;  // in stream order
    Job* current_ = nullptr;
    std::uint64_t position_ = 0;
    bool finished_ = false;
    bool failed_ = false;

    // Shared with the workers, under mutex_.
    std::mutex mutex_;
    std::condition_variable work_cv_;
    std::condition_variable done_cv_;
    std::deque<Job*> todo_;
    bool stop_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace kvm::detail
