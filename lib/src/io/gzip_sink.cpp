// A gzip sink that compresses on several threads and still writes one
// standard gzip stream, the way pigz does: the input is cut into blocks,
// each block is deflated on its own with the previous block's last 32 KiB
// as its dictionary and ends with a sync flush (so it stops on a byte
// boundary with the last-block bit clear), and the compressed blocks are
// written in order.  Only the final block is finished with Z_FINISH.  The
// CRC-32 of each block is computed by the thread that compresses it and
// combined in order with crc32_combine.
//
// The caller's thread fills blocks and writes finished ones; workers only
// compress.  Blocks in flight come from a fixed pool, so a slow output
// blocks the input instead of growing memory.
#include <kvm/error.h>
#include <kvm/io.h>

#include "io/zero.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kvm {

namespace {

constexpr std::size_t window = 32u << 10;  // deflate's window: the dictionary size
constexpr std::size_t min_block = 64u << 10;
constexpr std::size_t max_block = 64u << 20;
constexpr unsigned max_threads = 16;

struct Job {
    Bytes input;  // capacity block_size
    std::size_t used = 0;
    Bytes dict;  // the previous block's tail
    std::size_t dict_used = 0;
    bool last = false;
    Bytes output;
    std::size_t out_used = 0;
    std::uint32_t crc = 0;
    bool done = false;
    std::exception_ptr error;
};

// A raw deflate stream (no zlib or gzip wrapper), reset for every block.
class Deflater {
public:
    explicit Deflater(int level) {
        if (deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            throw Error(ErrorKind::io, fmt::format("zlib: cannot start a deflate stream at level {}", level));
    }
    ~Deflater() { deflateEnd(&z_); }
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;

    // Compresses `in` after `dict` into `out` (grown as needed), ending
    // with a sync flush, or with the stream's end when `last`.
    std::size_t compress(ByteSpan in, ByteSpan dict, bool last, Bytes& out) {
        check(deflateReset(&z_), "deflateReset");
        if (!dict.empty())
            check(
                deflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size())),
                "deflateSetDictionary");
        const std::size_t bound = deflateBound(&z_, static_cast<uLong>(in.size())) + 16;
        if (out.size() < bound) out.resize(bound);
        z_.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
        z_.avail_in = static_cast<uInt>(in.size());
        std::size_t used = 0;
        const int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
        for (;;) {
            z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
            z_.avail_out = static_cast<uInt>(out.size() - used);
            const int ret = deflate(&z_, flush);
            used = out.size() - z_.avail_out;
            if (ret == Z_STREAM_ERROR) check(ret, "deflate");
            // Done when the input is consumed and deflate had room to spare
            // (a sync flush), or the stream ended (finish).
            if (last ? ret == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) break;
            if (z_.avail_out == 0) out.resize(out.size() + out.size() / 2);
        }
        return used;
    }

private:
    static void check(int ret, const char* what) {
        if (ret != Z_OK) throw Error(ErrorKind::io, fmt::format("zlib: {} failed ({})", what, ret));
    }
    z_stream z_{};
};

std::uint32_t crc_of(ByteSpan data) {
    return static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

class GzipSink final : public Sink {
public:
    GzipSink(Sink& out, const GzipOptions& o) : out_(out), level_(o.level), block_(o.block_size) {
        if (level_ < 0 || level_ > 9) throw Error(ErrorKind::usage, fmt::format("gzip level {} is not 0-9", level_));
        if (block_ < min_block || block_ > max_block)
            throw Error(ErrorKind::usage,
                        fmt::format("gzip block size {} is outside {}-{}", block_, min_block, max_block));
        unsigned threads = o.threads != 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
        threads = std::min(threads, max_threads);
        // Each block in flight holds its input and (at most about) as much
        // output.  Fewer threads rather than more memory.
        const std::size_t per_job = 2 * block_;
        const std::size_t budget_jobs = std::max<std::size_t>(2, o.max_memory / per_job);
        threads = static_cast<unsigned>(std::min<std::size_t>(threads, budget_jobs - 1));
        max_jobs_ = std::min<std::size_t>(budget_jobs, 2 * threads + 2);

        // Free RAM is mostly zero pages: one zero block is compressed once
        // and reused.  Without a dictionary it is valid anywhere in the
        // stream, since it refers to nothing before it.
        {
            const Bytes zeros(block_);
            Deflater d(level_);
            zero_out_.resize(d.compress(zeros, {}, false, zero_out_));
            zero_crc_ = crc_of(zeros);
        }

        // The gzip header: deflate, no flags, no mtime, XFL as zlib sets it,
        // OS Unix.
        const std::uint8_t xfl = level_ == 9 ? 2 : (level_ < 2 ? 4 : 0);
        const std::array<std::byte, 10> header{std::byte{0x1f}, std::byte{0x8b}, std::byte{8}, std::byte{0},
                                               std::byte{0},    std::byte{0},    std::byte{0}, std::byte{0},
                                               std::byte{xfl},  std::byte{3}};
        out_.write(header);

        for (unsigned i = 0; i < threads; ++i)
            workers_.emplace_back([this] { work(); });
        current_ = acquire();
    }

    ~GzipSink() override { stop(); }
    GzipSink(const GzipSink&) = delete;
    GzipSink& operator=(const GzipSink&) = delete;

    void write(ByteSpan data) override {
        check_usable();
        try {
            fill(data);
        } catch (...) {
            failed_ = true;
            throw;
        }
    }

    void finish() override {
        if (finished_) return;
        check_usable();
        try {
            end_stream();
        } catch (...) {
            failed_ = true;
            throw;
        }
    }

    std::uint64_t position() const override { return position_; }

private:
    void fill(ByteSpan data) {
        while (!data.empty()) {
            const std::size_t n = std::min(data.size(), block_ - current_->used);
            std::copy_n(data.begin(), n, current_->input.begin() + static_cast<std::ptrdiff_t>(current_->used));
            current_->used += n;
            position_ += n;
            data = data.subspan(n);
            if (current_->used == block_) {
                submit(false);
                current_ = acquire();
            }
        }
    }

    void end_stream() {
        submit(true);
        current_ = nullptr;
        while (!inflight_.empty())
            retire_front();
        Encoder trailer(ByteOrder::little);
        trailer.u32(crc_).u32(static_cast<std::uint32_t>(position_));  // ISIZE: the length mod 2^32
        out_.write(trailer.data());
        stop();
        out_.finish();
        finished_ = true;
    }

    // An exception out of write() or finish() leaves blocks half submitted
    // (the one being filled may be in flight, one may be missing from the
    // output): the stream is over, and taking more would resubmit a block.
    void check_usable() const {
        if (failed_) throw Error(ErrorKind::usage, "gzip: the stream ended with an error; nothing more can be written");
        if (finished_ || current_ == nullptr) throw Error(ErrorKind::usage, "gzip: write after finish");
    }

    // A job to fill: a free one, or the oldest in flight once it is written.
    Job* acquire() {
        if (pool_.size() < max_jobs_) {
            auto job = std::make_unique<Job>();
            job->input.resize(block_);
            job->dict.resize(window);
            pool_.push_back(std::move(job));
            return pool_.back().get();
        }
        if (free_.empty()) retire_front();
        Job* job = free_.front();
        free_.pop_front();
        job->used = 0;
        return job;
    }

    void submit(bool last) {
        Job* job = current_;
        job->last = last;
        job->done = false;
        job->error = nullptr;
        job->dict_used = tail_used_;
        std::copy_n(tail_.begin(), tail_used_, job->dict.begin());
        // The next block's dictionary: this one's last 32 KiB.  Blocks
        // other than the last are always full, and a full block is at
        // least 64 KiB.
        if (!last) {
            std::copy_n(job->input.begin() + static_cast<std::ptrdiff_t>(job->used - window), window, tail_.begin());
            tail_used_ = window;
        }
        {
            const std::lock_guard lock(mutex_);
            todo_.push_back(job);
        }
        work_cv_.notify_one();
        inflight_.push_back(job);
        // Write what is already compressed, without waiting.
        while (!inflight_.empty() && is_done(inflight_.front()))
            retire_front();
    }

    bool is_done(Job* job) {
        const std::lock_guard lock(mutex_);
        return job->done;
    }

    // Waits for the oldest block, writes it and frees its job.
    void retire_front() {
        Job* job = inflight_.front();
        {
            std::unique_lock lock(mutex_);
            done_cv_.wait(lock, [job] { return job->done; });
        }
        inflight_.pop_front();
        free_.push_back(job);
        if (job->error) std::rethrow_exception(job->error);
        out_.write(ByteSpan(job->output.data(), job->out_used));
        crc_ = static_cast<std::uint32_t>(crc32_combine(crc_, job->crc, static_cast<z_off_t>(job->used)));
    }

    void work() {
        std::unique_ptr<Deflater> deflater;
        for (;;) {
            Job* job = nullptr;
            {
                std::unique_lock lock(mutex_);
                work_cv_.wait(lock, [this] { return stop_ || !todo_.empty(); });
                if (stop_) return;
                job = todo_.front();
                todo_.pop_front();
            }
            try {
                compress(*job, deflater);
            } catch (...) {
                job->error = std::current_exception();
            }
            {
                const std::lock_guard lock(mutex_);
                job->done = true;
            }
            done_cv_.notify_all();
        }
    }

    void compress(Job& job, std::unique_ptr<Deflater>& deflater) {
        const ByteSpan in(job.input.data(), job.used);
        if (!job.last && job.used == block_ && detail::all_zero(in.data(), in.size())) {
            if (job.output.size() < zero_out_.size()) job.output.resize(zero_out_.size());
            std::copy(zero_out_.begin(), zero_out_.end(), job.output.begin());
            job.out_used = zero_out_.size();
            job.crc = zero_crc_;
            return;
        }
        if (!deflater) deflater = std::make_unique<Deflater>(level_);
        job.out_used = deflater->compress(in, ByteSpan(job.dict.data(), job.dict_used), job.last, job.output);
        job.crc = crc_of(in);
    }

    void stop() noexcept {
        {
            const std::lock_guard lock(mutex_);
            stop_ = true;
        }
        work_cv_.notify_all();
        for (auto& t : workers_)
            if (t.joinable()) t.join();
        workers_.clear();
    }

    Sink& out_;
    int level_;
    std::size_t block_;
    std::size_t max_jobs_ = 0;
    Bytes zero_out_;
    std::uint32_t zero_crc_ = 0;

    // Caller's thread only.
    std::vector<std::unique_ptr<Job>> pool_;
    std::deque<Job*> free_;
    std::deque<Job*> inflight_;  // in stream order
    Job* current_ = nullptr;
    Bytes tail_ = Bytes(window);
    std::size_t tail_used_ = 0;
    std::uint32_t crc_ = 0;
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

}  // namespace

std::unique_ptr<Sink> create_gzip_sink(Sink& out, const GzipOptions& options) {
    return std::make_unique<GzipSink>(out, options);
}

}  // namespace kvm
