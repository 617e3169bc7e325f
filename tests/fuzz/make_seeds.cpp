// Writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/):
// small valid inputs from the synthetic builders, a few KiB each where the
// format allows, and small pieces of the real Linux vmcore when its
// directory is given.  Run once; the outputs are committed:
//
//   build/tests/fuzz/make_seeds tests/fuzz/corpus [/work/realdump]
//
//   dump          NetBSD kcore and device dumps for each paging scheme; Linux
//                 QEMU ELF, kdump /proc/vmcore ELF, /proc/kcore, kdump-compressed
//                 and flattened vmcores with VMCOREINFO, KASLR and page tables;
//                 FreeBSD and DragonFly minidumps of each kind and a full ELF dump;
//                 kdump files in every codec, and split
//   namelist      synthetic NetBSD kernels (ELF); a System.map and a kallsyms
//                 with modules; the head of the real System.map
//   btf           the BTF of the types the walkers read, cut out of the real
//                 kernel's (both byte orders) and of gcc's for the NetBSD
//                 declarations (tools/layouts/netbsd10-types.c)
//   layout_json   the shipped NetBSD layouts; the real Linux kernel's
//   symidx        symbol indexes of the synthetic kernels
//   savecore      swap devices holding a dump (after junk; after a saved one)
//   kerneldump    FreeBSD/DragonFly dump devices of each header version and kind
//   gzip, gzip_index, zstd
//                 compressed cores: gzip members and streams, zstd seekable
//                 files, a checkpoint index
//   ctf           CTF containers of the shipped layouts' types and of each kind
//   netbsd_procs, freebsd_procs, dragonfly_procs, linux_procs, linux_modules,
//   bsd_modules, netbsd_modules
//                 patches (fuzz_setup.h) of the clean walk's bytes: none, and
//                 the damage of the walkers' tests (cycles, pointers outside
//                 the dump, counts too short, NULL links)
#include <kvm/btf.h>
#include <kvm/compress.h>
#include <kvm/elf.h>
#include <kvm/layout.h>
#include <kvm/linux.h>
#include <kvm/netbsd.h>
#include <kvm/procs.h>
#include <kvm/symbol_index.h>
#include <kvm/synth.h>
#include <kvm/synth_ctf.h>
#include <kvm/synth_kerneldump.h>
#include <kvm/synth_procs.h>

#include "fuzz_setup.h"

#include <bpf/btf.h>
#include <kvm/synth_klog.h>
#include "fixed_gzip.h"
#include "io/gzip_index.h"
#include "io/zstd_format.h"

#include "klog_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace {

using namespace kvm;

std::string corpus;  // the corpus directory

// Every seed file goes through here: its directory is made if missing.
void write_seed_file(const std::string& path, ByteSpan data) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    synth::write_file(path, data);
}

void seed(const std::string& target, const std::string& name, ByteSpan data) {
    write_seed_file(corpus + "/" + target + "/" + name, data);
    std::printf("%s/%s: %zu bytes\n", target.c_str(), name.c_str(), data.size());
}

Bytes file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return to_bytes(s);
}

// ---------------------------------------------------------------- dumps

void write_netbsd_dumps(const std::string& arch_name, const std::string& scheme, bool pae) {
    const ArchInfo& arch = *find_arch(arch_name);
    const std::vector<netbsd::RamSegment> ram{{0x0, 0x8000}, {0x10000, 0x4000}};
    synth::PhysMemory memory(ram);
    memory.set_seed(3);
    auto tables = synth::make_page_table_builder(scheme, memory, arch.order);
    const std::uint64_t text = arch.pointer_size == 8 ? 0xffffffff80200000ull : 0xc0400000ull;
    for (std::uint64_t i = 0; i < 3; ++i) {
        const std::uint64_t pa = memory.alloc_pages(1);
        memory.write(pa, to_bytes("kernel page " + std::to_string(i)));
        tables->map(text + i * 4096, pa, 4096);
    }
    const Bytes header = netbsd::device_dump_header(arch, {.pt_root = tables->root(), .pae = pae, .ram = ram});
    MemorySink device;
    device.write(header);
    Bytes mem(0xc000);
    memory.read(0x0, MutableByteSpan(mem.data(), 0x8000));
    memory.read(0x10000, MutableByteSpan(mem.data() + 0x8000, 0x4000));
    device.write(mem);
    seed("dump", "device-" + scheme, device.data());

    netbsd::DumpLayout layout;
    layout.arch = &arch;
    layout.cpu_segment.assign(header.begin() + 8, header.end());
    Bytes kcore = netbsd::kcore_file_header(layout, mem.size());
    kcore.insert(kcore.end(), mem.begin(), mem.end());
    seed("dump", "kcore-" + scheme, kcore);
}

// A Linux x86_64 machine of 64 KiB: the kernel image slid by KASLR to
// physical 0x1000 (a negative phys_base), its page tables, VMCOREINFO
// naming the root; written in each form a Linux dump takes.
void write_linux_dumps() {
    const std::vector<netbsd::RamSegment> ram{{0x0, 0x10000}};
    synth::PhysMemory memory(ram);
    memory.set_seed(5);
    constexpr std::uint64_t start_kernel_map = 0xffffffff80000000;
    constexpr std::uint64_t text = 0xffffffff84000000;  // KERNELOFFSET 0x3000000
    constexpr std::uint64_t text_pa = 0x1000;
    const auto phys_base = static_cast<std::int64_t>(text_pa) - static_cast<std::int64_t>(text - start_kernel_map);
    memory.reserve(text_pa, 0x4000);
    auto tables = synth::make_page_table_builder("amd64", memory, ByteOrder::little);
    for (std::uint64_t i = 0; i < 4; ++i) {
        memory.write(text_pa + i * 4096, to_bytes("Linux version 6.1.0-seed " + std::to_string(i)));
        tables->map(text + i * 4096, text_pa + i * 4096, 4096);
    }
    const std::uint64_t root_va =
        start_kernel_map + static_cast<std::uint64_t>(static_cast<std::int64_t>(tables->root()) - phys_base);
    const std::string vmcoreinfo = fmt::format(
        "OSRELEASE=6.1.0-seed\nPAGESIZE=4096\nSYMBOL(init_top_pgt)={:x}\nSYMBOL(_stext)={:x}\n"
        "NUMBER(phys_base)={}\nKERNELOFFSET=3000000\nNUMBER(pgtable_l5_enabled)=0\n",
        root_va, text, phys_base);
    Bytes mem(0x10000);
    memory.read(0x0, mem);

    synth::ElfWriter elf({.type = elf::et_core});
    elf.add_note("VMCOREINFO", 0, to_bytes(vmcoreinfo));
    elf.add_segment(elf::pt_load, 0, 0, 0, mem, mem.size(), 0);
    seed("dump", "linux-elf", elf.build());

    // kdump's /proc/vmcore: the image by its virtual address, then RAM by
    // its direct-map address.
    synth::ElfWriter vmcore({.type = elf::et_core});
    vmcore.add_note("VMCOREINFO", 0, to_bytes(vmcoreinfo));
    vmcore.add_segment(elf::pt_load, 0, text, text_pa, Bytes(mem.begin() + text_pa, mem.begin() + text_pa + 0x4000),
                       0x4000, 0);
    vmcore.add_segment(elf::pt_load, 0, 0xffff888000000000, 0, mem, mem.size(), 0);
    seed("dump", "linux-vmcore", vmcore.build());

    // /proc/kcore: NT_TASKSTRUCT, the image by its virtual address, and a
    // vmalloc page with no physical address (p_paddr all ones).
    synth::ElfWriter kcore({.type = elf::et_core});
    kcore.add_note("CORE", 1, Bytes(336));
    kcore.add_note("CORE", linux_kernel::nt_taskstruct, Bytes(64));
    kcore.add_note("VMCOREINFO", 0, to_bytes(vmcoreinfo));
    kcore.add_segment(elf::pt_load, 7, text, text_pa, Bytes(mem.begin() + text_pa, mem.begin() + text_pa + 0x4000),
                      0x4000, 0);
    kcore.add_segment(elf::pt_load, 7, 0xffffc90000000000, ~std::uint64_t{0}, Bytes(4096, std::byte{0x5a}), 8192, 0);
    seed("dump", "linux-kcore", kcore.build());

    synth::KdumpWriter kdump({.vmcoreinfo = vmcoreinfo});
    for (std::uint64_t pfn = 0; pfn < mem.size() / 4096; ++pfn)
        kdump.add_page(pfn, ByteSpan(mem.data() + pfn * 4096, 4096));
    const Bytes compressed = kdump.build();
    seed("dump", "linux-kdump", compressed);
    // makedumpfile -F: records of a page at most, the header rewritten last.
    seed("dump", "linux-flat", synth::flatten(compressed, 4096, 4096));
}

// A Linux arm64 machine of 64 KiB at QEMU virt's 0x40000000: the image at
// kimage_voffset from its physical pages, swapper_pg_dir the builder's
// root, arm64's VMCOREINFO and an NT_PRSTATUS; as a QEMU ELF and a kdump file.
void write_linux_arm64_dumps() {
    constexpr std::uint64_t ram_base = 0x40000000;
    synth::PhysMemory memory({{ram_base, 0x10000}});
    memory.set_seed(5);
    constexpr std::uint64_t text = 0xffff80000b000000;  // KERNELOFFSET 0x3000000
    constexpr std::uint64_t text_pa = ram_base + 0x1000;
    memory.reserve(text_pa, 0x4000);
    auto tables = synth::make_arm64_page_table_builder(memory, 48);
    for (std::uint64_t i = 0; i < 4; ++i) {
        memory.write(text_pa + i * 4096, to_bytes("Linux version 6.1.0-seed " + std::to_string(i)));
        tables->map(text + i * 4096, text_pa + i * 4096, 4096);
    }
    tables->map(0xffff000000000000, ram_base, 0x1000);
    const std::uint64_t voffset = text - text_pa;
    const std::string vmcoreinfo = fmt::format(
        "OSRELEASE=6.1.0-seed\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)={:x}\nSYMBOL(_stext)={:x}\n"
        "NUMBER(VA_BITS)=48\nNUMBER(kimage_voffset)={:#x}\nNUMBER(PHYS_OFFSET)={:#x}\n"
        "NUMBER(TCR_EL1_T1SZ)=0x10\nKERNELOFFSET=3000000\nNUMBER(KERNELPACMASK)=0xffff000000000000\n",
        tables->root() + voffset, text, voffset, ram_base);
    Bytes mem(0x10000);
    memory.read(ram_base, mem);
    Bytes prstatus(392);
    store32(prstatus.data() + 32, 1, ByteOrder::little);
    store64(prstatus.data() + 112 + 32 * 8, text + 0x40, ByteOrder::little);

    synth::ElfWriter elf({.machine = elf::em_aarch64, .type = elf::et_core});
    elf.add_note("CORE", linux_kernel::nt_prstatus, prstatus);
    elf.add_note("VMCOREINFO", 0, to_bytes(vmcoreinfo));
    elf.add_segment(elf::pt_load, 0, ram_base, ram_base, mem, mem.size(), 0);
    seed("dump", "linux-arm64-elf", elf.build());

    Encoder notes(ByteOrder::little);
    notes.u32(5).u32(static_cast<std::uint32_t>(prstatus.size())).u32(linux_kernel::nt_prstatus);
    notes.string("CORE").u8(0).pad_to(4).bytes(prstatus).pad_to(4);
    const Bytes note_block = notes.take();
    synth::KdumpWriter kdump({.machine = "aarch64", .vmcoreinfo = vmcoreinfo, .notes = note_block});
    for (std::uint64_t pfn = 0; pfn < mem.size() / 4096; ++pfn)
        kdump.add_page(ram_base / 4096 + pfn, ByteSpan(mem.data() + pfn * 4096, 4096));
    seed("dump", "linux-arm64-kdump", kdump.build());
    // As QEMU writes it: the header names the machine "Unknown", the
    // NT_PRSTATUS's size tells the arch.
    synth::KdumpWriter qemu({.machine = "Unknown", .vmcoreinfo = vmcoreinfo, .notes = note_block});
    for (std::uint64_t pfn = 0; pfn < mem.size() / 4096; ++pfn)
        qemu.add_page(ram_base / 4096 + pfn, ByteSpan(mem.data() + pfn * 4096, 4096));
    seed("dump", "linux-arm64-kdump-qemu", qemu.build());
}

// ---------------------------------------------------------------- namelists and indexes

// The symbol index of a namelist, as built from a kernel file of a fixed
// identity (fuzz_symidx expects the one its input's header records).
Bytes symbol_index(const Namelist& namelist) {
    const std::string index = fuzz::scratch_dir() + "/index";
    write_symbol_index(index, namelist.symbols(),
                       {.size = 123456, .mtime_sec = 1732200000, .mtime_nsec = 5, .inode = 77, .device = 0x803});
    return file_bytes(index);
}

void write_namelists(const std::string& realdump) {
    for (const char* arch : {"amd64", "i386"}) {
        synth::CrashedMachine m({.arch = arch, .realistic_memory = false});
        seed("namelist", std::string("kernel-") + arch, m.kernel_elf());
        const std::string kernel = fuzz::write_scratch_file(std::string("kernel-") + arch, m.kernel_elf());
        seed("symidx", std::string("kernel-") + arch, symbol_index(*Namelist::load(kernel)));
    }
    const kvmtest::LinuxMachine linux_machine;
    seed("namelist", "system-map", to_bytes(linux_machine.system_map()));
    seed("namelist", "kallsyms", to_bytes(linux_machine.kallsyms()));
    const std::string map = fuzz::write_scratch_file("System.map", to_bytes(linux_machine.system_map()));
    seed("symidx", "system-map", symbol_index(*Namelist::load(map)));
    if (!realdump.empty()) {
        // The first lines of the real System.map: absolute, text and data
        // symbols, per-cpu offsets.
        std::ifstream in(realdump + "/System.map");
        std::string text, line;
        for (int i = 0; i < 80 && std::getline(in, line); ++i)
            text += line + "\n";
        seed("namelist", "real-system-map-head", to_bytes(text));
    }
}

// ---------------------------------------------------------------- BTF

// Copies out of a BTF the types a request reaches, so that a kernel's 4
// MiB of BTF becomes a few KiB that give the same layouts: each requested
// structure keeps its name, size and the members on a requested path (at
// their offsets); their types are copied whole, but pointers point to a
// forward declaration (or void) rather than to the whole kernel; enums
// holding a requested value come along.
class BtfCutter {
public:
    explicit BtfCutter(const struct btf* src) : src_(src), dst_(btf__new_empty()) {}
    ~BtfCutter() { btf__free(dst_); }
    BtfCutter(const BtfCutter&) = delete;
    BtfCutter& operator=(const BtfCutter&) = delete;

    Bytes cut(const LayoutRequest& request, bool big_endian) {
        for (const StructRequest& s : request.structs) {
            std::vector<std::string> paths;
            for (const MemberRequest& m : s.members)
                paths.push_back(m.path);
            const int id = btf__find_by_name_kind(src_, s.name.c_str(), BTF_KIND_STRUCT);
            if (id > 0) (void)partial(static_cast<__u32>(id), paths);
        }
        const std::set<std::string> values(request.values.begin(), request.values.end());
        for (__u32 id = 1; id < btf__type_cnt(src_); ++id) {
            const struct btf_type* t = btf__type_by_id(src_, id);
            if (!btf_is_enum(t)) continue;
            const struct btf_enum* e = btf_enum(t);
            for (unsigned i = 0; i < btf_vlen(t); ++i)
                if (values.count(btf__name_by_offset(src_, e[i].name_off)) != 0) {
                    (void)whole(id);
                    break;
                }
        }
        btf__set_endianness(dst_, big_endian ? BTF_BIG_ENDIAN : BTF_LITTLE_ENDIAN);
        __u32 size = 0;
        const auto* raw = static_cast<const std::byte*>(btf__raw_data(dst_, &size));
        return Bytes(raw, raw + size);
    }

private:
    static int check(int id, const char* what) {
        if (id < 0) throw std::runtime_error(fmt::format("libbpf: {} failed ({})", what, id));
        return id;
    }
    const char* name(const struct btf_type* t) const { return btf__name_by_offset(src_, t->name_off); }

    // A copy of type `id` and everything it holds; pointers are cut.
    int whole(__u32 id) {
        if (id == 0) return 0;
        if (auto it = copied_.find(id); it != copied_.end()) return it->second;
        const struct btf_type* t = btf__type_by_id(src_, id);
        int out = 0;
        switch (btf_kind(t)) {
            case BTF_KIND_INT:
                out = btf__add_int(dst_, name(t), t->size, btf_int_encoding(t));
                break;
            case BTF_KIND_FLOAT:
                out = btf__add_float(dst_, name(t), t->size);
                break;
            case BTF_KIND_PTR:
                out = btf__add_ptr(dst_, pointee(t->type));
                break;
            case BTF_KIND_ARRAY: {
                const struct btf_array* a = btf_array(t);
                const int elem = whole(a->type);
                const int index = whole(a->index_type);
                out = btf__add_array(dst_, index, elem, a->nelems);
                break;
            }
            case BTF_KIND_STRUCT:
            case BTF_KIND_UNION: {
                // Member types first: fields must follow their structure.
                std::vector<int> types;
                const struct btf_member* m = btf_members(t);
                for (unsigned i = 0; i < btf_vlen(t); ++i)
                    types.push_back(whole(m[i].type));
                out = composite(t, types, {});
                break;
            }
            case BTF_KIND_ENUM: {
                out = check(btf__add_enum(dst_, name(t), t->size), "enum");
                const struct btf_enum* e = btf_enum(t);
                for (unsigned i = 0; i < btf_vlen(t); ++i)
                    check(btf__add_enum_value(dst_, btf__name_by_offset(src_, e[i].name_off), e[i].val), "enum value");
                break;
            }
            case BTF_KIND_FWD:
                out = btf__add_fwd(dst_, name(t), btf_kflag(t) ? BTF_FWD_UNION : BTF_FWD_STRUCT);
                break;
            case BTF_KIND_TYPEDEF:
                out = btf__add_typedef(dst_, name(t), whole(t->type));
                break;
            case BTF_KIND_VOLATILE:
                out = btf__add_volatile(dst_, whole(t->type));
                break;
            case BTF_KIND_CONST:
                out = btf__add_const(dst_, whole(t->type));
                break;
            case BTF_KIND_RESTRICT:
                out = btf__add_restrict(dst_, whole(t->type));
                break;
            case BTF_KIND_TYPE_TAG:
                out = whole(t->type);
                break;
            default:
                out = 0;  // functions and the rest: void
                break;
        }
        copied_[id] = check(out, "add type");
        return copied_[id];
    }

    // What a pointer points to: typedefs and qualifiers as they are, then a
    // forward declaration of a named structure or union, a number type, or
    // pointer to one of these, or void (functions, anonymous structures).
    int pointee(__u32 id) {
        if (id == 0) return 0;
        const struct btf_type* t = btf__type_by_id(src_, id);
        if (btf_is_int(t) || btf_is_float(t)) return whole(id);
        if (btf_is_typedef(t)) return check(btf__add_typedef(dst_, name(t), pointee(t->type)), "typedef");
        if (btf_is_const(t)) return check(btf__add_const(dst_, pointee(t->type)), "const");
        if (btf_is_volatile(t)) return check(btf__add_volatile(dst_, pointee(t->type)), "volatile");
        if (btf_is_restrict(t)) return check(btf__add_restrict(dst_, pointee(t->type)), "restrict");
        if (btf_is_type_tag(t)) return pointee(t->type);
        if (btf_is_ptr(t)) return check(btf__add_ptr(dst_, pointee(t->type)), "pointer");  // char **ps_argvstr
        if ((btf_is_composite(t) || btf_is_fwd(t)) && *name(t) != '\0') {
            const bool is_union = btf_is_union(t) || (btf_is_fwd(t) && btf_kflag(t));
            const std::string key = (is_union ? "union " : "struct ") + std::string(name(t));
            if (auto it = forward_.find(key); it != forward_.end()) return it->second;
            return forward_[key] = check(btf__add_fwd(dst_, name(t), is_union ? BTF_FWD_UNION : BTF_FWD_STRUCT), "fwd");
        }
        return 0;
    }

    // Structure `id` with only the members on `paths` (through anonymous
    // members, which hold members by their own names).
    int partial(__u32 id, const std::vector<std::string>& paths) {
        const struct btf_type* t = btf__type_by_id(src_, id);
        std::vector<int> types;
        std::vector<bool> keep;
        const struct btf_member* m = btf_members(t);
        for (unsigned i = 0; i < btf_vlen(t); ++i) {
            const std::string member = btf__name_by_offset(src_, m[i].name_off);
            bool wanted = false;
            int type = 0;
            if (member.empty()) {
                __u32 inner = m[i].type;
                while (btf_is_typedef(btf__type_by_id(src_, inner)) || btf_is_mod(btf__type_by_id(src_, inner)))
                    inner = btf__type_by_id(src_, inner)->type;
                if (btf_is_composite(btf__type_by_id(src_, inner)) && reaches(inner, paths)) {
                    wanted = true;
                    type = partial(inner, paths);
                }
            } else {
                for (const std::string& p : paths)
                    wanted = wanted || p == member || p.starts_with(member + ".");
                if (wanted) type = whole(m[i].type);
            }
            types.push_back(type);
            keep.push_back(wanted);
        }
        return composite(t, types, keep);
    }

    // Whether an anonymous composite holds a member a path starts with.
    bool reaches(__u32 id, const std::vector<std::string>& paths) const {
        const struct btf_type* t = btf__type_by_id(src_, id);
        const struct btf_member* m = btf_members(t);
        for (unsigned i = 0; i < btf_vlen(t); ++i) {
            const std::string member = btf__name_by_offset(src_, m[i].name_off);
            if (member.empty()) {
                __u32 inner = m[i].type;
                while (btf_is_typedef(btf__type_by_id(src_, inner)) || btf_is_mod(btf__type_by_id(src_, inner)))
                    inner = btf__type_by_id(src_, inner)->type;
                if (btf_is_composite(btf__type_by_id(src_, inner)) && reaches(inner, paths)) return true;
                continue;
            }
            for (const std::string& p : paths)
                if (p == member || p.starts_with(member + ".")) return true;
        }
        return false;
    }

    int composite(const struct btf_type* t, const std::vector<int>& types, const std::vector<bool>& keep) {
        const int out =
            check(btf_is_union(t) ? btf__add_union(dst_, name(t), t->size) : btf__add_struct(dst_, name(t), t->size),
                  "struct");
        const struct btf_member* m = btf_members(t);
        for (unsigned i = 0; i < btf_vlen(t); ++i) {
            if (!keep.empty() && !keep[i]) continue;
            check(btf__add_field(dst_, btf__name_by_offset(src_, m[i].name_off), types[i], btf_member_bit_offset(t, i),
                                 btf_member_bitfield_size(t, i)),
                  "field");
        }
        return out;
    }

    const struct btf* src_;
    struct btf* dst_;
    std::map<__u32, int> copied_;
    std::map<std::string, int> forward_;
};

// The cut BTF must give the layouts the whole one gives.
void write_btf(const std::string& name, const Bytes& whole, const LayoutRequest& request) {
    struct btf* src = btf__new(whole.data(), static_cast<__u32>(whole.size()));
    if (src == nullptr) throw std::runtime_error(name + ": libbpf cannot parse the BTF");
    for (const bool big : {false, true}) {
        BtfCutter cutter(src);
        const Bytes cut = cutter.cut(request, big);
        const StructLayouts want = kvm::btf::Types(whole, name).layouts(request);
        const StructLayouts got = kvm::btf::Types(cut, name).layouts(request);
        if (got.structs != want.structs || got.values != want.values)
            throw std::runtime_error(name + ": the cut BTF gives other layouts than the whole");
        seed("btf", name + (big ? "-be" : ""), cut);
    }
    btf__free(src);
}

void write_btfs(const std::string& realdump) {
    if (!realdump.empty())
        write_btf("linux-6.1", file_bytes(realdump + "/truth/btf.vmlinux"), linux_kernel::process_layout_request());
    // gcc's BTF of the NetBSD 10 declarations the shipped layouts come from.
    const std::string so = fuzz::scratch_dir() + "/netbsd10-types.so";
    const std::string cmd = fmt::format(
        "gcc -m64 -gbtf -ffreestanding -nostdlib -shared -o '{}' '{}/tools/layouts/netbsd10-types.c' && "
        "objcopy --dump-section .BTF='{}.btf' '{}'",
        so, KVMKIT_SOURCE_DIR, so, so);
    if (std::system(cmd.c_str()) == 0) {
        write_btf("netbsd-10", file_bytes(so + ".btf"), netbsd::process_layout_request());
    } else {
        std::fprintf(stderr, "make_seeds: no gcc with -gbtf: NetBSD BTF seeds not written\n");
    }
}

// ---------------------------------------------------------------- layouts, devices, walkers

void write_layouts() {
    seed("layout_json", "netbsd-10-amd64",
         file_bytes(std::string(KVMKIT_SOURCE_DIR) + "/share/kvmkit/layouts/netbsd-10-amd64.json"));
    seed("layout_json", "linux-6.1-amd64", file_bytes(kvmtest::linux_layout_path()));
}

void write_devices() {
    for (const auto& [name, device] : fuzz::savecore_devices())
        seed("savecore", name, device);
}

void write_netbsd_walks() {
    const auto clean = fuzz::make_netbsd_walker();
    seed("netbsd_procs", "clean", {});
    const auto fault = [&](const std::string& name, synth::ListFault f, std::size_t at) {
        const auto damaged = fuzz::make_netbsd_walker(
            [&](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
                synth::plant_list_fault(m, l, p, f, at);
            });
        seed("netbsd_procs", name, clean->memory->patches_towards(damaged->memory->base()));
    };
    fault("allproc-cycle", synth::ListFault::cycle, 4);
    fault("allproc-outside", synth::ListFault::bad_pointer, 6);
    fault("nprocs-short", synth::ListFault::short_count, 3);
    // Every process's first LWP points back at the first process's.
    const auto lwps = fuzz::make_netbsd_walker(
        [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
            const std::uint64_t link = l.get("proc").member("p_lwps.lh_first").offset;
            const std::uint64_t first = m.read_uint(p.proc.begin()->second + link, 8);
            for (const auto& [pid, proc] : p.proc)
                m.write_uint(proc + link, first, 8);
        });
    seed("netbsd_procs", "shared-lwps", clean->memory->patches_towards(lwps->memory->base()));
    // Every planted ps_strings in the dump says its process has 2^31 - 1
    // arguments, and its environment at user address 0x1000.
    const auto ps_strings = fuzz::make_netbsd_walker(
        [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
            const StructLayout& ps = l.get("ps_strings");
            Bytes count(4), vector(8);
            store32(count.data(), 0x7fffffff, ByteOrder::little);
            store64(vector.data(), 0x1000, ByteOrder::little);
            for (const auto& entry : p.ps_strings) {
                // Pages the sparse dump leaves out stay out (the dump keeps its size).
                if (!m.memory().is_written(entry.second)) continue;
                m.memory().write(entry.second + ps.member("ps_nargvstr").offset, count);
                m.memory().write(entry.second + ps.member("ps_envstr").offset, vector);
            }
        });
    seed("netbsd_procs", "ps-strings", clean->memory->patches_towards(ps_strings->memory->base()));
}

// The offset of `member` in struct `strct`: where the seeds' damage writes.
std::uint64_t member_offset(const StructLayouts& l, const char* strct, const char* member) {
    return l.get(strct).member(member).offset;
}

// Where the BSD walkers' seeds point outside the dump: kernel space the
// machine never maps.
constexpr std::uint64_t bsd_unmapped = 0xfffffe00deadb000;

void write_freebsd_walks() {
    const auto clean = fuzz::make_freebsd_walker();
    seed("freebsd_procs", "clean", {});
    const auto damaged = [&](const std::string& name, const fuzz::FreebsdDamage& damage) {
        seed("freebsd_procs", name, clean->memory->patches_towards(fuzz::make_freebsd_walker(damage)->memory->base()));
    };
    using synth::CrashedMachine;
    using synth::PlantedProcesses;
    // Pid 23's threads (100012 to 100014): the second links back to the
    // first; pid 0's p_numthreads says 1 of its 2.
    damaged("threads-cycle", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        m.write_pointer(p.lwp.at({23, 100013}) + member_offset(l, "thread", "td_plist.tqe_next"),
                        p.lwp.at({23, 100012}));
        m.write_uint(p.proc.at(0) + member_offset(l, "proc", "p_numthreads"), 1, 4);
    });
    // A thread of pid 23 whose td_proc is pid 21.
    damaged("thread-elsewhere", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        m.write_pointer(p.lwp.at({23, 100013}) + member_offset(l, "thread", "td_proc"), p.proc.at(21));
    });
    // The credentials of pid 20 (shared by its session's) with 2^31 - 1 groups.
    damaged("ngroups-huge", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        const std::uint64_t cred = m.read_uint(p.proc.at(20) + member_offset(l, "proc", "p_ucred"), 8);
        m.write_uint(cred + member_offset(l, "ucred", "cr_ngroups"), 0x7fffffff, 4);
    });
    // Pid 31's process group outside the dump; pid 30's group's session too.
    damaged("pgrp-outside", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        m.write_pointer(p.proc.at(31) + member_offset(l, "proc", "p_pgrp"), bsd_unmapped);
        const std::uint64_t pgrp = m.read_uint(p.proc.at(30) + member_offset(l, "proc", "p_pgrp"), 8);
        m.write_pointer(pgrp + member_offset(l, "pgrp", "pg_session"), bsd_unmapped);
    });
    // A pid hash of 2^24 buckets, one more than the walker allows.
    damaged("pidhash-huge", [&](CrashedMachine& m, const StructLayouts&, const PlantedProcesses&) {
        m.write_uint(m.symbol("pidhash"), 0x1000000, 8);
    });
    // The zombie (24), alone in bucket 8, links to itself.
    damaged("bucket-cycle", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        m.write_pointer(p.proc.at(24) + member_offset(l, "proc", "p_hash.le_next"), p.proc.at(24));
    });
}

void write_dragonfly_walks() {
    const auto clean = fuzz::make_dragonfly_walker();
    seed("dragonfly_procs", "clean", {});
    const auto damaged = [&](const std::string& name, const fuzz::DragonflyDamage& damage) {
        seed("dragonfly_procs", name,
             clean->memory->patches_towards(fuzz::make_dragonfly_walker(damage)->memory->base()));
    };
    using synth::CrashedMachine;
    using synth::PlantedProcesses;
    // Pid 23's LWP tree (ids 1 to 5, 3 at the root): 2, below 1, points back at the root.
    damaged("lwp-tree-cycle", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        m.write_pointer(p.lwp.at({23, 2}) + member_offset(l, "lwp", "u.lwp_rbnode.rbe_left"), p.lwp.at({23, 3}));
    });
    // Pid 23's tree rewired into a chain 5 deep while p_nthreads says 1.
    damaged("lwp-tree-deep", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        synth::plant_lwp_chain(m, l, p, 23, 1);
    });
    // An LWP of pid 23 whose lwp_proc is pid 21.
    damaged("lwp-elsewhere", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        m.write_pointer(p.lwp.at({23, 4}) + member_offset(l, "lwp", "lwp_proc"), p.proc.at(21));
    });
    // The credentials of pid 20 with 65535 groups (cr_groups holds 16); pid
    // 31's process group outside the dump, pid 30's group's session too.
    damaged("cred-session", [&](CrashedMachine& m, const StructLayouts& l, const PlantedProcesses& p) {
        const std::uint64_t cred = m.read_uint(p.proc.at(20) + member_offset(l, "proc", "p_ucred"), 8);
        m.write_uint(cred + member_offset(l, "ucred", "cr_ngroups"), 0xffff, 2);
        m.write_pointer(p.proc.at(31) + member_offset(l, "proc", "p_pgrp"), bsd_unmapped);
        const std::uint64_t pgrp = m.read_uint(p.proc.at(30) + member_offset(l, "proc", "p_pgrp"), 8);
        m.write_pointer(pgrp + member_offset(l, "pgrp", "pg_session"), bsd_unmapped);
    });
    damaged("allproc-hsize", [&](CrashedMachine& m, const StructLayouts&, const PlantedProcesses&) {
        m.write_uint(m.symbol("allproc_hsize"), 0x7fffffff, 4);
    });
    damaged("nprocs-zero", [&](CrashedMachine& m, const StructLayouts&, const PlantedProcesses&) {
        m.write_uint(m.symbol("nprocs"), 0, 4);
    });
}

void write_linux_walks() {
    const auto clean = fuzz::make_linux_walker();
    seed("linux_procs", "clean", {});
    const auto damaged = [&](const std::string& name, const fuzz::LinuxDamage& damage) {
        seed("linux_procs", name, clean->memory->patches_towards(fuzz::make_linux_walker(damage)->memory->base()));
    };
    using kvmtest::LinuxMachine;
    using kvmtest::PlantedTasks;
    // The task list loops from the last leader back to the third.
    damaged("tasks-cycle", [&](LinuxMachine& m, const StructLayouts& l, const PlantedTasks& p) {
        m.write_uint(p.task.at(600) + member_offset(l, "task_struct", "tasks.next"),
                     p.task.at(7) + member_offset(l, "task_struct", "tasks.next"), 8);
    });
    // A NULL link in the middle of the task list, and a thread list that loops.
    damaged("null-and-loop", [&](LinuxMachine& m, const StructLayouts& l, const PlantedTasks& p) {
        m.write_uint(p.task.at(420) + member_offset(l, "task_struct", "tasks.next"), 0, 8);
        m.write_uint(p.task.at(412) + member_offset(l, "task_struct", "thread_node.next"),
                     p.task.at(411) + member_offset(l, "task_struct", "thread_node.next"), 8);
    });
    // Pointers outside the dump: a signal_struct, a cred, a terminal's driver name.
    damaged("outside", [&](LinuxMachine& m, const StructLayouts& l, const PlantedTasks& p) {
        m.write_uint(p.task.at(300) + member_offset(l, "task_struct", "signal"), 0xffff888fff000000, 8);
        m.write_uint(p.task.at(1) + member_offset(l, "task_struct", "real_cred"), 0xdead000000000100, 8);
        m.write_uint(p.signal.at(400) + member_offset(l, "signal_struct", "nr_threads"), 0x7fffffff, 4);
    });
}

void write_linux_modules() {
    const auto clean = fuzz::make_linux_modules();
    seed("linux_modules", "clean", {});
    const auto damaged = [&](const std::string& name, const fuzz::LinuxModuleDamage& damage) {
        seed("linux_modules", name, clean->memory->patches_towards(fuzz::make_linux_modules(damage)->memory->base()));
    };
    using kvmtest::LinuxMachine;
    using kvmtest::PlantedModules;
    // The module list loops from the last module back to the first.
    damaged("modules-cycle", [&](LinuxMachine& m, const StructLayouts& l, const PlantedModules& p) {
        m.write_uint(p.module.at("virtio") + member_offset(l, "module", "list.next"),
                     p.module.at("virtio_blk") + member_offset(l, "module", "list.next"), 8);
    });
    // A symbol count past the dump, and a string table outside it.
    damaged("symbols", [&](LinuxMachine& m, const StructLayouts& l, const PlantedModules& p) {
        m.write_uint(p.kallsyms.at("virtio") + member_offset(l, "mod_kallsyms", "num_symtab"), 0x7fffffff, 4);
        m.write_uint(p.kallsyms.at("virtio_blk") + member_offset(l, "mod_kallsyms", "strtab"), 0xffff888fff000000, 8);
    });
    // A use list that loops, and a user outside the dump.
    damaged("users", [&](LinuxMachine& m, const StructLayouts& l, const PlantedModules& p) {
        const std::uint64_t use = p.uses.at("virtio").front();
        const std::uint64_t link = use + member_offset(l, "module_use", "source_list.next");
        m.write_uint(link, link, 8);
        m.write_uint(use + member_offset(l, "module_use", "source"), 0xdead000000000000, 8);
    });
}

void write_bsd_modules() {
    const auto clean = fuzz::make_bsd_modules();
    seed("bsd_modules", "clean", {});
    const auto damaged = [&](const std::string& name, const fuzz::BsdModuleDamage& damage) {
        seed("bsd_modules", name, clean->memory->patches_towards(fuzz::make_bsd_modules(damage)->memory->base()));
    };
    const auto offset = [](const StructLayouts& l, const char* m) { return l.get("linker_file").member(m).offset; };
    // The last file links back to the first.
    damaged("files-cycle", [&](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedLinkerFiles& f) {
        m.write_uint(f.file.back() + offset(l, "link.tqe_next"), f.file.front(), 8);
    });
    // A name outside the dump, and a link into the middle of another file.
    damaged("names-overlap", [&](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedLinkerFiles& f) {
        m.write_uint(f.file[1] + offset(l, "filename"), 0xfffffe00deadb000, 8);
        m.write_uint(f.file[2] + offset(l, "link.tqe_next"), f.file[0] + 8, 8);
    });
}

void write_netbsd_modules() {
    const auto clean = fuzz::make_netbsd_modules();
    seed("netbsd_modules", "clean", {});
    const auto damaged = [&](const std::string& name, const fuzz::NetbsdModuleDamage& damage) {
        seed("netbsd_modules", name, clean->memory->patches_towards(fuzz::make_netbsd_modules(damage)->memory->base()));
    };
    // The last module links back to the second.
    damaged("modules-cycle",
            [&](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedNetbsdModules& p) {
                m.write_uint(p.module.back() + member_offset(l, "module", "mod_chain.tqe_next"), p.module[1], 8);
            });
    // A modinfo outside the dump, a kobj shared with another module, a name without its NUL nearby.
    damaged("info-kobj", [&](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedNetbsdModules& p) {
        m.write_uint(p.module[2] + member_offset(l, "module", "mod_info"), 0xffffc000deadb000, 8);
        m.write_uint(p.module[3] + member_offset(l, "module", "mod_kobj"), p.kobj[4], 8);
        m.write_uint(p.info[4] + member_offset(l, "modinfo", "mi_required"), p.module[0], 8);
    });
}

// A minidump of each kind with three dumped pages and a page map of eight
// entries whose kernbase is the fuzz target's first address, so that its
// reads go through the map (and, on amd64 and arm64, the direct map at
// 0xffff800000000000).  DragonFly's v2 page map is always 2 MiB: its seed
// keeps the header and the first page of the map only, so it is refused
// as cut short, but reaches every header check.
void write_minidumps(const std::string& dir) {
    struct Kind {
        const char* file;
        const char* os;
        const char* arch;
        std::uint32_t version;
        std::uint32_t page;
        bool pae;
    };
    constexpr Kind kinds[] = {
        {"minidump-amd64-v1", "freebsd", "amd64", 1, 4096, false},
        {"minidump-amd64-v2", "freebsd", "amd64", 2, 4096, false},
        {"minidump-amd64-v3", "freebsd", "amd64", 3, 4096, false},
        {"minidump-i386-v1", "freebsd", "i386", 1, 4096, false},
        {"minidump-i386-pae-v2", "freebsd", "i386", 2, 4096, true},
        {"minidump-arm64-v2", "freebsd", "arm64", 2, 4096, false},
        {"minidump-arm64-v3-16k", "freebsd", "arm64", 3, 16384, false},
        {"minidump-dragonfly-v2", "dragonfly", "amd64", 2, 4096, false},
    };
    for (const Kind& k : kinds) {
        const std::uint64_t page = k.page;
        const bool x86 = std::string_view(k.arch) != "arm64";
        const bool pde_map = std::string_view(k.arch) == "amd64" && k.version >= 2;
        synth::MinidumpImage image{.os = k.os,
                                   .arch = k.arch,
                                   .version = k.version,
                                   .page_size = k.page,
                                   .pae = k.pae,
                                   .kernbase = std::string_view(k.arch) == "i386" ? 0xc0400000 : 0xffffffff80200000,
                                   .msgbuf = to_bytes("<6>seed: boot\n<0>panic: seed\n"),
                                   .ram = {{0x0, 8 * page}},
                                   .pages = {page, 2 * page, 3 * page},
                                   .map_entries = 8};
        if (std::string_view(k.arch) != "i386") {
            image.dmapbase = 0xffff800000000000;
            image.dmapend = image.dmapbase + (1u << 30);
        }
        if (std::string_view(k.os) == "dragonfly") {
            image.kernbase = 0xffffff8000000000;
            image.map_entries = 512 * 512;
        }
        image.page_content = [](std::uint64_t pa, MutableByteSpan out) {
            std::fill(out.begin(), out.end(), std::byte{0});
            const Bytes text = to_bytes(fmt::format("kernel page at {:#x}", pa));
            std::copy(text.begin(), text.end(), out.begin());
        };
        image.map = [&](std::uint64_t first, std::span<std::uint64_t> out) {
            for (std::size_t i = 0; i < out.size(); ++i) {
                const std::uint64_t n = first + i;
                if (pde_map) {
                    out[i] = n == 0 ? 0x83 : n == 1 ? (3 * page) | 0x3 : 0;  // 2 MiB at 0, then a page table
                } else if (std::string_view(k.os) == "dragonfly") {
                    out[i] = n == 511 * 512 + 510 ? 0x83 : 0;  // 1 GiB at 0 for 0xffffffff80000000
                } else {
                    out[i] = (page * (1 + n % 3)) | (x86 ? 0x3 : 0x403);
                }
            }
        };
        MemorySink out;
        synth::write_minidump_image(out, image);
        Bytes bytes = out.data();
        if (std::string_view(k.os) == "dragonfly") bytes.resize(6 * page);
        write_seed_file(dir + "/" + k.file, bytes);
    }

    // A full dump: EI_OSABI 255, two physical PT_LOADs.
    synth::ElfWriter elf({.type = elf::et_core, .osabi = elf::elfosabi_standalone});
    Bytes low(0x2000);
    const Bytes text = to_bytes("FreeBSD full dump seed");
    std::copy(text.begin(), text.end(), low.begin());
    elf.add_segment(elf::pt_load, 4, 0x1000, 0x1000, low, low.size());
    elf.add_segment(elf::pt_load, 4, 0x200000, 0x200000, Bytes(0x1000, std::byte{0x5a}), 0x1000);
    write_seed_file(dir + "/freebsd-full", elf.build());
}

// FreeBSD and DragonFly dump devices around a small ELF core, a textdump,
// compressed and encrypted bodies, and a cleared header.  The 64 KiB the
// kernel never writes are cut off: the layout counts from the device's end.
void write_kerneldump_devices(const std::string& dir) {
    Bytes memory(0x1000);
    for (std::size_t i = 0; i < memory.size(); ++i)
        memory[i] = static_cast<std::byte>(i * 7);
    synth::ElfWriter elf({.type = elf::et_core});
    elf.add_note("VMCOREINFO", 0, to_bytes("OSRELEASE=6.1.0-seed\nPAGESIZE=4096\n"));
    elf.add_segment(elf::pt_load, 4, 0, 0x100000, memory, memory.size(), 0);
    const Bytes core = elf.build();
    const auto write = [&](const std::string& name, const synth::DumpDeviceSpec& spec, const Bytes& body,
                           bool clear = false) {
        Bytes image = synth::dump_device(spec, body);
        const synth::DumpDeviceLayout l = synth::dump_device_layout(spec, body.size());
        image.erase(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(l.leader - 512));
        if (clear) {
            const std::string_view cleared = kerneldump::cleared_magic;
            std::copy(cleared.begin(), cleared.end(), reinterpret_cast<char*>(image.data() + image.size() - 512));
        }
        write_seed_file(dir + "/" + name, image);
    };
    for (std::uint32_t v = 1; v <= 4; ++v)
        write(fmt::format("freebsd-v{}", v), {.header = synth::freebsd_header(v)}, core);
    write("dragonfly-v1", {.header = synth::dragonfly_header()}, core);
    write("dragonfly-cleared", {.header = synth::dragonfly_header()}, core, true);
    const kerneldump::Header text = synth::freebsd_text_header(4);
    write("freebsd-textdump", {.header = text}, synth::ustar_archive({{"panic.txt", text.panicstring}}, 0));
    write("freebsd-encrypted", {.header = synth::freebsd_header(4), .key = synth::sample_key_area()}, core);
    kerneldump::Header gz = synth::freebsd_header(4);
    gz.compression = 1;
    write("freebsd-gzip", {.header = gz, .extent = 0x2000}, synth::gzip_body(core));
    kerneldump::Header zs = synth::freebsd_header(3);
    zs.compression = 2;
    write("freebsd-zstd-v3", {.header = zs}, synth::zstd_body(core));
}

// kdump-compressed files of 1 KiB pages (a few KiB each): one per codec,
// one whose pages mix them, and the files of a split dump (alone, a file
// whose others are missing; flattened too).
void write_kdump_codecs(const std::string& dir) {
    constexpr std::uint32_t block = 1024;
    const auto writer = [&](std::vector<std::string> codecs) {
        synth::KdumpWriter w({.block_size = block, .dump_level = 31, .codecs = std::move(codecs)});
        for (std::uint64_t pfn = 1; pfn < 6; ++pfn) {
            std::string text;
            while (text.size() < block)
                text += fmt::format("kdump seed page {} ", pfn);
            text.resize(block);
            w.add_page(pfn, to_bytes(text));
        }
        w.exclude_page(6);
        return w;
    };
    for (const char* codec : {"lzo", "snappy", "zstd"})
        write_seed_file(dir + "/kdump-" + codec, writer({codec}).build());
    write_seed_file(dir + "/kdump-mixed", writer({"zlib", "lzo", "snappy", "zstd"}).build());
    const std::vector<Bytes> split = writer({"zstd", "lzo"}).build_split(2);
    write_seed_file(dir + "/kdump-split.1", split[0]);
    write_seed_file(dir + "/kdump-split-flat.2", synth::flatten(split[1], 512));
}

// Text that compresses well, so that seeds of several 64 KiB blocks stay
// a few KiB.
std::string page_text(std::size_t n, int seed) {
    std::string text;
    for (int i = 0; text.size() < n; ++i)
        text += fmt::format("page {} of pool {}\n", i % 16, seed);
    text.resize(n);
    return text;
}

// savecore -z and --zstd files of three 64 KiB blocks (one of them zeros),
// a gzip -6 stream, members of both kinds together, a file cut short; the
// fixed gzip file's checkpoint index.
void write_compressed() {
    constexpr std::size_t block = 64u << 10;
    Bytes data = to_bytes(page_text(2 * block + 1000, 1));
    std::fill_n(data.begin() + block, block, std::byte{0});
    const auto compress = [&](bool zstd) {
        MemorySink out;
        const std::unique_ptr<Sink> c = zstd ? create_zstd_sink(out, {.threads = 1, .block_size = block})
                                             : create_gzip_sink(out, {.threads = 1, .block_size = block});
        c->write(data);
        c->finish();
        return out.data();
    };
    const Bytes members = compress(false);
    write_seed_file(corpus + "/gzip/kv-members", members);
    write_seed_file(corpus + "/gzip/kv-cut",
                    Bytes(members.begin(), members.begin() + static_cast<std::ptrdiff_t>(members.size() / 2)));
    Bytes stream = fuzz::gzip_stream(page_text(20000, 2));
    write_seed_file(corpus + "/gzip/stream", stream);
    stream.insert(stream.end(), members.begin(), members.end());
    write_seed_file(corpus + "/gzip/mixed-members", stream);

    const Bytes zst = compress(true);
    write_seed_file(corpus + "/zstd/seekable", zst);
    // The same frames with a seek table that has (zero) checksums.
    Encoder table(ByteOrder::little);
    const std::size_t entries = 3;  // text, zeros, the last 1000 bytes
    const std::size_t old_table = 8 + entries * 8 + 9;
    table.u32(detail::seek_table_skippable_magic).u32(static_cast<std::uint32_t>(entries * 12 + 9));
    for (std::size_t i = 0; i < entries; ++i) {
        const std::byte* e = zst.data() + zst.size() - old_table + 8 + i * 8;
        table.u32(load32(e, ByteOrder::little)).u32(load32(e + 4, ByteOrder::little)).u32(0);
    }
    table.u32(entries).u8(detail::seek_table_checksum_flag).u32(detail::seekable_magic);
    Bytes checksummed(zst.begin(), zst.end() - static_cast<std::ptrdiff_t>(old_table));
    checksummed.insert(checksummed.end(), table.data().begin(), table.data().end());
    write_seed_file(corpus + "/zstd/seekable-checksums", checksummed);

    const auto gz = fuzz::fixed_gzip();
    const detail::GzipIndex index = detail::build_gzip_index(*gz, {}, fuzz::fixed_gzip_span);
    write_seed_file(corpus + "/gzip_index/fixed",
                    detail::encode_gzip_index(index, {.size = gz->size(), .mtime_sec = 1700000000, .mtime_nsec = 5}));
}

// A seed of fuzz_klog: the reader's byte, then the image from its base.
void write_klog_seed(const std::string& path, klog_fuzz::Reader reader,
                     const std::vector<std::pair<std::uint64_t, Bytes>>& parts) {
    const std::uint64_t at = klog_fuzz::base(reader);
    Bytes seed{std::byte{reader}};
    for (const auto& [va, bytes] : parts) {
        const std::uint64_t offset = va - at + 1;
        if (seed.size() < offset + bytes.size()) seed.resize(offset + bytes.size());
        std::copy(bytes.begin(), bytes.end(), seed.begin() + static_cast<std::ptrdiff_t>(offset));
    }
    write_seed_file(path, seed);
}

Bytes word(std::uint64_t v, unsigned width) {
    Bytes b(width);
    store_uint(b.data(), v, width, ByteOrder::little);
    return b;
}

void write_printk_ring(const std::string& path, klog_fuzz::Reader reader, std::size_t messages) {
    const unsigned long_size = reader == klog_fuzz::prb32 ? 4 : 8;
    synth::PrintkRing ring(4, 10, long_size);
    for (std::size_t i = 0; i < messages; ++i)
        ring.append({.text = fmt::format("message {} {}", i, std::string(i * 7 % 40, 'x')),
                     .ts_nsec = i * 1000003,
                     .level = static_cast<std::uint8_t>(i % 8),
                     .caller_id = static_cast<std::uint32_t>(i),
                     .subsystem = i % 5 == 0 ? "pci" : "",
                     .device = i % 5 == 0 ? "+pci:0000:00:01.0" : ""});
    const auto at = klog_fuzz::prb_placement(klog_fuzz::base(reader));
    write_klog_seed(path, reader,
                    {{at.prb, word(at.ring, long_size)},
                     {at.ring, ring.ring_struct(at)},
                     {at.descs, ring.descs_bytes()},
                     {at.infos, ring.infos_bytes()},
                     {at.data, ring.data()}});
}

// FreeBSD and DragonFly: 512 ring bytes that have wrapped, struct msgbuf
// as their headers declare it pointing to them (klog_layout.h).
void write_bsd_klog_seeds(const std::string& dir) {
    constexpr std::uint64_t size = 512;
    std::string text;
    for (int i = 0; i < 30; ++i)
        text += fmt::format("{}[{}] device{} at bus0\n", i % 5 == 0 ? "<14>" : i % 7 == 0 ? "<4>" : "", i, i);
    Bytes ring(size);
    for (std::size_t i = 0; i < text.size(); ++i)
        ring[i % size] = static_cast<std::byte>(text[i]);
    const std::uint64_t written = text.size();
    const auto header = [](std::initializer_list<std::pair<std::uint64_t, unsigned>> fields) {
        Bytes h;
        for (const auto& [v, width] : fields) {
            const Bytes w = word(v, width);
            h.insert(h.end(), w.begin(), w.end());
        }
        return h;
    };
    for (const klog_fuzz::Reader reader : {klog_fuzz::freebsd64, klog_fuzz::freebsd64_carried}) {
        const std::uint64_t at = klog_fuzz::base(reader);
        const std::uint64_t msgbuf = at + klog_fuzz::bsd_msgbuf_offset;
        const std::uint64_t seq = written % (16 * size);
        write_klog_seed(dir + (reader == klog_fuzz::freebsd64 ? "/freebsd-wrapped" : "/freebsd-minidump-wrapped"),
                        reader,
                        {{at, word(msgbuf, 8)},
                         {msgbuf, header({{at + klog_fuzz::bsd_ring_offset, 8},
                                          {0x063062, 4},
                                          {size, 4},
                                          {seq, 4},
                                          {seq, 4},
                                          {0, 4},
                                          {16 * size, 4}})},
                         {at + klog_fuzz::bsd_ring_offset, ring}});
    }
    // DragonFly's free-running indexes: msg_bufr 400 bytes behind msg_bufx,
    // the text between them.
    const std::uint64_t at = klog_fuzz::base(klog_fuzz::dragonfly32);
    const std::uint64_t msgbuf = at + klog_fuzz::bsd_msgbuf_offset;
    write_klog_seed(dir + "/dragonfly32-wrapped", klog_fuzz::dragonfly32,
                    {{at, word(msgbuf, 4)},
                     {msgbuf, header({{0x063064, 4},
                                      {size, 4},
                                      {written, 4},
                                      {written - 400, 4},
                                      {at + klog_fuzz::bsd_ring_offset, 4},
                                      {written - 400, 4}})},
                     {at + klog_fuzz::bsd_ring_offset, ring}});
}

void write_klog_seeds(const std::string& dir) {
    write_printk_ring(dir + "/prb64", klog_fuzz::prb64, 6);
    write_printk_ring(dir + "/prb64-wrapped", klog_fuzz::prb64, 60);
    write_printk_ring(dir + "/prb32-wrapped", klog_fuzz::prb32, 40);

    synth::PrintkLogBuffer log(512);
    for (std::size_t i = 0; i < 40; ++i)
        log.append({.text = fmt::format("record {} {}", i, std::string(i * 5 % 30, 'y')), .ts_nsec = i});
    const auto at = klog_fuzz::log_placement(klog_fuzz::base(klog_fuzz::log_buf));
    write_klog_seed(dir + "/log_buf-wrapped", klog_fuzz::log_buf,
                    {{at.log_buf, word(at.buffer, 8)},
                     {at.log_buf_len, word(512, 4)},
                     {at.log_first_idx, word(log.first_idx, 4)},
                     {at.log_next_idx, word(log.next_idx, 4)},
                     {at.buffer, log.buffer()}});

    // NetBSD: 256 ring bytes that have wrapped (the write index is the oldest byte).
    const std::uint64_t nb = klog_fuzz::base(klog_fuzz::netbsd64);
    const std::uint64_t msgbuf = nb + klog_fuzz::netbsd_msgbuf_offset;
    std::string text;
    for (int i = 0; i < 30; ++i)
        text += fmt::format("{}[ {}.000000] line {}\n", i % 7 == 0 ? "<4>" : "", i, i);
    Bytes ring(256);
    std::uint64_t bufx = 0;
    for (const char c : text) {
        ring[bufx] = static_cast<std::byte>(c);
        bufx = (bufx + 1) % ring.size();
    }
    Bytes header;
    for (const std::uint64_t v : {std::uint64_t{0x63061}, bufx, (bufx + 1) % 256, std::uint64_t{256}}) {
        const Bytes w = word(v, 8);
        header.insert(header.end(), w.begin(), w.end());
    }
    write_klog_seed(dir + "/netbsd-wrapped", klog_fuzz::netbsd64,
                    {{nb, word(msgbuf, 8)}, {msgbuf, header}, {msgbuf + 32, ring}});

    write_bsd_klog_seeds(dir);

    const std::string kmsg =
        "5,0,0,-;Linux version 6.1.0\n6,1,1506726,-,caller=T1;Unstable clock\\x0aIf you want\n"
        "4,2,1998665,-;virtio_blk \\x5c\\x01 x\n SUBSYSTEM=virtio\n DEVICE=+virtio:virtio0\n14,3,2000000,c;user\n";
    Bytes kmsg_seed{std::byte{klog_fuzz::kmsg}};
    const Bytes k = to_bytes(kmsg);
    kmsg_seed.insert(kmsg_seed.end(), k.begin(), k.end());
    write_seed_file(dir + "/kmsg", kmsg_seed);
}

}  // namespace

// CTF containers: the shipped FreeBSD 14 and NetBSD 10 i386 layouts as a
// compiler would describe them (version 3 compressed, version 2 plain),
// and a small one of every kind of type in big-endian version 2.
void write_ctf(const std::string& dir, const std::string& layouts_dir) {
    std::filesystem::create_directories(dir);
    const StructLayouts freebsd = load_layouts_file(layouts_dir + "/freebsd-14-amd64.json");
    write_seed_file(dir + "/freebsd-14-v3-zlib", synth::ctf_from_layouts(freebsd, 3, true));
    const StructLayouts netbsd = load_layouts_file(layouts_dir + "/netbsd-10-i386.json");
    write_seed_file(dir + "/netbsd-10-i386-v2", synth::ctf_from_layouts(netbsd, 2, false));

    synth::CtfWriter w(2, ByteOrder::big);
    const std::uint32_t i32 = w.integer("int", 4, 32);
    const std::uint32_t ch = w.integer("char", 1, 8, 0, 3);
    const std::uint32_t pid = w.typedef_("pid_t", w.typedef_("__int32_t", i32));
    const std::uint32_t state = w.enumeration("p_states", 4, {{"PRS_NEW", 0}, {"PRS_NORMAL", 1}, {"PRS_ZOMBIE", 2}});
    const std::uint32_t fwd = w.forward("thread");
    const std::uint32_t comm = w.array(ch, i32, 20);
    const std::uint32_t threads = w.pointer(fwd);
    const std::uint32_t bits = w.integer("unsigned int", 4, 3, 4, 0);
    // p_list's pointers lead back to proc, three types on.
    const std::uint32_t self = w.pointer(w.next_id() + 3);
    const std::uint32_t self_ref = w.pointer(self);
    const std::uint32_t link = w.structure("", 8, {{"le_next", self, 0}, {"le_prev", self_ref, 32}});
    w.structure("proc", 48,
                {{"p_list", link, 0},
                 {"p_threads", threads, 64},
                 {"p_state", state, 96},
                 {"p_pid", pid, 128},
                 {"p_comm", comm, 160},
                 {"p_flag", bits, 352}});
    w.structure("thread", 8, {{"td_tid", w.qualifier(ctf::Kind::volatile_, pid), 0}});
    write_seed_file(dir + "/kinds-v2-big", w.build(false));
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: make_seeds CORPUS_DIR [REALDUMP_DIR]\n");
        return 2;
    }
    corpus = argv[1];
    const std::string realdump = argc == 3 ? argv[2] : "";
    try {
        write_netbsd_dumps("amd64", "amd64", false);
        write_netbsd_dumps("i386", "i386", false);
        write_netbsd_dumps("i386", "i386-pae", true);
        write_linux_dumps();
        write_linux_arm64_dumps();
        write_kdump_codecs(corpus + "/dump");
        write_minidumps(corpus + "/dump");
        write_kerneldump_devices(corpus + "/kerneldump");
        write_namelists(realdump);
        write_btfs(realdump);
        write_layouts();
        write_devices();
        write_netbsd_walks();
        write_freebsd_walks();
        write_dragonfly_walks();
        write_linux_walks();
        write_linux_modules();
        write_bsd_modules();
        write_netbsd_modules();
        write_compressed();
        write_klog_seeds(corpus + "/klog");
        write_ctf(corpus + "/ctf", KVMKIT_SOURCE_DIR "/share/kvmkit/layouts");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
