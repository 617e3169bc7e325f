#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/symbols.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "elf_fixture.h"

#include <algorithm>
#include <memory>
#include <random>

using namespace kvm;
using namespace kvmtest;

namespace {

std::shared_ptr<ByteSource> memory(Bytes bytes, std::string name = "kernel") {
    return std::make_shared<MemorySource>(std::move(bytes), std::move(name));
}

Bytes hex_bytes(std::initializer_list<unsigned> values) {
    Bytes out;
    for (const unsigned v : values)
        out.push_back(static_cast<std::byte>(v));
    return out;
}

// Field offsets of the ELF64 headers, from the ELF specification, written
// out here so that the tests do not borrow them from the code under test.
constexpr std::size_t e_phoff64 = 0x20;
constexpr std::size_t e_shoff64 = 0x28;
constexpr std::size_t e_phentsize64 = 0x36;
constexpr std::size_t e_phnum64 = 0x38;
constexpr std::size_t e_shentsize64 = 0x3a;
constexpr std::size_t e_shnum64 = 0x3c;
constexpr std::size_t e_shstrndx64 = 0x3e;
constexpr std::size_t shdr64 = 64;
constexpr std::size_t sh_offset64 = 0x18;
constexpr std::size_t sh_size64 = 0x20;
constexpr std::size_t sh_link64 = 0x28;
constexpr std::size_t sh_info64 = 0x2c;
constexpr std::size_t sym64 = 24;

// Section indexes in sample_kernel() with notes and symbols.
constexpr std::size_t note_index = 5;
constexpr std::size_t symtab_index = 6;
constexpr std::size_t strtab_index = 7;
constexpr std::size_t section_count = 9;

std::uint64_t get64(const Bytes& b, std::size_t at) {
    return load64(b.data() + at, ByteOrder::little);
}
void put64(Bytes& b, std::size_t at, std::uint64_t v) {
    store64(b.data() + at, v, ByteOrder::little);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
    store32(b.data() + at, v, ByteOrder::little);
}
void put16(Bytes& b, std::size_t at, std::uint16_t v) {
    store16(b.data() + at, v, ByteOrder::little);
}

std::size_t section_header(const Bytes& b, std::size_t index) {
    return get64(b, e_shoff64) + index * shdr64;
}

Bytes sample64() {
    return sample_kernel(elf::elfclass64, ByteOrder::little);
}

elf::File open_bytes(Bytes b) {
    return elf::File(memory(std::move(b)));
}

}  // namespace

TEST_CASE("ELF matrix: the same kernel reads back exactly in ELF32/ELF64, LE/BE") {
    for (const Variant& v : all_variants()) {
        INFO(std::string(v.label));
        const Bytes image = sample_kernel(v.elf_class, v.order);
        const elf::File f(memory(image));
        const Addresses a = addresses(v.elf_class);

        CHECK(f.elf_class() == v.elf_class);
        CHECK(f.order() == v.order);
        CHECK(f.type() == elf::et_exec);
        CHECK(f.machine() == (v.elf_class == elf::elfclass64 ? elf::em_x86_64 : elf::em_386));
        CHECK(f.entry() == 0);

        const auto& sections = f.sections();
        REQUIRE(sections.size() == section_count);
        const std::vector<std::string> names = {"",      ".text",   ".rodata", ".data",    ".bss",
                                                ".note", ".symtab", ".strtab", ".shstrtab"};
        for (std::size_t i = 0; i < names.size(); ++i)
            CHECK(sections[i].name == names[i]);
        CHECK(sections[0].type == elf::sht_null);
        CHECK(sections[1].type == elf::sht_progbits);
        CHECK(sections[1].flags == (elf::shf_alloc | elf::shf_execinstr));
        CHECK(sections[1].addr == a.text);
        CHECK(sections[1].size == text_size);
        CHECK(sections[1].addralign == 16);
        CHECK(sections[1].offset % 16 == 0);
        CHECK(sections[2].flags == elf::shf_alloc);
        CHECK(sections[2].addr == a.rodata);
        CHECK(sections[3].flags == (elf::shf_alloc | elf::shf_write));
        CHECK(sections[3].addr == a.data);
        CHECK(sections[3].size == data_size);
        CHECK(sections[4].type == elf::sht_nobits);
        CHECK(sections[4].addr == a.bss);
        CHECK(sections[4].size == bss_size);
        CHECK(sections[note_index].type == elf::sht_note);
        CHECK(sections[symtab_index].type == elf::sht_symtab);
        CHECK(sections[symtab_index].link == strtab_index);
        CHECK(sections[symtab_index].entsize == (v.elf_class == elf::elfclass64 ? 24u : 16u));
        // Index of the first non-local: null symbol + 7 locals (section and file symbols included).
        CHECK(sections[symtab_index].info == 8);
        CHECK(sections[strtab_index].type == elf::sht_strtab);
        CHECK(f.find_section(".data") == &sections[3]);
        CHECK(f.find_section(".nope") == nullptr);

        CHECK(f.section_data(sections[1]) == text_bytes());
        CHECK(f.section_data(sections[3]) == data_bytes());
        CHECK(f.section_data(sections[4]).empty());
        CHECK(f.section_data(sections[0]).empty());  // the null section: no read of zero bytes
        CHECK(f.read_vaddr(a.data + 4, 0).empty());

        const std::vector<Symbol> symbols = f.symbols();
        const std::vector<Symbol> expected = expected_symbols(v.elf_class);
        REQUIRE(symbols.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            INFO("symbol " << i << " " << expected[i].name);
            CHECK(symbols[i].name == expected[i].name);
            CHECK(symbols[i].value == expected[i].value);
            CHECK(symbols[i].size == expected[i].size);
            CHECK(symbols[i].type == expected[i].type);
            CHECK(symbols[i].elf_type == expected[i].elf_type);
            CHECK(symbols[i].elf_binding == expected[i].elf_binding);
        }

        // nm -a: the section symbol under its section's name and letter, the
        // file symbol absolute, in the table's order among the others.
        const std::vector<Symbol> every = f.symbols(true);
        REQUIRE(every.size() == expected.size() + 2);
        std::vector<std::string> listed;
        for (const Symbol& s : every)
            if (s.elf_type == elf::stt_section || s.elf_type == elf::stt_file)
                listed.push_back(fmt::format("{:#x} {} {}", s.value, s.type, s.name));
        CHECK(listed == std::vector<std::string>{fmt::format("{:#x} t .text", a.text), "0x0 a kern_main.c"});

        const Bytes data = data_bytes();
        CHECK(f.read_vaddr(a.data + 8, 4) == Bytes(data.begin() + 8, data.begin() + 12));
        CHECK(f.read_vaddr(a.data, data_size) == data);
        const Bytes rodata = rodata_bytes();
        CHECK(f.read_vaddr(a.rodata + 4, 2) == Bytes(rodata.begin() + 4, rodata.begin() + 6));
        CHECK(f.read_vaddr(a.bss + 0x10, 0x40) == Bytes(0x40));
        CHECK(f.read_vaddr(a.bss + bss_size - 1, 1) == Bytes(1));
        check_error([&] { (void)f.read_vaddr(a.data + data_size - 2, 4); }, ErrorKind::not_found,
                    fmt::format("kernel: no allocated section holds the 4 bytes at {:#x}", a.data + data_size - 2));

        const std::vector<elf::Note> notes = f.notes();
        REQUIRE(notes.size() == 3);
        CHECK(notes[0].name == "NetBSD");
        CHECK(notes[0].type == 1);
        CHECK(notes[0].desc == hex_bytes({1, 2, 3, 4}));
        CHECK(notes[1].name == "CORE");
        CHECK(notes[1].type == 6);
        CHECK(notes[1].desc == to_bytes("abcde"));
        CHECK(notes[2].name.empty());
        CHECK(notes[2].type == 7);
        CHECK(notes[2].desc.empty());

        const auto& segments = f.segments();
        REQUIRE(segments.size() == 2);
        CHECK(segments[0].type == elf::pt_note);
        CHECK(segments[0].offset == sections[note_index].offset);
        CHECK(segments[0].filesz == sections[note_index].size);
        // "NetBSD\0" pads to 8, "CORE\0" to 8, "abcde" to 8: 12+8+4 + 12+8+8 + 12.
        CHECK(segments[0].filesz == 64);
        CHECK(segments[1].type == elf::pt_load);
        CHECK(segments[1].flags == 5);
        CHECK(segments[1].vaddr == a.text);
        CHECK(segments[1].paddr == load_paddr);
        CHECK(segments[1].filesz == text_size);
        CHECK(segments[1].memsz == 0x2000);
        CHECK(segments[1].align == 0x1000);
        CHECK(segments[1].offset % 0x1000 == a.text % 0x1000);
        CHECK(Bytes(image.begin() + static_cast<std::ptrdiff_t>(segments[1].offset),
                    image.begin() + static_cast<std::ptrdiff_t>(segments[1].offset + text_size)) == text_bytes());
    }
}

TEST_CASE("hand-written ELF64 LE executable: header and one symbol decode to the spec's values") {
    // 0x000 ELF header, 0x040 .text (16 bytes), 0x050 .symtab (2 x 24),
    // 0x080 .strtab, 0x086 .shstrtab, 0x0a8 five section headers.
    Bytes f = hex_bytes({
        0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // e_ident
        0x02, 0x00,                                                                                      // ET_EXEC
        0x3e, 0x00,                                                                                      // EM_X86_64
        0x01, 0x00, 0x00, 0x00,                                                                          // e_version
        0x00, 0x10, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,                                                  // e_entry
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                                                  // e_phoff
        0xa8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                                                  // e_shoff
        0x00, 0x00, 0x00, 0x00,                                                                          // e_flags
        0x40, 0x00, 0x38, 0x00, 0x00, 0x00,  // e_ehsize, e_phentsize, e_phnum
        0x40, 0x00, 0x05, 0x00, 0x04, 0x00,  // e_shentsize, e_shnum, e_shstrndx
    });
    for (int i = 0; i < 16; ++i)
        f.push_back(std::byte{0x90});  // .text
    f.resize(0x50 + sym64);            // .symtab: the null symbol
    const Bytes main_symbol = hex_bytes({
        0x01, 0x00, 0x00, 0x00,                          // st_name: "main"
        0x12,                                            // st_info: STB_GLOBAL << 4 | STT_FUNC
        0x00,                                            // st_other
        0x01, 0x00,                                      // st_shndx: .text
        0x00, 0x10, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,  // st_value
        0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // st_size
    });
    f.insert(f.end(), main_symbol.begin(), main_symbol.end());
    const Bytes strtab = to_bytes(std::string_view("\0main\0", 6));
    f.insert(f.end(), strtab.begin(), strtab.end());
    const Bytes shstrtab = to_bytes(std::string_view("\0.text\0.symtab\0.strtab\0.shstrtab\0", 33));
    f.insert(f.end(), shstrtab.begin(), shstrtab.end());
    REQUIRE(f.size() == 0xa7);
    f.push_back(std::byte{0});
    // name, type, flags, addr, offset, size, link, info, addralign, entsize
    const auto shdr = [&f](std::uint32_t name, std::uint32_t type, std::uint64_t flags, std::uint64_t addr,
                           std::uint64_t offset, std::uint64_t size, std::uint32_t link, std::uint32_t info,
                           std::uint64_t align, std::uint64_t entsize) {
        const std::size_t at = f.size();
        f.resize(at + shdr64);
        put32(f, at, name);
        put32(f, at + 4, type);
        put64(f, at + 8, flags);
        put64(f, at + 0x10, addr);
        put64(f, at + 0x18, offset);
        put64(f, at + 0x20, size);
        put32(f, at + 0x28, link);
        put32(f, at + 0x2c, info);
        put64(f, at + 0x30, align);
        put64(f, at + 0x38, entsize);
    };
    shdr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    shdr(1, 1, 6, 0x401000, 0x40, 0x10, 0, 0, 16, 0);  // .text: PROGBITS, ALLOC|EXECINSTR
    shdr(7, 2, 0, 0, 0x50, 0x30, 3, 1, 8, 24);         // .symtab -> .strtab, first global 1
    shdr(15, 3, 0, 0, 0x80, 6, 0, 0, 1, 0);            // .strtab
    shdr(23, 3, 0, 0, 0x86, 33, 0, 0, 1, 0);           // .shstrtab
    REQUIRE(f.size() == 0x1e8);

    const elf::File file = open_bytes(f);
    CHECK(file.elf_class() == elf::elfclass64);
    CHECK(file.order() == ByteOrder::little);
    CHECK(file.type() == 2);
    CHECK(file.machine() == 62);
    CHECK(file.entry() == 0x401000);
    CHECK(file.segments().empty());
    REQUIRE(file.sections().size() == 5);
    const elf::Section& text = file.sections()[1];
    CHECK(text.name == ".text");
    CHECK(text.type == 1);
    CHECK(text.flags == 6);
    CHECK(text.addr == 0x401000);
    CHECK(text.offset == 0x40);
    CHECK(text.size == 0x10);
    CHECK(text.addralign == 16);
    CHECK(file.sections()[2].name == ".symtab");
    CHECK(file.sections()[2].link == 3);
    CHECK(file.sections()[4].name == ".shstrtab");

    const std::vector<Symbol> symbols = file.symbols();
    REQUIRE(symbols.size() == 1);
    CHECK(symbols[0].name == "main");
    CHECK(symbols[0].value == 0x401000);
    CHECK(symbols[0].size == 16);
    CHECK(symbols[0].type == 'T');
    CHECK(symbols[0].elf_type == 2);
    CHECK(symbols[0].elf_binding == 1);
    CHECK(file.read_vaddr(0x401004, 4) == hex_bytes({0x90, 0x90, 0x90, 0x90}));
    CHECK(file.notes().empty());
}

TEST_CASE("hand-written ELF32 BE core: program headers and a note decode to the spec's values") {
    const Bytes f = hex_bytes({
        0x7f,
        0x45,
        0x4c,
        0x46,
        0x01,
        0x02,
        0x01,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,  // e_ident
        0x00,
        0x04,
        0x00,
        0x02,
        0x00,
        0x00,
        0x00,
        0x01,  // ET_CORE, EM_SPARC, e_version
        0x00,
        0x00,
        0x00,
        0x00,  // e_entry
        0x00,
        0x00,
        0x00,
        0x34,  // e_phoff
        0x00,
        0x00,
        0x00,
        0x00,  // e_shoff
        0x00,
        0x00,
        0x00,
        0x00,  // e_flags
        0x00,
        0x34,
        0x00,
        0x20,
        0x00,
        0x02,  // e_ehsize, e_phentsize, e_phnum
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,  // e_shentsize, e_shnum, e_shstrndx
        // 0x34: PT_NOTE: type, offset, vaddr, paddr, filesz, memsz, flags, align
        0x00,
        0x00,
        0x00,
        0x04,
        0x00,
        0x00,
        0x00,
        0x74,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x18,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x04,
        // 0x54: PT_LOAD
        0x00,
        0x00,
        0x00,
        0x01,
        0x00,
        0x00,
        0x00,
        0x8c,
        0xc0,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x10,
        0x00,
        0x00,
        0x00,
        0x00,
        0x04,
        0x00,
        0x00,
        0x10,
        0x00,
        0x00,
        0x00,
        0x00,
        0x05,
        0x00,
        0x00,
        0x00,
        0x04,
        // 0x74: note: namesz 5, descsz 3, type 1, "CORE\0" + 3 pad, "abc" + 1 pad
        0x00,
        0x00,
        0x00,
        0x05,
        0x00,
        0x00,
        0x00,
        0x03,
        0x00,
        0x00,
        0x00,
        0x01,
        0x43,
        0x4f,
        0x52,
        0x45,
        0x00,
        0x00,
        0x00,
        0x00,
        0x61,
        0x62,
        0x63,
        0x00,
        // 0x8c: the loaded bytes
        0xde,
        0xad,
        0xbe,
        0xef,
    });
    const elf::File file(memory(f, "core"));
    CHECK(file.elf_class() == elf::elfclass32);
    CHECK(file.order() == ByteOrder::big);
    CHECK(file.type() == elf::et_core);
    CHECK(file.machine() == 2);
    CHECK(file.sections().empty());
    REQUIRE(file.segments().size() == 2);
    const elf::Segment& load = file.segments()[1];
    CHECK(load.type == elf::pt_load);
    CHECK(load.offset == 0x8c);
    CHECK(load.vaddr == 0xc0000000);
    CHECK(load.paddr == 0x1000);
    CHECK(load.filesz == 4);
    CHECK(load.memsz == 0x1000);
    CHECK(load.flags == 5);
    CHECK(load.align == 4);
    const auto notes = file.notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].name == "CORE");
    CHECK(notes[0].type == 1);
    CHECK(notes[0].desc == to_bytes("abc"));
    check_error([&] { (void)file.symbols(); }, ErrorKind::not_found, "core: no symbol table (stripped?)");
}

TEST_CASE("QEMU-style core: section headers first, program headers at offset 192, wrong e_ehsize") {
    // dump-guest-memory writes the ELF header, then section headers (one
    // null, one holding the real e_phnum), then the program headers.
    Encoder e(ByteOrder::little);
    e.u8(0x7f).string("ELF").u8(2).u8(1).u8(1).zeros(9);
    e.u16(elf::et_core).u16(elf::em_x86_64).u32(1).u64(0);
    e.u64(192).u64(64);       // e_phoff, e_shoff
    e.u32(0).u16(0x20);       // e_flags, a wrong e_ehsize
    e.u16(56).u16(2);         // e_phentsize, e_phnum
    e.u16(64).u16(2).u16(0);  // e_shentsize, e_shnum, e_shstrndx: no names
    e.zeros(64);              // section 0
    e.u32(0).u32(elf::sht_note).u64(0).u64(0).u64(304).u64(24).u32(0).u32(0).u64(4).u64(0);
    REQUIRE(e.size() == 192);
    e.u32(elf::pt_note).u32(0).u64(304).u64(0).u64(0).u64(24).u64(0).u64(0);
    e.u32(elf::pt_load).u32(7).u64(328).u64(0).u64(0x100000).u64(8).u64(8).u64(0);
    REQUIRE(e.size() == 304);
    e.u32(5).u32(4).u32(0x11).string("QEMU").zeros(4).u32(0xcafef00d);  // note at 304
    e.u64(0x1122334455667788ull);                                       // PT_LOAD data at 328
    const elf::File file(memory(e.take(), "vmcore"));
    REQUIRE(file.segments().size() == 2);
    CHECK(file.segments()[0].type == elf::pt_note);
    CHECK(file.segments()[1].paddr == 0x100000);
    CHECK(file.segments()[1].offset == 328);
    REQUIRE(file.sections().size() == 2);
    CHECK(file.sections()[1].name.empty());
    const auto notes = file.notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].name == "QEMU");
    CHECK(notes[0].type == 0x11);
    CHECK(notes[0].desc == hex_bytes({0x0d, 0xf0, 0xfe, 0xca}));
}

TEST_CASE("ELF64 notes use 4-byte padding, as Linux vmcores write them") {
    // "VMCOREINFO\0" is 11 bytes: padded to 12, not 16; the descriptor of 6
    // bytes to 8.  8-byte padding would misplace both notes.
    Encoder notes(ByteOrder::little);
    notes.u32(11).u32(6).u32(0).string("VMCOREINFO").zeros(1).pad_to(4).string("PAGE=1").pad_to(4);
    notes.u32(5).u32(4).u32(1).string("CORE").zeros(1).pad_to(4).u32(42);
    synth::ElfWriterOptions options;
    options.type = elf::et_core;
    synth::ElfWriter w(options);
    Bytes note_bytes = notes.take();
    REQUIRE(note_bytes.size() == 56);
    w.add_segment(elf::pt_note, 0, 0, 0, note_bytes, note_bytes.size(), 0);
    const elf::File file(memory(w.build()));
    const auto parsed = file.notes();
    REQUIRE(parsed.size() == 2);
    CHECK(parsed[0].name == "VMCOREINFO");
    CHECK(as_chars(parsed[0].desc) == "PAGE=1");
    CHECK(parsed[1].name == "CORE");
    CHECK(parsed[1].desc == hex_bytes({42, 0, 0, 0}));
}

TEST_CASE("a note segment that declares 8-byte alignment (.note.gnu.property) is read with 8-byte padding") {
    Encoder notes(ByteOrder::little);
    notes.u32(4).u32(12).u32(5).string("GNU").zeros(1).string("property-12!").pad_to(8);
    notes.u32(4).u32(1).u32(3).string("GNU").zeros(1).u8(7).pad_to(8);
    synth::ElfWriter w({});
    Bytes note_bytes = notes.take();
    REQUIRE(note_bytes.size() == 56);
    w.add_segment(elf::pt_note, 0, 0, 0, note_bytes, note_bytes.size(), 8);
    const auto parsed = elf::File(memory(w.build())).notes();
    REQUIRE(parsed.size() == 2);
    CHECK(as_chars(parsed[0].desc) == "property-12!");
    CHECK(parsed[1].type == 3);
    CHECK(parsed[1].desc == hex_bytes({7}));
}

TEST_CASE("without PT_NOTE segments, notes come from SHT_NOTE sections") {
    const Bytes image =
        sample_kernel(elf::elfclass64, ByteOrder::big, {.notes = true, .symbols = true, .segment = false});
    Bytes no_phdrs = image;
    // Drop the program headers: e_phnum = 0 (big-endian field).
    store16(no_phdrs.data() + e_phnum64, 0, ByteOrder::big);
    const elf::File file(memory(no_phdrs));
    CHECK(file.segments().empty());
    const auto notes = file.notes();
    REQUIRE(notes.size() == 3);
    CHECK(notes[0].name == "NetBSD");
    CHECK(notes[1].desc == to_bytes("abcde"));
}

TEST_CASE("extended numbering: e_shnum 0 and e_shstrndx SHN_XINDEX take the count and index from section 0") {
    Bytes b = sample64();
    const std::size_t s0 = section_header(b, 0);
    put16(b, e_shnum64, 0);
    put16(b, e_shstrndx64, elf::shn_xindex);
    put64(b, s0 + sh_size64, section_count);
    put32(b, s0 + sh_link64, section_count - 1);
    const elf::File file = open_bytes(b);
    REQUIRE(file.sections().size() == section_count);
    CHECK(file.sections()[3].name == ".data");
    CHECK(file.symbols().size() == expected_symbols(elf::elfclass64).size());

    // e_phnum PN_XNUM: the program header count is section 0's sh_info.
    put16(b, e_phnum64, 0xffff);
    put32(b, s0 + sh_info64, 2);
    const elf::File with_xnum = open_bytes(b);
    REQUIRE(with_xnum.segments().size() == 2);
    CHECK(with_xnum.segments()[1].type == elf::pt_load);
    // Reading segments only still finds the count in section 0.
    const elf::File segments_only(memory(b), elf::File::SegmentsOnly{});
    CHECK(segments_only.sections().empty());
    REQUIRE(segments_only.segments().size() == 2);
    CHECK(segments_only.segments()[1].type == elf::pt_load);
}

TEST_CASE("segments only: a core whose section table and names are cut off still opens") {
    // QEMU writes the section name table at the end of the core: a cut
    // copy has program headers and notes but no names.
    Bytes b = sample64();
    put16(b, e_shstrndx64, 2);
    put64(b, section_header(b, 2) + sh_offset64, b.size() + 0x1000);
    CHECK_THROWS_AS(open_bytes(b), Error);
    const elf::File core(memory(b), elf::File::SegmentsOnly{});
    CHECK(core.segments().size() == open_bytes(sample64()).segments().size());
    CHECK(core.notes().size() == open_bytes(sample64()).notes().size());
}

TEST_CASE("ElfWriter switches to extended section numbering past 0xff00 sections") {
    synth::ElfWriter w({});
    const std::size_t user_sections = 0xff00 - 1;  // every index below SHN_LORESERVE
    for (std::size_t i = 0; i < user_sections; ++i)
        w.add_section(fmt::format("s{}", i), elf::sht_progbits, 0, 0, {});
    CHECK_THROWS_AS(w.add_section("one-too-many", elf::sht_progbits, 0, 0, {}), Error);
    w.add_symbol({"last", 0, 0, elf::stt_object, elf::stb_global, 0xfeff});
    const Bytes b = w.build();
    CHECK(load16(b.data() + e_shnum64, ByteOrder::little) == 0);
    CHECK(load16(b.data() + e_shstrndx64, ByteOrder::little) == elf::shn_xindex);
    CHECK(get64(b, section_header(b, 0) + sh_size64) == user_sections + 4);
    const elf::File file = open_bytes(b);
    REQUIRE(file.sections().size() == user_sections + 4);
    CHECK(file.sections()[0xfeff].name == "s65278");
    CHECK(file.sections().back().name == ".shstrtab");
    const auto symbols = file.symbols();
    REQUIRE(symbols.size() == 1);
    CHECK(symbols[0].type == 'N');  // a global in a non-allocated, read-only section
}

TEST_CASE("symbols in SHN_XINDEX sections find their index in SHT_SYMTAB_SHNDX") {
    // The writer never needs SHN_XINDEX (it caps sections below 0xff00), so
    // build the table by hand: symbol 1 lives in section 1 via the extended table.
    Bytes b = sample64();
    const std::size_t symtab = section_header(b, symtab_index);
    const std::uint64_t first_symbol = get64(b, symtab + sh_offset64) + sym64;
    // Symbol 1 is "local_fn" in .text: the writer puts locals first, in the order added.
    put16(b, first_symbol + 6, elf::shn_xindex);
    // Reuse the .note section as the SHT_SYMTAB_SHNDX table: type, link, and a
    // table of uint32 indexes appended to the file.
    const std::uint64_t symbol_count = get64(b, symtab + sh_size64) / sym64;
    const std::size_t table_at = b.size();
    b.resize(table_at + symbol_count * 4);
    put32(b, table_at + 4, 1);  // symbol 1 -> section 1
    const std::size_t note = section_header(b, note_index);
    put32(b, note + 4, 18);  // SHT_SYMTAB_SHNDX
    put64(b, note + sh_offset64, table_at);
    put64(b, note + sh_size64, symbol_count * 4);
    put32(b, note + sh_link64, symtab_index);
    const auto symbols = open_bytes(b).symbols();
    REQUIRE(symbols[0].name == "local_fn");
    CHECK(symbols[0].type == 't');

    // Without the table, SHN_XINDEX is an error.
    put32(b, note + sh_link64, 0);
    check_error([&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
                "kernel: symbol table .symtab (section 6): symbol 1 has st_shndx SHN_XINDEX, but there is no "
                "SHT_SYMTAB_SHNDX section for the table");
}

TEST_CASE("is_elf looks at the magic only") {
    CHECK(elf::is_elf(MemorySource(sample64())));
    CHECK(
        elf::is_elf(MemorySource(to_bytes("\x7f"
                                          "ELF"))));
    CHECK_FALSE(
        elf::is_elf(MemorySource(to_bytes("\x7f"
                                          "EL"))));
    CHECK_FALSE(elf::is_elf(MemorySource({})));
    CHECK_FALSE(elf::is_elf(MemorySource(to_bytes("#!/bin/sh\n"))));
}

// ---------------------------------------------------------------- bad input

TEST_CASE("bad input: not ELF is a format error") {
    check_error([] { open_bytes({}); }, ErrorKind::format, "kernel: empty file, not ELF");
    check_error([] { open_bytes(to_bytes("#!/bin/sh\necho hello\n")); }, ErrorKind::format,
                "kernel: not an ELF file (no \\x7fELF magic)");
    check_error(
        [] {
            open_bytes(
                to_bytes("\x7f"
                         "E"));
        },
        ErrorKind::format, "kernel: not an ELF file (no \\x7fELF magic)");
}

TEST_CASE("bad input: identification and header") {
    Bytes b = sample64();
    b[4] = std::byte{3};
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                "kernel: ELF header: EI_CLASS is 3, neither 1 (ELF32) nor 2 (ELF64)");
    b = sample64();
    b[5] = std::byte{0};
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                "kernel: ELF header: EI_DATA is 0, neither 1 (little-endian) nor 2 (big-endian)");
    const Bytes good = sample64();
    check_error([&] { open_bytes(Bytes(good.begin(), good.begin() + 10)); }, ErrorKind::corrupt,
                "kernel: ELF header is truncated: e_ident needs 16 bytes, the file has 0xa");
    check_error([&] { open_bytes(Bytes(good.begin(), good.begin() + 40)); }, ErrorKind::corrupt,
                "kernel: ELF header is truncated: an ELF64 header needs 64 bytes, the file has 0x28");
    const Bytes small = sample_kernel(elf::elfclass32, ByteOrder::big);
    check_error([&] { open_bytes(Bytes(small.begin(), small.begin() + 51)); }, ErrorKind::corrupt,
                "kernel: ELF header is truncated: an ELF32 header needs 52 bytes, the file has 0x33");
}

TEST_CASE("bad input: section header table") {
    const Bytes good = sample64();
    const std::uint64_t size = good.size();

    Bytes b = good;
    put64(b, e_shoff64, size - 64);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                fmt::format("kernel: section header table at offset {:#x}, 9 entries of 64 bytes, is past the end "
                            "of the file (size {:#x})",
                            size - 64, size));

    b = good;
    put64(b, e_shoff64, 0xfffffffffffffff0ull);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                "kernel: section header table overflows: 0xfffffffffffffff0 + 0x240");

    b = good;
    put16(b, e_shentsize64, 40);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                "kernel: ELF header: e_shentsize is 40, but an ELF64 section header is 64 bytes");

    b = good;
    put16(b, e_shnum64, 0xfff0);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                fmt::format("kernel: section header table at offset {:#x}, 65520 entries of 64 bytes, is past the "
                            "end of the file (size {:#x})",
                            get64(good, e_shoff64), size));

    // An extended count beyond the reader's limit is refused before anything is allocated.
    b = good;
    put16(b, e_shnum64, 0);
    put64(b, section_header(b, 0) + sh_size64, 0x100000000ull);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                fmt::format("kernel: section header table at offset {:#x} has 4294967296 entries, more than the "
                            "65536 this reader accepts",
                            get64(good, e_shoff64)));

    b = good;
    put16(b, e_shstrndx64, 40);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                "kernel: ELF header: the section name table is section 40, but there are only 9 sections");

    b = good;
    const std::size_t shstrtab = section_header(b, section_count - 1);
    const std::uint64_t names_size = get64(good, shstrtab + sh_size64);
    put64(b, shstrtab + sh_offset64, size - 4);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                fmt::format("kernel: section name table (section 8) at offset {:#x}, size {:#x}, is past the end of "
                            "the file (size {:#x})",
                            size - 4, names_size, size));

    b = good;
    put32(b, section_header(b, 2), 0x500);  // .rodata's sh_name
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                fmt::format("kernel: section 2: name offset 0x500 is past the end of the {:#x} bytes of section name "
                            "table (section 8)",
                            names_size));
}

TEST_CASE("bad input: program header table") {
    const Bytes good = sample64();
    const std::uint64_t size = good.size();
    Bytes b = good;
    put64(b, e_phoff64, size - 8);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                fmt::format("kernel: program header table at offset {:#x}, 2 entries of 56 bytes, is past the end "
                            "of the file (size {:#x})",
                            size - 8, size));
    b = good;
    put16(b, e_phentsize64, 32);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                "kernel: ELF header: e_phentsize is 32, but an ELF64 program header is 56 bytes");
    b = sample_kernel(elf::elfclass64, ByteOrder::little, {.notes = false, .symbols = false, .segment = true});
    put64(b, e_shoff64, 0);
    put16(b, e_phnum64, 0xffff);
    check_error([&] { open_bytes(b); }, ErrorKind::corrupt,
                "kernel: ELF header: e_phnum is PN_XNUM (0xffff), but there is no section 0 to hold the count");
}

TEST_CASE("bad input: symbol table") {
    const Bytes good = sample64();
    const std::uint64_t size = good.size();
    const std::size_t symtab = section_header(good, symtab_index);
    const std::uint64_t symtab_size = get64(good, symtab + sh_size64);
    const std::uint64_t count = symtab_size / sym64;

    Bytes b = good;
    put64(b, symtab + sh_size64, symtab_size + 1);
    check_error([&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
                fmt::format("kernel: symbol table .symtab (section 6): sh_size {:#x} is not a multiple of the "
                            "24-byte symbol size",
                            symtab_size + 1));

    b = good;
    put64(b, symtab + sh_offset64, size - sym64);
    check_error([&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
                fmt::format("kernel: symbol table .symtab (section 6) at offset {:#x}, {} entries of 24 bytes, is "
                            "past the end of the file (size {:#x})",
                            size - sym64, count, size));

    b = good;
    put64(b, symtab + 0x38, 16);  // sh_entsize
    check_error([&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
                "kernel: symbol table .symtab (section 6): sh_entsize is 16, but an ELF64 symbol is 24 bytes");

    b = good;
    put32(b, symtab + sh_link64, 99);
    check_error([&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
                "kernel: symbol table .symtab (section 6): sh_link 99 is not a section index (the file has 9 "
                "sections)");

    b = good;
    put32(b, symtab + sh_link64, 3);
    check_error([&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
                "kernel: symbol table .symtab (section 6): sh_link 3 is section .data of type 1, not a string table");

    // A name offset past the string table is an error, not an empty or
    // truncated name: such a table cannot be trusted for the others either.
    b = good;
    const std::size_t strtab = section_header(good, strtab_index);
    const std::uint64_t strtab_size = get64(good, strtab + sh_size64);
    const std::uint64_t fourth = get64(good, symtab + sh_offset64) + 4 * sym64;  // ro_local
    put32(b, fourth, 0x10000);
    check_error([&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
                fmt::format("kernel: symbol table .symtab (section 6): symbol 4: name offset 0x10000 is past the end "
                            "of the {:#x} bytes of string table .strtab (section 7)",
                            strtab_size));

    // The last string must end in a NUL inside the table.
    b = good;
    put64(b, strtab + sh_size64, strtab_size - 1);
    check_error(
        [&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
        fmt::format("kernel: symbol table .symtab (section {}): symbol {}: name at offset {:#x} runs off the "
                    "end of the {:#x} bytes of string table .strtab (section 7) without a NUL",
                    symtab_index, count - 1, strtab_size - 1 - std::string_view("weak_undef").size(), strtab_size - 1));

    b = good;
    put64(b, strtab + sh_offset64, size);
    check_error([&] { (void)open_bytes(b).symbols(); }, ErrorKind::corrupt,
                fmt::format("kernel: section .strtab at offset {:#x}, size {:#x}, is past the end of the file (size "
                            "{:#x})",
                            size, strtab_size, size));
}

TEST_CASE("bad input: a file without a symbol table is not_found") {
    const Bytes b = sample_kernel(elf::elfclass64, ByteOrder::little, {.notes = true, .symbols = false});
    const elf::File file = open_bytes(b);
    CHECK(file.find_section(".symtab") == nullptr);
    check_error([&] { (void)file.symbols(); }, ErrorKind::not_found, "kernel: no symbol table (stripped?)");
}

TEST_CASE("bad input: notes") {
    const Bytes good = sample64();
    const std::uint64_t phoff = get64(good, e_phoff64);
    const std::uint64_t notes_at = get64(good, phoff + 8);  // PT_NOTE p_offset

    Bytes b = good;
    put32(b, notes_at, 0x1000);  // namesz of note 0
    check_error([&] { (void)open_bytes(b).notes(); }, ErrorKind::corrupt,
                "kernel: PT_NOTE segment 0: note 0 at offset 0x0: namesz 0x1000 runs past the end of the notes (0x40 "
                "bytes)");

    b = good;
    put32(b, notes_at + 24 + 4, 0x15);  // descsz of note 1 ("CORE"): one byte more than the 0x14 left
    check_error([&] { (void)open_bytes(b).notes(); }, ErrorKind::corrupt,
                "kernel: PT_NOTE segment 0: note 1 at offset 0x18: descsz 0x15 runs past the end of the notes (0x40 "
                "bytes)");

    b = good;
    put64(b, phoff + 0x20, good.size());  // p_filesz
    check_error([&] { (void)open_bytes(b).notes(); }, ErrorKind::corrupt,
                fmt::format("kernel: PT_NOTE segment 0 at offset {:#x}, size {:#x}, is past the end of the file "
                            "(size {:#x})",
                            notes_at, good.size(), good.size()));
}

TEST_CASE("bad input: a section whose data is past the end of the file") {
    Bytes b = sample64();
    const std::size_t data = section_header(b, 3);
    put64(b, data + sh_offset64, b.size() - 8);
    const elf::File file = open_bytes(b);
    check_error([&] { (void)file.section_data(file.sections()[3]); }, ErrorKind::corrupt,
                fmt::format("kernel: section .data at offset {:#x}, size 0x20, is past the end of the file (size "
                            "{:#x})",
                            b.size() - 8, b.size()));
    const std::uint64_t data_addr = addresses(elf::elfclass64).data;
    check_error([&] { (void)file.read_vaddr(data_addr + 16, 16); }, ErrorKind::corrupt,
                fmt::format("kernel: truncated: the data at {:#x} in section .data needs 16 bytes at offset {:#x}, "
                            "but the file has {:#x}",
                            data_addr + 16, b.size() + 8, b.size()));
}

TEST_CASE("bad input: every truncation and random corruption fails cleanly") {
    for (const Variant& v : all_variants()) {
        INFO(std::string(v.label));
        const Bytes good = sample_kernel(v.elf_class, v.order);
        const auto exercise = [](Bytes bytes) {
            try {
                const elf::File file(std::make_shared<MemorySource>(std::move(bytes)));
                for (const auto& s : file.sections()) {
                    try {
                        (void)file.section_data(s);
                        (void)file.read_vaddr(s.addr, std::min<std::uint64_t>(s.size, 64));
                    } catch (const Error&) {
                    }
                }
                try {
                    (void)file.notes();
                } catch (const Error&) {
                }
                (void)file.symbols();
            } catch (const Error&) {
            }
        };
        for (std::size_t n = 0; n < good.size(); ++n)
            exercise(Bytes(good.begin(), good.begin() + n));

        std::mt19937_64 random(v.elf_class * 10 + static_cast<unsigned>(v.order));
        std::uniform_int_distribution<std::size_t> where(0, good.size() - 1);
        std::uniform_int_distribution<unsigned> what(0, 255);
        for (int round = 0; round < 3000; ++round) {
            Bytes b = good;
            const int changes = 1 + round % 4;
            for (int c = 0; c < changes; ++c)
                b[where(random)] = static_cast<std::byte>(what(random));
            exercise(std::move(b));
        }
    }
}
