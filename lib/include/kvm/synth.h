// Synthetic crash dumps whose every byte is known: for tests, benchmarks and
// the demo.  The pieces are usable on their own:
//   PhysMemory        sparse physical RAM with a content filler for the rest
//   PageTableBuilder  page tables of one paging scheme, planted in PhysMemory
//   ElfWriter         ELF files of any class and byte order (kernels, cores)
//   CrashedMachine    a whole machine: kernel image, variables, heap, dump
#pragma once

#include <kvm/arch.h>
#include <kvm/bytes.h>
#include <kvm/io.h>
#include <kvm/netbsd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kvm::synth {

// ---------------------------------------------------------------- memory

// Content of pages nobody wrote: called with a page's physical address and
// a page-sized buffer.
using PageFiller = std::function<void(std::uint64_t pa, MutableByteSpan page)>;

// Fills pages like real RAM: a deterministic mix (by `seed` and the page
// address) of zero pages, text, kernel pointers, small integers and
// incompressible bytes.
PageFiller realistic_filler(std::uint64_t seed, std::uint64_t pointer_base);
PageFiller zero_filler();
// True for zero_filler() and for no filler: unwritten pages read as zeros
// (writers of big dumps skip reading them).
bool is_zero_filler(const PageFiller& filler);

class PhysMemory {
public:
    PhysMemory(std::vector<netbsd::RamSegment> ram, std::uint32_t page_size = 4096);

    const std::vector<netbsd::RamSegment>& ram() const noexcept { return ram_; }
    std::uint32_t page_size() const noexcept { return page_size_; }
    bool in_ram(std::uint64_t pa, std::uint64_t length) const;

    // Writes bytes; pages touched become explicit (zero-initialised first).
    // Throws usage when the range is not in RAM.
    void write(std::uint64_t pa, ByteSpan data);
    // Reads bytes; pages nobody wrote read as the filler says.
    void read(std::uint64_t pa, MutableByteSpan out) const;
    bool is_written(std::uint64_t page_pa) const;

    void set_filler(PageFiller filler) { filler_ = std::move(filler); }
    const PageFiller& filler() const noexcept { return filler_; }

    // Allocates `count` physically contiguous free pages, aligned to
    // `align` bytes, ending at or below `limit` (i386 tables and roots must
    // lie below 4 GiB).  Successive calls are scattered over all RAM
    // segments (deterministically by `seed`), so that virtual and physical
    // order differ.  Throws usage when RAM is exhausted.
    std::uint64_t alloc_pages(std::uint64_t count, std::uint64_t align = 4096, std::uint64_t limit = ~std::uint64_t{0});
    // Restarts the allocation sequence: the same seed gives the same addresses.
    void set_seed(std::uint64_t seed) { seed_ = seed; }
    // Marks [pa, pa+size) as used without writing it.
    void reserve(std::uint64_t pa, std::uint64_t size);

private:
    bool range_free(std::uint64_t pa, std::uint64_t size) const;

    std::vector<netbsd::RamSegment> ram_;
    std::uint32_t page_size_;
    std::unordered_map<std::uint64_t, Bytes> pages_;  // page pa -> content
    std::map<std::uint64_t, std::uint64_t> used_;     // start -> end (exclusive)
    PageFiller filler_;
    std::uint64_t seed_ = 1;  // also the state of the allocator's random sequence
};

// ---------------------------------------------------------------- paging

// Builds the page tables of one paging scheme (a row of all_translators())
// in a PhysMemory, allocating table pages from it.
class PageTableBuilder {
public:
    virtual ~PageTableBuilder() = default;
    // The value the dump header records as the table root (for i386 PAE the
    // physical address of the four page directories, without flag bits).
    virtual std::uint64_t root() const = 0;
    // Page sizes this scheme supports, smallest first.
    virtual std::vector<std::uint64_t> page_sizes() const = 0;
    // Maps one page of `page_size` (one of page_sizes()); va and pa are
    // aligned to it.  Throws usage on misalignment or when the va is already
    // mapped by a page of another size.
    virtual void map(std::uint64_t va, std::uint64_t pa, std::uint64_t page_size) = 0;
    // Maps [va, va+size) to [pa, pa+size) using the largest pages that fit.
    void map_range(std::uint64_t va, std::uint64_t pa, std::uint64_t size);
};

// `encryption_mask` is set in every entry the builder writes, as a kernel
// running with AMD memory encryption (SME) sets the C-bit in its tables.
std::unique_ptr<PageTableBuilder> make_page_table_builder(std::string_view translator, PhysMemory& memory,
                                                          ByteOrder order, std::uint64_t encryption_mask = 0);

// AArch64 tables of the kernel half (TTBR1, the "arm64" scheme) as Linux
// builds them: the granule is memory.page_size() (4, 16 or 64 KiB), blocks
// at every level that may hold one, and 52-bit output addresses in the
// granule's form (64 KiB: FEAT_LPA; 4 and 16 KiB with 52-bit VAs: LPA2).
std::unique_ptr<PageTableBuilder> make_arm64_page_table_builder(PhysMemory& memory, unsigned va_bits,
                                                                ByteOrder order = ByteOrder::little);

// ---------------------------------------------------------------- ELF

struct ElfWriterOptions {
    unsigned elf_class = 2;  // elf::elfclass64
    ByteOrder order = ByteOrder::little;
    std::uint16_t machine = 62;  // elf::em_x86_64
    std::uint16_t type = 2;      // elf::et_exec
    std::uint8_t osabi = 0;      // e_ident[EI_OSABI]: 9 brands a FreeBSD kernel
};

struct ElfSymbolSpec {
    std::string name;
    std::uint64_t value = 0;
    std::uint64_t size = 0;
    std::uint8_t type = 0;     // STT_*
    std::uint8_t binding = 1;  // STB_*
    std::uint16_t shndx = 0;   // a section index from add_section, or SHN_ABS / SHN_UNDEF
};

class ElfWriter {
public:
    explicit ElfWriter(ElfWriterOptions options);

    // Adds a section and returns its index.  For SHT_NOBITS pass empty data
    // and the size in nobits_size.
    std::uint16_t add_section(std::string name, std::uint32_t type, std::uint64_t flags, std::uint64_t addr, Bytes data,
                              std::uint64_t align = 1, std::uint64_t nobits_size = 0);
    void add_symbol(ElfSymbolSpec symbol);
    // A program header whose data is placed in the file (cores: PT_LOAD).
    void add_segment(std::uint32_t type, std::uint32_t flags, std::uint64_t vaddr, std::uint64_t paddr, Bytes data,
                     std::uint64_t memsz, std::uint64_t align = 4096);
    // Notes go into one PT_NOTE segment (and a .note section).
    void add_note(std::string name, std::uint32_t type, Bytes desc);

    // The file: ELF header, program headers, notes, segment data, section
    // data, .symtab (locals first), .strtab, .shstrtab, section headers.
    Bytes build() const;

private:
    struct SectionSpec {
        std::string name;
        std::uint32_t type;
        std::uint64_t flags;
        std::uint64_t addr;
        Bytes data;
        std::uint64_t align;
        std::uint64_t nobits_size;
    };
    struct SegmentSpec {
        std::uint32_t type;
        std::uint32_t flags;
        std::uint64_t vaddr;
        std::uint64_t paddr;
        Bytes data;
        std::uint64_t memsz;
        std::uint64_t align;
    };
    struct NoteSpec {
        std::string name;
        std::uint32_t type;
        Bytes desc;
    };
    ElfWriterOptions options_;
    std::vector<SectionSpec> sections_;
    std::vector<ElfSymbolSpec> symbols_;
    std::vector<SegmentSpec> segments_;
    std::vector<NoteSpec> notes_;
};

// ---------------------------------------------------------------- kdump

// kdump-compressed files as makedumpfile and QEMU write them (64-bit
// layout; see src/format/kdump.h for every field).
struct KdumpOptions {
    std::string signature = "KDUMP   ";
    std::string machine = "x86_64";  // utsname.machine
    std::string release = "6.1.0-synthetic";
    std::int32_t header_version = 6;
    std::uint32_t block_size = 4096;
    std::int32_t dump_level = 1;
    std::uint64_t sub_phys_base = 0;  // what the sub-header claims (QEMU writes a wrong one)
    std::string vmcoreinfo;           // empty: none
    Bytes notes;                      // an ELF note block (PRSTATUS, QEMU, ...); empty: none
    // Page compressions by name ("zlib", "lzo", "snappy", "zstd"), taken in
    // turn page by page (several: a dump whose pages mix them); a page is
    // stored compressed where that is smaller.  Empty: every page raw.
    std::vector<std::string> codecs = {"zlib"};
    bool share_zero_page = true;     // one raw zero page for every zero page, as QEMU does
    std::uint32_t extra_status = 0;  // more header status bits (INCOMPLETE: 0x8)
    std::uint64_t max_mapnr = 0;     // 0: the highest pfn given + 1
    bool single_bitmap = false;      // one bitmap, as the old diskdump wrote (no excluded pages)
};

class KdumpWriter {
public:
    explicit KdumpWriter(KdumpOptions options);

    // A page in the dump (block_size bytes).
    void add_page(std::uint64_t pfn, ByteSpan data);
    // A page stored exactly as given, with these descriptor flags (tests of
    // compressions kvmkit does not read, and of damaged pages).
    void add_stored_page(std::uint64_t pfn, Bytes stored, std::uint32_t flags);
    // A page of RAM left out of the dump (makedumpfile's dump levels): set
    // in the first bitmap only; a page added before is taken out.
    void exclude_page(std::uint64_t pfn);
    // Other compressions for the next build (KdumpOptions::codecs): the
    // same pages in another codec without adding them again.
    void set_codecs(std::vector<std::string> codecs);

    // Where the parts of the file start (after build's layout).
    struct Layout {
        std::uint64_t sub_header = 0;
        std::uint64_t vmcoreinfo = 0;
        std::uint64_t notes = 0;
        std::uint64_t bitmaps = 0;
        std::uint64_t bitmap_bytes = 0;  // both bitmaps
        std::uint64_t descriptors = 0;
        std::uint64_t data = 0;
    };
    Layout layout() const;
    Bytes build() const;
    // makedumpfile --split: `files` files (2 or more) with the same header
    // and bitmaps, each holding the pages of one pfn range [start, end),
    // the ranges cut where the dumped pages divide evenly.
    std::vector<Bytes> build_split(std::size_t files) const;

private:
    struct Stored {
        Bytes bytes;
        std::uint32_t flags;
    };
    struct Split {
        std::uint64_t start_pfn = 0;
        std::uint64_t end_pfn = 0;
    };
    std::uint64_t max_mapnr() const;
    // The file holding the pages of `part` (nullopt: the whole dump, not split).
    Bytes build_file(const std::optional<Split>& part) const;

    KdumpOptions options_;
    std::map<std::uint64_t, Bytes> pages_;
    std::map<std::uint64_t, Stored> stored_;
    std::vector<std::uint64_t> excluded_;
};

// A writer holding the pages of `segments` of `memory`, but for the pfns in
// `excluded`, which are left out as makedumpfile's dump levels leave them.
KdumpWriter kdump_writer(const PhysMemory& memory, const std::vector<netbsd::RamSegment>& segments,
                         KdumpOptions options, const std::vector<std::uint64_t>& excluded = {});

// A writer holding what a kdump-compressed file holds (its pages, notes,
// VMCOREINFO, release, header version, dump level and sub-header
// phys_base), to write the same dump again in other codecs or split: a real
// dump in every codec.  Pages the file lacks, excluded or not, are absent
// from the copy.
KdumpWriter copy_kdump(const std::shared_ptr<ByteSource>& file);

// makedumpfile -F: `file` as flattened records of at most `record_size`
// bytes, in file order; then, when `rewrite_header` is set, the first
// `rewrite_header` bytes once more (makedumpfile rewrites its header last).
Bytes flatten(ByteSpan file, std::size_t record_size, std::size_t rewrite_header = 0);

// ---------------------------------------------------------------- minidumps

// Everything a FreeBSD or DragonFly minidump holds, for
// write_minidump_image (freebsd-dragonfly-dump-format.md sections 3 and 4).
// The kind follows from os, arch and version: "minidump FreeBSD/amd64"
// (v1-v3; DragonFly v1 too), ".../i386" (v1-v2), ".../arm64" (v1-v3),
// "minidump DFlyBSD/x86-64" (DragonFly v2).  Kinds with dump_avail
// (amd64 v3, i386 v2, arm64 v2+) number the bitmap over `ram`, the others
// by pa / page_size up to the end of `ram`.
struct MinidumpImage {
    std::string os = "freebsd";  // "freebsd" or "dragonfly"
    std::string arch = "amd64";  // "amd64", "i386", "arm64"
    std::uint32_t version = 3;
    std::uint32_t page_size = 4096;  // arm64 v3: 4096 or 16384
    bool pae = false;                // i386
    std::uint64_t kernbase = 0;
    std::uint64_t dmapbase = 0, dmapend = 0, dmapphys = 0;
    Bytes msgbuf;
    std::vector<netbsd::RamSegment> ram;  // sorted; dump_avail's pairs
    std::vector<std::uint64_t> pages;     // physical addresses of the dumped pages, ascending
    std::function<void(std::uint64_t pa, MutableByteSpan page)> page_content;
    std::function<bool(std::uint64_t pa)> page_is_zero;  // may say so without reading (holes); may be empty
    std::uint64_t map_entries = 0;
    // Fills entries [first, first + out.size()) of the page map (zeroed before).
    std::function<void(std::uint64_t first, std::span<std::uint64_t> out)> map;
};
void write_minidump_image(Sink& out, const MinidumpImage& image);

// ---------------------------------------------------------------- machine

// What the synthetic machine looks like.  Defaults give a small, realistic
// NetBSD/amd64: 16 MiB of RAM in three segments with holes, a kernel image
// on 2 MiB pages, data on scattered 4 KiB pages, a heap, a direct map on a
// 1 GiB page, and the variables savecore reads.
//
// os "freebsd" and "dragonfly" give those systems' machines instead
// (amd64, i386 with or without PAE, and arm64 for FreeBSD): the kernel
// image at its link address less KERNBASE in physical memory, the heap in
// the kernel map, the direct map their minidumps name, and the variables
// their dumps and walkers use: kernbase (absolute), KPML4phys / IdlePTD /
// IdlePDPT, dumppcb (a local symbol, its pcb_cr3 holding the page-table
// root), msgbufp and its ring, allproc, zombproc (minidump v1 and v2 eras),
// nprocs, pidhashtbl and pidhash (FreeBSD), allprocs (local) and
// allproc_hsize (DragonFly), empty for a process planter to fill through
// define_object, kmem_alloc and write.
// FreeBSD: cpu_tick_frequency, the rate of the ticks the kernel counts run
// time in (p_rux.rux_runtime, td_runtime): a 2.4 GHz TSC.
inline constexpr std::uint64_t freebsd_cpu_tick_frequency = 2'400'000'000;
// FreeBSD: each thread's kernel stack, KSTACK_PAGES on amd64 (4 pages), which
// RSS counts unless the stack is swapped out.
inline constexpr std::uint64_t freebsd_kstack_pages = 4;

struct MachineSpec {
    std::string arch = "amd64";           // a row of all_arches(): "amd64", "i386", "arm64"
    bool pae = false;                     // i386: PAE paging (2 MiB large pages)
    std::vector<netbsd::RamSegment> ram;  // empty: the default layout
    std::uint64_t seed = 1;
    bool realistic_memory = true;          // unwritten RAM looks like real RAM; else zeros
    std::string version;                   // the kernel's version string; empty: the OS's default
    std::string panic;                     // the panic message; empty: the OS's default
    std::int64_t crash_time = 1732200000;  // time_second at the crash
    // FreeBSD and DragonFly: time_uptime at the crash, 3 days, 2 hours and
    // a minute (init, in the default process trees, starts a minute after boot).
    std::int64_t uptime = 3 * 86400 + 7260;
    std::size_t extra_functions = 0;       // more text symbols (big namelists)
    std::string os = "netbsd";             // "netbsd", "freebsd", "dragonfly"
    std::uint32_t page_size = 0;           // arm64: 4096 or 16384 (minidump v3 only); 0: the arch's
    // FreeBSD and DragonFly: the minidump version the kernel writes (0: the
    // newest for the arch), which also sets the era of its layout (amd64
    // v1: the kernel map above KERNBASE, as the kernels that wrote v1 had).
    std::uint32_t minidump_version = 0;
    std::uint64_t dragonfly_pcb_cr3 = 64;  // DragonFly: offset of pcb_cr3 in struct pcb (0 in the 2008 port)
    // FreeBSD and DragonFly: what the kernel wrote to its message buffer
    // (nullopt: a boot log and the panic, half as long again as the ring,
    // so that it has wrapped), and the ring's size (0: 0x5f00 bytes).
    std::optional<std::string> msgbuf_text;
    std::uint64_t msgbuf_size = 0;
};

// Where a dump goes and what it holds.
struct DumpOptions {
    // Only pages that were written explicitly (kernel image, variables,
    // heap, page tables) are dumped, as NetBSD's sparse dumps leave out free
    // and anonymous pages; otherwise all RAM.
    bool sparse = false;
};

// FreeBSD and DragonFly minidumps hold the kernel's pages: those written
// explicitly (image, variables, heap, page tables, the message buffer).
struct MinidumpOptions {
    bool all_ram = false;  // every page of RAM instead (big dumps for tests and benchmarks)
};

class CrashedMachine {
public:
    explicit CrashedMachine(MachineSpec spec = {});
    ~CrashedMachine();
    CrashedMachine(const CrashedMachine&) = delete;
    CrashedMachine& operator=(const CrashedMachine&) = delete;

    // The spec as built: defaults filled in (version, panic, page size,
    // minidump version).
    const MachineSpec& spec() const noexcept { return spec_; }
    const ArchInfo& arch() const noexcept { return *arch_; }
    ByteOrder order() const noexcept { return arch_->order; }
    std::uint64_t page_size() const noexcept { return page_; }
    PhysMemory& memory() noexcept { return *memory_; }
    const PhysMemory& memory() const noexcept { return *memory_; }
    // The paging scheme of the page tables built (empty on arm64, whose
    // machines have none: their minidumps carry a page map).
    std::string_view translator() const;
    std::uint64_t pt_root() const;  // throws usage when there are no page tables

    // Kernel image.  Each call places a symbol after the previous one of
    // its kind and maps the pages it needs.  Initial bytes go both to the
    // kernel file and to memory; 'b' (bss) symbols are zero in both.
    // section: 't' text, 'r' rodata, 'd' data, 'b' bss.
    std::uint64_t define_function(std::string name, std::uint64_t size, bool global = true);
    std::uint64_t define_object(std::string name, char section, Bytes initial, std::uint64_t align = 8,
                                bool global = true);
    std::uint64_t define_object(std::string name, char section, std::uint64_t size, std::uint64_t align = 8,
                                bool global = true);
    // An absolute symbol (FreeBSD's kernbase).
    void define_absolute(std::string name, std::uint64_t value);
    std::uint64_t symbol(std::string_view name) const;  // throws usage when undefined

    // Kernel heap: fresh virtual memory on scattered pages.
    std::uint64_t kmem_alloc(std::uint64_t size, std::uint64_t align = 16);
    // A direct-map address for a physical address (throws usage without one).
    std::uint64_t direct_map(std::uint64_t pa) const;

    // Memory at crash time (the kernel file keeps the initial bytes).
    void write(std::uint64_t va, ByteSpan bytes);
    void write_uint(std::uint64_t va, std::uint64_t value, unsigned width);
    void write_pointer(std::uint64_t va, std::uint64_t value) { write_uint(va, value, arch_->pointer_size); }
    void write_string(std::uint64_t va, std::string_view s);  // with its NUL
    void read(std::uint64_t va, MutableByteSpan out) const;
    std::uint64_t read_uint(std::uint64_t va, unsigned width) const;
    // Physical address of a mapped va (throws usage when unmapped).
    std::uint64_t virt_to_phys(std::uint64_t va) const;

    // The kernel file: ELF of the dumped machine's class and byte order.
    Bytes kernel_elf() const;
    // A section kernel_elf() adds as it is (no address, not loaded): the
    // .debug_* sections of a debug kernel, say.
    void add_kernel_section(std::string name, Bytes data);

    // NetBSD dumps.
    // Sets the variables the kernel sets while dumping (dumpsize; dumplo
    // when known) and returns the RAM segments the dump holds.
    std::vector<netbsd::RamSegment> prepare_dump(const DumpOptions& options, std::int64_t dumplo_blocks = -1);
    // The dump as the kernel writes it at dumplo: on-device header, then
    // memory.  Call prepare_dump first.
    void write_device_dump(Sink& out, const std::vector<netbsd::RamSegment>& segments) const;
    // A savecore'd core file of the same memory.
    void write_kcore(Sink& out, const std::vector<netbsd::RamSegment>& segments) const;
    // Bytes of a device dump of these segments (header + memory).
    std::uint64_t device_dump_size(const std::vector<netbsd::RamSegment>& segments) const;

    // A swap partition image: junk (old swap pages, a stale header) and the
    // dump at the end, where cpu_dumpconf puts it.  `device_size` 0 picks a
    // size with a few MiB of junk.  Returns dumplo in 512-byte blocks.
    std::uint64_t write_swap_image(const std::string& path, const DumpOptions& options, std::uint64_t device_size = 0);

    // FreeBSD and DragonFly dumps (src/synth/bsd_dumps.cpp): the vmcore
    // body, as savecore saves it.  The minidump is spec().minidump_version
    // of the arch (freebsd-dragonfly-dump-format.md sections 3 and 4); the
    // full dump is the ELF core of debug.minidump=0 (section 2), one
    // PT_LOAD per RAM segment (amd64 and i386 only).
    void write_minidump(Sink& out, const MinidumpOptions& options = {}) const;
    void write_full_dump(Sink& out) const;

    // The message buffer the kernel wrote (FreeBSD and DragonFly): its ring
    // at `ring` (msgbufp->msg_ptr) of `size` bytes, the next write at
    // ring + write_offset, and the text the ring holds, oldest first (NULs
    // of an unfilled ring left out).  FreeBSD's struct msgbuf is that of 7.0
    // and later (sequence numbers); DragonFly 6.4's has msg_bufl and
    // MSG_MAGIC 0x063064 with free-running indexes, the 2008 port's the
    // older one (0x063062, masked indexes).
    struct MessageBuffer {
        std::uint64_t msgbufp = 0;  // the struct msgbuf
        std::uint64_t ring = 0;
        std::uint64_t size = 0;
        std::uint64_t write_offset = 0;
        std::string text;
        std::uint64_t written = 0;  // bytes the kernel wrote in all
    };
    const MessageBuffer& message_buffer() const;
    // Overwrites a u_int member of that struct msgbuf ("msg_magic",
    // "msg_size", "msg_wseq", "msg_rseq", "msg_seqmod", "msg_bufx",
    // "msg_bufr"), for corrupted buffers.
    void set_msgbuf_field(std::string_view member, std::uint64_t value);

private:
    struct Region;
    Region& region(char section);
    void map_page(std::uint64_t va, std::uint64_t page_size);
    void ensure_mapped(std::uint64_t va, std::uint64_t size, std::uint64_t page_size);
    void define_standard_symbols();
    void define_bsd_symbols();
    void plant_message_buffer();
    // Pages a minidump holds, in ascending order.
    std::vector<std::uint64_t> dumped_pages(const MinidumpOptions& options) const;

    MachineSpec spec_;
    const ArchInfo* arch_ = nullptr;
    std::uint64_t page_ = 4096;
    std::unique_ptr<PhysMemory> memory_;
    std::unique_ptr<PageTableBuilder> tables_;
    std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> mapped_;  // va -> (pa, page size)
    std::vector<std::unique_ptr<Region>> regions_;
    std::vector<ElfSymbolSpec> symbols_;
    std::unordered_map<std::string, std::uint64_t> symbol_values_;
    std::uint64_t heap_next_ = 0;
    std::uint64_t heap_end_ = 0;
    std::vector<std::pair<std::string, Bytes>> extra_sections_;
    std::uint64_t pdpt_ = 0;  // i386 PAE (FreeBSD): the page-directory-pointer table
    MessageBuffer msgbuf_;
};

// Writes bytes to a file (tests, the demo).
void write_file(const std::string& path, ByteSpan data);
// Writes a file through `fill`, leaving every all-zero 4 KiB block a hole
// (big synthetic dumps, mostly zeros, cost little disk).
void write_sparse_file(const std::string& path, const std::function<void(Sink&)>& fill);

// ---------------------------------------------------------------- hostile input

// A device image made to be slow to scan for a dump header (issue 11): every
// 512-byte block starts a NetBSD dump header of `arch` (KCORE_MAGIC,
// CORE_CPU, its MID) whose cpu segment claims `cpu_segment` bytes (512k - 8,
// at most 16 MiB - 8), filled by its RAM table.  The table's entries are sane
// to the end of the block, where the next block's header breaks it: no block
// holds a dump.  `size` is a multiple of 512.
void write_hostile_device(Sink& out, const ArchInfo& arch, std::uint64_t size, std::uint64_t cpu_segment);

}  // namespace kvm::synth
