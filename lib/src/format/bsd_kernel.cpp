// FreeBSD and DragonFly namelist facts (bsd_kernel.h).
//
// info["pt_root.source"] texts (what kernel reads report when there is no
// translator):
//   "no namelist: a full FreeBSD or DragonFly dump names no page tables; give the kernel (-N)"
//   "the namelist has no kernbase"            (likewise KPML4phys, IdlePTD, dumppcb)
//   "KPML4phys at pa 0x... holds 0x..."        amd64
//   "IdlePDPT at pa 0x... holds 0x...: PAE page directories at 0x..."
//   "IdlePDPT at pa 0x... holds 0x..., whose entries 0x..., 0x..., 0x..., 0x... are not four contiguous page
//   directories" "IdlePTD at pa 0x... holds 0x..." "dumppcb's pcb_cr3 at offset 64 (<why>) holds 0x..." "dumppcb's
//   pcb_cr3: <why>; no offset of 64, 0 gives page tables that map dumppcb (0x...) to its
//    physical address 0x..."
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/layout.h>

#include "format/bsd_kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace kvm::detail {

namespace {

constexpr std::uint64_t pg_v = 0x1;
constexpr std::uint64_t pae_frame = 0x000ffffffffff000;
constexpr std::uint64_t page = 4096;

std::optional<std::string> initial_string(const Namelist& namelist, std::string_view name, std::size_t max) {
    const Symbol* s = namelist.symbols().lookup(name);
    if (s == nullptr || namelist.elf() == nullptr) return std::nullopt;
    try {
        const std::size_t length = s->size != 0 ? std::min<std::uint64_t>(s->size, max) : max;
        const Bytes b = namelist.initial_value(name, length);
        std::string text(as_chars(b));
        text.resize(std::min(text.size(), text.find('\0')));
        return text;
    } catch (const Error&) {
        return std::nullopt;  // a symbol list, or no data for it: other signs decide
    }
}

// DragonFly's struct pcb (sys/platform/pc64/include/pcb.h) by release:
// pcb_cr3 has been at 64 (after padxx[7] and pcb_cr3_iso) since the
// user/kernel page-table isolation of January 2018, first in 5.2; the
// x86_64 port of 2008 had it first.  When it moved between the two is not
// known here, so both are tried (each checked, see find_dragonfly_root).
// A virtual kernel's pcb (platform/vkernel64) has no pcb_cr3.
struct PcbCr3Row {
    unsigned major;  // the first release of the row
    unsigned minor;
    std::uint64_t offset;
};
constexpr std::array pcb_cr3_by_release{
    PcbCr3Row{.major = 5, .minor = 2, .offset = 64},
    PcbCr3Row{.major = 0, .minor = 0, .offset = 0},
};

// "5.8-RELEASE" -> (5, 8)
std::optional<std::pair<unsigned, unsigned>> parse_release(std::string_view text) {
    unsigned major = 0;
    unsigned minor = 0;
    const char* end = text.data() + text.size();
    auto r = std::from_chars(text.data(), end, major);
    if (r.ec != std::errc{} || r.ptr == end || *r.ptr != '.') return std::nullopt;
    r = std::from_chars(r.ptr + 1, end, minor);
    if (r.ec != std::errc{}) return std::nullopt;
    return std::pair{major, minor};
}

class RootFinder {
public:
    RootFinder(MachineState& state, const Namelist& namelist, const PhysReader& read_phys)
        : state_(state), namelist_(namelist), read_phys_(read_phys) {}

    void find() {
        const Symbol* kernbase = namelist_.symbols().lookup("kernbase");
        if (kernbase == nullptr) return say("the namelist has no kernbase");
        kernbase_ = kernbase->value;
        if (state_.arch->name == "i386") return find_i386();
        if (state_.os == "dragonfly") return find_dragonfly();
        return find_amd64();
    }

private:
    void say(std::string text) { state_.info["pt_root.source"] = std::move(text); }

    // The physical address of a kernel variable: its address less kernbase
    // (the kernel sits at its link address).
    std::optional<std::uint64_t> phys_of(std::string_view name) const {
        const Symbol* s = namelist_.symbols().lookup(name);
        if (s == nullptr || s->value < kernbase_) return std::nullopt;
        return s->value - kernbase_;
    }

    std::uint64_t read_phys_uint(std::uint64_t pa, unsigned width) const {
        std::array<std::byte, 8> b{};
        read_phys_(pa, MutableByteSpan(b.data(), width));
        return load_uint(b.data(), width, state_.arch->order);
    }

    void use(std::string_view translator, std::uint64_t root, std::string source) {
        state_.translator = std::string(translator);
        state_.pt_root = root;
        say(std::move(source));
    }

    void find_amd64() {
        const auto at = phys_of("KPML4phys");
        if (!at) return say("the namelist has no KPML4phys");
        const std::uint64_t root = read_phys_uint(*at, 8);
        use("amd64", root, fmt::format("KPML4phys at pa {} holds {}", hex(*at), hex(root)));
    }

    void find_i386() {
        if (const auto at = phys_of("IdlePDPT")) {
            const std::uint64_t pdpt = read_phys_uint(*at, 4);
            std::array<std::uint64_t, 4> pd{};
            bool contiguous = true;
            for (std::size_t i = 0; i < pd.size(); ++i) {
                pd[i] = read_phys_uint(pdpt + i * 8, 8);
                contiguous = contiguous && (pd[i] & pg_v) != 0 && (pd[i] & pae_frame) == (pd[0] & pae_frame) + i * page;
            }
            if (!contiguous)
                return say(
                    fmt::format("IdlePDPT at pa {} holds {}, whose entries {}, {}, {}, {} are not four "
                                "contiguous page directories",
                                hex(*at), hex(pdpt), hex(pd[0]), hex(pd[1]), hex(pd[2]), hex(pd[3])));
            const std::uint64_t root = pd[0] & pae_frame;
            return use(
                "i386-pae", root,
                fmt::format("IdlePDPT at pa {} holds {}: PAE page directories at {}", hex(*at), hex(pdpt), hex(root)));
        }
        const auto at = phys_of("IdlePTD");
        if (!at) return say("the namelist has neither IdlePDPT nor IdlePTD");
        const std::uint64_t root = read_phys_uint(*at, 4);
        use("i386", root, fmt::format("IdlePTD at pa {} holds {}", hex(*at), hex(root)));
    }

    // Where the namelist says pcb_cr3 is: its DWARF, else the release table.
    // nullopt offset: the type information has a struct pcb without it.
    std::pair<std::optional<std::uint64_t>, std::string> pcb_cr3_offset() const {
        const elf::File* file = namelist_.elf();
        if (file != nullptr) {
            const LayoutRequest request{
                .structs = {{.name = "pcb",
                             .members = {{.path = "pcb_cr3", .meaning = "the page-table root", .required = false}}}}};
            for (const TypeInfoReader& reader : all_type_info_readers()) {
                if (!reader.present(*file)) continue;
                const StructLayouts layouts = reader.read(namelist_.path(), *file, request);
                const StructLayout* pcb = layouts.find("pcb");
                if (pcb == nullptr) continue;
                const MemberLayout* cr3 = pcb->find("pcb_cr3");
                if (cr3 == nullptr)
                    return {std::nullopt, fmt::format("struct pcb in {} has no pcb_cr3", layouts.source)};
                return {cr3->offset, "from " + layouts.source};
            }
        }
        const auto release = initial_string(namelist_, "osrelease", 64);
        const auto parsed = release ? parse_release(*release) : std::nullopt;
        if (!parsed) return {64, "the offset of current releases: the namelist names no release"};
        for (const PcbCr3Row& row : pcb_cr3_by_release)
            if (*parsed >= std::pair{row.major, row.minor})
                return {row.offset, fmt::format("the offset of DragonFly {}", *release)};
        return {64, "the offset of current releases"};
    }

    void find_dragonfly() {
        const Symbol* dumppcb = namelist_.symbols().lookup("dumppcb");
        const auto at = phys_of("dumppcb");
        if (dumppcb == nullptr || !at) return say("the namelist has no dumppcb");
        const auto [offset, why] = pcb_cr3_offset();
        if (!offset) return say(fmt::format("dumppcb's pcb_cr3: {}", why));
        // The right root maps dumppcb to the physical address it was read
        // from; try the table's offset first, then the other known one.
        std::vector<std::uint64_t> tries{*offset};
        for (const std::uint64_t other : {std::uint64_t{64}, std::uint64_t{0}})
            if (other != *offset) tries.push_back(other);
        std::string tried;
        for (const std::uint64_t off : tries) {
            tried += fmt::format("{}{}", tried.empty() ? "" : ", ", off);
            try {
                const std::uint64_t cr3 = read_phys_uint(*at + off, 8);
                const std::uint64_t root = cr3 & pae_frame;
                const auto walker = make_translator("amd64", {.root = root, .order = state_.arch->order});
                if (walker->translate(dumppcb->value, read_phys_).pa != *at) continue;
                const std::string reason = off == *offset ? why : "the one whose page tables map dumppcb back";
                return use("amd64", root,
                           fmt::format("dumppcb's pcb_cr3 at offset {} ({}) holds {}", off, reason, hex(cr3)));
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::fault) throw;
            }
        }
        say(
            fmt::format("dumppcb's pcb_cr3: {}; no offset of {} gives page tables that map dumppcb ({}) to its "
                        "physical address {}",
                        why, tried, hex(dumppcb->value), hex(*at)));
    }

    MachineState& state_;
    const Namelist& namelist_;
    const PhysReader& read_phys_;
    std::uint64_t kernbase_ = 0;
};

}  // namespace

std::optional<BsdOs> bsd_os_of(const Namelist& namelist) {
    if (const auto ostype = initial_string(namelist, "ostype", 32)) {
        if (*ostype == "FreeBSD") return BsdOs{"freebsd", "the namelist's ostype \"FreeBSD\""};
        if (*ostype == "DragonFly") return BsdOs{"dragonfly", "the namelist's ostype \"DragonFly\""};
    }
    if (namelist.elf() != nullptr && namelist.elf()->osabi() == elf::elfosabi_freebsd)
        return BsdOs{"freebsd", "the namelist's ELF OS/ABI (FreeBSD)"};
    for (const std::string_view name : {"allprocs", "allproc_hsize"})
        if (namelist.symbols().find(name) != nullptr)
            return BsdOs{"dragonfly", fmt::format("the namelist's {}, which only DragonFly has", name)};
    return std::nullopt;
}

void find_full_dump_root(MachineState& state, const Namelist* namelist, const PhysReader& read_phys) {
    if (namelist == nullptr) {
        state.info["pt_root.source"] =
            "no namelist: a full FreeBSD or DragonFly dump names no page tables; give the kernel (-N)";
        return;
    }
    try {
        RootFinder(state, *namelist, read_phys).find();
    } catch (const Error& e) {
        // A variable or table that is not in the dump: no translation, and reads say why.
        if (e.kind() != ErrorKind::fault) throw;
        state.translator.clear();
        state.info["pt_root.source"] = e.message();
    }
}

}  // namespace kvm::detail
