// The compressing sinks savecore -z and --zstd write through: gzip members
// with their sizes in a 'KV' header subfield, and zstd frames with the
// seekable format's seek table.
#include <kvm/compress.h>
#include <kvm/io.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include "sink_helpers.h"
#include "test_util.h"

#include <random>

using namespace kvm;
using kvm::test::BoundedSink;
using kvm::test::compressible;
using kvm::test::error_of;
using kvm::test::FailingSink;
using kvm::test::FailOnceSink;
using kvm::test::gunzip;
using kvm::test::Gunzipped;
using kvm::test::write_in_pieces;
using kvm::test::zlib_gzip;

namespace {

// A member as its header describes it.
struct KvMember {
    std::size_t at = 0;
    std::uint32_t member_size = 0;
    std::uint32_t data_size = 0;
    std::uint64_t data_offset = 0;
};

// Hops from header to header as a reader does, checking the fixed fields.
std::vector<KvMember> kv_members(const Bytes& gz) {
    std::vector<KvMember> out;
    std::size_t at = 0;
    while (at < gz.size()) {
        REQUIRE(gz.size() - at >= 32);
        const std::byte* p = gz.data() + at;
        CHECK(p[0] == std::byte{0x1f});
        CHECK(p[1] == std::byte{0x8b});
        CHECK(p[3] == std::byte{4});                     // FEXTRA
        CHECK(load16(p + 10, ByteOrder::little) == 20);  // XLEN
        CHECK(p[12] == std::byte{'K'});
        CHECK(p[13] == std::byte{'V'});
        CHECK(load16(p + 14, ByteOrder::little) == 16);
        KvMember m{.at = at,
                   .member_size = load32(p + 16, ByteOrder::little),
                   .data_size = load32(p + 20, ByteOrder::little),
                   .data_offset = load64(p + 24, ByteOrder::little)};
        REQUIRE(m.member_size >= 42);
        REQUIRE(m.member_size <= gz.size() - at);
        CHECK(load32(gz.data() + at + m.member_size - 4, ByteOrder::little) == m.data_size);  // ISIZE
        out.push_back(m);
        at += m.member_size;
    }
    return out;
}

Bytes gzip_members(const Bytes& data, const GzipOptions& options) {
    MemorySink out;
    auto gz = create_gzip_sink(out, options);
    gz->write(data);
    gz->finish();
    return out.data();
}

}  // namespace

TEST_CASE("gzip sink: members any gunzip reads, each header giving its sizes, for any size, level and thread count") {
    const std::size_t block = std::size_t{64} << 10;
    const Bytes text = compressible(7 * block + 17, 3);
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, block - 1, block, block + 1, 7 * block + 17}) {
        for (const int level : {0, 1, 3, 4, 6, 9}) {
            for (const unsigned threads : {1u, 2u, 4u}) {
                CAPTURE(size);
                CAPTURE(level);
                CAPTURE(threads);
                const Bytes data(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(size));
                MemorySink out;
                auto gz = create_gzip_sink(out, {.level = level, .threads = threads, .block_size = block});
                write_in_pieces(*gz, data, static_cast<unsigned>(size));
                CHECK(gz->position() == size);
                gz->finish();
                CHECK(out.finished());
                const Gunzipped g = gunzip(out.data());
                const std::size_t data_members = (size + block - 1) / block;
                CHECK(g.members == static_cast<int>(data_members + 1));
                CHECK(g.clean);
                CHECK(g.data == data);
                const std::vector<KvMember> members = kv_members(out.data());
                REQUIRE(members.size() == data_members + 1);
                for (std::size_t i = 0; i < members.size(); ++i) {
                    CHECK(members[i].data_offset == std::min(i * block, size));
                    CHECK(members[i].data_size == std::min(block, size - std::min(i * block, size)));
                }
            }
        }
    }
}

TEST_CASE("gzip sink: the first header and the end-of-file member, byte for byte") {
    const Bytes data = compressible(std::size_t{300} << 10, 5);
    const Bytes g = gzip_members(data, {.level = 1, .threads = 2, .block_size = std::size_t{256} << 10});
    const std::vector<KvMember> m = kv_members(g);
    REQUIRE(m.size() == 3);
    // Magic, deflate, FEXTRA, no mtime, XFL 4 (fastest), OS 3 (Unix), XLEN 20,
    // 'K' 'V', LEN 16, member size, 256 KiB of data at offset 0.
    Encoder first(ByteOrder::little);
    first.u8(0x1f).u8(0x8b).u8(8).u8(4).u32(0).u8(4).u8(3).u16(20).u8('K').u8('V').u16(16);
    first.u32(m[0].member_size).u32(256u << 10).u64(0);
    CHECK(Bytes(g.begin(), g.begin() + 32) == first.data());
    // The CRC-32 of the first member's data in its trailer.
    const auto crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), 256u << 10));
    CHECK(load32(g.data() + m[0].member_size - 8, ByteOrder::little) == crc);
    // The end: no data, at the total size, an empty final deflate block.
    Encoder end(ByteOrder::little);
    end.u8(0x1f).u8(0x8b).u8(8).u8(4).u32(0).u8(4).u8(3).u16(20).u8('K').u8('V').u16(16);
    end.u32(42).u32(0).u64(300u << 10).u8(3).u8(0).u32(0).u32(0);
    CHECK(Bytes(g.end() - 42, g.end()) == end.data());
    // Level 9 says so in XFL, as zlib does.
    const Bytes g9 = gzip_members(data, {.level = 9, .threads = 1});
    CHECK(g9[8] == std::byte{2});
}

TEST_CASE("gzip sink: within 10% of gzip -1's size at level 1; zero members cost almost nothing") {
    Bytes data = compressible(8u << 20, 9);
    // Free memory: 3 MiB of zeros, on and off the member grid.
    std::fill_n(data.begin() + 300000, 3u << 20, std::byte{0});
    const Bytes g = gzip_members(data, {.level = 1, .threads = 3});
    const std::size_t reference = zlib_gzip(data, 1).size();
    CHECK(static_cast<double>(g.size()) <= 1.10 * static_cast<double>(reference));
    CHECK(gunzip(g).data == data);

    MemorySink zeros_out;
    auto gz = create_gzip_sink(zeros_out, {.level = 1, .threads = 2});
    gz->zeros(64u << 20);
    gz->finish();
    // 64 members of 1 MiB of zeros, each a few KiB.
    CHECK(zeros_out.data().size() * 200 < (64u << 20));
    const Gunzipped z = gunzip(zeros_out.data());
    CHECK(z.members == 65);
    CHECK(z.data == Bytes(64u << 20));
}

TEST_CASE("gzip sink: an output error reaches the writer, and the sink can still be destroyed") {
    const Bytes data = compressible(1u << 20, 11);
    FailingSink failing(100000);
    auto gz = create_gzip_sink(failing, {.level = 1, .threads = 2, .block_size = std::size_t{64} << 10});
    const std::string error = error_of([&] {
        gz->write(data);
        gz->finish();
    });
    CHECK(error == "out.gz: write failed: No space left on device");
    gz.reset();  // joins the workers
}

TEST_CASE("gzip sink: every block is compressed once, however often the pool of blocks is reused") {
    // 40 blocks through pools of 4 and 6: each block buffer is reused many
    // times.  A reused buffer that kept its fill count once made write()
    // resubmit the same block forever.
    const std::size_t block = std::size_t{64} << 10;
    const Bytes data = compressible(40 * block, 13);
    for (const unsigned threads : {1u, 2u}) {
        CAPTURE(threads);
        BoundedSink out(data.size() / 2);
        auto gz = create_gzip_sink(out, {.level = 1, .threads = threads, .block_size = block});
        CHECK(error_of([&] {
                  write_in_pieces(*gz, data, threads);
                  gz->finish();
              }) == "no error");
        CHECK(gunzip(out.data()).data == data);
    }
}

TEST_CASE("gzip and zstd sinks: after an output error the stream is over; nothing more is taken") {
    const std::size_t block = std::size_t{64} << 10;
    const Bytes data = compressible(16 * block, 17);
    {
        FailOnceSink out(2);
        auto gz = create_gzip_sink(out, {.level = 1, .threads = 2, .block_size = block});
        CHECK(error_of([&] { gz->write(data); }) == "out.gz: write failed: No space left on device");
        // The output works again, but a member is missing: more data or an
        // end member would make a damaged file look whole.
        CHECK(error_of([&] { gz->write(data); }) ==
              "gzip: the stream ended with an error; nothing more can be written");
        CHECK(error_of([&] { gz->finish(); }) == "gzip: the stream ended with an error; nothing more can be written");
    }
    {
        FailOnceSink out(2);
        auto zs = create_zstd_sink(out, {.level = 1, .threads = 2, .block_size = block});
        CHECK(error_of([&] { zs->write(data); }) == "out.gz: write failed: No space left on device");
        CHECK(error_of([&] { zs->finish(); }) == "zstd: the stream ended with an error; nothing more can be written");
    }
}

TEST_CASE("gzip and zstd sinks: bad options are usage errors") {
    MemorySink out;
    CHECK(error_of([&] { create_gzip_sink(out, {.level = 10}); }) == "gzip level 10 is not 0-9");
    CHECK(error_of([&] { create_gzip_sink(out, {.block_size = 1000}); }) ==
          "gzip block size 1000 is outside 65536-16777216");
    CHECK(error_of([&] { create_zstd_sink(out, {.level = 0}); }) == "zstd level 0 is not 1-19");
    CHECK(error_of([&] { create_zstd_sink(out, {.block_size = 32u << 20}); }) ==
          "zstd block size 33554432 is outside 65536-16777216");
}

TEST_CASE("zstd sink: independent frames any zstd reads, and the seekable format's seek table") {
    const std::size_t block = std::size_t{64} << 10;
    Bytes data = compressible(5 * block + 1000, 21);
    std::fill_n(data.begin() + static_cast<std::ptrdiff_t>(block), block, std::byte{0});  // one zero frame
    for (const unsigned threads : {1u, 3u}) {
        CAPTURE(threads);
        MemorySink out;
        auto zs = create_zstd_sink(out, {.level = 3, .threads = threads, .block_size = block});
        write_in_pieces(*zs, data, threads);
        zs->finish();
        const Bytes& z = out.data();
        // zstd itself: the frames, then the skippable frame it passes over.
        Bytes back(data.size() + 1);
        const std::size_t n = ZSTD_decompress(back.data(), back.size(), z.data(), z.size());
        REQUIRE(ZSTD_isError(n) == 0);
        back.resize(n);
        CHECK(back == data);

        // Footer: 6 frames, no checksums, the seekable magic.
        REQUIRE(z.size() > 9);
        CHECK(load32(z.data() + z.size() - 9, ByteOrder::little) == 6);
        CHECK(z[z.size() - 5] == std::byte{0});
        CHECK(load32(z.data() + z.size() - 4, ByteOrder::little) == 0x8F92EAB1);
        const std::size_t table_at = z.size() - (8 + 6 * 8 + 9);
        CHECK(load32(z.data() + table_at, ByteOrder::little) == 0x184D2A5E);
        CHECK(load32(z.data() + table_at + 4, ByteOrder::little) == 6 * 8 + 9);
        // Each entry: a frame that decompresses alone to its block.
        std::size_t at = 0;
        for (std::size_t i = 0; i < 6; ++i) {
            CAPTURE(i);
            const std::uint32_t csize = load32(z.data() + table_at + 8 + 8 * i, ByteOrder::little);
            const std::uint32_t dsize = load32(z.data() + table_at + 12 + 8 * i, ByteOrder::little);
            CHECK(dsize == (i < 5 ? block : 1000));
            CHECK(ZSTD_getFrameContentSize(z.data() + at, csize) == dsize);
            Bytes frame(dsize);
            CHECK(ZSTD_decompress(frame.data(), frame.size(), z.data() + at, csize) == dsize);
            CHECK(std::equal(frame.begin(), frame.end(), data.begin() + static_cast<std::ptrdiff_t>(i * block)));
            at += csize;
        }
        CHECK(at == table_at);
    }
}
