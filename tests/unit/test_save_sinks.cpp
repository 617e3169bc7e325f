// The sinks savecore writes through: sparse files, the parallel gzip stream
// and the atomic output file.
#include <kvm/io.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

using namespace kvm;
using kvm::test::error_of;
using kvm::test::TempDir;

namespace {

Bytes file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes b(c.size());
    std::memcpy(b.data(), c.data(), c.size());
    return b;
}

// Data extents of a file as [start, end) pairs, from SEEK_DATA/SEEK_HOLE.
std::vector<std::pair<off_t, off_t>> data_extents(int fd) {
    std::vector<std::pair<off_t, off_t>> extents;
    const off_t size = ::lseek(fd, 0, SEEK_END);
    off_t pos = 0;
    while (pos < size) {
        const off_t data = ::lseek(fd, pos, SEEK_DATA);
        if (data < 0) break;  // ENXIO: only a hole remains
        const off_t hole = ::lseek(fd, data, SEEK_HOLE);
        extents.emplace_back(data, hole);
        pos = hole;
    }
    return extents;
}

// Whether the filesystem under `dir` reports holes at all.
bool holes_supported(const TempDir& dir) {
    const std::string probe = dir / "probe";
    const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    const char c = 'x';
    const bool ok = ::pwrite(fd, &c, 1, 1 << 20) == 1 && ::lseek(fd, 0, SEEK_DATA) > 0;
    ::close(fd);
    ::unlink(probe.c_str());
    return ok;
}

// Bytes whose 4 KiB pages are zero where `zero_pages` says, with a 536-byte
// header in front (where memory starts in an amd64 kcore file).
Bytes kcore_like(const std::vector<bool>& zero_pages) {
    Bytes b(536, std::byte{0x5a});
    std::mt19937 rng(7);
    for (const bool zero : zero_pages) {
        Bytes page(4096);
        if (!zero)
            for (auto& x : page)
                x = static_cast<std::byte>(rng() | 1);
        b.insert(b.end(), page.begin(), page.end());
    }
    return b;
}

// Feeds `data` to `sink` in pieces of pseudo-random sizes.
void write_in_pieces(Sink& sink, const Bytes& data, unsigned seed) {
    std::mt19937 rng(seed);
    std::size_t pos = 0;
    while (pos < data.size()) {
        const std::size_t n = std::min<std::size_t>(data.size() - pos, rng() % 3 == 0 ? rng() % 70000 : rng() % 5000);
        sink.write(ByteSpan(data.data() + pos, n));
        pos += n;
    }
}

// gunzip: the members of a gzip file, and their concatenated content.
struct Gunzipped {
    int members = 0;
    Bytes data;
    bool clean = true;  // every member ended with a valid trailer, nothing after
};

Gunzipped gunzip(const Bytes& gz) {
    Gunzipped out;
    std::size_t pos = 0;
    while (pos < gz.size()) {
        z_stream z{};
        REQUIRE(inflateInit2(&z, 16 + 15) == Z_OK);
        z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(gz.data() + pos));
        z.avail_in = static_cast<uInt>(gz.size() - pos);
        int ret = Z_OK;
        Bytes buf(1 << 16);
        while (ret == Z_OK) {
            z.next_out = reinterpret_cast<Bytef*>(buf.data());
            z.avail_out = static_cast<uInt>(buf.size());
            ret = inflate(&z, Z_NO_FLUSH);
            out.data.insert(out.data.end(), buf.begin(), buf.end() - z.avail_out);
        }
        if (ret != Z_STREAM_END) out.clean = false;
        pos = gz.size() - z.avail_in;
        inflateEnd(&z);
        ++out.members;
        if (ret != Z_STREAM_END) break;
    }
    return out;
}

// One-shot gzip at a level with zlib alone (what gzip -N writes).
std::size_t zlib_gzip_size(const Bytes& data, int level) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out(deflateBound(&z, data.size()) + 64);
    z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    const std::size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

// Text and pointer-like data that compresses about as RAM does.
Bytes compressible(std::size_t n, unsigned seed) {
    static constexpr std::string_view words[] = {"kernel ", "vnode ", "mutex ", "0xffffffff8", "page ", "\n"};
    std::mt19937 rng(seed);
    Bytes b;
    b.reserve(n);
    while (b.size() < n) {
        const std::string_view w = words[rng() % std::size(words)];
        for (const char c : w)
            if (b.size() < n) b.push_back(static_cast<std::byte>(c));
        if (rng() % 11 == 0 && b.size() < n) b.push_back(static_cast<std::byte>(rng()));
    }
    return b;
}

// A sink that fails after accepting `limit` bytes, as a full disk does.
class FailingSink final : public Sink {
public:
    explicit FailingSink(std::size_t limit) : limit_(limit) {}
    void write(ByteSpan data) override {
        if (pos_ + data.size() > limit_) throw Error(ErrorKind::io, "out.gz: write failed: No space left on device");
        pos_ += data.size();
    }
    void finish() override {}
    std::uint64_t position() const override { return pos_; }

private:
    std::size_t limit_;
    std::size_t pos_ = 0;
};

// A sink that refuses to hold more than `limit` bytes: a stream that
// outgrows its input is caught at once instead of filling memory.
class BoundedSink final : public Sink {
public:
    explicit BoundedSink(std::size_t limit) : limit_(limit) {}
    void write(ByteSpan data) override {
        if (data_.size() + data.size() > limit_)
            throw Error(ErrorKind::io, fmt::format("more than {} bytes of output", limit_));
        data_.insert(data_.end(), data.begin(), data.end());
    }
    void finish() override {}
    std::uint64_t position() const override { return data_.size(); }
    const Bytes& data() const { return data_; }

private:
    std::size_t limit_;
    Bytes data_;
};

// A sink whose `fail_on`th write fails (a disk that was full for a moment).
class FailOnceSink final : public Sink {
public:
    explicit FailOnceSink(int fail_on) : fail_on_(fail_on) {}
    void write(ByteSpan data) override {
        if (++writes_ == fail_on_) throw Error(ErrorKind::io, "out.gz: write failed: No space left on device");
        pos_ += data.size();
    }
    void finish() override {}
    std::uint64_t position() const override { return pos_; }

private:
    int fail_on_;
    int writes_ = 0;
    std::uint64_t pos_ = 0;
};

}  // namespace

TEST_CASE("sparse file sink: same bytes as written, all-zero file blocks left as holes") {
    TempDir dir;
    // Pages 2-4 and 7 are zero; the header shifts them off the file's
    // block grid, so only file blocks wholly inside zero pages are holes.
    const std::vector<bool> zero_pages{false, false, true, true, true, false, false, true, false, true, true};
    const Bytes data = kcore_like(zero_pages);
    const std::string path = dir / "core";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    auto sink = create_fd_sink(fd, path, {.sparse = true});
    write_in_pieces(*sink, data, 1);
    CHECK(sink->position() == data.size());
    sink->finish();

    CHECK(file_bytes(path) == data);
    if (holes_supported(dir)) {
        // Memory page k covers file bytes 536 + 4096k ...; file block b
        // (4096 bytes) is zero when it lies inside zero pages: blocks 3 and
        // 4 (pages 2-4), and block 10 (pages 9-10, the last one partial and
        // a trailing hole).
        const auto extents = data_extents(fd);
        CHECK(extents == std::vector<std::pair<off_t, off_t>>{{0, 3 * 4096}, {5 * 4096, 10 * 4096}});
        struct stat st {};
        REQUIRE(::fstat(fd, &st) == 0);
        CHECK(st.st_size == static_cast<off_t>(data.size()));
        CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 <= 8 * 4096);
    } else {
        WARN("the filesystem under the temporary directory does not report holes");
    }
    ::close(fd);
}

TEST_CASE("file sink without sparse writes every block; either way writes in any pieces give the same file") {
    TempDir dir;
    const Bytes data = kcore_like({true, true, true, false, true, true});
    for (const bool sparse : {false, true}) {
        for (const unsigned seed : {1u, 2u, 3u}) {
            CAPTURE(sparse);
            CAPTURE(seed);
            const std::string path = dir / fmt::format("f{}{}", sparse, seed);
            const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
            auto sink = create_fd_sink(fd, path, {.sparse = sparse});
            write_in_pieces(*sink, data, seed);
            sink->zeros(10000);  // a trailing run of zeros is a hole, and counts in the size
            sink->finish();
            Bytes expected = data;
            expected.resize(data.size() + 10000);
            CHECK(file_bytes(path) == expected);
            if (!sparse)
                CHECK(data_extents(fd) ==
                      std::vector<std::pair<off_t, off_t>>{{0, static_cast<off_t>(expected.size())}});
            ::close(fd);
        }
    }
}

TEST_CASE("file sink errors name the file, the offset and the reason") {
    const int fd = ::open("/dev/full", O_WRONLY);
    if (fd < 0) {
        MESSAGE("no /dev/full here");
        return;
    }
    auto sink = create_fd_sink(fd, "netbsd.0.core.tmp");
    CHECK(error_of([&] { sink->write(Bytes(8192, std::byte{1})); }) ==
          "netbsd.0.core.tmp: write of 8192 bytes at offset 0x0 failed: No space left on device");
    ::close(fd);
    CHECK(error_of([&] { create_fd_sink(-1, "x", {.block = 1000}); }) ==
          "x: sink block size 1000 is not a power of two");
}

TEST_CASE("gzip sink: one standard gzip stream, for any size, level and thread count") {
    const std::size_t block = std::size_t{64} << 10;
    const Bytes text = compressible(7 * block + 17, 3);
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, block - 1, block, block + 1, 7 * block + 17}) {
        for (const int level : {0, 1, 6, 9}) {
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
                CHECK(g.members == 1);
                CHECK(g.clean);
                CHECK(g.data == data);
            }
        }
    }
}

TEST_CASE("gzip sink: header as zlib writes it, trailer with the combined CRC-32 and the size") {
    const Bytes data = compressible(std::size_t{300} << 10, 5);
    MemorySink out;
    auto gz = create_gzip_sink(out, {.level = 1, .threads = 2, .block_size = std::size_t{64} << 10});
    gz->write(data);
    gz->finish();
    const Bytes& g = out.data();
    REQUIRE(g.size() > 18);
    // Magic, deflate, no flags, no mtime, XFL 4 (fastest), OS 3 (Unix).
    CHECK(Bytes(g.begin(), g.begin() + 10) == Bytes{std::byte{0x1f}, std::byte{0x8b}, std::byte{8}, std::byte{0},
                                                    std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                                                    std::byte{4}, std::byte{3}});
    const auto crc = static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    CHECK(load32(g.data() + g.size() - 8, ByteOrder::little) == crc);
    CHECK(load32(g.data() + g.size() - 4, ByteOrder::little) == data.size());
}

TEST_CASE("gzip sink: within 5% of a one-thread gzip at the same level; zero blocks cost almost nothing") {
    Bytes data = compressible(2u << 20, 9);
    // Free memory: 1 MiB of zeros in the middle, on and off the block grid.
    std::fill_n(data.begin() + 300000, 1u << 20, std::byte{0});
    for (const int level : {1, 6}) {
        CAPTURE(level);
        MemorySink out;
        auto gz = create_gzip_sink(out, {.level = level, .threads = 3, .block_size = std::size_t{128} << 10});
        gz->write(data);
        gz->finish();
        const std::size_t reference = zlib_gzip_size(data, level);
        CHECK(static_cast<double>(out.data().size()) <= 1.05 * static_cast<double>(reference));
        CHECK(gunzip(out.data()).data == data);
    }
    MemorySink zeros_out;
    auto gz = create_gzip_sink(zeros_out, {.level = 1, .threads = 2, .block_size = std::size_t{64} << 10});
    gz->zeros(64u << 20);
    gz->finish();
    // Each 64 KiB block of zeros is its own deflate block: a few hundred bytes.
    CHECK(zeros_out.data().size() * 200 < (64u << 20));
    const Gunzipped g = gunzip(zeros_out.data());
    CHECK(g.members == 1);
    CHECK(g.data == Bytes(64u << 20));
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
    // resubmit the same block forever, the workers compressing it again and
    // again into an ever longer stream.
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

TEST_CASE("gzip sink: after an output error the stream is over; nothing more is taken") {
    const std::size_t block = std::size_t{64} << 10;
    const Bytes data = compressible(16 * block, 17);
    FailOnceSink out(4);  // the header, then blocks
    auto gz = create_gzip_sink(out, {.level = 1, .threads = 2, .block_size = block});
    CHECK(error_of([&] { gz->write(data); }) == "out.gz: write failed: No space left on device");
    // The output works again, but a block is missing from the stream: more
    // data or a trailer would make a corrupt gzip file look whole.
    CHECK(error_of([&] { gz->write(data); }) == "gzip: the stream ended with an error; nothing more can be written");
    CHECK(error_of([&] { gz->finish(); }) == "gzip: the stream ended with an error; nothing more can be written");
    gz.reset();
}

TEST_CASE("gzip sink: bad options are usage errors") {
    MemorySink out;
    CHECK(error_of([&] { create_gzip_sink(out, {.level = 10}); }) == "gzip level 10 is not 0-9");
    CHECK(error_of([&] { create_gzip_sink(out, {.block_size = 1000}); }) ==
          "gzip block size 1000 is outside 65536-67108864");
}

TEST_CASE("atomic file: appears complete under its name, mode 0600 whatever the umask") {
    TempDir dir;
    const int dfd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
    const mode_t old_umask = ::umask(0);
    {
        AtomicFile f(dfd, dir.path().string(), "netbsd.0.core");
        CHECK(f.temp_path() == dir / "netbsd.0.core.tmp");
        CHECK(f.path() == dir / "netbsd.0.core");
        CHECK(std::filesystem::exists(dir / "netbsd.0.core.tmp"));
        CHECK_FALSE(std::filesystem::exists(dir / "netbsd.0.core"));
        auto sink = create_fd_sink(f.fd(), f.temp_path());
        sink->write(to_bytes("core"));
        sink->finish();
        f.commit();
    }
    ::umask(old_umask);
    CHECK(file_bytes(dir / "netbsd.0.core") == to_bytes("core"));
    CHECK_FALSE(std::filesystem::exists(dir / "netbsd.0.core.tmp"));
    struct stat st {};
    REQUIRE(::stat((dir / "netbsd.0.core").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);

    // Abandoned (an error while writing): nothing is left.
    {
        AtomicFile f(dfd, dir.path().string(), "netbsd.1.core");
        auto sink = create_fd_sink(f.fd(), f.temp_path());
        sink->write(to_bytes("partial"));
    }
    CHECK_FALSE(std::filesystem::exists(dir / "netbsd.1.core.tmp"));
    CHECK_FALSE(std::filesystem::exists(dir / "netbsd.1.core"));

    // Deleted under the writer (the directory cleaned up): the writer is
    // told, and commit fails without creating anything.
    {
        AtomicFile f(dfd, dir.path().string(), "netbsd.2.core");
        f.check_not_removed();
        std::filesystem::remove(dir / "netbsd.2.core.tmp");
        CHECK(error_of([&] { f.check_not_removed(); }) == dir / "netbsd.2.core.tmp" + ": removed while being written");
        CHECK_FALSE(error_of([&] { f.commit(); }).empty());
    }
    CHECK_FALSE(std::filesystem::exists(dir / "netbsd.2.core"));
    CHECK_FALSE(std::filesystem::exists(dir / "netbsd.2.core.tmp"));
    ::close(dfd);
}

TEST_CASE("atomic file: planted symlinks at the temporary or the final name are never followed") {
    TempDir dir;
    const int dfd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
    synth::write_file(dir / "victim", to_bytes("precious"));

    std::filesystem::create_symlink(dir / "victim", dir / "netbsd.0.core.tmp");
    CHECK(error_of([&] { AtomicFile f(dfd, dir.path().string(), "netbsd.0.core"); }) ==
          dir / "netbsd.0.core.tmp" + ": cannot create: File exists");
    CHECK(std::filesystem::is_symlink(dir / "netbsd.0.core.tmp"));

    std::filesystem::create_symlink(dir / "victim", dir / "netbsd.1.core");
    {
        AtomicFile f(dfd, dir.path().string(), "netbsd.1.core");
        auto sink = create_fd_sink(f.fd(), f.temp_path());
        sink->write(to_bytes("dump"));
        sink->finish();
        CHECK(error_of([&] { f.commit(); }) == dir / "netbsd.1.core" + ": exists already; not replacing it");
    }
    CHECK(std::filesystem::is_symlink(dir / "netbsd.1.core"));
    CHECK_FALSE(std::filesystem::exists(dir / "netbsd.1.core.tmp"));

    // Replace::allowed (bounds) replaces the symlink itself.
    std::filesystem::create_symlink(dir / "victim", dir / "bounds");
    {
        AtomicFile f(dfd, dir.path().string(), "bounds", 0600, AtomicFile::Replace::allowed);
        auto sink = create_fd_sink(f.fd(), f.temp_path());
        sink->write(to_bytes("1\n"));
        sink->finish();
        f.commit();
    }
    CHECK_FALSE(std::filesystem::is_symlink(dir / "bounds"));
    CHECK(file_bytes(dir / "bounds") == to_bytes("1\n"));
    CHECK(file_bytes(dir / "victim") == to_bytes("precious"));
    ::close(dfd);
}
