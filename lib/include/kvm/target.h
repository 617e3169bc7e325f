// What the BSD-style tools look at: the kernel named by -N system and the
// dump named by -M core, or, when they are left out, the running host's
// kernel, as kvm_open(3) does with a NULL namelist or core.
//
//   -N  -M   namelist                    memory
//   no  no   the host's (/proc/kallsyms)  the host's (/proc/kcore), when needed
//   yes no   -N                          the host's, when needed
//   no  yes  none (addresses only)       -M
//   yes yes  -N                          -M
//
// The live paths are chosen here, not in the tools, so that every tool
// agrees on them and a new host kind is one change.
#pragma once

#include <kvm/kernel.h>
#include <kvm/namelist.h>
#include <kvm/symbol_index.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kvm {

// The running host's kernel: on Linux /proc/kallsyms and /proc/kcore;
// nullopt on hosts where kvmkit knows no such files.
struct LiveHost {
    std::string namelist;
    std::string memory;
};
std::optional<LiveHost> live_host();

struct TargetOptions {
    std::string namelist;                 // -N; empty: see the table above
    std::string core;                     // -M; empty: see the table above
    std::vector<std::string> core_parts;  // more -M: a split dump's other files
    bool zero_excluded = false;           // see OpenOptions
    std::function<void(const std::string&)> warn;
    std::optional<std::uint64_t> dumplo_blocks;  // a raw dump on a swap device
    bool need_memory = true;                     // false: open no memory unless -M names some
    bool need_namelist = false;                  // true: fail when there is no namelist
    SymbolIndexOptions index;                    // how the namelist is loaded
    DecompressOptions decompress;                // how a compressed dump is read (kvm/compress.h)
};

struct Target {
    std::shared_ptr<const Namelist> namelist;  // null: no namelist
    std::unique_ptr<Kernel> kernel;            // null: no memory was asked for
    bool live = false;                         // the memory is the running host's
};

// The files of -M given once or more: the first names the dump, the
// others are the rest of a split dump (makedumpfile --split).
struct CoreFiles {
    std::string core;
    std::vector<std::string> parts;
};
CoreFiles core_files(const std::vector<std::string>& m_files);

// Opens what `options` names.  Errors name the file; the live host's
// memory gives one of:
//   "no dump given (-M), and this host has no live kernel memory kvmkit can read"
//   "/proc/kcore: not present on this host (a kernel without CONFIG_PROC_KCORE, or /proc not
//    mounted); name a dump with -M"
//   "/proc/kcore: Permission denied: reading the running kernel's memory needs root"
Target open_target(const TargetOptions& options);

// The memory check open_target makes, for a given path (tests).
void check_live_memory(const std::string& path);

// What a tool named `tool` says while it opens a compressed dump: notices
// on stderr as "tool: message", and while an index is built or a stream
// decompressed, a progress line on stderr when it is a terminal.
DecompressOptions tool_decompress_options(std::string tool);

}  // namespace kvm
