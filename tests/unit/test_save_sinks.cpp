// The sinks savecore writes through: sparse files and the atomic output file
// (the compressing sinks are in test_compress.cpp).
#include <kvm/io.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include "sink_helpers.h"
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
using kvm::test::write_in_pieces;

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
