// The symbol index file (kvm/symbol_index.h).
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/symbol_index.h>

#include "io/unique_fd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>
#include <vector>

namespace kvm {
namespace {

constexpr std::string_view magic = "KVMSYMIX";
constexpr std::size_t header_size = 80;
constexpr std::size_t record_size = 28;
constexpr std::uint8_t flag_chosen = 0x1;
// Names of a kernel's symbols average well under 64 bytes; an index with
// more name bytes than this per symbol is not one we wrote.
constexpr std::uint64_t max_name_bytes_per_symbol = 4096;

std::uint32_t crc_of(ByteSpan data) {
    uLong crc = crc32_z(0L, Z_NULL, 0);
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size());
    return static_cast<std::uint32_t>(crc);
}

FileIdentity identity_of(const struct stat& st) {
    return {.size = static_cast<std::uint64_t>(st.st_size),
            .mtime_sec = static_cast<std::int64_t>(st.st_mtim.tv_sec),
            .mtime_nsec = static_cast<std::uint32_t>(st.st_mtim.tv_nsec),
            .inode = static_cast<std::uint64_t>(st.st_ino),
            .device = static_cast<std::uint64_t>(st.st_dev)};
}

using Fd = detail::UniqueFd;

Error corrupt(const std::string& path, const std::string& what) {
    Error e(ErrorKind::corrupt, fmt::format("symbol index: {}", what));
    e.with_path(path);
    return e;
}

// Reads an index from an open descriptor; `trusted` (when not null) lists
// the owners whose index files are believed.
std::optional<SymbolTable> read_index(const std::string& path, const FileIdentity& kernel,
                                      const std::vector<uid_t>* trusted) {
    // O_NONBLOCK: a FIFO planted as the index must not stop the tool.
    const Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0) throw_os("opening the symbol index", errno, path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_os("stat", errno, path);
    if (!S_ISREG(st.st_mode)) throw corrupt(path, "not a regular file");
    if (trusted != nullptr && std::find(trusted->begin(), trusted->end(), st.st_uid) == trusted->end())
        throw corrupt(path, fmt::format("owned by uid {}, who is neither you, root nor the kernel's owner", st.st_uid));
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (file_size < header_size)
        throw corrupt(path, fmt::format("{} bytes, shorter than the {}-byte header", file_size, header_size));

    // The header first: a stale index is not read any further.
    Bytes header(header_size);
    if (::pread(fd.get(), header.data(), header_size, 0) != static_cast<ssize_t>(header_size))
        throw_os("reading the symbol index header", errno, path);
    Decoder h(header, ByteOrder::little, "symbol index header");
    if (as_chars(h.bytes(magic.size())) != magic) {
        Error e(ErrorKind::format, "not a kvmkit symbol index (no KVMSYMIX magic)");
        e.with_path(path);
        throw e;
    }
    const std::uint32_t version = h.u32();
    if (version != symbol_index_version)
        throw corrupt(path, fmt::format("version {}, not {}", version, symbol_index_version));
    const std::uint32_t declared_header = h.u32();
    if (declared_header != header_size)
        throw corrupt(path, fmt::format("header size {}, not {}", declared_header, header_size));
    FileIdentity built_from;
    built_from.size = h.u64();
    built_from.mtime_sec = static_cast<std::int64_t>(h.u64());
    built_from.mtime_nsec = h.u32();
    h.skip(4);
    built_from.inode = h.u64();
    built_from.device = h.u64();
    if (built_from != kernel) return std::nullopt;
    const std::uint32_t count = h.u32();
    const std::uint32_t crc = h.u32();
    const std::uint64_t name_bytes = h.u64();

    if (count > elf::max_symbols)
        throw corrupt(path, fmt::format("{} symbols, more than the {} a kernel may have", count, elf::max_symbols));
    if (name_bytes > std::uint64_t{count} * max_name_bytes_per_symbol)
        throw corrupt(path, fmt::format("{:#x} name bytes for {} symbols", name_bytes, count));
    const std::uint64_t records_bytes = std::uint64_t{count} * record_size;
    const std::uint64_t expected = header_size + records_bytes + name_bytes;
    if (expected != file_size)
        throw corrupt(path, fmt::format("{} symbols and {:#x} name bytes need a file of {:#x} bytes, but it has {:#x}",
                                        count, name_bytes, expected, file_size));

    Bytes body(static_cast<std::size_t>(records_bytes + name_bytes));
    std::size_t done = 0;
    while (done < body.size()) {
        const ssize_t n =
            ::pread(fd.get(), body.data() + done, body.size() - done, static_cast<off_t>(header_size + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_os("reading the symbol index", errno, path);
        if (n == 0) throw corrupt(path, fmt::format("the file ends at {:#x} while it is read", header_size + done));
        done += static_cast<std::size_t>(n);
    }
    if (crc_of(body) != crc) throw corrupt(path, "checksum mismatch (a damaged or partly written file)");

    const ByteSpan names = ByteSpan(body).subspan(static_cast<std::size_t>(records_bytes));
    Decoder d(ByteSpan(body).first(static_cast<std::size_t>(records_bytes)), ByteOrder::little, "symbol records");
    SymbolTable::Indexed indexed;
    indexed.symbols.resize(count);
    indexed.chosen.resize(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        Symbol& s = indexed.symbols[i];
        s.value = d.u64();
        s.size = d.u64();
        const std::uint32_t name_offset = d.u32();
        const std::uint32_t name_length = d.u32();
        s.type = static_cast<char>(d.u8());
        s.elf_type = d.u8();
        s.elf_binding = d.u8();
        const std::uint8_t flags = d.u8();
        if (name_offset > names.size() || name_length > names.size() - name_offset)
            throw corrupt(path, fmt::format("symbol {}: name at {:#x}, length {:#x} is outside the {:#x} name bytes", i,
                                            name_offset, name_length, names.size()));
        if (s.type < 0x21 || s.type > 0x7e)
            throw corrupt(path, fmt::format("symbol {}: type {:#x} is not an nm letter", i,
                                            static_cast<unsigned>(static_cast<unsigned char>(s.type))));
        if ((flags & ~flag_chosen) != 0) throw corrupt(path, fmt::format("symbol {}: unknown flags {:#x}", i, flags));
        s.name = std::string(as_chars(names.subspan(name_offset, name_length)));
        indexed.chosen[i] = (flags & flag_chosen) != 0;
    }
    try {
        return SymbolTable(std::move(indexed));
    } catch (Error& e) {
        e.with_path(path);
        throw;
    }
}

std::string hex16(std::uint64_t v) {
    return fmt::format("{:016x}", v);
}

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : s)
        h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return h;
}

bool is_elf_file(const std::string& path) {
    try {
        return elf::is_elf(*open_file(path));
    } catch (const Error&) {
        return false;  // Namelist::load reports it
    }
}

}  // namespace

FileIdentity identify_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw_os("stat", errno, path);
    return identity_of(st);
}

void write_symbol_index(const std::string& path, const SymbolTable& table, const FileIdentity& kernel, unsigned mode) {
    const auto symbols = table.by_address();
    if (symbols.size() > elf::max_symbols)
        throw Error(ErrorKind::usage, fmt::format("{} symbols are more than an index holds", symbols.size()));
    Encoder records(ByteOrder::little);
    std::string names;
    for (const Symbol& s : symbols) {
        if (names.size() > std::numeric_limits<std::uint32_t>::max() - s.name.size())
            throw Error(ErrorKind::usage, "the symbol names are too long for an index");
        records.u64(s.value).u64(s.size);
        records.u32(static_cast<std::uint32_t>(names.size())).u32(static_cast<std::uint32_t>(s.name.size()));
        records.u8(static_cast<std::uint8_t>(s.type)).u8(s.elf_type).u8(s.elf_binding);
        records.u8(!s.name.empty() && table.find(s.name) == &s ? flag_chosen : 0);
        names += s.name;
    }
    Bytes body = records.take();
    const ByteSpan name_bytes(reinterpret_cast<const std::byte*>(names.data()), names.size());
    body.insert(body.end(), name_bytes.begin(), name_bytes.end());

    Encoder header(ByteOrder::little);
    header.string(magic).u32(symbol_index_version).u32(header_size);
    header.u64(kernel.size).u64(static_cast<std::uint64_t>(kernel.mtime_sec)).u32(kernel.mtime_nsec).u32(0);
    header.u64(kernel.inode).u64(kernel.device);
    header.u32(static_cast<std::uint32_t>(symbols.size())).u32(crc_of(body)).u64(names.size()).u64(0);

    std::string temp = path + ".XXXXXX";
    Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (fd.get() < 0) throw_os("creating the symbol index", errno, path);
    const auto discard = [&](const char* what, int err) {
        ::unlink(temp.c_str());
        throw_os(what, err, path);
    };
    if (::fchmod(fd.get(), mode & 0666) != 0) discard("setting the symbol index's mode", errno);
    for (const ByteSpan part : {ByteSpan(header.data()), ByteSpan(body)}) {
        std::size_t done = 0;
        while (done < part.size()) {
            const ssize_t n = ::write(fd.get(), part.data() + done, part.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) discard("writing the symbol index", errno);
            done += static_cast<std::size_t>(n);
        }
    }
    // No fsync: every reader checks the size and checksum, so a file cut
    // short by a crash is rebuilt rather than believed.
    if (::close(fd.release()) != 0) discard("writing the symbol index", errno);
    if (::rename(temp.c_str(), path.c_str()) != 0) discard("renaming the symbol index into place", errno);
}

std::optional<SymbolTable> read_symbol_index(const std::string& path, const FileIdentity& kernel) {
    return read_index(path, kernel, nullptr);
}

std::string symbol_index_path(const std::string& kernel) {
    return kernel + ".symidx";
}

std::string cached_symbol_index_path(const std::string& kernel, const SymbolIndexOptions& options) {
    std::string dir = options.cache_dir;
    if (dir.empty()) {
        if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
            dir = std::string(xdg) + "/kvmkit";
        } else if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
            dir = std::string(home) + "/.cache/kvmkit";
        } else {
            return {};
        }
    }
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(kernel, ec);
    const std::string key = ec ? kernel : absolute.lexically_normal().string();
    return fmt::format("{}/{}-{}.symidx", dir, std::filesystem::path(kernel).filename().string(), hex16(fnv1a(key)));
}

IndexedNamelist load_namelist(const std::string& path, const SymbolIndexOptions& options) {
    IndexedNamelist result;
    struct stat st {};
    // Only an ELF kernel in a regular file has an identity worth caching
    // under; anything else (a device, /proc/kallsyms, a System.map) loads
    // as it is.
    if (!options.enabled || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !is_elf_file(path)) {
        result.namelist = Namelist::load(path);
        return result;
    }
    const FileIdentity kernel = identity_of(st);
    const std::vector<uid_t> trusted{::geteuid(), 0, st.st_uid};
    std::vector<std::string> candidates{symbol_index_path(path)};
    if (std::string cached = cached_symbol_index_path(path, options); !cached.empty())
        candidates.push_back(std::move(cached));

    for (const std::string& index : candidates) {
        struct stat index_st {};
        if (::lstat(index.c_str(), &index_st) != 0 && errno == ENOENT) continue;  // the normal first run
        try {
            std::optional<SymbolTable> table = read_index(index, kernel, &trusted);
            if (!table) {
                result.rebuilt_because = fmt::format("{}: stale", index);
                continue;
            }
            auto elf_file = std::make_shared<elf::File>(open_file(path));
            result.namelist = std::make_shared<Namelist>(path, std::move(*table), std::move(elf_file));
            result.index = index;
            result.from_index = true;
            return result;
        } catch (const Error& e) {
            result.rebuilt_because = e.what();
        }
    }

    result.namelist = Namelist::load(path);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const std::string& index = candidates[i];
        try {
            if (i != 0) {
                // The cache directory is private: indexes name kernel addresses.
                const std::filesystem::path dir = std::filesystem::path(index).parent_path();
                if (std::filesystem::create_directories(dir))
                    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
            }
            write_symbol_index(index, result.namelist->symbols(), kernel, st.st_mode);
            result.index = index;
            break;
        } catch (const Error&) {
            continue;  // not writable here: try the next place, or go without
        } catch (const std::filesystem::filesystem_error&) {
            continue;
        }
    }
    return result;
}

}  // namespace kvm
