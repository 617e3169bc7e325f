// kvm::synth::ElfWriter: ELF files of either class and byte order, laid out
// in one forward pass.  Layout: ELF header, program headers, notes, segment
// data, section data, .symtab, .strtab, .shstrtab, section header table.

#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/synth.h>

#include <fmt/format.h>

#include <limits>

namespace kvm::synth {
namespace {

constexpr std::uint16_t pn_xnum = 0xffff;
constexpr std::uint32_t pf_r = 4;

struct Sizes {
    unsigned word;
    unsigned ehdr;
    unsigned phdr;
    unsigned shdr;
    unsigned sym;
};
constexpr Sizes sizes32{4, 52, 32, 40, 16};
constexpr Sizes sizes64{8, 64, 56, 64, 24};

[[noreturn]] void throw_usage(const std::string& message) {
    throw Error(ErrorKind::usage, message);
}

bool is_power_of_two_or_zero(std::uint64_t v) {
    return (v & (v - 1)) == 0;
}

// Encodes address-sized fields, refusing values an ELF32 field cannot hold
// rather than truncating them.
class Writer {
public:
    Writer(ByteOrder order, const Sizes& sizes) : out_(order), sizes_(sizes) {}

    Writer& word(std::uint64_t v, std::string_view what) {
        if (sizes_.word == 4 && v > std::numeric_limits<std::uint32_t>::max())
            throw_usage(fmt::format("{} {:#x} does not fit in an ELF32 field", what, v));
        out_.uint(v, sizes_.word);
        return *this;
    }
    Encoder& enc() { return out_; }
    std::size_t size() const { return out_.size(); }
    void pad_to_offset(std::uint64_t offset) { out_.zeros(offset - out_.size()); }

private:
    Encoder out_;
    const Sizes& sizes_;
};

// The string table being built, with its offsets handed out as strings are
// added (duplicates are stored twice: keeping it O(n) matters more).
class StringTable {
public:
    StringTable() { bytes_.push_back(std::byte{0}); }
    std::uint32_t add(std::string_view s) {
        if (s.empty()) return 0;
        const auto at = bytes_.size();
        if (at + s.size() + 1 > std::numeric_limits<std::uint32_t>::max())
            throw_usage("string table would exceed 4 GiB");
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        bytes_.insert(bytes_.end(), p, p + s.size());
        bytes_.push_back(std::byte{0});
        return static_cast<std::uint32_t>(at);
    }
    const Bytes& bytes() const { return bytes_; }

private:
    Bytes bytes_;
};

struct SectionHeader {
    std::uint32_t name = 0;
    std::uint32_t type = 0;
    std::uint64_t flags = 0;
    std::uint64_t addr = 0;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    std::uint32_t link = 0;
    std::uint32_t info = 0;
    std::uint64_t addralign = 0;
    std::uint64_t entsize = 0;
};

}  // namespace

ElfWriter::ElfWriter(ElfWriterOptions options) : options_(options) {
    if (options_.elf_class != elf::elfclass32 && options_.elf_class != elf::elfclass64)
        throw_usage(fmt::format("ELF class {} is neither 1 (ELF32) nor 2 (ELF64)", options_.elf_class));
}

std::uint16_t ElfWriter::add_section(std::string name, std::uint32_t type, std::uint64_t flags, std::uint64_t addr,
                                     Bytes data, std::uint64_t align, std::uint64_t nobits_size) {
    // Indexes from 0xff00 up are reserved (SHN_ABS, SHN_COMMON, ...).
    if (sections_.size() + 1 >= elf::shn_loreserve)
        throw_usage(fmt::format("section {}: more than {} sections", name, elf::shn_loreserve - 1));
    if (!is_power_of_two_or_zero(align))
        throw_usage(fmt::format("section {}: alignment {} is not a power of two", name, align));
    if (type == elf::sht_nobits && !data.empty())
        throw_usage(fmt::format("section {}: SHT_NOBITS takes its size from nobits_size, not data", name));
    if (type != elf::sht_nobits && nobits_size != 0)
        throw_usage(fmt::format("section {}: nobits_size is only for SHT_NOBITS", name));
    sections_.push_back({std::move(name), type, flags, addr, std::move(data), align, nobits_size});
    return static_cast<std::uint16_t>(sections_.size());
}

void ElfWriter::add_symbol(ElfSymbolSpec symbol) {
    const bool reserved = symbol.shndx >= elf::shn_loreserve;
    if (!reserved && symbol.shndx > sections_.size())
        throw_usage(
            fmt::format("symbol {}: section index {} was not returned by add_section", symbol.name, symbol.shndx));
    symbols_.push_back(std::move(symbol));
}

void ElfWriter::add_segment(std::uint32_t type, std::uint32_t flags, std::uint64_t vaddr, std::uint64_t paddr,
                            Bytes data, std::uint64_t memsz, std::uint64_t align) {
    if (memsz < data.size())
        throw_usage(
            fmt::format("segment at {}: memsz {:#x} is below its {:#x} file bytes", hex(vaddr), memsz, data.size()));
    if (!is_power_of_two_or_zero(align))
        throw_usage(fmt::format("segment at {}: alignment {} is not a power of two", hex(vaddr), align));
    segments_.push_back({type, flags, vaddr, paddr, std::move(data), memsz, align});
}

void ElfWriter::add_note(std::string name, std::uint32_t type, Bytes desc) {
    notes_.push_back({std::move(name), type, std::move(desc)});
}

Bytes ElfWriter::build() const {
    const bool is64 = options_.elf_class == elf::elfclass64;
    const Sizes& sizes = is64 ? sizes64 : sizes32;
    const ByteOrder order = options_.order;

    // Notes: 4-byte aligned name and descriptor, as Linux and NetBSD write them.
    Encoder notes(order);
    for (const NoteSpec& n : notes_) {
        const std::size_t namesz = n.name.empty() ? 0 : n.name.size() + 1;
        notes.u32(static_cast<std::uint32_t>(namesz)).u32(static_cast<std::uint32_t>(n.desc.size())).u32(n.type);
        notes.string(n.name).zeros(namesz - n.name.size()).pad_to(4);
        notes.bytes(n.desc).pad_to(4);
    }

    // File offsets of the program-header-described data, decided up front
    // because the program headers precede it.
    const std::uint64_t phnum = segments_.size() + (notes_.empty() ? 0 : 1);
    std::uint64_t at = phnum == 0 ? sizes.ehdr : sizes.ehdr + phnum * sizes.phdr;
    const std::uint64_t notes_offset = align_up(at, 4);
    if (!notes_.empty()) at = notes_offset + notes.size();
    std::vector<std::uint64_t> segment_offsets;
    segment_offsets.reserve(segments_.size());
    for (const SegmentSpec& s : segments_) {
        // p_offset congruent to p_vaddr modulo p_align, as loaders require.
        const std::uint64_t offset = s.align > 1 ? at + ((s.vaddr - at) & (s.align - 1)) : at;
        segment_offsets.push_back(offset);
        at = offset + s.data.size();
    }

    const bool with_symbols = !symbols_.empty();
    // Section indexes: null, the caller's, .note, .symtab, .strtab, .shstrtab.
    std::size_t next_index = sections_.size() + 1;
    if (!notes_.empty()) ++next_index;
    const std::size_t symtab_index = next_index;
    if (with_symbols) next_index += 2;
    const std::size_t shstrtab_index = next_index;
    const std::size_t shnum = shstrtab_index + 1;
    const bool with_sections = !sections_.empty() || !notes_.empty() || with_symbols || phnum >= pn_xnum;

    Writer out(order, sizes);
    Encoder& enc = out.enc();

    // ELF header; e_shoff, e_shnum and e_shstrndx are patched in at the end.
    enc.u8(0x7f).string("ELF").u8(static_cast<std::uint8_t>(options_.elf_class));
    enc.u8(order == ByteOrder::little ? elf::elfdata2lsb : elf::elfdata2msb).u8(1).u8(options_.osabi).zeros(8);
    enc.u16(options_.type).u16(options_.machine).u32(1);
    out.word(0, "e_entry").word(phnum == 0 ? 0 : sizes.ehdr, "e_phoff");
    const std::size_t shoff_at = enc.size();
    out.word(0, "e_shoff");
    enc.u32(0).u16(static_cast<std::uint16_t>(sizes.ehdr)).u16(static_cast<std::uint16_t>(sizes.phdr));
    enc.u16(static_cast<std::uint16_t>(phnum >= pn_xnum ? pn_xnum : phnum));
    enc.u16(with_sections ? static_cast<std::uint16_t>(sizes.shdr) : 0);
    const std::size_t shnum_at = enc.size();
    enc.u16(0).u16(0);

    const auto program_header = [&](std::uint32_t type, std::uint32_t flags, std::uint64_t offset, std::uint64_t vaddr,
                                    std::uint64_t paddr, std::uint64_t filesz, std::uint64_t memsz,
                                    std::uint64_t align) {
        enc.u32(type);
        if (is64) enc.u32(flags);
        out.word(offset, "p_offset").word(vaddr, "p_vaddr").word(paddr, "p_paddr");
        out.word(filesz, "p_filesz").word(memsz, "p_memsz");
        if (!is64) enc.u32(flags);
        out.word(align, "p_align");
    };
    if (!notes_.empty()) program_header(elf::pt_note, pf_r, notes_offset, 0, 0, notes.size(), notes.size(), 4);
    for (std::size_t i = 0; i < segments_.size(); ++i) {
        const SegmentSpec& s = segments_[i];
        program_header(s.type, s.flags, segment_offsets[i], s.vaddr, s.paddr, s.data.size(), s.memsz, s.align);
    }

    if (!notes_.empty()) {
        out.pad_to_offset(notes_offset);
        enc.bytes(notes.data());
    }
    for (std::size_t i = 0; i < segments_.size(); ++i) {
        out.pad_to_offset(segment_offsets[i]);
        enc.bytes(segments_[i].data);
    }

    StringTable section_names;
    std::vector<SectionHeader> headers;
    headers.reserve(shnum);
    headers.emplace_back();  // the null section
    for (const SectionSpec& s : sections_) {
        SectionHeader h;
        h.name = section_names.add(s.name);
        h.type = s.type;
        h.flags = s.flags;
        h.addr = s.addr;
        h.addralign = s.align;
        enc.pad_to(s.align);
        h.offset = enc.size();
        h.size = s.type == elf::sht_nobits ? s.nobits_size : s.data.size();
        enc.bytes(s.data);
        headers.push_back(h);
    }
    if (!notes_.empty()) {
        SectionHeader h;
        h.name = section_names.add(".note");
        h.type = elf::sht_note;
        h.offset = notes_offset;
        h.size = notes.size();
        h.addralign = 4;
        headers.push_back(h);
    }

    if (with_symbols) {
        StringTable names;
        enc.pad_to(sizes.word);
        const std::uint64_t symtab_offset = enc.size();
        enc.zeros(sizes.sym);  // the null symbol
        const auto emit = [&](const ElfSymbolSpec& s) {
            const std::uint32_t name = names.add(s.name);
            const auto info = static_cast<std::uint8_t>((s.binding << 4) | (s.type & 0xf));
            if (is64) {
                enc.u32(name).u8(info).u8(0).u16(s.shndx).u64(s.value).u64(s.size);
            } else {
                enc.u32(name);
                out.word(s.value, "symbol value").word(s.size, "symbol size");
                enc.u8(info).u8(0).u16(s.shndx);
            }
        };
        // Locals first: sh_info is the index of the first non-local symbol.
        std::size_t locals = 0;
        for (const ElfSymbolSpec& s : symbols_)
            if (s.binding == elf::stb_local) {
                emit(s);
                ++locals;
            }
        for (const ElfSymbolSpec& s : symbols_)
            if (s.binding != elf::stb_local) emit(s);

        SectionHeader symtab;
        symtab.name = section_names.add(".symtab");
        symtab.type = elf::sht_symtab;
        symtab.offset = symtab_offset;
        symtab.size = (symbols_.size() + 1) * sizes.sym;
        symtab.link = static_cast<std::uint32_t>(symtab_index + 1);
        symtab.info = static_cast<std::uint32_t>(locals + 1);
        symtab.addralign = sizes.word;
        symtab.entsize = sizes.sym;
        headers.push_back(symtab);

        SectionHeader strtab;
        strtab.name = section_names.add(".strtab");
        strtab.type = elf::sht_strtab;
        strtab.offset = enc.size();
        strtab.size = names.bytes().size();
        strtab.addralign = 1;
        enc.bytes(names.bytes());
        headers.push_back(strtab);
    }

    if (!with_sections) return enc.take();

    SectionHeader shstrtab;
    shstrtab.name = section_names.add(".shstrtab");
    shstrtab.type = elf::sht_strtab;
    shstrtab.offset = enc.size();
    shstrtab.size = section_names.bytes().size();
    shstrtab.addralign = 1;
    enc.bytes(section_names.bytes());
    headers.push_back(shstrtab);

    // Counts that do not fit the 16-bit header fields go to section 0.
    if (shnum >= elf::shn_loreserve) headers[0].size = shnum;
    if (shstrtab_index >= elf::shn_loreserve) headers[0].link = static_cast<std::uint32_t>(shstrtab_index);
    if (phnum >= pn_xnum) headers[0].info = static_cast<std::uint32_t>(phnum);

    enc.pad_to(sizes.word);
    const std::uint64_t shoff = enc.size();
    for (const SectionHeader& h : headers) {
        enc.u32(h.name).u32(h.type);
        out.word(h.flags, "sh_flags").word(h.addr, "sh_addr").word(h.offset, "sh_offset").word(h.size, "sh_size");
        enc.u32(h.link).u32(h.info);
        out.word(h.addralign, "sh_addralign").word(h.entsize, "sh_entsize");
    }

    Bytes file = enc.take();
    if (!is64 && shoff > std::numeric_limits<std::uint32_t>::max())
        throw_usage(fmt::format("section header table offset {:#x} does not fit in an ELF32 file", shoff));
    store_uint(file.data() + shoff_at, shoff, sizes.word, order);
    store16(file.data() + shnum_at, static_cast<std::uint16_t>(shnum >= elf::shn_loreserve ? 0 : shnum), order);
    store16(file.data() + shnum_at + 2,
            static_cast<std::uint16_t>(shstrtab_index >= elf::shn_loreserve ? elf::shn_xindex : shstrtab_index), order);
    return file;
}

}  // namespace kvm::synth
