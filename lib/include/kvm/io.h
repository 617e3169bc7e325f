// Byte sources (files, block devices, memory) and forward-only sinks.
//
// Formats read through ByteSource, never through paths, so tests and fuzzers
// can hand them memory.  Writers (savecore) write through Sink, which never
// seeks backwards: the same code writes a sparse file, a gzip stream or a
// pipe.
#pragma once

#include <kvm/bytes.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace kvm {

class ByteSource {
public:
    virtual ~ByteSource() = default;

    // Total size in bytes (files: st_size; block devices: the device size).
    virtual std::uint64_t size() const = 0;
    // Reads up to out.size() bytes at `offset`; returns fewer only at the end
    // of the source.  I/O errors throw ErrorKind::io.
    virtual std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const = 0;
    // Writes in place (dump invalidation).  Sources opened read-only throw.
    virtual void write_at(std::uint64_t offset, ByteSpan data);
    // Forces written data to stable storage.
    virtual void sync() {}
    // The name used in messages: a path, or "<memory>".
    virtual const std::string& name() const = 0;
    // Alignment that in-place writes must respect (512 for block devices
    // that need whole sectors, 1 for files and memory).
    virtual std::uint32_t write_granularity() const { return 1; }

    // Reads exactly out.size() bytes or throws ErrorKind::corrupt
    // "<name>: truncated: <what> needs N bytes at offset X, file has Y".
    void read_exact(std::uint64_t offset, MutableByteSpan out, std::string_view what) const;
    Bytes read_bytes(std::uint64_t offset, std::size_t length, std::string_view what) const;
};

enum class OpenMode { read_only, read_write };

// A regular file or a block/character device, read with pread.
std::shared_ptr<ByteSource> open_file(const std::string& path, OpenMode mode = OpenMode::read_only);

// Memory owned by the source (tests, fuzzers, decompressed data).
class MemorySource final : public ByteSource {
public:
    explicit MemorySource(Bytes data, std::string name = "<memory>");
    std::uint64_t size() const override { return data_.size(); }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override;
    void write_at(std::uint64_t offset, ByteSpan data) override;
    const std::string& name() const override { return name_; }
    const Bytes& data() const noexcept { return data_; }
    Bytes& data() noexcept { return data_; }

private:
    Bytes data_;
    std::string name_;
};

// A forward-only output stream.
class Sink {
public:
    virtual ~Sink() = default;
    virtual void write(ByteSpan data) = 0;
    // `n` zero bytes.  A file sink leaves a hole where it can.
    virtual void zeros(std::uint64_t n);
    // Completes the stream (trailers, final size, flush to disk).  After
    // finish() nothing more may be written.
    virtual void finish() = 0;
    // Bytes accepted so far (uncompressed).
    virtual std::uint64_t position() const = 0;
};

// Appends to a vector (tests).
class MemorySink final : public Sink {
public:
    void write(ByteSpan data) override;
    void finish() override { finished_ = true; }
    std::uint64_t position() const override { return data_.size(); }
    const Bytes& data() const noexcept { return data_; }
    bool finished() const noexcept { return finished_; }

private:
    Bytes data_;
    bool finished_ = false;
};

// Creates (truncates) `path` and writes to it through a large buffer.
// finish() flushes and fsyncs.  `mode` applies when the file is created.
std::unique_ptr<Sink> create_file_sink(const std::string& path, unsigned mode = 0644);

// Reads a whole (small) file: namelists, truth files.  Bounded by `limit`.
Bytes read_whole_file(const std::string& path, std::uint64_t limit);

}  // namespace kvm
