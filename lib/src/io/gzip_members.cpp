// Reading savecore -z's gzip files in place: the 'KV' subfield of each
// member header gives the member's size, so one small read per member
// indexes the file; a member is inflated (libdeflate, whole) when read.
#include <kvm/error.h>

#include "io/block_source.h"
#include "io/decompress.h"
#include "io/deflate.h"
#include "io/gzip_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace kvm::detail {

namespace {

// One index entry per member: 16 bytes for each MiB of core.
constexpr std::size_t max_members = std::size_t{1} << 24;
// The largest member accepted for `data` bytes: deflate's stored blocks
// add 5 bytes per 64 KiB; headers with names and extras are small.
std::uint64_t max_member_size(std::uint32_t data) {
    return std::uint64_t{data} + data / 8 + (128u << 10);
}

struct Member {
    std::uint64_t offset = 0;       // compressed: the header
    std::uint64_t data_offset = 0;  // uncompressed: its first byte
};

[[noreturn]] void bad_member(const ByteSource& src, std::size_t index, std::uint64_t offset, const std::string& why) {
    Error e(ErrorKind::corrupt, fmt::format("member {} at offset {:#x}: {}", index, offset, why));
    e.with_path(src.name());
    throw e;
}

class MemberSource final : public BlockSource {
public:
    MemberSource(std::shared_ptr<ByteSource> src, std::vector<Member> members, std::uint64_t end_offset,
                 std::uint64_t size, std::size_t cache_bytes)
        : BlockSource(src->name(), cache_bytes), src_(std::move(src)), members_(std::move(members)) {
        // A sentinel: where the last member ends.
        members_.push_back({.offset = end_offset, .data_offset = size});
        set_size(size);
    }

private:
    Block locate(std::uint64_t offset) const override {
        const auto it = std::upper_bound(members_.begin(), members_.end() - 1, offset,
                                         [](std::uint64_t v, const Member& m) { return v < m.data_offset; });
        const auto i = static_cast<std::size_t>(it - members_.begin()) - 1;
        return {
            .key = i, .start = members_[i].data_offset, .size = members_[i + 1].data_offset - members_[i].data_offset};
    }

    std::shared_ptr<const Bytes> load(const Block& b, BlockCache& /*cache*/) const override {
        const std::size_t i = b.key;
        const Member& m = members_[i];
        const std::uint64_t member_size = members_[i + 1].offset - m.offset;  // checked when indexed
        const std::string what = fmt::format("member {}", i);
        const std::optional<GzipHeader> h = parse_gzip_header(*src_, m.offset, what);
        if (!h || !h->kv) bad_member(*src_, i, m.offset, "no longer a 'KV' gzip header (the file changed?)");
        const Bytes raw = src_->read_bytes(m.offset, static_cast<std::size_t>(member_size), what);
        const ByteSpan deflate(raw.data() + h->size, raw.size() - h->size - gzip_trailer);
        auto out = std::make_shared<Bytes>(b.size);
        const Inflater::Result r = inflater_.inflate(deflate, *out);
        if (r.overflow)
            bad_member(*src_, i, m.offset, fmt::format("inflates to more than the {} bytes its header says", b.size));
        if (!r.ok) bad_member(*src_, i, m.offset, "bad deflate data");
        if (r.produced != b.size)
            bad_member(*src_, i, m.offset,
                       fmt::format("inflates to {} bytes, but its header says {}", r.produced, b.size));
        if (r.consumed != deflate.size())
            bad_member(*src_, i, m.offset,
                       fmt::format("its deflate data ends at offset {:#x}, but its header puts the trailer at {:#x}",
                                   m.offset + h->size + r.consumed, m.offset + h->size + deflate.size()));
        const std::byte* trailer = raw.data() + raw.size() - gzip_trailer;
        const std::uint32_t crc = crc32(*out);
        if (crc != load32(trailer, ByteOrder::little))
            bad_member(*src_, i, m.offset,
                       fmt::format("the CRC-32 of its data is {:#010x}, but its trailer says {:#010x}", crc,
                                   load32(trailer, ByteOrder::little)));
        if (load32(trailer + 4, ByteOrder::little) != static_cast<std::uint32_t>(b.size))
            bad_member(*src_, i, m.offset,
                       fmt::format("its trailer's size is {}, but it holds {} bytes",
                                   load32(trailer + 4, ByteOrder::little), b.size));
        return out;
    }

    std::shared_ptr<ByteSource> src_;
    std::vector<Member> members_;
    mutable Inflater inflater_;  // used under the lock read_at holds
};

}  // namespace

std::shared_ptr<ByteSource> open_gzip_members(std::shared_ptr<ByteSource> source, const DecompressOptions& options) {
    const ByteSource& src = *source;
    const std::uint64_t file_size = src.size();
    std::vector<Member> members;
    std::uint64_t pos = 0;
    std::uint64_t data = 0;
    std::uint64_t data_end = 0;  // compressed: where the last data member ends
    for (;;) {
        const std::size_t i = members.size();
        if (pos == file_size) {
            notify(options, fmt::format("{}: no end-of-file member after member {} at offset {:#x}: the file may have "
                                        "been cut short after {} bytes of data",
                                        src.name(), i - 1, members.back().offset, data));
            break;
        }
        const std::string what = fmt::format("member {}", i);
        const std::optional<GzipHeader> h = parse_gzip_header(src, pos, what);
        if (!h) {
            if (i == 0) return nullptr;
            bad_member(src, i, pos, "no gzip header where the previous member's size says the next one begins");
        }
        if (!h->kv) {
            if (i == 0) return nullptr;
            notify(options, fmt::format("{}: member {} at offset {:#x} has no 'KV' size field; indexing the file by "
                                        "decompressing it instead",
                                        src.name(), i, pos));
            return nullptr;
        }
        const GzipHeader::Sizes& kv = *h->kv;
        if (kv.data_offset != data)
            bad_member(src, i, pos,
                       fmt::format("its header puts its data at uncompressed offset {:#x}, but the members before it "
                                   "hold {:#x} bytes",
                                   kv.data_offset, data));
        if (kv.data_size > kv_max_data)
            bad_member(src, i, pos,
                       fmt::format("its header says it holds {} bytes, more than the {} a member may", kv.data_size,
                                   kv_max_data));
        const std::uint64_t least = h->size + empty_deflate_size + gzip_trailer;
        if (kv.member_size < least)
            bad_member(src, i, pos,
                       fmt::format("its header says it is {} bytes, less than the {} its header and trailer need",
                                   kv.member_size, least));
        if (kv.member_size > max_member_size(kv.data_size))
            bad_member(src, i, pos,
                       fmt::format("its header says it is {} bytes, more than {} bytes of data can take",
                                   kv.member_size, kv.data_size));
        if (kv.member_size > file_size - pos) {
            notify(options, fmt::format("{}: member {} at offset {:#x} needs {} bytes, but the file ends at {:#x}: the "
                                        "data from uncompressed offset {:#x} on is missing (the file was cut short?)",
                                        src.name(), i, pos, kv.member_size, file_size, data));
            break;
        }
        if (kv.data_size == 0) {  // the end-of-file member
            pos += kv.member_size;
            if (pos != file_size)
                notify(options, fmt::format("{}: {} bytes after the end-of-file member at offset {:#x} are ignored",
                                            src.name(), file_size - pos, pos - kv.member_size));
            break;
        }
        if (members.size() == max_members)
            bad_member(src, i, pos, fmt::format("more than {} members: this reader indexes no more", max_members));
        members.push_back({.offset = pos, .data_offset = data});
        data += kv.data_size;
        pos += kv.member_size;
        data_end = pos;
    }
    return std::make_shared<MemberSource>(std::move(source), std::move(members), data_end, data, options.cache_bytes);
}

}  // namespace kvm::detail
