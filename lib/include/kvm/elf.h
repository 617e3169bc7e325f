// ELF reader for namelists (kernel files) and, later, ELF vmcores.
//
// One class for ELF32/ELF64 in either byte order: each header is decoded
// field by field into a native struct at the boundary (bloaty's mungers), so
// nothing downstream is templated on the ELF class.
#pragma once

#include <kvm/bytes.h>
#include <kvm/io.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kvm {

struct Symbol;

namespace elf {

inline constexpr unsigned elfclass32 = 1;
inline constexpr unsigned elfclass64 = 2;
inline constexpr unsigned elfdata2lsb = 1;
inline constexpr unsigned elfdata2msb = 2;

// EI_OSABI values.
inline constexpr std::uint8_t elfosabi_none = 0;
inline constexpr std::uint8_t elfosabi_freebsd = 9;
inline constexpr std::uint8_t elfosabi_standalone = 255;  // FreeBSD and DragonFly full dumps

inline constexpr std::uint16_t et_rel = 1;
inline constexpr std::uint16_t et_exec = 2;
inline constexpr std::uint16_t et_dyn = 3;
inline constexpr std::uint16_t et_core = 4;

inline constexpr std::uint16_t em_386 = 3;
inline constexpr std::uint16_t em_sparcv9 = 43;
inline constexpr std::uint16_t em_x86_64 = 62;
inline constexpr std::uint16_t em_aarch64 = 183;

inline constexpr std::uint32_t sht_null = 0;
inline constexpr std::uint32_t sht_progbits = 1;
inline constexpr std::uint32_t sht_symtab = 2;
inline constexpr std::uint32_t sht_strtab = 3;
inline constexpr std::uint32_t sht_note = 7;
inline constexpr std::uint32_t sht_nobits = 8;
inline constexpr std::uint32_t sht_dynsym = 11;

inline constexpr std::uint64_t shf_write = 0x1;
inline constexpr std::uint64_t shf_alloc = 0x2;
inline constexpr std::uint64_t shf_execinstr = 0x4;

inline constexpr std::uint16_t shn_undef = 0;
inline constexpr std::uint16_t shn_loreserve = 0xff00;
inline constexpr std::uint16_t shn_abs = 0xfff1;
inline constexpr std::uint16_t shn_common = 0xfff2;
inline constexpr std::uint16_t shn_xindex = 0xffff;

inline constexpr std::uint8_t stt_notype = 0;
inline constexpr std::uint8_t stt_object = 1;
inline constexpr std::uint8_t stt_func = 2;
inline constexpr std::uint8_t stt_section = 3;
inline constexpr std::uint8_t stt_file = 4;
inline constexpr std::uint8_t stt_common = 5;
inline constexpr std::uint8_t stt_tls = 6;

inline constexpr std::uint8_t stb_local = 0;
inline constexpr std::uint8_t stb_global = 1;
inline constexpr std::uint8_t stb_weak = 2;

inline constexpr std::uint32_t pt_load = 1;
inline constexpr std::uint32_t pt_note = 4;

struct Section {
    std::string name;
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

struct Segment {
    std::uint32_t type = 0;
    std::uint32_t flags = 0;
    std::uint64_t offset = 0;
    std::uint64_t vaddr = 0;
    std::uint64_t paddr = 0;
    std::uint64_t filesz = 0;
    std::uint64_t memsz = 0;
    std::uint64_t align = 0;
};

struct Note {
    std::string name;  // without the terminating NUL
    std::uint32_t type = 0;
    Bytes desc;
};

// Limits on what a file may declare before we allocate for it.
inline constexpr std::uint64_t max_sections = 65536;
inline constexpr std::uint64_t max_segments = 65536;
inline constexpr std::uint64_t max_symbols = 16ull * 1024 * 1024;
inline constexpr std::uint64_t max_notes_bytes = 64ull * 1024 * 1024;

class File {
public:
    // Throws ErrorKind::format when the source is not ELF, corrupt when a
    // header, table or offset does not fit in the file (the message names the
    // file, the table, the offset, the count and the file size).
    explicit File(std::shared_ptr<ByteSource> source);

    // What a core needs: the ELF header and program headers.  Section
    // headers are not read (sections() is empty), so a core whose section
    // table or names lie past a cut is judged by its segments: QEMU writes
    // the section name table at the very end.  Section 0 is still read
    // when e_phnum is PN_XNUM, for the real count.
    struct SegmentsOnly {};
    File(std::shared_ptr<ByteSource> source, SegmentsOnly);

    unsigned elf_class() const noexcept { return class_; }  // elfclass32 / elfclass64
    std::uint8_t osabi() const noexcept { return osabi_; }  // e_ident[EI_OSABI]
    ByteOrder order() const noexcept { return order_; }
    std::uint16_t type() const noexcept { return type_; }
    std::uint16_t machine() const noexcept { return machine_; }
    std::uint64_t entry() const noexcept { return entry_; }

    const std::vector<Section>& sections() const noexcept { return sections_; }
    const std::vector<Segment>& segments() const noexcept { return segments_; }
    const Section* find_section(std::string_view name) const;

    // Notes of every PT_NOTE segment (or SHT_NOTE section when there are no
    // program headers), bounded by max_notes_bytes.
    std::vector<Note> notes() const;

    // Symbols of .symtab, or .dynsym when there is no .symtab; the null
    // symbol and section symbols are left out.  nm-style type letters are
    // computed from the section each symbol is in.  Throws not_found when
    // the file has neither table (a stripped kernel).
    // debugger_symbols: keep the symbols that name a section (STT_SECTION,
    // named as the section is) or a source file (STT_FILE), as nm -a does.
    std::vector<Symbol> symbols(bool debugger_symbols = false) const;

    // Initialised bytes at a virtual address, from the allocated section that
    // contains it: file bytes for PROGBITS, zeros for NOBITS.  Throws
    // not_found when no allocated section holds the whole range.
    Bytes read_vaddr(std::uint64_t vaddr, std::size_t length) const;

    // Raw bytes of a section (bounded by the file).
    Bytes section_data(const Section& section) const;

    const ByteSource& source() const noexcept { return *source_; }

private:
    std::shared_ptr<ByteSource> source_;
    unsigned class_ = 0;
    std::uint8_t osabi_ = 0;
    ByteOrder order_ = ByteOrder::little;
    std::uint16_t type_ = 0;
    std::uint16_t machine_ = 0;
    std::uint64_t entry_ = 0;
    std::vector<Section> sections_;
    std::vector<Segment> segments_;
};

// True when the first bytes are "\x7fELF".
bool is_elf(const ByteSource& source);

// Notes packed as in a PT_NOTE segment (also the note block of a kdump
// file): 12-byte header, name and descriptor each padded to 4 bytes (8 when
// `align` is 8).  A note that runs past the data throws corrupt naming
// `where`, the note's index and offset.
std::vector<Note> parse_notes(ByteSpan data, ByteOrder order, std::uint64_t align = 4,
                              std::string_view where = "notes");

}  // namespace elf
}  // namespace kvm
