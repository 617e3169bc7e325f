// Streaming a byte range of a device into a sink, reading ahead on a second
// thread so that reading and writing (or compressing) overlap.
#pragma once

#include <kvm/io.h>

#include <atomic>
#include <cstdint>
#include <functional>

namespace kvm::save::detail {

struct CopyHooks {
    // Called after each chunk with the bytes copied so far.
    std::function<void(std::uint64_t done)> progress;
    // Checked after each chunk; when set the copy stops with an error.
    const std::atomic<bool>* interrupted = nullptr;
};

// Copies `length` bytes of `src` from `offset` to `out` in large sequential
// reads.  A read that returns less than asked (the device ended early)
// throws ErrorKind::io naming the offset; read and write errors pass
// through.  Memory: a few chunks, whatever the length.
void copy_range(const ByteSource& src, std::uint64_t offset, std::uint64_t length, Sink& out,
                const CopyHooks& hooks = {});

}  // namespace kvm::save::detail
