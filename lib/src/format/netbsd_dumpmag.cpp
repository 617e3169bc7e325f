// dumpmag: how savecore tells a live dump from one already saved.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/netbsd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace kvm::netbsd {

namespace {
// dumpmag is an int on amd64 and i386 but a u_long on some ports: trust the
// symbol size when the namelist has one.
unsigned dumpmag_width(const Symbol& sym) {
    return sym.size == 8 ? 8 : 4;
}

const Symbol& dumpmag_symbol(const Namelist& namelist) {
    const Symbol* s = namelist.symbols().lookup("_dumpmag");
    if (s == nullptr) throw_not_found(fmt::format("{}: _dumpmag not in namelist", namelist.path()));
    return *s;
}
}  // namespace

std::uint64_t read_dumpmag(const Kernel& kernel) {
    const Symbol& sym = dumpmag_symbol(kernel.namelist());
    return kernel.read_uint(sym.value, dumpmag_width(sym));
}

DumpLivenessCheck dumpmag_check(const Namelist& namelist) {
    return [&namelist](std::shared_ptr<ByteSource> src, const DumpLayout& layout) {
        try {
            const Symbol& sym = dumpmag_symbol(namelist);
            const unsigned width = dumpmag_width(sym);
            std::uint64_t expected = dumpmag_value;
            try {
                const Bytes init = namelist.initial_value("_dumpmag", width);
                expected = load_uint(init.data(), width, layout.arch->order);
            } catch (const Error&) {
                // A namelist without file data (kallsyms-like): the constant.
            }
            // A non-owning handle: the namelist outlives this check.
            const Kernel k(make_format(std::move(src), layout),
                           std::shared_ptr<const Namelist>(&namelist, [](const Namelist*) {}));
            return expected != 0 && read_dumpmag(k) == expected;
        } catch (const Error&) {
            return false;  // unreadable dumpmag: not a dump we can trust
        }
    };
}

std::optional<std::int64_t> recorded_dumplo(const std::shared_ptr<ByteSource>& src, const DumpLayout& layout,
                                            const Namelist& namelist) {
    const Symbol* sym = namelist.symbols().lookup("_dumplo");
    if (sym == nullptr) return std::nullopt;
    try {
        // A long: the symbol's size when the namelist has one.
        const unsigned width =
            sym->size == 4 || sym->size == 8 ? static_cast<unsigned>(sym->size) : layout.arch->pointer_size;
        const Kernel k(make_format(src, layout), std::shared_ptr<const Namelist>(&namelist, [](const Namelist*) {}));
        const std::uint64_t v = k.read_uint(sym->value, width);
        return width == 4 ? static_cast<std::int32_t>(v) : static_cast<std::int64_t>(v);
    } catch (const Error&) {
        return std::nullopt;
    }
}

void invalidate_dump(Kernel& kernel) {
    const Symbol& sym = dumpmag_symbol(kernel.namelist());
    const unsigned width = dumpmag_width(sym);
    const std::uint64_t offset = kernel.kva_to_offset(sym.value);
    if (kernel.kva_to_offset(sym.value + width - 1) != offset + width - 1)
        throw_corrupt(fmt::format("dumpmag at {} straddles a page that is stored elsewhere", hex(sym.value)));
    ByteSource& dev = kernel.format().source();
    const std::uint64_t sector = dev.write_granularity();
    // Only dumpmag's bytes change; a device that wants whole sectors gets the
    // sector(s) around it read, patched and written back.
    const std::uint64_t first = offset / sector * sector;
    const std::uint64_t last = align_up(offset + width, sector);
    Bytes block = dev.read_bytes(first, last - first, "the sector holding dumpmag");
    std::fill_n(block.begin() + static_cast<std::ptrdiff_t>(offset - first), width, std::byte{0});
    dev.write_at(first, block);
    dev.sync();
    kernel.flush_cache();
    if (const std::uint64_t now = read_dumpmag(kernel); now != 0)
        throw Error(ErrorKind::io, fmt::format("{}: dumpmag still reads {:#x} after clearing it", dev.name(), now));
}

}  // namespace kvm::netbsd
