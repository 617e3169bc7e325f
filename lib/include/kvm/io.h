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

// `length` bytes of `inner` from `offset`, as a source of their own (the
// body of a dump device): offsets count from the slice's start, reads stop
// at its end, writes stay inside it.  `name` is used in messages.  Throws
// usage when the slice does not lie inside `inner`.
std::shared_ptr<ByteSource> slice_source(std::shared_ptr<ByteSource> inner, std::uint64_t offset, std::uint64_t length,
                                         std::string name);

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

// Writes to an open file descriptor with pwrite from offset 0; the
// descriptor stays the caller's (see AtomicFile).  Sparse: every all-zero
// block of `block` bytes, aligned to the file offset, is left as a hole
// (never written); finish() sets the final size with ftruncate, so a
// trailing hole counts.  While writing, writeback of what was written is
// started early (Linux sync_file_range), so that the fsync in finish() has
// little left to do.
struct FileSinkOptions {
    bool sparse = false;
    std::uint32_t block = 4096;  // a power of two; the filesystem block size is best
    // false: no early writeback and no fsync (a temporary file that only
    // needs to outlive the process's reads of it).
    bool durable = true;
};
std::unique_ptr<Sink> create_fd_sink(int fd, std::string name, const FileSinkOptions& options = {});

// The gzip and zstd sinks are in kvm/compress.h.

// Sinks that decompress what is written to them and write the result to
// `out` (savecore -u): a gzip stream (RFC 1952; several members allowed,
// each CRC and length checked), or zstd frames.  Damaged input throws
// ErrorKind::corrupt naming `name` and the compressed offset; finish()
// throws corrupt when the stream stops in the middle, then finishes `out`,
// which must outlive the sink.  position() counts compressed bytes.
std::unique_ptr<Sink> create_gunzip_sink(Sink& out, std::string name);
std::unique_ptr<Sink> create_unzstd_sink(Sink& out, std::string name);

// An output file that appears under its name only when complete and on
// disk.  The constructor creates "<name>.tmp" in the directory `dir_fd`
// with O_CREAT|O_EXCL|O_NOFOLLOW and `mode` (umask does not apply), so a
// planted file or symlink at the temporary name is an error, never
// followed.  commit() fsyncs the file, renames it to `name` and fsyncs the
// directory; with Replace::never an existing `name` (a file or a symlink)
// is an error and stays as it is.  Destroyed without commit() (an error
// while writing), the temporary file is removed.
class AtomicFile {
public:
    enum class Replace { never, allowed };
    static constexpr std::string_view temp_suffix = ".tmp";

    // `dir_name` is used in messages only.
    AtomicFile(int dir_fd, std::string dir_name, std::string name, unsigned mode = 0600,
               Replace replace = Replace::never);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    int fd() const noexcept { return fd_; }
    // "<dir>/<name>" and "<dir>/<name>.tmp", for messages.
    std::string path() const;
    std::string temp_path() const;
    void commit();
    // Throws ErrorKind::io "<temp path>: removed while being written" when
    // the temporary file has no name left (it, or its directory, was
    // deleted): a writer calls it as it goes, so that it stops at once
    // rather than filling a file that can never be committed.
    void check_not_removed() const;
    // Removes the temporary file now (idempotent; commit() after it throws).
    void abandon() noexcept;

private:
    int dir_fd_;
    std::string dir_name_;
    std::string name_;
    std::string temp_name_;
    Replace replace_;
    int fd_ = -1;
    bool committed_ = false;
    bool abandoned_ = false;
};

// Reads a whole (small) file: namelists, truth files.  Bounded by `limit`.
Bytes read_whole_file(const std::string& path, std::uint64_t limit);

}  // namespace kvm
