#include "io/block_sink.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <algorithm>

namespace kvm::detail {

namespace {
constexpr unsigned max_threads = 16;
}

BlockSink::BlockSink(Sink& out, const BlockSinkOptions& o, std::size_t min_block, std::size_t max_block)
    : out_(out), what_(o.what), block_(o.block_size) {
    if (block_ < min_block || block_ > max_block)
        throw Error(ErrorKind::usage,
                    fmt::format("{} block size {} is outside {}-{}", what_, block_, min_block, max_block));
    unsigned threads = o.threads != 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, max_threads);
    // Each block in flight holds its input and (at most about) as much
    // output.  Fewer threads rather than more memory.
    const std::size_t per_job = 2 * block_;
    const std::size_t budget_jobs = std::max<std::size_t>(2, o.max_memory / per_job);
    threads_ = static_cast<unsigned>(std::min<std::size_t>(threads, budget_jobs - 1));
    max_jobs_ = std::min<std::size_t>(budget_jobs, 2 * threads_ + 2);
}

BlockSink::~BlockSink() {
    stop();
}

void BlockSink::start(EncoderFactory factory) {
    factory_ = std::move(factory);
    for (unsigned i = 0; i < threads_; ++i)
        workers_.emplace_back([this] { work(); });
    current_ = acquire();
}

void BlockSink::write(ByteSpan data) {
    check_usable();
    try {
        fill(data);
    } catch (...) {
        failed_ = true;
        throw;
    }
}

void BlockSink::finish() {
    if (finished_) return;
    check_usable();
    try {
        end_stream();
    } catch (...) {
        failed_ = true;
        throw;
    }
}

// An exception out of write() or finish() leaves blocks half submitted (the
// one being filled may be in flight, one may be missing from the output):
// the stream is over, and taking more would resubmit a block.
void BlockSink::check_usable() const {
    if (failed_)
        throw Error(ErrorKind::usage,
                    fmt::format("{}: the stream ended with an error; nothing more can be written", what_));
    if (finished_ || current_ == nullptr) throw Error(ErrorKind::usage, fmt::format("{}: write after finish", what_));
}

void BlockSink::fill(ByteSpan data) {
    while (!data.empty()) {
        const std::size_t n = std::min(data.size(), block_ - current_->used);
        std::copy_n(data.begin(), n, current_->input.begin() + static_cast<std::ptrdiff_t>(current_->used));
        current_->used += n;
        position_ += n;
        data = data.subspan(n);
        if (current_->used == block_) {
            submit();
            current_ = acquire();
        }
    }
}

void BlockSink::end_stream() {
    if (current_->used > 0) submit();
    current_ = nullptr;
    while (!inflight_.empty())
        retire_front();
    stop();
    write_trailer(out_);
    out_.finish();
    finished_ = true;
}

// A job to fill: a free one, or the oldest in flight once it is written.
BlockSink::Job* BlockSink::acquire() {
    Job* job = nullptr;
    if (pool_.size() < max_jobs_) {
        pool_.push_back(std::make_unique<Job>());
        job = pool_.back().get();
        job->input.resize(block_);
    } else {
        if (free_.empty()) retire_front();
        job = free_.front();
        free_.pop_front();
    }
    job->used = 0;
    job->offset = position_;
    return job;
}

void BlockSink::submit() {
    Job* job = current_;
    job->done = false;
    job->error = nullptr;
    {
        const std::lock_guard lock(mutex_);
        todo_.push_back(job);
    }
    work_cv_.notify_one();
    inflight_.push_back(job);
    // Write what is already encoded, without waiting.
    while (!inflight_.empty() && is_done(inflight_.front()))
        retire_front();
}

bool BlockSink::is_done(Job* job) {
    const std::lock_guard lock(mutex_);
    return job->done;
}

// Waits for the oldest block, writes it and frees its job.
void BlockSink::retire_front() {
    Job* job = inflight_.front();
    {
        std::unique_lock lock(mutex_);
        done_cv_.wait(lock, [job] { return job->done; });
    }
    inflight_.pop_front();
    free_.push_back(job);
    if (job->error) std::rethrow_exception(job->error);
    out_.write(ByteSpan(job->output.data(), job->out_used));
    block_written(job->used, job->out_used);
}

void BlockSink::work() {
    std::unique_ptr<BlockEncoder> encoder;
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
            if (!encoder) encoder = factory_();
            job->out_used = encoder->encode(ByteSpan(job->input.data(), job->used), job->offset, job->output);
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

void BlockSink::stop() noexcept {
    {
        const std::lock_guard lock(mutex_);
        stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_)
        if (t.joinable()) t.join();
    workers_.clear();
}

}  // namespace kvm::detail
