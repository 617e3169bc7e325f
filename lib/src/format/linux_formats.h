// The probe functions of the Linux-side formats, for the format table
// (format.cpp) and the flattened wrapper, which runs the others on the file
// it reassembles.
#pragma once

#include <kvm/arch.h>
#include <kvm/elf.h>
#include <kvm/format.h>

#include <memory>
#include <span>
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

// The arch whose NT_PRSTATUS is as long as the first CORE NT_PRSTATUS note
// among `notes` (each arch's struct elf_prstatus has its own size), of those
// with `pointer_size`-byte pointers; nullptr when no note or no arch fits.
// For a dump that does not name its machine: QEMU's kdump header says
// "Unknown" for every guest but x86 (linux.cpp).
const ArchInfo* arch_of_prstatus(std::span<const elf::Note> notes, unsigned pointer_size);

}  // namespace kvm::detail
