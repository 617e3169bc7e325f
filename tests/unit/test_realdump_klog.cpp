// The kernel log of the real Linux vmcores (REALDUMP_DIR; see
// tests/realdump/README.md) against the guest's own dmesg (truth/dmesg.txt):
// every format, with and without a namelist; the bytes the reader takes the
// syslog level from, against the kernel's BTF; and a descriptor damaged in
// the real ring.
#include <kvm/btf.h>
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kernel.h>
#include <kvm/linux.h>
#include <kvm/msgbuf.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "realdump_fixture.h"

#include <algorithm>

using namespace kvm;

namespace {

using kvmtest::DamagedSource;
using kvmtest::realdump_dir;
using kvmtest::slurp;

std::size_t lines(std::string_view s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

TEST_CASE("real dump: kvmdmesg's log is the guest's dmesg, in every format, with or without a namelist") {
    const auto dir = realdump_dir();
    if (!dir) return;
    // truth/dmesg.txt is busybox dmesg in the guest: the kernel's syslog
    // format (every line of a record prefixed) without the <N> tags.  It was
    // taken a moment before the dump, so the dump's log may have grown
    // since: truth is a prefix of it, ending at a record boundary.
    const std::string truth = slurp(*dir + "/truth/dmesg.txt");
    REQUIRE(lines(truth) >= 100);
    const std::string version = slurp(*dir + "/truth/version.txt");
    for (const char* core : {"vmcore.elf", "vmcore.kdump", "vmcore.kdump-flat"})
        for (const std::string namelist : {"", "System.map"}) {
            CAPTURE(core);
            CAPTURE(namelist);
            const auto kernel =
                Kernel::open({.namelist = namelist.empty() ? "" : *dir + "/" + namelist, .core = *dir + "/" + core});
            std::vector<std::string> warnings;
            const KernelLog log = read_kernel_log(*kernel, [&](const Error& e) { warnings.emplace_back(e.what()); });
            CHECK(warnings.empty());
            // (at a kernel address: 0xffff... on amd64 and arm64, 0xc... on i386)
            CHECK(log.source.starts_with(kvmtest::realdump_arch(*dir) == "i386"
                                             ? "printk ring buffer (prb) at 0xc"
                                             : "printk ring buffer (prb) at 0xffff"));
            const std::string text = format_log(log);
            REQUIRE(text.size() >= truth.size());
            CHECK(text.compare(0, truth.size(), truth) == 0);
            if (text.size() > truth.size())
                MESSAGE(core << ": the log grew by " << lines(text) - lines(truth) << " lines after the guest's dmesg");
            // Sequence numbers from 0, no gaps; the banner first, at KERN_NOTICE.
            REQUIRE_FALSE(log.records.empty());
            for (std::size_t i = 0; i < log.records.size(); ++i)
                REQUIRE(log.records[i].sequence == i);
            // (arm64 says "Booting Linux on physical CPU 0x..." first.)
            const std::size_t banner = kvmtest::realdump_arch(*dir) == "arm64" ? 1 : 0;
            CHECK(log.records[banner].text + "\n" == version);
            CHECK(log.records[banner].level == 5);
            CHECK(log.records[banner].facility == 0);
            CHECK(log.records[banner].caller_id == 0);  // printed by the boot CPU's idle task, pid 0
        }
}

TEST_CASE("real dump: the syslog level and facility are where the kernel's own BTF puts them") {
    const auto dir = realdump_dir();
    if (!dir) return;
    // VMCOREINFO gives printk_info's caller_id, not facility or level; the
    // reader takes them from the two bytes before caller_id.  The guest's
    // BTF (truth/btf.vmlinux) says where they are.  (686-pae has none.)
    if (slurp(*dir + "/truth/btf.txt") == "absent\n") return;
    const std::string blob = slurp(*dir + "/truth/btf.vmlinux");
    const btf::Types types(ByteSpan(reinterpret_cast<const std::byte*>(blob.data()), blob.size()), "btf.vmlinux");
    LayoutRequest request;
    request.structs = {
        {"printk_info", {{"text_len", ""}, {"facility", ""}, {"flags", ""}, {"level", ""}, {"caller_id", ""}}}};
    const StructLayouts layouts = types.layouts(request);
    const StructLayout& info = layouts.get("printk_info");
    const auto vmcoreinfo = linux_kernel::VmcoreInfo::parse(slurp(*dir + "/truth/vmcoreinfo.txt"));
    const auto caller_id = static_cast<std::uint64_t>(vmcoreinfo.offset("printk_info.caller_id").value());
    CHECK(info.member("caller_id").offset == caller_id);
    CHECK(info.member("facility").offset == caller_id - 2);
    CHECK(info.member("facility").size == 1);
    const MemberLayout& level = info.member("level");
    CHECK(level.bit_size == 3);
    CHECK(level.bit_offset == (caller_id - 1) * 8 + 5);
    CHECK(info.member("flags").bit_offset == (caller_id - 1) * 8);
    CHECK(info.member("text_len").offset + 4 == caller_id);
}

TEST_CASE("real dump: a descriptor damaged in the real ring is skipped with a warning, the rest printed") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const auto file = open_file(*dir + "/vmcore.elf");
    const Kernel clean(open_format(file), nullptr);
    const KernelLog whole = read_kernel_log(clean, [](const Error& e) { FAIL(e.what()); });
    REQUIRE(whole.records.size() > 100);

    // Where record 100's descriptor is, from VMCOREINFO as the reader finds it.
    const auto info = linux_kernel::VmcoreInfo::parse(slurp(*dir + "/truth/vmcoreinfo.txt"));
    const auto off = [&](const char* name) { return static_cast<std::uint64_t>(info.offset(name).value()); };
    const std::uint64_t rb = clean.read_pointer(info.symbol("prb").value());
    const std::uint64_t desc_ring = rb + off("printk_ringbuffer.desc_ring");
    const std::uint64_t count = std::uint64_t{1} << clean.read_uint(desc_ring + off("prb_desc_ring.count_bits"), 4);
    const std::uint64_t descs = clean.read_pointer(desc_ring + off("prb_desc_ring.descs"));
    const std::uint64_t va = descs + (100 & (count - 1)) * static_cast<std::uint64_t>(info.size("prb_desc").value()) +
                             off("prb_desc.state_var");
    // state_var is an atomic_long_t; its two top bits are the state.
    const unsigned width = clean.arch().pointer_size;
    const std::uint64_t state_var = clean.read_uint(va, width);
    const std::uint64_t id = state_var & ((std::uint64_t{1} << (width * 8 - 2)) - 1);
    const auto offset = clean.format().phys_to_offset(clean.translate(va).pa);
    REQUIRE(offset);

    // The slot claims a descriptor one lap of the ring later.
    auto damaged = std::make_shared<DamagedSource>(file, file->size());
    damaged->patch(*offset, state_var + count, width);
    const Kernel k(open_format(damaged), nullptr);
    std::vector<std::string> warnings;
    const KernelLog log = read_kernel_log(k, [&](const Error& e) { warnings.emplace_back(e.what()); });
    // The id one lap on, in the id's own bits: i386's 30-bit ids start
    // near their top and wrap there (0x3ffff064 then 0x64).
    const std::uint64_t id_mask = (std::uint64_t{1} << (width * 8 - 2)) - 1;
    CHECK(warnings ==
          std::vector<std::string>{fmt::format(
              "printk descriptor {:#x}: slot {} holds descriptor {:#x} instead: the ring's ids lie; skipped", id,
              100 & (count - 1), (id + count) & id_mask)});
    KernelLog expected = whole;
    expected.records.erase(expected.records.begin() + 100);
    CHECK(format_log(log) == format_log(expected));
}
