// The symbol index file: written beside the kernel, read back into an equal
// table, rebuilt when the kernel changes, and never trusted: every damaged
// variant is rejected with a message and rebuilt, not followed.
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/symbol_index.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>

using namespace kvm;
using kvm::test::error_of;
using kvm::test::TempDir;

namespace {

struct KernelFile {
    explicit KernelFile(const char* arch = "amd64", std::size_t extra = 200) {
        synth::CrashedMachine m({.arch = arch, .extra_functions = extra});
        synth::write_file(path, m.kernel_elf());
    }
    TempDir dir;
    std::string path = dir / "netbsd";
    std::string index = path + ".symidx";
    SymbolIndexOptions options{.cache_dir = dir / "cache"};
};

void check_same(const SymbolTable& a, const SymbolTable& b) {
    REQUIRE(a.size() == b.size());
    CHECK(std::equal(a.by_address().begin(), a.by_address().end(), b.by_address().begin()));
    for (const Symbol& s : a.by_address()) {
        CAPTURE(s.name);
        const Symbol* fa = a.find(s.name);
        const Symbol* fb = b.find(s.name);
        REQUIRE(fb != nullptr);
        CHECK(fa - a.by_address().data() == fb - b.by_address().data());
    }
}

Bytes file_bytes(const std::string& path) {
    return read_whole_file(path, 1ull << 30);
}

void put_bytes(const std::string& path, const Bytes& b) {
    std::filesystem::remove(path);
    synth::write_file(path, b);
}

std::uint32_t crc(ByteSpan b) {
    return static_cast<std::uint32_t>(
        crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(b.data()), b.size()));
}

// Applies `change` to the index, then makes the checksum right again so
// that the check after it is the one exercised.
Bytes with_fixed_crc(Bytes b, const std::function<void(Bytes&)>& change) {
    change(b);
    store32(b.data() + 60, crc(ByteSpan(b).subspan(80)), ByteOrder::little);
    return b;
}

}  // namespace

TEST_CASE("an index is written on the first load and gives the same table on the next") {
    for (const char* arch : {"amd64", "i386"}) {
        CAPTURE(arch);
        KernelFile k(arch);
        const IndexedNamelist first = load_namelist(k.path, k.options);
        CHECK_FALSE(first.from_index);
        CHECK(first.index == k.index);
        CHECK(first.rebuilt_because.empty());
        REQUIRE(std::filesystem::exists(k.index));

        const IndexedNamelist second = load_namelist(k.path, k.options);
        CHECK(second.from_index);
        CHECK(second.index == k.index);
        check_same(first.namelist->symbols(), second.namelist->symbols());
        // Duplicated local names resolve as the ELF load did.
        CHECK(second.namelist->symbols().find("counter") ==
              &second.namelist->symbols().by_address()[0] +
                  (first.namelist->symbols().find("counter") - first.namelist->symbols().by_address().data()));
        // Initial values still come from the kernel file.
        CHECK(second.namelist->initial_value("_dumpmag", 4) == first.namelist->initial_value("_dumpmag", 4));
        CHECK(second.namelist->path() == k.path);

        // The file is exactly header + records + names.
        std::uint64_t names = 0;
        for (const Symbol& s : first.namelist->symbols().by_address())
            names += s.name.size();
        CHECK(std::filesystem::file_size(k.index) == 80 + 28 * first.namelist->symbols().size() + names);
        CHECK(std::string(as_chars(ByteSpan(file_bytes(k.index)).first(8))) == "KVMSYMIX");
    }
}

TEST_CASE("a changed kernel makes the index stale, and it is rebuilt") {
    KernelFile k;
    load_namelist(k.path, k.options);
    const FileIdentity before = identify_file(k.path);
    CHECK(read_symbol_index(k.index, before).has_value());

    // Same size, another modification time.
    const timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 5}, {.tv_sec = 1000000000, .tv_nsec = 5}};
    REQUIRE(::utimensat(AT_FDCWD, k.path.c_str(), times, 0) == 0);
    const FileIdentity after = identify_file(k.path);
    CHECK(after.mtime_sec == 1000000000);
    CHECK(after.mtime_nsec == 5);
    CHECK_FALSE(read_symbol_index(k.index, after).has_value());

    const IndexedNamelist rebuilt = load_namelist(k.path, k.options);
    CHECK_FALSE(rebuilt.from_index);
    CHECK(rebuilt.rebuilt_because == k.index + ": stale");
    CHECK(rebuilt.index == k.index);
    CHECK(load_namelist(k.path, k.options).from_index);

    // Another kernel of another size in its place.
    synth::CrashedMachine other({.extra_functions = 3});
    put_bytes(k.path, other.kernel_elf());
    const IndexedNamelist replaced = load_namelist(k.path, k.options);
    CHECK_FALSE(replaced.from_index);
    CHECK(replaced.namelist->symbols().find("fn_000003") == nullptr);
    CHECK(replaced.namelist->symbols().find("fn_000002") != nullptr);
}

TEST_CASE("every damaged index is rejected with a message and rebuilt") {
    KernelFile k;
    const IndexedNamelist loaded = load_namelist(k.path, k.options);
    const auto syms = loaded.namelist->symbols().by_address();
    const Bytes good = file_bytes(k.index);
    const FileIdentity id = identify_file(k.path);
    const std::uint32_t count = load32(good.data() + 56, ByteOrder::little);
    const std::uint64_t names = load64(good.data() + 64, ByteOrder::little);
    const std::string p = k.index + ": symbol index: ";

    struct Case {
        const char* what;
        Bytes bytes;
        std::string message;
    };
    const std::vector<Case> cases{
        {"empty", {}, p + "0 bytes, shorter than the 80-byte header"},
        {"header cut short", Bytes(good.begin(), good.begin() + 79), p + "79 bytes, shorter than the 80-byte header"},
        {"magic", with_fixed_crc(good, [](Bytes& b) { b[0] = std::byte{'X'}; }),
         k.index + ": not a kvmkit symbol index (no KVMSYMIX magic)"},
        {"version", with_fixed_crc(good, [](Bytes& b) { store32(b.data() + 8, 2, ByteOrder::little); }),
         p + "version 2, not 1"},
        {"header size", with_fixed_crc(good, [](Bytes& b) { store32(b.data() + 12, 96, ByteOrder::little); }),
         p + "header size 96, not 80"},
        {"records cut short", Bytes(good.begin(), good.end() - 1),
         p + fmt::format("{} symbols and {:#x} name bytes need a file of {:#x} bytes, but it has {:#x}", count, names,
                         good.size(), good.size() - 1)},
        {"huge count", with_fixed_crc(good, [](Bytes& b) { store32(b.data() + 56, 0xffffffff, ByteOrder::little); }),
         p + "4294967295 symbols, more than the 16777216 a kernel may have"},
        {"huge names", with_fixed_crc(good, [](Bytes& b) { store64(b.data() + 64, ~0ull, ByteOrder::little); }),
         p + fmt::format("0xffffffffffffffff name bytes for {} symbols", count)},
        {"flipped byte",
         [&] {
             Bytes b = good;
             b[80 + 3] ^= std::byte{0x40};
             return b;
         }(),
         p + "checksum mismatch (a damaged or partly written file)"},
        {"name outside",
         with_fixed_crc(
             good,
             [&](Bytes& b) { store32(b.data() + 80 + 16, static_cast<std::uint32_t>(names), ByteOrder::little); }),
         p + fmt::format("symbol 0: name at {:#x}, length {:#x} is outside the {:#x} name bytes", names,
                         load32(good.data() + 80 + 20, ByteOrder::little), names)},
        {"name length wraps",
         with_fixed_crc(good,
                        [&](Bytes& b) {
                            store32(b.data() + 80 + 16, 1, ByteOrder::little);
                            store32(b.data() + 80 + 20, 0xffffffff, ByteOrder::little);
                        }),
         p + fmt::format("symbol 0: name at 0x1, length 0xffffffff is outside the {:#x} name bytes", names)},
        {"letter", with_fixed_crc(good, [](Bytes& b) { b[80 + 24] = std::byte{0}; }),
         p + "symbol 0: type 0x0 is not an nm letter"},
        {"flags", with_fixed_crc(good, [](Bytes& b) { b[80 + 27] = std::byte{0x80}; }),
         p + "symbol 0: unknown flags 0x80"},
        {"order", with_fixed_crc(good, [](Bytes& b) { store64(b.data() + 80 + 28, ~0ull, ByteOrder::little); }),
         p + fmt::format("symbol 2 ({}) is out of address order", syms[2].name)},
        {"choices",
         with_fixed_crc(good,
                        [&](Bytes& b) {
                            for (std::uint32_t i = 0; i < count; ++i)
                                b[80 + 28 * i + 27] = std::byte{0};
                        }),
         p + fmt::format("no symbol is chosen for the name {}", syms[0].name)},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        put_bytes(k.index, c.bytes);
        CHECK(error_of([&] { read_symbol_index(k.index, id); }) == c.message);
        const IndexedNamelist again = load_namelist(k.path, k.options);
        CHECK_FALSE(again.from_index);
        CHECK(again.rebuilt_because == c.message);
        CHECK(file_bytes(k.index) == good);  // rebuilt in place
    }
    // Kinds: a foreign file is "format", a damaged one "corrupt".
    put_bytes(k.index, cases[2].bytes);
    CHECK(kvm::test::kind_of([&] { read_symbol_index(k.index, id); }) == ErrorKind::format);
    put_bytes(k.index, cases[8].bytes);
    CHECK(kvm::test::kind_of([&] { read_symbol_index(k.index, id); }) == ErrorKind::corrupt);
}

TEST_CASE("an index that cannot sit beside the kernel goes to the cache directory") {
    KernelFile k;
    // A directory where the index would go: nothing can be renamed onto it.
    std::filesystem::create_directory(k.index);
    const IndexedNamelist first = load_namelist(k.path, k.options);
    CHECK_FALSE(first.from_index);
    CHECK(first.rebuilt_because == k.index + ": symbol index: not a regular file");
    const std::string cached = cached_symbol_index_path(k.path, k.options);
    CHECK(first.index == cached);
    CHECK(cached.rfind(k.dir / "cache/netbsd-", 0) == 0);
    CHECK(cached.size() == (k.dir / "cache/netbsd-").size() + 16 + 7);
    CHECK((std::filesystem::status(k.dir / "cache").permissions() & std::filesystem::perms::all) ==
          std::filesystem::perms::owner_all);
    // No temporary files are left behind.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(k.dir.path()))
        ++entries;
    CHECK(entries == 3);  // netbsd, netbsd.symidx/, cache/

    const IndexedNamelist second = load_namelist(k.path, k.options);
    CHECK(second.from_index);
    CHECK(second.index == cached);

    // The default cache directory follows XDG_CACHE_HOME, then HOME.
    const char* saved_xdg = std::getenv("XDG_CACHE_HOME");
    const std::string xdg = saved_xdg != nullptr ? saved_xdg : "";
    ::setenv("XDG_CACHE_HOME", "/var/cache/someone", 1);
    const std::string in_xdg = cached_symbol_index_path("/netbsd", {});
    CHECK(in_xdg.rfind("/var/cache/someone/kvmkit/netbsd-", 0) == 0);
    CHECK(in_xdg.size() == std::string_view("/var/cache/someone/kvmkit/netbsd-").size() + 16 + 7);
    CHECK(in_xdg == cached_symbol_index_path("/./netbsd", {}));  // one index per file, however named
    ::unsetenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    if (home != nullptr && home[0] == '/')
        CHECK(cached_symbol_index_path("/netbsd", {}).rfind(std::string(home) + "/.cache/kvmkit/netbsd-", 0) == 0);
    if (saved_xdg != nullptr) ::setenv("XDG_CACHE_HOME", xdg.c_str(), 1);
}

TEST_CASE("an index is not followed through a symbolic link, nor believed from a stranger") {
    KernelFile k;
    const std::string target = k.dir / "precious";
    synth::write_file(target, to_bytes("do not overwrite"));
    std::filesystem::create_symlink(target, k.index);
    const IndexedNamelist first = load_namelist(k.path, k.options);
    CHECK_FALSE(first.from_index);
    CHECK(first.rebuilt_because == k.index + ": opening the symbol index: Too many levels of symbolic links");
    CHECK(as_chars(file_bytes(target)) == "do not overwrite");
    CHECK(std::filesystem::is_regular_file(std::filesystem::symlink_status(k.index)));
    CHECK(load_namelist(k.path, k.options).from_index);

    // Owned by someone who is neither the caller, root nor the kernel's owner.
    if (::geteuid() == 0) {
        REQUIRE(::chown(k.index.c_str(), 4321, 4321) == 0);
        const IndexedNamelist strange = load_namelist(k.path, k.options);
        CHECK_FALSE(strange.from_index);
        CHECK(strange.rebuilt_because ==
              k.index + ": symbol index: owned by uid 4321, who is neither you, root nor the kernel's owner");
        // The kernel's owner is believed.
        REQUIRE(::chown(k.path.c_str(), 4321, 4321) == 0);
        REQUIRE(::chown(k.index.c_str(), 4321, 4321) == 0);
        CHECK(load_namelist(k.path, k.options).from_index);
    }
}

TEST_CASE("the index keeps the kernel's permissions; disabled or non-ELF namelists have none") {
    KernelFile k;
    REQUIRE(::chmod(k.path.c_str(), 0600) == 0);
    load_namelist(k.path, k.options);
    struct stat st {};
    REQUIRE(::stat(k.index.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    KernelFile quiet;
    const IndexedNamelist plain = load_namelist(quiet.path, {.enabled = false});
    CHECK(plain.index.empty());
    CHECK_FALSE(std::filesystem::exists(quiet.index));
    CHECK(plain.namelist->symbols().find("main") != nullptr);

    // Whatever Namelist::load makes of a file that is not ELF, it gets no index.
    const std::string other = quiet.dir / "other";
    const char junk[] = "\x00\x01 not a namelist\n";
    synth::write_file(other, to_bytes(std::string_view(junk, sizeof junk - 1)));
    CHECK_THROWS_AS(load_namelist(other, quiet.options), Error);
    CHECK_FALSE(std::filesystem::exists(other + ".symidx"));
}
