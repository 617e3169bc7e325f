// The probe functions of the Linux-side formats, for the format table
// (format.cpp).
#pragma once

#include <kvm/format.h>

#include <memory>
#include <string>

namespace kvm::detail {

// ELF cores: QEMU dump-guest-memory, kdump's /proc/vmcore copies, /proc/kcore.
// `name` overrides the format name ("elf-vmcore" or "linux-kcore").
std::unique_ptr<Format> probe_elf_core(std::shared_ptr<ByteSource> source, const ProbeOptions& options);
std::unique_ptr<Format> open_elf_core(std::shared_ptr<ByteSource> source, std::string name);

}  // namespace kvm::detail
