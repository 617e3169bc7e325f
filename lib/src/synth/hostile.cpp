// Inputs built to make a reader slow or greedy: what the tests and benchmarks
// of issue 11 feed the readers to show that their work stays bounded.
#include <kvm/error.h>
#include <kvm/synth.h>

#include <fmt/format.h>

#include <algorithm>

namespace kvm::synth {

void write_hostile_device(Sink& out, const ArchInfo& arch, std::uint64_t size, std::uint64_t cpu_segment) {
    const netbsd::CpuHeaderCodec* codec = netbsd::find_cpu_codec(arch.netbsd_mid);
    if (codec == nullptr) throw Error(ErrorKind::usage, fmt::format("no NetBSD dump header for {}", arch.name));
    const std::uint64_t seg_header = kcore_align(arch, netbsd::kcore_seg_size);
    const std::uint64_t table = seg_header + kcore_align(arch, codec->size);
    if (size % netbsd::dev_bsize != 0 || (cpu_segment + seg_header) % netbsd::dev_bsize != 0 ||
        cpu_segment + seg_header <= table || cpu_segment > (std::uint64_t{16} << 20) - seg_header)
        throw Error(ErrorKind::usage,
                    fmt::format("a hostile device of {:#x} bytes with {:#x}-byte cpu segments", size, cpu_segment));
    // As many page-sized segments as fill the cpu segment: the header the
    // kernel would write for them, of which each block repeats the first 512
    // bytes.
    const std::uint64_t count = (cpu_segment + seg_header - table) / netbsd::ram_seg_size;
    netbsd::CpuHeader cpu{.pt_root = 0x1000, .pae = false, .ram = {}};
    cpu.ram.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i)
        cpu.ram.push_back({.start = (2 * i + 1) * arch.page_size, .size = arch.page_size});
    const Bytes header = netbsd::device_dump_header(arch, cpu);
    Bytes blocks;
    for (int i = 0; i < 2048; ++i)  // 1 MiB at a time
        blocks.insert(blocks.end(), header.begin(), header.begin() + netbsd::dev_bsize);
    for (std::uint64_t at = 0; at < size; at += blocks.size())
        out.write(ByteSpan(blocks).first(std::min<std::uint64_t>(blocks.size(), size - at)));
}

}  // namespace kvm::synth
