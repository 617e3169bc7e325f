// makedumpfile's flattened format, read in place.
//
// makedumpfile -F (and QEMU's kdump output) writes a dump to a pipe as a
// series of records, each saying where its bytes belong in the real file;
// `makedumpfile -R` reassembles them.  Layout (all big-endian):
//   0     signature[16]  "makedumpfile", NUL-padded
//   16    type     i64   1 (TYPE_FLAT_HEADER)
//   24    version  i64   1 (VERSION_FLAT_HEADER)
//   4096  records: offset i64, buf_size i64, then buf_size bytes that go
//         to `offset` of the reassembled file; offset -1 ends the list.
// One pass over the record headers builds an index (later records win
// where they overlap, as reassembly would write them); the reassembled file
// is then a ByteSource, holes read as zeros, and the kdump or ELF reader
// runs on it unchanged.
#include <kvm/elf.h>
#include <kvm/error.h>

#include "core/segment_map.h"
#include "format/kdump.h"
#include "format/linux_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace kvm::detail {

namespace {

constexpr std::string_view flat_signature = "makedumpfile";
constexpr std::size_t flat_signature_size = 16;
constexpr std::uint64_t flat_header_size = 4096;
constexpr std::uint64_t flat_type = 1;
constexpr std::uint64_t flat_version = 1;
constexpr std::uint64_t record_header_size = 16;
constexpr std::uint64_t end_flag = ~std::uint64_t{0};  // -1
// Offsets in the reassembled file beyond this are refused (64 PiB).
constexpr std::uint64_t max_reassembled_size = 1ull << 56;
constexpr std::size_t scan_buffer = 1u << 20;

class FlattenedSource final : public ByteSource {
public:
    explicit FlattenedSource(std::shared_ptr<ByteSource> file) : file_(std::move(file)) {
        const std::uint64_t file_size = file_->size();
        const Bytes header = file_->read_bytes(0, 32, "flattened-format header");
        const std::uint64_t type = load64(header.data() + 16, ByteOrder::big);
        const std::uint64_t version = load64(header.data() + 24, ByteOrder::big);
        if (type != flat_type || version != flat_version)
            throw_unsupported(fmt::format(
                "makedumpfile flattened format of type {} version {} (kvmkit reads type 1 version 1); reassemble "
                "it with makedumpfile -R",
                static_cast<std::int64_t>(type), static_cast<std::int64_t>(version)));
        if (file_size < flat_header_size)
            throw_corrupt(fmt::format("truncated: the flattened-format header needs {} bytes, but the file has {:#x}",
                                      flat_header_size, file_size));

        // Scan the record headers through a read-ahead buffer: with small
        // records this reads the file once, with large ones it seeks.
        struct Record {
            std::uint64_t out;
            std::uint64_t size;
            std::uint64_t at;
        };
        std::vector<Record> records;
        Bytes buf(scan_buffer);
        std::uint64_t buf_start = 0;
        std::size_t buf_len = 0;
        std::uint64_t pos = flat_header_size;
        for (;;) {
            if (file_size - pos < record_header_size)
                throw_corrupt(
                    fmt::format("truncated: no end marker after {} records (the record header at offset "
                                "{:#x} needs 16 bytes, but the file has {:#x})",
                                records.size(), pos, file_size));
            if (pos < buf_start || pos + record_header_size > buf_start + buf_len) {
                buf_start = pos;
                buf_len = file_->read_at(
                    pos, MutableByteSpan(buf.data(), std::min<std::uint64_t>(buf.size(), file_size - pos)));
                if (buf_len < record_header_size)
                    throw_corrupt(fmt::format("truncated: record header at offset {:#x}", pos));
            }
            const std::byte* h = buf.data() + (pos - buf_start);
            const std::uint64_t out = load64(h, ByteOrder::big);
            const std::uint64_t size = load64(h + 8, ByteOrder::big);
            if (out == end_flag) break;
            const std::string what = fmt::format("flattened record {} at offset {:#x}", records.size(), pos);
            if ((out >> 63) != 0 || (size >> 63) != 0)
                throw_corrupt(fmt::format("{}: offset {} or size {} is negative", what, static_cast<std::int64_t>(out),
                                          static_cast<std::int64_t>(size)));
            const std::uint64_t data_at = pos + record_header_size;
            if (size > file_size - data_at)
                throw_corrupt(
                    fmt::format("truncated: {} needs {:#x} bytes of data at offset {:#x}, but the file has "
                                "{:#x}",
                                what, size, data_at, file_size));
            if (out > max_reassembled_size || size > max_reassembled_size - out)
                throw_corrupt(fmt::format("{}: bytes at {:#x}+{:#x} are beyond the {:#x} a dump may have", what, out,
                                          size, max_reassembled_size));
            if (size != 0) records.push_back({out, size, data_at});
            size_ = std::max(size_, out + size);
            pos = data_at + size;
        }

        // Later records overwrite earlier ones: add them first.
        std::vector<Segment> segments;
        segments.reserve(records.size());
        for (auto it = records.rbegin(); it != records.rend(); ++it)
            segments.push_back({.start = it->out, .size = it->size, .target = it->at, .file_size = it->size});
        map_ = SegmentMap(segments);
        records_ = records.size();
    }

    std::uint64_t size() const override { return size_; }

    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        if (offset >= size_) return 0;
        const std::size_t total = std::min<std::uint64_t>(out.size(), size_ - offset);
        const auto segs = map_.segments();
        std::size_t done = 0;
        while (done < total) {
            const std::uint64_t at = offset + done;
            const std::size_t want = total - done;
            if (const Segment* s = map_.find(at)) {
                const std::size_t n = std::min<std::uint64_t>(want, s->size - (at - s->start));
                file_->read_exact(s->target + (at - s->start), out.subspan(done, n), "flattened record data");
                done += n;
                continue;
            }
            // A hole: zeros up to the next record.
            const auto next = std::upper_bound(segs.begin(), segs.end(), at,
                                               [](std::uint64_t a, const Segment& s) { return a < s.start; });
            const std::uint64_t hole_end = next == segs.end() ? size_ : next->start;
            const std::size_t n = std::min<std::uint64_t>(want, hole_end - at);
            std::memset(out.data() + done, 0, n);
            done += n;
        }
        return total;
    }

    const std::string& name() const override { return file_->name(); }
    std::size_t records() const noexcept { return records_; }

private:
    std::shared_ptr<ByteSource> file_;
    SegmentMap map_;
    std::uint64_t size_ = 0;
    std::size_t records_ = 0;
};

}  // namespace

bool is_flattened(const ByteSource& source) {
    std::array<std::byte, flat_signature_size> sig{};
    if (source.size() < sig.size() || source.read_at(0, sig) != sig.size()) return false;
    const std::string_view s = as_chars(sig);
    return s.substr(0, flat_signature.size()) == flat_signature &&
           s.find_first_not_of('\0', flat_signature.size()) == std::string_view::npos;
}

std::shared_ptr<ByteSource> open_flattened_source(std::shared_ptr<ByteSource> source) {
    return std::make_shared<FlattenedSource>(std::move(source));
}

std::unique_ptr<Format> probe_flattened(std::shared_ptr<ByteSource> source, const ProbeOptions& options) {
    if (!is_flattened(*source)) return nullptr;
    const std::string path = source->name();
    auto view = std::make_shared<FlattenedSource>(std::move(source));
    try {
        std::array<std::byte, 8> magic{};
        const std::size_t got = view->read_at(0, magic);
        const std::string_view m = as_chars(std::span(magic).first(got));
        if (m == kdump::kdump_signature || m == kdump::diskdump_signature)
            return open_kdump(view, "kdump-flattened", options);
        if (elf::is_elf(*view)) return open_elf_core(view, "elf-vmcore-flattened");
    } catch (const Error& cause) {
        // "<path>: in the reassembled dump: <what went wrong>", offsets
        // being those of the reassembled file.
        std::string_view detail = cause.message();
        const std::string prefix = path + ": ";
        if (detail.substr(0, prefix.size()) == prefix) detail.remove_prefix(prefix.size());
        Error e(cause.kind(), fmt::format("in the reassembled dump: {}", detail));
        if (cause.address()) e.with_address(*cause.address());
        e.with_path(path);
        throw e;
    }
    throw_format(
        "a makedumpfile flattened file holding neither a kdump-compressed nor an ELF dump; reassemble it with "
        "makedumpfile -R to look at it");
}

}  // namespace kvm::detail
