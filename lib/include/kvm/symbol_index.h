// The symbol index file: a kernel's symbol table, already sorted and with
// its name choices made, kept next to the kernel so that later runs of
// kvmnm and kvmdump skip parsing and sorting it.  It plays the part of
// kvm_mkdb's kvm.db, but there is one per kernel file, it is checked on
// every use and whichever tool finds it missing, stale or damaged rebuilds
// it.  Nothing in it is trusted: a file that fails any check is rebuilt,
// never followed.
//
// Format, version 1; integers little-endian; 80-byte header:
//
//   offset size
//     0     8   magic "KVMSYMIX"
//     8     4   version (1)
//    12     4   header size (80)
//    16     8   kernel file size           -- the kernel file the index
//    24     8   kernel mtime, seconds         was built from, as stat(2)
//    32     4   kernel mtime, nanoseconds     gives it: any difference
//    36     4   reserved (0)                  makes the index stale
//    40     8   kernel inode
//    48     8   kernel device
//    56     4   symbol count N (at most elf::max_symbols)
//    60     4   CRC-32 (zlib) of the N records and the names
//    64     8   name bytes S
//    72     8   reserved (0)
//    80   28*N  records in by_address() order:
//                 value u64, size u64, name offset u32, name length u32,
//                 nm letter u8, ELF type u8, ELF binding u8,
//                 flags u8 (bit 0: find() returns this symbol for its name)
//    ...    S   the names, back to back, without terminators
//
// The file is exactly 80 + 28*N + S bytes.  The version changes whenever
// the format or what the ELF loader puts in a Symbol changes.
#pragma once

#include <kvm/namelist.h>
#include <kvm/symbols.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace kvm {

inline constexpr std::uint32_t symbol_index_version = 1;

// What identifies the kernel file an index was built from.
struct FileIdentity {
    std::uint64_t size = 0;
    std::int64_t mtime_sec = 0;
    std::uint32_t mtime_nsec = 0;
    std::uint64_t inode = 0;
    std::uint64_t device = 0;
    bool operator==(const FileIdentity&) const = default;
};

// stat(2) of `path`; throws io naming the path.
FileIdentity identify_file(const std::string& path);

// Writes the index atomically: a temporary file in the same directory,
// renamed over `path`.  `mode` is the new file's permission bits.  Throws
// io (naming the path) when the directory is not writable.
void write_symbol_index(const std::string& path, const SymbolTable& table, const FileIdentity& kernel,
                        unsigned mode = 0644);

// The table an index holds, or nullopt when it was built from another
// version of the kernel file (stale).  Throws corrupt or format naming the
// path and what is wrong; io when it cannot be read.
std::optional<SymbolTable> read_symbol_index(const std::string& path, const FileIdentity& kernel);

struct SymbolIndexOptions {
    bool enabled = true;
    // Where indexes go when the kernel's directory is not writable.  Empty:
    // $XDG_CACHE_HOME/kvmkit, else $HOME/.cache/kvmkit, else nowhere.
    std::string cache_dir;
};

// "<kernel>.symidx", next to the kernel.
std::string symbol_index_path(const std::string& kernel);
// The index in the cache directory: "<dir>/<kernel's base name>-<hash of
// its absolute path>.symidx", or empty when there is no cache directory.
std::string cached_symbol_index_path(const std::string& kernel, const SymbolIndexOptions& options);

struct IndexedNamelist {
    std::shared_ptr<Namelist> namelist;
    std::string index;            // the index read or written; empty when none
    bool from_index = false;      // the table came from `index`
    std::string rebuilt_because;  // why an existing index was not used ("stale", or the error)
};

// Namelist::load, through the symbol index when the namelist is an ELF
// kernel in a regular file and `options.enabled`.  The index next to the
// kernel is preferred, then the one in the cache directory; an index that
// is owned by someone other than the caller, root or the kernel's owner is
// ignored.  When neither can be used, the kernel is loaded and the index
// written (next to the kernel, else in the cache directory, else not at
// all: a read-only kernel directory never makes a load fail).
IndexedNamelist load_namelist(const std::string& path, const SymbolIndexOptions& options = {});

}  // namespace kvm
