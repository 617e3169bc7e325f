// kvm::elf::File: ELF32/ELF64 in either byte order, decoded field by field
// into the native structs of elf.h.  Every table a header declares is checked
// against the file size and the limits of elf.h before it is read, so a
// corrupt or hostile file costs at most its own size in memory.

#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/symbols.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

namespace kvm::elf {
namespace {

constexpr std::size_t ident_size = 16;
constexpr std::size_t ei_class = 4;
constexpr std::size_t ei_data = 5;
constexpr std::size_t ei_osabi = 7;
constexpr std::array<std::byte, 4> elf_magic = {std::byte{0x7f}, std::byte{'E'}, std::byte{'L'}, std::byte{'F'}};

// e_phnum value meaning "the count is in section 0's sh_info".
constexpr std::uint16_t pn_xnum = 0xffff;
constexpr std::uint32_t sht_symtab_shndx = 18;
constexpr std::uint64_t shf_tls = 0x400;
constexpr std::uint8_t stt_gnu_ifunc = 10;
constexpr std::uint8_t stb_gnu_unique = 10;
constexpr std::uint64_t note_header_size = 12;

// Sizes of the on-disk structures of one ELF class.
struct Layout {
    unsigned word;  // addresses, offsets and sizes
    unsigned ehdr;
    unsigned phdr;
    unsigned shdr;
    unsigned sym;
};
constexpr Layout layout32{4, 52, 32, 40, 16};
constexpr Layout layout64{8, 64, 56, 64, 24};

const Layout& layout_of(unsigned elf_class) {
    return elf_class == elfclass64 ? layout64 : layout32;
}
std::string_view class_name(unsigned elf_class) {
    return elf_class == elfclass64 ? "ELF64" : "ELF32";
}

// The ELF header fields the rest of the parse needs.
struct Ehdr {
    unsigned elf_class = 0;
    std::uint8_t osabi = 0;
    ByteOrder order = ByteOrder::little;
    std::uint16_t type = 0;
    std::uint16_t machine = 0;
    std::uint64_t entry = 0;
    std::uint64_t phoff = 0;
    std::uint64_t shoff = 0;
    std::uint16_t phentsize = 0;
    std::uint16_t phnum = 0;
    std::uint16_t shentsize = 0;
    std::uint16_t shnum = 0;
    std::uint16_t shstrndx = 0;
};

// A table of `count` entries of `entsize` bytes at `offset` must lie inside the file.
void check_table(std::string_view what, std::uint64_t offset, std::uint64_t count, std::uint64_t entsize,
                 std::uint64_t file_size) {
    const std::uint64_t bytes = checked_mul(count, entsize, what);
    const std::uint64_t end = checked_add(offset, bytes, what);
    if (end > file_size)
        throw_corrupt(fmt::format("{} at offset {:#x}, {} {} of {} bytes, is past the end of the file (size {:#x})",
                                  what, offset, count, count == 1 ? "entry" : "entries", entsize, file_size));
}

void check_region(std::string_view what, std::uint64_t offset, std::uint64_t size, std::uint64_t file_size) {
    const std::uint64_t end = checked_add(offset, size, what);
    if (end > file_size)
        throw_corrupt(fmt::format("{} at offset {:#x}, size {:#x}, is past the end of the file (size {:#x})", what,
                                  offset, size, file_size));
}

// The bytes of a region a header declared, checked against the file first.
// An empty region is never read: sources need not accept empty reads.
Bytes read_region(const ByteSource& source, std::uint64_t offset, std::uint64_t size, std::string_view what) {
    check_region(what, offset, size, source.size());
    if (size == 0) return {};
    return source.read_bytes(offset, size, what);
}

// The NUL-terminated string at `offset` of a string table, or nullopt when
// the offset is outside the table or the string runs off its end.
std::optional<std::string_view> c_string_at(ByteSpan table, std::uint64_t offset) {
    if (offset >= table.size()) return std::nullopt;
    const auto* start = reinterpret_cast<const char*>(table.data()) + offset;
    const void* nul = std::memchr(start, 0, table.size() - offset);
    if (nul == nullptr) return std::nullopt;
    return std::string_view(start, static_cast<std::size_t>(static_cast<const char*>(nul) - start));
}

// The error for a string c_string_at() refused.
[[noreturn]] void throw_bad_name(std::string_view whose, std::uint64_t offset, std::string_view table_name,
                                 ByteSpan table) {
    if (offset >= table.size())
        throw_corrupt(fmt::format("{}: name offset {:#x} is past the end of the {:#x} bytes of {}", whose, offset,
                                  table.size(), table_name));
    throw_corrupt(fmt::format("{}: name at offset {:#x} runs off the end of the {:#x} bytes of {} without a NUL", whose,
                              offset, table.size(), table_name));
}

Ehdr decode_ehdr(const ByteSource& source) {
    const std::uint64_t file_size = source.size();
    if (file_size == 0) throw_format("empty file, not ELF");
    std::array<std::byte, ident_size> ident{};
    const std::size_t got = source.read_at(0, std::span(ident).first(std::min<std::uint64_t>(file_size, ident_size)));
    if (got < elf_magic.size() || !std::equal(elf_magic.begin(), elf_magic.end(), ident.begin()))
        throw_format("not an ELF file (no \\x7fELF magic)");
    if (got < ident_size)
        throw_corrupt(
            fmt::format("ELF header is truncated: e_ident needs {} bytes, the file has {:#x}", ident_size, file_size));

    Ehdr h;
    h.elf_class = std::to_integer<unsigned>(ident[ei_class]);
    if (h.elf_class != elfclass32 && h.elf_class != elfclass64)
        throw_corrupt(fmt::format("ELF header: EI_CLASS is {}, neither 1 (ELF32) nor 2 (ELF64)", h.elf_class));
    const auto data = std::to_integer<unsigned>(ident[ei_data]);
    if (data != elfdata2lsb && data != elfdata2msb)
        throw_corrupt(fmt::format("ELF header: EI_DATA is {}, neither 1 (little-endian) nor 2 (big-endian)", data));
    h.order = data == elfdata2lsb ? ByteOrder::little : ByteOrder::big;
    h.osabi = std::to_integer<std::uint8_t>(ident[ei_osabi]);

    // e_ehsize is not trusted: QEMU writes cores with a wrong one, and the
    // class alone fixes the header's layout.
    const Layout& layout = layout_of(h.elf_class);
    if (file_size < layout.ehdr)
        throw_corrupt(fmt::format("ELF header is truncated: an {} header needs {} bytes, the file has {:#x}",
                                  class_name(h.elf_class), layout.ehdr, file_size));
    const Bytes raw = source.read_bytes(0, layout.ehdr, "ELF header");
    Decoder d(raw, h.order, "ELF header");
    d.skip(ident_size);
    h.type = d.u16();
    h.machine = d.u16();
    d.skip(4);  // e_version
    h.entry = d.uint(layout.word);
    h.phoff = d.uint(layout.word);
    h.shoff = d.uint(layout.word);
    d.skip(4 + 2);  // e_flags, e_ehsize
    h.phentsize = d.u16();
    h.phnum = d.u16();
    h.shentsize = d.u16();
    h.shnum = d.u16();
    h.shstrndx = d.u16();
    return h;
}

// One section header; its name is resolved once .shstrtab is known.
Section decode_section(Decoder& d, const Layout& layout, std::uint32_t& name_offset) {
    Section s;
    name_offset = d.u32();
    s.type = d.u32();
    s.flags = d.uint(layout.word);
    s.addr = d.uint(layout.word);
    s.offset = d.uint(layout.word);
    s.size = d.uint(layout.word);
    s.link = d.u32();
    s.info = d.u32();
    s.addralign = d.uint(layout.word);
    s.entsize = d.uint(layout.word);
    return s;
}

Segment decode_segment(Decoder& d, unsigned elf_class) {
    Segment p;
    if (elf_class == elfclass64) {
        p.type = d.u32();
        p.flags = d.u32();
        p.offset = d.u64();
        p.vaddr = d.u64();
        p.paddr = d.u64();
        p.filesz = d.u64();
        p.memsz = d.u64();
        p.align = d.u64();
    } else {  // ELF32 keeps p_flags after p_memsz
        p.type = d.u32();
        p.offset = d.u32();
        p.vaddr = d.u32();
        p.paddr = d.u32();
        p.filesz = d.u32();
        p.memsz = d.u32();
        p.flags = d.u32();
        p.align = d.u32();
    }
    return p;
}

std::vector<Section> read_sections(const ByteSource& source, const Ehdr& h) {
    std::vector<Section> sections;
    if (h.shoff == 0) return sections;  // no section header table
    const Layout& layout = layout_of(h.elf_class);
    const std::uint64_t file_size = source.size();
    if (h.shentsize != layout.shdr)
        throw_corrupt(fmt::format("ELF header: e_shentsize is {}, but an {} section header is {} bytes", h.shentsize,
                                  class_name(h.elf_class), layout.shdr));

    // With 0xff00 sections or more, e_shnum is 0 and section 0's sh_size
    // holds the count.
    std::uint64_t count = h.shnum;
    if (count == 0) {
        check_table("section header table", h.shoff, 1, layout.shdr, file_size);
        const Bytes first = source.read_bytes(h.shoff, layout.shdr, "section header 0");
        Decoder d(first, h.order, "section header 0");
        std::uint32_t name_offset = 0;
        count = decode_section(d, layout, name_offset).size;
        if (count == 0) return sections;
    }
    if (count > max_sections)
        throw_corrupt(
            fmt::format("section header table at offset {:#x} has {} entries, more than the {} this "
                        "reader accepts",
                        h.shoff, count, max_sections));
    check_table("section header table", h.shoff, count, layout.shdr, file_size);

    const Bytes table = source.read_bytes(h.shoff, count * layout.shdr, "section header table");
    Decoder d(table, h.order, "section header table");
    std::vector<std::uint32_t> name_offsets(count);
    sections.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i)
        sections.push_back(decode_section(d, layout, name_offsets[i]));

    std::uint64_t names_index = h.shstrndx;
    if (names_index == shn_xindex) names_index = sections[0].link;
    if (names_index == shn_undef) return sections;  // sections without names
    if (names_index >= count)
        throw_corrupt(fmt::format("ELF header: the section name table is section {}, but there are only {} sections",
                                  names_index, count));
    const Section& names_section = sections[names_index];
    const std::string what = fmt::format("section name table (section {})", names_index);
    if (names_section.type == sht_nobits) throw_corrupt(fmt::format("{} is SHT_NOBITS, it has no strings", what));
    const Bytes names = read_region(source, names_section.offset, names_section.size, what);
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto name = c_string_at(names, name_offsets[i]);
        if (!name) throw_bad_name(fmt::format("section {}", i), name_offsets[i], what, names);
        sections[i].name = std::string(*name);
    }
    return sections;
}

std::vector<Segment> read_segments(const ByteSource& source, const Ehdr& h, const std::vector<Section>& sections) {
    std::vector<Segment> segments;
    if (h.phoff == 0 || h.phnum == 0) return segments;
    const Layout& layout = layout_of(h.elf_class);
    if (h.phentsize != layout.phdr)
        throw_corrupt(fmt::format("ELF header: e_phentsize is {}, but an {} program header is {} bytes", h.phentsize,
                                  class_name(h.elf_class), layout.phdr));
    std::uint64_t count = h.phnum;
    if (h.phnum == pn_xnum) {
        if (sections.empty())
            throw_corrupt("ELF header: e_phnum is PN_XNUM (0xffff), but there is no section 0 to hold the count");
        count = sections[0].info;
    }
    if (count > max_segments)
        throw_corrupt(
            fmt::format("program header table at offset {:#x} has {} entries, more than the {} this "
                        "reader accepts",
                        h.phoff, count, max_segments));
    // e_phoff is honoured wherever it points: QEMU cores put the section
    // headers first and the program headers after them.
    check_table("program header table", h.phoff, count, layout.phdr, source.size());
    const Bytes table = source.read_bytes(h.phoff, count * layout.phdr, "program header table");
    Decoder d(table, h.order, "program header table");
    segments.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i)
        segments.push_back(decode_segment(d, h.elf_class));
    return segments;
}

// Notes of one PT_NOTE segment or SHT_NOTE section.  Name and descriptor
// are padded to 4 bytes, in ELF64 too (Linux vmcores, NetBSD kernels);
// only a region that declares 8-byte alignment (.note.gnu.property) uses 8.
void parse_notes(ByteSpan data, ByteOrder order, std::uint64_t align, std::string_view where, std::vector<Note>& out) {
    const std::uint64_t pad = align == 8 ? 8 : 4;
    std::uint64_t pos = 0;
    for (unsigned index = 0; data.size() - pos >= note_header_size; ++index) {
        Decoder d(data.subspan(pos, note_header_size), order, "note header");
        const std::uint32_t namesz = d.u32();
        const std::uint32_t descsz = d.u32();
        Note note;
        note.type = d.u32();
        const std::uint64_t name_start = pos + note_header_size;
        if (namesz > data.size() - name_start)
            throw_corrupt(
                fmt::format("{}: note {} at offset {:#x}: namesz {:#x} runs past the end of the notes "
                            "({:#x} bytes)",
                            where, index, pos, namesz, data.size()));
        const ByteSpan name = data.subspan(name_start, namesz);
        const auto nul = std::find(name.begin(), name.end(), std::byte{0});
        note.name =
            std::string(reinterpret_cast<const char*>(name.data()), static_cast<std::size_t>(nul - name.begin()));
        const std::uint64_t desc_start = std::min<std::uint64_t>(align_up(name_start + namesz, pad), data.size());
        if (descsz > data.size() - desc_start)
            throw_corrupt(
                fmt::format("{}: note {} at offset {:#x}: descsz {:#x} runs past the end of the notes "
                            "({:#x} bytes)",
                            where, index, pos, descsz, data.size()));
        const ByteSpan desc = data.subspan(desc_start, descsz);
        note.desc.assign(desc.begin(), desc.end());
        out.push_back(std::move(note));
        // The padding after the last descriptor may be missing.
        pos = std::min<std::uint64_t>(align_up(desc_start + descsz, pad), data.size());
    }
}

bool is_debug_section(std::string_view name) {
    for (const std::string_view prefix : {".debug", ".zdebug", ".gnu.debuglto_", ".stab", ".line"})
        if (name.substr(0, prefix.size()) == prefix) return true;
    return false;
}

// GNU nm's letter for a symbol defined in `section`, before upper-casing
// for global binding.
char section_letter(const Section& section) {
    if ((section.flags & shf_execinstr) != 0) return 't';
    if (section.type == sht_nobits) return 'b';
    if ((section.flags & shf_alloc) != 0) return (section.flags & shf_write) != 0 ? 'd' : 'r';
    if (is_debug_section(section.name)) return 'N';
    if ((section.flags & shf_write) == 0) return 'n';  // read-only, not loaded: .comment and the like
    return '?';
}

// The letter GNU nm prints.  `shndx` is the symbol's st_shndx, or the
// SHT_SYMTAB_SHNDX entry when st_shndx is SHN_XINDEX (then `reserved` is
// false: the value is a real section index even above 0xff00).
char nm_letter(std::uint8_t type, std::uint8_t binding, std::uint32_t shndx, bool reserved,
               const std::vector<Section>& sections) {
    const bool weak = binding == stb_weak;
    if (reserved && shndx == shn_common) return 'C';
    if (shndx == shn_undef) {
        if (weak) return type == stt_object ? 'v' : 'w';
        return 'U';
    }
    if (type == stt_gnu_ifunc) return 'i';
    if (weak) return type == stt_object ? 'V' : 'W';
    if (binding == stb_gnu_unique) return 'u';
    if (binding != stb_local && binding != stb_global) return '?';
    char letter = '?';
    if (reserved && shndx == shn_abs)
        letter = 'a';
    else if (!reserved && shndx < sections.size())
        letter = section_letter(sections[shndx]);
    if (binding == stb_global && letter >= 'a' && letter <= 'z') letter = static_cast<char>(letter - 'a' + 'A');
    return letter;
}

// Runs `body`, naming `source` in any kvm::Error it throws.
template <typename Body>
auto naming_source(const ByteSource& source, Body&& body) -> decltype(body()) {
    try {
        return body();
    } catch (Error& e) {
        e.with_path(source.name());
        throw;
    }
}

}  // namespace

std::vector<Note> parse_notes(ByteSpan data, ByteOrder order, std::uint64_t align, std::string_view where) {
    std::vector<Note> notes;
    parse_notes(data, order, align, where, notes);
    return notes;
}

bool is_elf(const ByteSource& source) {
    std::array<std::byte, elf_magic.size()> magic{};
    return source.size() >= magic.size() && source.read_at(0, magic) == magic.size() && magic == elf_magic;
}

File::File(std::shared_ptr<ByteSource> source) : source_(std::move(source)) {
    if (!source_) throw Error(ErrorKind::usage, "elf::File needs a byte source");
    naming_source(*source_, [&] {
        const Ehdr h = decode_ehdr(*source_);
        class_ = h.elf_class;
        osabi_ = h.osabi;
        order_ = h.order;
        type_ = h.type;
        machine_ = h.machine;
        entry_ = h.entry;
        sections_ = read_sections(*source_, h);
        segments_ = read_segments(*source_, h, sections_);
    });
}

File::File(std::shared_ptr<ByteSource> source, SegmentsOnly) : source_(std::move(source)) {
    if (!source_) throw Error(ErrorKind::usage, "elf::File needs a byte source");
    naming_source(*source_, [&] {
        const Ehdr h = decode_ehdr(*source_);
        class_ = h.elf_class;
        osabi_ = h.osabi;
        order_ = h.order;
        type_ = h.type;
        machine_ = h.machine;
        entry_ = h.entry;
        std::vector<Section> first;
        if (h.phnum == pn_xnum && h.shoff != 0) {
            const Layout& layout = layout_of(h.elf_class);
            check_table("section header table", h.shoff, 1, layout.shdr, source_->size());
            const Bytes raw = source_->read_bytes(h.shoff, layout.shdr, "section header 0");
            Decoder d(raw, h.order, "section header 0");
            std::uint32_t name_offset = 0;
            first.push_back(decode_section(d, layout, name_offset));
        }
        segments_ = read_segments(*source_, h, first);
    });
}

const Section* File::find_section(std::string_view name) const {
    // Section 0 is the null section, whatever it says its name is.
    for (std::size_t i = 1; i < sections_.size(); ++i)
        if (sections_[i].name == name) return &sections_[i];
    return nullptr;
}

std::vector<Note> File::notes() const {
    return naming_source(*source_, [&] {
        struct Region {
            std::uint64_t offset;
            std::uint64_t size;
            std::uint64_t align;
            std::string where;
        };
        std::vector<Region> regions;
        for (std::size_t i = 0; i < segments_.size(); ++i)
            if (segments_[i].type == pt_note)
                regions.push_back({segments_[i].offset, segments_[i].filesz, segments_[i].align,
                                   fmt::format("PT_NOTE segment {}", i)});
        if (regions.empty())
            for (const Section& s : sections_)
                if (s.type == sht_note) regions.push_back({s.offset, s.size, s.addralign, "note section " + s.name});

        std::uint64_t total = 0;
        for (const Region& r : regions) {
            check_region(r.where, r.offset, r.size, source_->size());
            total += r.size;  // each size is below the file size: no overflow
            if (total > max_notes_bytes)
                throw_corrupt(fmt::format("notes: {:#x} bytes or more, more than the {:#x} this reader accepts", total,
                                          max_notes_bytes));
        }
        std::vector<Note> notes;
        for (const Region& r : regions) {
            const Bytes data = read_region(*source_, r.offset, r.size, r.where);
            parse_notes(data, order_, r.align, r.where, notes);
        }
        return notes;
    });
}

std::vector<Symbol> File::symbols(bool debugger_symbols) const {
    return naming_source(*source_, [&] {
        std::size_t table_index = 0;
        for (const std::uint32_t wanted : {sht_symtab, sht_dynsym}) {
            const auto it = std::find_if(sections_.begin(), sections_.end(),
                                         [wanted](const Section& s) { return s.type == wanted; });
            if (it != sections_.end()) {
                table_index = static_cast<std::size_t>(it - sections_.begin());
                break;
            }
        }
        if (table_index == 0) throw_not_found("no symbol table (stripped?)");

        const Section& table = sections_[table_index];
        const Layout& layout = layout_of(class_);
        const std::string what = fmt::format("symbol table {} (section {})", table.name, table_index);
        if (table.entsize != 0 && table.entsize != layout.sym)
            throw_corrupt(fmt::format("{}: sh_entsize is {}, but an {} symbol is {} bytes", what, table.entsize,
                                      class_name(class_), layout.sym));
        if (table.size % layout.sym != 0)
            throw_corrupt(fmt::format("{}: sh_size {:#x} is not a multiple of the {}-byte symbol size", what,
                                      table.size, layout.sym));
        const std::uint64_t count = table.size / layout.sym;
        if (count > max_symbols)
            throw_corrupt(
                fmt::format("{} has {} symbols, more than the {} this reader accepts", what, count, max_symbols));
        check_table(what, table.offset, count, layout.sym, source_->size());

        if (table.link == shn_undef || table.link >= sections_.size())
            throw_corrupt(fmt::format("{}: sh_link {} is not a section index (the file has {} sections)", what,
                                      table.link, sections_.size()));
        const Section& strings_section = sections_[table.link];
        const std::string strings_what = fmt::format("string table {} (section {})", strings_section.name, table.link);
        if (strings_section.type != sht_strtab)
            throw_corrupt(fmt::format("{}: sh_link {} is section {} of type {}, not a string table", what, table.link,
                                      strings_section.name, strings_section.type));
        const Bytes strings = section_data(strings_section);

        // Section indexes of symbols with st_shndx == SHN_XINDEX.
        Bytes extended_indexes;
        for (std::size_t i = 0; i < sections_.size(); ++i) {
            const Section& s = sections_[i];
            if (s.type != sht_symtab_shndx || s.link != table_index) continue;
            if (s.size < count * 4)
                throw_corrupt(
                    fmt::format("extended section index table (section {}) has {:#x} bytes, {} symbols "
                                "need {:#x}",
                                i, s.size, count, count * 4));
            extended_indexes = section_data(s);
            break;
        }

        const Bytes raw = read_region(*source_, table.offset, count * layout.sym, what);
        Decoder d(raw, order_, what);
        std::vector<Symbol> symbols;
        symbols.reserve(count);
        for (std::uint64_t i = 0; i < count; ++i) {
            std::uint32_t name_offset = 0;
            std::uint64_t value = 0;
            std::uint64_t size = 0;
            std::uint8_t info = 0;
            std::uint16_t shndx = 0;
            if (class_ == elfclass64) {
                name_offset = d.u32();
                info = d.u8();
                d.skip(1);  // st_other
                shndx = d.u16();
                value = d.u64();
                size = d.u64();
            } else {
                name_offset = d.u32();
                value = d.u32();
                size = d.u32();
                info = d.u8();
                d.skip(1);
                shndx = d.u16();
            }
            const auto type = static_cast<std::uint8_t>(info & 0xf);
            const auto binding = static_cast<std::uint8_t>(info >> 4);
            // nm leaves out the null symbol and, without -a, the symbols
            // that name a section or a source file rather than an object.
            if (i == 0 || (!debugger_symbols && (type == stt_section || type == stt_file))) continue;

            std::uint32_t section_index = shndx;
            bool reserved = shndx >= shn_loreserve;
            if (shndx == shn_xindex) {
                if (extended_indexes.empty())
                    throw_corrupt(
                        fmt::format("{}: symbol {} has st_shndx SHN_XINDEX, but there is no "
                                    "SHT_SYMTAB_SHNDX section for the table",
                                    what, i));
                section_index = load32(extended_indexes.data() + i * 4, order_);
                reserved = false;
            }
            const auto name = c_string_at(strings, name_offset);
            if (!name) throw_bad_name(fmt::format("{}: symbol {}", what, i), name_offset, strings_what, strings);

            Symbol sym;
            sym.name = std::string(*name);
            // A section symbol has no name of its own: nm shows its section's.
            if (type == stt_section && sym.name.empty() && !reserved && section_index < sections_.size())
                sym.name = sections_[section_index].name;
            sym.value = value;
            sym.size = size;
            sym.type = nm_letter(type, binding, section_index, reserved, sections_);
            sym.elf_type = type;
            sym.elf_binding = binding;
            symbols.push_back(std::move(sym));
        }
        return symbols;
    });
}

Bytes File::read_vaddr(std::uint64_t vaddr, std::size_t length) const {
    return naming_source(*source_, [&]() -> Bytes {
        for (const Section& s : sections_) {
            // .tbss takes no room in the image: its addresses belong to the
            // sections after it.
            if ((s.flags & shf_alloc) == 0 || ((s.flags & shf_tls) != 0 && s.type == sht_nobits)) continue;
            if (vaddr < s.addr || vaddr - s.addr > s.size || length > s.size - (vaddr - s.addr)) continue;
            if (s.type == sht_nobits || length == 0) return Bytes(length);
            const std::uint64_t offset = checked_add(s.offset, vaddr - s.addr, "section data offset");
            return source_->read_bytes(offset, length, fmt::format("the data at {} in section {}", hex(vaddr), s.name));
        }
        Error e(ErrorKind::not_found, fmt::format("no allocated section holds the {} bytes at {}", length, hex(vaddr)));
        e.with_address(vaddr);
        throw e;
    });
}

Bytes File::section_data(const Section& section) const {
    if (section.type == sht_nobits) return {};
    return naming_source(*source_, [&] {
        const std::string what = fmt::format("section {}", section.name.empty() ? "(unnamed)" : section.name);
        return read_region(*source_, section.offset, section.size, what);
    });
}

}  // namespace kvm::elf
