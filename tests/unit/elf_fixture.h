// The small kernel the ELF and symbol tests share: four sections, symbols of
// every binding and nm letter, notes and one PT_LOAD, written by ElfWriter in
// any class and byte order.  The expected symbols are listed here once, in
// the order the file holds them (locals first, as the writer puts them).
#pragma once

#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/symbols.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kvmtest {

struct Variant {
    unsigned elf_class;
    kvm::ByteOrder order;
    const char* label;
};

inline const std::vector<Variant>& all_variants() {
    static const std::vector<Variant> variants = {
        {kvm::elf::elfclass32, kvm::ByteOrder::little, "ELF32 LE"},
        {kvm::elf::elfclass32, kvm::ByteOrder::big, "ELF32 BE"},
        {kvm::elf::elfclass64, kvm::ByteOrder::little, "ELF64 LE"},
        {kvm::elf::elfclass64, kvm::ByteOrder::big, "ELF64 BE"},
    };
    return variants;
}

enum class Where { text, rodata, data, bss, abs, undef };

struct SymbolRow {
    const char* name;
    Where where;
    std::uint64_t offset;  // from the section start; the value itself for abs
    std::uint64_t size;
    std::uint8_t type;
    std::uint8_t binding;
    char letter;  // what GNU nm prints; 0 for symbols nm leaves out
};

// In the order they are added to the writer.
inline const std::vector<SymbolRow>& symbol_rows() {
    using namespace kvm::elf;
    static const std::vector<SymbolRow> rows = {
        {"start", Where::text, 0x0, 0x10, stt_func, stb_global, 'T'},
        {"local_fn", Where::text, 0x10, 0x10, stt_func, stb_local, 't'},
        {"weak_fn", Where::text, 0x20, 0x8, stt_func, stb_weak, 'W'},
        {"etext", Where::text, 0x40, 0, stt_notype, stb_global, 'T'},
        {"", Where::text, 0, 0, stt_section, stb_local, 0},
        {"kern_main.c", Where::abs, 0, 0, stt_file, stb_local, 0},
        {"version", Where::rodata, 0x0, 0x10, stt_object, stb_global, 'R'},
        {"ro_local", Where::rodata, 0x10, 0x8, stt_object, stb_local, 'r'},
        {"dumpmag", Where::data, 0x0, 0x4, stt_object, stb_global, 'D'},
        {"counter", Where::data, 0x8, 0x4, stt_object, stb_local, 'd'},
        {"weak_obj", Where::data, 0x10, 0x8, stt_object, stb_weak, 'V'},
        {"_foo", Where::data, 0x18, 0, stt_notype, stb_global, 'D'},
        {"counter", Where::bss, 0x0, 0x8, stt_object, stb_local, 'b'},
        {"buffer", Where::bss, 0x10, 0x40, stt_object, stb_global, 'B'},
        {"abs_const", Where::abs, 0x1234, 0, stt_notype, stb_global, 'A'},
        {"abs_local", Where::abs, 0x99, 0, stt_object, stb_local, 'a'},
        {"undef_fn", Where::undef, 0, 0, stt_notype, stb_global, 'U'},
        {"weak_undef", Where::undef, 0, 0, stt_notype, stb_weak, 'w'},
    };
    return rows;
}

struct Addresses {
    std::uint64_t text;
    std::uint64_t rodata;
    std::uint64_t data;
    std::uint64_t bss;
};

inline Addresses addresses(unsigned elf_class) {
    const std::uint64_t base = elf_class == kvm::elf::elfclass64 ? 0xffffffff80200000ull : 0xc0200000ull;
    return {base, base + 0x1000, base + 0x2000, base + 0x3000};
}

inline constexpr std::uint64_t text_size = 0x40;
inline constexpr std::uint64_t rodata_size = 0x20;
inline constexpr std::uint64_t data_size = 0x20;
inline constexpr std::uint64_t bss_size = 0x100;
inline constexpr std::uint64_t load_paddr = 0x200000;

// Bytes that differ at every offset, so a read at the wrong place shows.
inline kvm::Bytes pattern(std::size_t n, unsigned seed) {
    kvm::Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::byte>((seed + i * 7) & 0xff);
    return b;
}
inline kvm::Bytes text_bytes() {
    return pattern(text_size, 0x11);
}
inline kvm::Bytes rodata_bytes() {
    return pattern(rodata_size, 0x22);
}
inline kvm::Bytes data_bytes() {
    return pattern(data_size, 0x33);
}

inline std::uint64_t value_of(const SymbolRow& row, unsigned elf_class) {
    const Addresses a = addresses(elf_class);
    switch (row.where) {
        case Where::text:
            return a.text + row.offset;
        case Where::rodata:
            return a.rodata + row.offset;
        case Where::data:
            return a.data + row.offset;
        case Where::bss:
            return a.bss + row.offset;
        case Where::abs:
            return row.offset;
        case Where::undef:
            return 0;
    }
    return 0;
}

struct KernelOptions {
    bool notes = true;
    bool symbols = true;
    bool segment = true;
};

inline kvm::Bytes sample_kernel(unsigned elf_class, kvm::ByteOrder order, KernelOptions options = {}) {
    using namespace kvm::elf;
    kvm::synth::ElfWriterOptions writer_options;
    writer_options.elf_class = elf_class;
    writer_options.order = order;
    writer_options.machine = elf_class == elfclass64 ? em_x86_64 : em_386;
    kvm::synth::ElfWriter w(writer_options);
    const Addresses a = addresses(elf_class);
    const std::uint16_t text =
        w.add_section(".text", sht_progbits, shf_alloc | shf_execinstr, a.text, text_bytes(), 16);
    const std::uint16_t rodata = w.add_section(".rodata", sht_progbits, shf_alloc, a.rodata, rodata_bytes(), 8);
    const std::uint16_t data = w.add_section(".data", sht_progbits, shf_alloc | shf_write, a.data, data_bytes(), 8);
    const std::uint16_t bss = w.add_section(".bss", sht_nobits, shf_alloc | shf_write, a.bss, {}, 32, bss_size);
    if (options.symbols) {
        for (const SymbolRow& row : symbol_rows()) {
            kvm::synth::ElfSymbolSpec spec;
            spec.name = row.name;
            spec.value = value_of(row, elf_class);
            spec.size = row.size;
            spec.type = row.type;
            spec.binding = row.binding;
            switch (row.where) {
                case Where::text:
                    spec.shndx = text;
                    break;
                case Where::rodata:
                    spec.shndx = rodata;
                    break;
                case Where::data:
                    spec.shndx = data;
                    break;
                case Where::bss:
                    spec.shndx = bss;
                    break;
                case Where::abs:
                    spec.shndx = shn_abs;
                    break;
                case Where::undef:
                    spec.shndx = shn_undef;
                    break;
            }
            w.add_symbol(spec);
        }
    }
    if (options.notes) {
        w.add_note("NetBSD", 1, {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}});
        w.add_note("CORE", 6, kvm::to_bytes("abcde"));
        w.add_note("", 7, {});
    }
    if (options.segment) w.add_segment(pt_load, 5, a.text, load_paddr, text_bytes(), 0x2000, 0x1000);
    return w.build();
}

// The symbols File::symbols() must return for sample_kernel(): locals
// first, each group in the order added, section and file symbols left out.
inline std::vector<kvm::Symbol> expected_symbols(unsigned elf_class) {
    std::vector<kvm::Symbol> out;
    for (const bool locals : {true, false}) {
        for (const SymbolRow& row : symbol_rows()) {
            if ((row.binding == kvm::elf::stb_local) != locals || row.letter == 0) continue;
            kvm::Symbol s;
            s.name = row.name;
            s.value = value_of(row, elf_class);
            s.size = row.size;
            s.type = row.letter;
            s.elf_type = row.type;
            s.elf_binding = row.binding;
            out.push_back(s);
        }
    }
    return out;
}

// Runs `body` and checks it throws a kvm::Error of `kind` with exactly `message`.
template <typename Body>
void check_error(Body&& body, kvm::ErrorKind kind, const std::string& message) {
    bool threw = false;
    try {
        body();
    } catch (const kvm::Error& e) {
        threw = true;
        CHECK(kvm::to_string(e.kind()) == kvm::to_string(kind));
        CHECK(std::string(e.what()) == message);
    }
    CHECK_MESSAGE(threw, "expected an error: " << message);
}

}  // namespace kvmtest
