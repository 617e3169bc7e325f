// The probe functions of the Linux-side formats, for the format table
// (format.cpp) and the flattened wrapper, which runs the others on the file
// it reassembles.
#pragma once

#include <kvm/format.h>

#include <memory>
#include <string>

namespace kvm::detail {

// ELF cores: QEMU dump-guest-memory, kdump's /proc/vmcore copies, /proc/kcore.
// `name` overrides the format name ("elf-vmcore" or "linux-kcore").
std::unique_ptr<Format> probe_elf_core(std::shared_ptr<ByteSource> source, const ProbeOptions& options);
std::unique_ptr<Format> open_elf_core(std::shared_ptr<ByteSource> source, std::string name);

// kdump-compressed (diskdump) files.
std::unique_ptr<Format> probe_kdump(std::shared_ptr<ByteSource> source, const ProbeOptions& options);
std::unique_ptr<Format> open_kdump(std::shared_ptr<ByteSource> source, std::string name, const ProbeOptions& options);

// makedumpfile's flattened format (makedumpfile -F, QEMU's kdump output),
// read in place.
std::unique_ptr<Format> probe_flattened(std::shared_ptr<ByteSource> source, const ProbeOptions& options);
// Whether `source` starts like a flattened file, and the file it
// reassembles (the files of a split dump may each be flattened).
bool is_flattened(const ByteSource& source);
std::shared_ptr<ByteSource> open_flattened_source(std::shared_ptr<ByteSource> source);

}  // namespace kvm::detail
