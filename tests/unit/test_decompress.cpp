// Compressed cores read in place (kvm/compress.h): savecore -z's gzip
// members, any other gzip through a checkpoint index, zstd through its seek
// table or decompressed once into a temporary file; and every way a
// compressed file can lie.
#include <kvm/compress.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include "io/gzip_index.h"
#include "sink_helpers.h"
#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <filesystem>
#include <random>

using namespace kvm;
using kvm::test::compressible;
using kvm::test::error_of;
using kvm::test::TempDir;
using kvm::test::zlib_gzip;

namespace {

constexpr std::size_t block = std::size_t{64} << 10;

// Data as RAM holds it: text, pointers, and runs of zero pages.
Bytes ram_like(std::size_t n, unsigned seed) {
    Bytes b = compressible(n, seed);
    std::mt19937 rng(seed);
    for (std::size_t page = 0; page + 4096 <= n; page += 4096)
        if (rng() % 4 == 0) std::fill_n(b.begin() + static_cast<std::ptrdiff_t>(page), 4096, std::byte{0});
    return b;
}

Bytes gzip_members(const Bytes& data, std::size_t block_size = block) {
    MemorySink out;
    auto gz = create_gzip_sink(out, {.level = 1, .threads = 2, .block_size = block_size});
    gz->write(data);
    gz->finish();
    return out.data();
}

Bytes zstd_seekable(const Bytes& data) {
    MemorySink out;
    auto zs = create_zstd_sink(out, {.level = 1, .threads = 2, .block_size = block});
    zs->write(data);
    zs->finish();
    return out.data();
}

// Where each member starts, by hopping over the 'KV' sizes.
std::vector<std::size_t> member_offsets(const Bytes& gz) {
    std::vector<std::size_t> at;
    for (std::size_t pos = 0; pos < gz.size(); pos += load32(gz.data() + pos + 16, ByteOrder::little))
        at.push_back(pos);
    return at;
}

// Every byte, read back in pieces of varied sizes at varied offsets.
void check_reads(const ByteSource& src, const Bytes& data, unsigned seed) {
    REQUIRE(src.size() == data.size());
    CHECK(src.read_bytes(0, data.size(), "everything") == data);
    std::mt19937 rng(seed);
    for (int i = 0; i < 200; ++i) {
        const std::size_t at = rng() % (data.size() + 1);
        const std::size_t want = rng() % 3 == 0 ? rng() % (3 * block) : rng() % 5000;
        Bytes got(want);
        const std::size_t n = src.read_at(at, got);
        CHECK(n == std::min(want, data.size() - at));
        CHECK(std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(n),
                         data.begin() + static_cast<std::ptrdiff_t>(at)));
    }
}

struct Notices {
    std::vector<std::string> said;
    DecompressOptions options(DecompressOptions o = {}) {
        o.notice = [this](const std::string& m) { said.push_back(m); };
        return o;
    }
};

std::shared_ptr<ByteSource> open_memory(Bytes bytes, std::string name, const DecompressOptions& o = {}) {
    return open_decompressed(std::make_shared<MemorySource>(std::move(bytes), std::move(name)), o);
}

std::uint32_t zlib_crc(ByteSpan b) {
    return static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size())));
}

// What zlib inflates from a gzip stream cut short.
std::size_t inflatable(const Bytes& gz) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 16 + 15) == Z_OK);
    z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(gz.data()));
    z.avail_in = static_cast<uInt>(gz.size());
    Bytes buf(1 << 16);
    std::size_t total = 0;
    for (;;) {
        z.next_out = reinterpret_cast<Bytef*>(buf.data());
        z.avail_out = static_cast<uInt>(buf.size());
        const int ret = inflate(&z, Z_NO_FLUSH);
        total += buf.size() - z.avail_out;
        if (ret != Z_OK) break;
    }
    inflateEnd(&z);
    return total;
}

void rewrite32(Bytes& b, std::size_t at, std::uint32_t v) {
    store32(b.data() + at, v, ByteOrder::little);
}

}  // namespace

TEST_CASE("compression is told by the magic at offset 0") {
    const auto detect = [](Bytes b) { return detect_compression(MemorySource(std::move(b))); };
    CHECK(detect(zlib_gzip(to_bytes("x"), 1)) == Compression::gzip);
    CHECK(detect(zstd_seekable(to_bytes("x"))) == Compression::zstd);
    CHECK(detect(to_bytes("\x7f"
                          "ELF")) == Compression::none);
    CHECK(detect(to_bytes("\x1f")) == Compression::none);
    CHECK(detect(to_bytes("\x5e\x2a\x4d\x18")) == Compression::zstd);  // a skippable frame first
    // Not compressed: the very same source comes back.
    const auto plain = std::make_shared<MemorySource>(to_bytes("KVMKITCORE"));
    CHECK(open_decompressed(plain) == plain);
}

TEST_CASE("gzip members read in place: any range, across members, through a cache smaller than the file") {
    const Bytes data = ram_like(5 * block + 123, 1);
    Notices n;
    const auto src = open_memory(gzip_members(data), "netbsd.0.core.gz", n.options({.cache_bytes = 2 * block}));
    CHECK(src->name() == "netbsd.0.core.gz");
    check_reads(*src, data, 1);
    CHECK(n.said.empty());
    // Nothing at all: only the end member.
    CHECK(open_memory(gzip_members({}), "empty.gz")->size() == 0);
}

TEST_CASE("gzip members: sizes that lie are errors naming the file, the member and the offset") {
    const Bytes data = ram_like(5 * block + 123, 2);
    const Bytes good = gzip_members(data);
    const std::vector<std::size_t> at = member_offsets(good);
    REQUIRE(at.size() == 7);  // 6 with data, the end

    Bytes b = good;
    rewrite32(b, at[2] + 24, 2 * block + 1);  // member 2's data offset
    CHECK(error_of([&] { open_memory(b, "x.gz"); }) ==
          fmt::format("x.gz: member 2 at offset {:#x}: its header puts its data at uncompressed offset 0x20001, but "
                      "the members before it hold 0x20000 bytes",
                      at[2]));

    b = good;
    rewrite32(b, at[1] + 20, block + 100);  // member 1 says it holds more: member 2 no longer follows on
    CHECK(error_of([&] { open_memory(b, "x.gz"); }) ==
          fmt::format("x.gz: member 2 at offset {:#x}: its header puts its data at uncompressed offset 0x20000, but "
                      "the members before it hold 0x20064 bytes",
                      at[2]));

    b = good;
    rewrite32(b, at[1] + 16, static_cast<std::uint32_t>(at[2] - at[1] - 1));  // member 1 one byte short
    CHECK(error_of([&] { open_memory(b, "x.gz"); }) ==
          fmt::format("x.gz: member 2 at offset {:#x}: no gzip header where the previous member's size says the next "
                      "one begins",
                      at[2] - 1));

    b = good;
    rewrite32(b, at[0] + 16, 41);
    CHECK(error_of([&] { open_memory(b, "x.gz"); }) ==
          "x.gz: member 0 at offset 0x0: its header says it is 41 bytes, less than the 42 its header and trailer need");

    b = good;
    rewrite32(b, at[0] + 20, 17u << 20);
    CHECK(error_of([&] { open_memory(b, "x.gz"); }) ==
          "x.gz: member 0 at offset 0x0: its header says it holds 17825792 bytes, more than the 16777216 a member may");

    b = good;
    rewrite32(b, at[0] + 16, 1u << 30);
    CHECK(error_of([&] { open_memory(b, "x.gz"); }) ==
          "x.gz: member 0 at offset 0x0: its header says it is 1073741824 bytes, more than 65536 bytes of data can "
          "take");

    b = good;
    b[at[3] + 15] = std::byte{1};  // a 'KV' subfield of 272 bytes
    CHECK(error_of([&] { open_memory(b, "x.gz"); }) ==
          fmt::format("x.gz: member 3 at offset {:#x}: the extra field's subfield at byte 0 is 272 bytes, past the "
                      "field's 20",
                      at[3]));

    // The last member says it holds one byte less (and the end member
    // agrees): found when it is read.
    b = good;
    rewrite32(b, at[5] + 20, 122);
    rewrite32(b, at[6] + 24, 5 * block + 122);
    const auto src = open_memory(b, "x.gz");
    CHECK(src->size() == 5 * block + 122);
    CHECK(src->read_bytes(0, 5 * block, "the first five members") == Bytes(data.begin(), data.begin() + 5 * block));
    CHECK(error_of([&] { src->read_bytes(5 * block, 1, "the last member"); }) ==
          fmt::format("x.gz: member 5 at offset {:#x}: inflates to more than the 122 bytes its header says", at[5]));

    b = good;
    rewrite32(b, at[5] + 20, 124);
    rewrite32(b, at[6] + 24, 5 * block + 124);
    CHECK(error_of([&] { open_memory(b, "x.gz")->read_bytes(5 * block, 1, "the last member"); }) ==
          fmt::format("x.gz: member 5 at offset {:#x}: inflates to 123 bytes, but its header says 124", at[5]));
}

TEST_CASE("gzip members: damaged data and trailers are found when the member is read") {
    const Bytes data = ram_like(3 * block, 3);
    const Bytes good = gzip_members(data);
    const std::vector<std::size_t> at = member_offsets(good);

    Bytes b = good;
    const std::size_t trailer = at[2] - 8;
    b[trailer] ^= std::byte{1};  // member 1's CRC-32
    const std::uint32_t crc = zlib_crc(ByteSpan(data).subspan(block, block));
    const auto src = open_memory(b, "x.gz");
    CHECK(src->read_bytes(0, block, "member 0") == Bytes(data.begin(), data.begin() + block));
    CHECK(error_of([&] { src->read_bytes(block, 1, "member 1"); }) ==
          fmt::format("x.gz: member 1 at offset {:#x}: the CRC-32 of its data is {:#010x}, but its trailer says "
                      "{:#010x}",
                      at[1], crc, crc ^ 1));

    b = good;
    b[at[2] - 4] ^= std::byte{1};  // member 1's ISIZE
    CHECK(error_of([&] { open_memory(b, "x.gz")->read_bytes(block, 1, "member 1"); }) ==
          fmt::format("x.gz: member 1 at offset {:#x}: its trailer's size is 65537, but it holds 65536 bytes", at[1]));

    b = good;
    b[32] = std::byte{0x07};  // a final block of the reserved type 3
    CHECK(error_of([&] { open_memory(b, "x.gz")->read_bytes(0, 1, "member 0"); }) ==
          "x.gz: member 0 at offset 0x0: bad deflate data");
}

TEST_CASE("gzip members: a file cut short opens with what it holds, and says so") {
    const Bytes data = ram_like(5 * block, 4);
    const Bytes good = gzip_members(data);
    const std::vector<std::size_t> at = member_offsets(good);

    Notices n;
    Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(at[3] + 100));
    const auto src = open_memory(cut, "x.gz", n.options());
    CHECK(n.said == std::vector<std::string>{fmt::format(
                        "x.gz: member 3 at offset {:#x} needs {} bytes, but the file ends at {:#x}: the data from "
                        "uncompressed offset 0x30000 on is missing (the file was cut short?)",
                        at[3], at[4] - at[3], at[3] + 100)});
    check_reads(*src, Bytes(data.begin(), data.begin() + 3 * block), 4);

    Notices n2;
    cut.assign(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(at[5]));  // whole members, no end
    CHECK(open_memory(cut, "x.gz", n2.options())->size() == 5 * block);
    CHECK(n2.said == std::vector<std::string>{fmt::format("x.gz: no end-of-file member after member 4 at offset "
                                                          "{:#x}: the file may have been cut short after 327680 bytes "
                                                          "of data",
                                                          at[4])});
}

TEST_CASE("any other gzip file: a checkpoint index built in one pass, read from anywhere") {
    // 13 MiB in one zlib stream: checkpoints every 4 MiB or so.
    const Bytes data = ram_like(13u << 20, 5);
    const Bytes gz = zlib_gzip(data, 6);
    const detail::GzipIndex index = detail::build_gzip_index(MemorySource(gz, "x.gz"), {});
    CHECK(index.size == data.size());
    REQUIRE(index.points.size() == 4);
    CHECK(index.points[0].out == 0);
    CHECK(index.points[0].history == 0);
    for (std::size_t i = 1; i < index.points.size(); ++i) {
        CHECK(index.points[i].out >= i * detail::gzip_index_span);
        CHECK(index.points[i].history == detail::gzip_window);
    }
    Notices n;
    check_reads(*open_memory(gz, "x.gz", n.options({.cache_bytes = 2u << 20})), data, 5);
    CHECK(n.said.empty());

    // Several members (cat a.gz b.gz), one made by savecore -z among them:
    // gunzip's answer, through the checkpoint index.
    const Bytes a = ram_like(3u << 20, 6);
    const Bytes b = ram_like(6u << 20, 7);
    Bytes multi = zlib_gzip(a, 1);
    const Bytes members = gzip_members(b, 1u << 20);
    multi.insert(multi.end(), members.begin(), members.end());
    Bytes both = a;
    both.insert(both.end(), b.begin(), b.end());
    check_reads(*open_memory(multi, "multi.gz", n.options()), both, 6);
    CHECK(n.said.empty());
}

TEST_CASE("any other gzip file: damage found while indexing names the member and its offset") {
    const Bytes data = ram_like(1u << 20, 8);
    Bytes gz = zlib_gzip(data, 1);
    const std::uint32_t crc = zlib_crc(data);
    gz[gz.size() - 8] ^= std::byte{0x10};
    CHECK(error_of([&] { open_memory(gz, "x.gz"); }) ==
          fmt::format("x.gz: member 0 at offset 0x0: the CRC-32 of its data is {:#010x}, but its trailer says {:#010x}",
                      crc, crc ^ 0x10));
    gz[gz.size() - 8] ^= std::byte{0x10};
    gz[gz.size() - 4] ^= std::byte{0x01};
    CHECK(error_of([&] { open_memory(gz, "x.gz"); }) ==
          "x.gz: member 0 at offset 0x0: it holds 1048576 bytes, but its trailer says 1048577 (modulo 2^32)");
    gz[gz.size() - 4] ^= std::byte{0x01};
    gz[10] = std::byte{0x07};  // a final block of the reserved type 3
    CHECK(error_of([&] { open_memory(gz, "x.gz"); }) ==
          "x.gz: member 0 at offset 0x0: bad deflate data near compressed offset 0xb: invalid block type");

    // Cut short, and followed by junk: what there is, and a notice.
    const Bytes good = zlib_gzip(data, 1);
    Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2));
    const std::size_t got = inflatable(cut);
    Notices n;
    const auto src = open_memory(cut, "x.gz", n.options());
    CHECK(n.said == std::vector<std::string>{fmt::format("x.gz: the file ends inside member 0 (offset 0x0) after {} "
                                                         "bytes of data: the rest is missing (the file was cut short?)",
                                                         got)});
    check_reads(*src, Bytes(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(got)), 8);

    Bytes junk = good;
    junk.insert(junk.end(), 100, std::byte{0});
    Notices n2;
    check_reads(*open_memory(junk, "x.gz", n2.options()), data, 9);
    CHECK(n2.said ==
          std::vector<std::string>{fmt::format(
              "x.gz: the 100 bytes after the last member (offset {:#x}) are not gzip data; ignored", good.size())});
}

TEST_CASE("checkpoint index: saved beside the file, used again, rebuilt when stale or damaged") {
    TempDir dir;
    const std::string path = dir / "vmcore.1.gz";
    const std::string index_path = path + ".gzidx";
    CHECK(gzip_index_path(path) == index_path);
    const Bytes data = ram_like(9u << 20, 10);
    synth::write_file(path, zlib_gzip(data, 1));
    const auto open = [&](Notices& n) { return open_decompressed(open_file(path), n.options({.path = path})); };
    const auto inode = [](const std::string& p) {
        struct stat st {};
        REQUIRE(::stat(p.c_str(), &st) == 0);
        return st.st_ino;
    };

    Notices first;
    check_reads(*open(first), data, 10);
    CHECK(first.said.empty());
    REQUIRE(std::filesystem::exists(index_path));
    const auto built = inode(index_path);

    Notices again;  // read, not rebuilt: the same file
    check_reads(*open(again), data, 11);
    CHECK(again.said.empty());
    CHECK(inode(index_path) == built);

    // The gzip file changed (here only its mtime): stale.
    struct timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 0}, {.tv_sec = 1000000000, .tv_nsec = 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
    Notices stale;
    check_reads(*open(stale), data, 12);
    CHECK(stale.said == std::vector<std::string>{fmt::format("{}: made from another version of {} (its size or "
                                                             "modification time differ); the index is rebuilt",
                                                             index_path, path)});
    CHECK(inode(index_path) != built);
    Notices fresh;
    open(fresh);
    CHECK(fresh.said.empty());

    // Damaged: a byte of a checkpoint flipped.
    Bytes idx = read_whole_file(index_path, 1u << 30);
    const std::uint32_t header_crc = load32(idx.data() + 56, ByteOrder::little);
    idx[64] ^= std::byte{1};
    const std::uint32_t body_crc = zlib_crc(ByteSpan(idx).subspan(64));
    synth::write_file(index_path, idx);
    Notices damaged;
    check_reads(*open(damaged), data, 13);
    CHECK(damaged.said ==
          std::vector<std::string>{fmt::format("{}: the CRC-32 of its contents is {:#010x}, but its header says "
                                               "{:#010x}; the index is ignored and rebuilt",
                                               index_path, body_crc, header_crc)});

    // Cut short.
    synth::write_file(index_path, Bytes(idx.begin(), idx.begin() + 10));
    Notices cut;
    open(cut);
    CHECK(cut.said ==
          std::vector<std::string>{fmt::format(
              "{}: 10 bytes, shorter than the 64-byte header; the index is ignored and rebuilt", index_path)});

    // Without the saved index: neither read nor written.
    std::filesystem::remove(index_path);
    Notices off;
    check_reads(*open_decompressed(open_file(path), off.options({.path = path, .use_saved_index = false})), data, 14);
    CHECK(!std::filesystem::exists(index_path));
}

TEST_CASE("checkpoint index: one that does not match its file is an error, or impossible and refused") {
    const Bytes data = ram_like(9u << 20, 15);
    const Bytes gz = zlib_gzip(data, 1);
    detail::GzipIndex index = detail::build_gzip_index(MemorySource(gz, "x.gz"), {});
    REQUIRE(index.points.size() == 3);
    // The index of the whole file over its first half.
    const auto half = std::make_shared<MemorySource>(
        Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(index.points[2].in + 1000)), "half.gz");
    const detail::GzipCheckpoint p = index.points[1];  // the last one before the slice read
    const auto src = detail::gzip_index_source(half, index, 1u << 20);
    CHECK(error_of([&] { src->read_bytes(data.size() - 10, 10, "the end"); }) ==
          fmt::format("half.gz: the compressed data ends after checkpoint 1 (compressed offset {:#x}, uncompressed "
                      "{:#x}), before uncompressed offset {:#x} (does the index match the file?)",
                      p.in, p.out, data.size()));

    // Impossible checkpoints are refused, whatever the checksum says.
    const detail::FileStamp stamp{.size = gz.size(), .mtime_sec = 5, .mtime_nsec = 6};
    const auto refused = [&](const std::function<void(detail::GzipIndex&)>& damage) {
        detail::GzipIndex copy = index;
        damage(copy);
        const Bytes encoded = detail::encode_gzip_index(copy, stamp);
        return error_of([&] { detail::decode_gzip_index(encoded, stamp, "x.gz.gzidx"); });
    };
    CHECK(refused([](detail::GzipIndex& i) { std::swap(i.points[1], i.points[2]); }) ==
          fmt::format("x.gz.gzidx: checkpoint 2: uncompressed offset {:#x} does not follow the previous one's {:#x}",
                      index.points[1].out, index.points[2].out));
    CHECK(refused([](detail::GzipIndex& i) { i.points[1].in = 1u << 30; }) ==
          fmt::format("x.gz.gzidx: checkpoint 1: compressed offset 0x40000000 is not inside the {:#x}-byte file",
                      gz.size()));
    CHECK(refused([](detail::GzipIndex& i) { i.points[1].bits = 9; }) == "x.gz.gzidx: checkpoint 1: 9 bits of a byte");
    CHECK(refused([](detail::GzipIndex& i) { i.points[1].history = 40000; }) ==
          fmt::format("x.gz.gzidx: checkpoint 1: 40000 bytes of history at uncompressed offset {:#x}",
                      index.points[1].out));
    CHECK(refused([](detail::GzipIndex& i) { i.points[0].out = 1; }) ==
          "x.gz.gzidx: checkpoint 0: the first is at uncompressed offset 0x1, not 0");
    // A stale one is not an error: the caller rebuilds it.
    const Bytes encoded = detail::encode_gzip_index(index, stamp);
    CHECK(!detail::decode_gzip_index(encoded, {.size = gz.size(), .mtime_sec = 5, .mtime_nsec = 7}, "x").has_value());
    CHECK(detail::decode_gzip_index(encoded, stamp, "x")->points.size() == 3);
}

TEST_CASE("zstd with a seek table read in place; every lie in the table or a frame is an error") {
    const Bytes data = ram_like(5 * block + 1000, 16);
    const Bytes good = zstd_seekable(data);
    check_reads(*open_memory(good, "x.zst", {.cache_bytes = block}), data, 16);

    const std::size_t footer = good.size() - 9;
    const std::size_t table = footer - 6 * 8 - 8;
    Bytes b = good;
    b[footer + 4] = std::byte{0x04};
    CHECK(error_of([&] { open_memory(b, "x.zst"); }) ==
          fmt::format("x.zst: seek table footer at offset {:#x}: reserved bits set in its descriptor (0x04)", footer));
    b = good;
    rewrite32(b, footer, 0x8000001);
    CHECK(error_of([&] { open_memory(b, "x.zst"); }) ==
          fmt::format("x.zst: seek table footer at offset {:#x}: 134217729 frames, more than the format's 134217728",
                      footer));
    rewrite32(b, footer, 100000);
    CHECK(error_of([&] { open_memory(b, "x.zst"); }) ==
          fmt::format("x.zst: seek table footer at offset {:#x}: 100000 entries need 800017 bytes, but the file has {}",
                      footer, good.size()));
    b = good;
    rewrite32(b, footer, 5);  // one entry fewer: the table starts 8 bytes later
    CHECK(error_of([&] { open_memory(b, "x.zst"); }) ==
          fmt::format("x.zst: seek table at offset {:#x}: magic {:#010x}, not the skippable frame's 0x184d2a5e (its "
                      "footer lists 5 frames)",
                      table + 8, load32(good.data() + table + 8, ByteOrder::little)));
    b = good;
    rewrite32(b, table + 4, 58);
    CHECK(error_of([&] { open_memory(b, "x.zst"); }) ==
          fmt::format("x.zst: seek table at offset {:#x}: its frame size is 58, but 6 entries and the footer take 57",
                      table));

    const auto entry = [&](std::size_t i) { return table + 8 + 8 * i; };
    const std::uint32_t c0 = load32(good.data() + entry(0), ByteOrder::little);
    b = good;
    rewrite32(b, entry(5), load32(good.data() + entry(5), ByteOrder::little) - 1);
    CHECK(error_of([&] { open_memory(b, "x.zst"); }) ==
          fmt::format("x.zst: the seek table's 6 frames end at offset {:#x}, but the table starts at {:#x}", table - 1,
                      table));
    b = good;
    rewrite32(b, entry(5), load32(good.data() + entry(5), ByteOrder::little) + 1);
    CHECK(
        error_of([&] { open_memory(b, "x.zst"); }) ==
        fmt::format("x.zst: frame 5 at offset {:#x}: the seek table says it is {} bytes, past the seek table at {:#x}",
                    table - load32(good.data() + entry(5), ByteOrder::little),
                    load32(good.data() + entry(5), ByteOrder::little) + 1, table));
    b = good;
    rewrite32(b, entry(0), c0 + 1);
    rewrite32(b, entry(1), load32(good.data() + entry(1), ByteOrder::little) - 1);  // the sum is right
    CHECK(error_of([&] { open_memory(b, "x.zst")->read_bytes(0, 1, "frame 0"); }) ==
          "x.zst: frame 0 at offset 0x0: zstd: Src size is incorrect");
    b = good;
    rewrite32(b, entry(0) + 4, block - 1);
    CHECK(error_of([&] { open_memory(b, "x.zst")->read_bytes(0, 1, "frame 0"); }) ==
          "x.zst: frame 0 at offset 0x0: decompresses to more than the 65535 bytes the seek table says");
    b = good;
    rewrite32(b, entry(0) + 4, block + 1);
    CHECK(error_of([&] { open_memory(b, "x.zst")->read_bytes(0, 1, "frame 0"); }) ==
          "x.zst: frame 0 at offset 0x0: decompresses to 65536 bytes, but the seek table says 65537");
    b = good;
    rewrite32(b, entry(2) + 4, 65u << 20);
    CHECK(error_of([&] { open_memory(b, "x.zst"); }) ==
          fmt::format("x.zst: frame 2 at offset {:#x}: the seek table says it holds 68157440 bytes, more than the "
                      "67108864 this reader decompresses at once",
                      c0 + load32(good.data() + entry(1), ByteOrder::little)));
}

TEST_CASE("zstd without a seek table: decompressed once into a sparse temporary file, and said") {
    TempDir tmp;
    const Bytes data = ram_like((3u << 20) + 5, 17);
    // One frame with its checksum, as zstd(1) writes.
    Bytes z(ZSTD_compressBound(data.size()));
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    z.resize(ZSTD_compress2(cctx, z.data(), z.size(), data.data(), data.size()));
    ZSTD_freeCCtx(cctx);
    Notices n;
    std::vector<std::uint64_t> progress;
    DecompressOptions o = n.options({.temp_dir = tmp.path().string()});
    o.progress = [&](const DecompressProgress& p) {
        CHECK(p.file == "vmcore.0.zst");
        CHECK(p.what == "decompressing");
        CHECK(p.total == z.size());
        progress.push_back(p.done);
    };
    const auto src = open_memory(z, "vmcore.0.zst", o);
    check_reads(*src, data, 17);
    CHECK(n.said == std::vector<std::string>{fmt::format(
                        "vmcore.0.zst: a zstd stream without a seek table: decompressed 3.0 MiB into a temporary file "
                        "in {}",
                        tmp.path().string())});
    CHECK(progress == std::vector<std::uint64_t>{z.size()});
    CHECK(std::filesystem::is_empty(tmp.path()));  // the file has no name

    // Cut short: what there is, and both said.
    Notices cut;
    const Bytes half(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(z.size() / 2));
    const auto part = open_memory(half, "vmcore.0.zst", cut.options({.temp_dir = tmp.path().string()}));
    REQUIRE(cut.said.size() == 2);
    CHECK(cut.said[0] == fmt::format("vmcore.0.zst: the file ends inside a zstd frame after {} bytes of data: the rest "
                                     "is missing (the file was cut short?)",
                                     part->size()));
    CHECK(part->read_bytes(0, part->size(), "what there is") ==
          Bytes(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(part->size())));

    // Damaged.
    Bytes bad = z;
    bad[z.size() / 2] ^= std::byte{0xff};
    const std::string error = error_of([&] { open_memory(bad, "vmcore.0.zst", {.temp_dir = tmp.path().string()}); });
    CHECK(error.rfind("vmcore.0.zst: zstd stream: ", 0) == 0);
}
