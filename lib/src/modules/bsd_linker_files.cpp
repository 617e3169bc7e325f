// Loaded files of a dead FreeBSD or DragonFly kernel as kldstat lists them:
// the TAILQ `linker_files` of struct linker_file (sys/sys/linker.h), in
// list order, the kernel itself first (id 1).  Its kldnext(2) skips a file
// not yet LINKER_FILE_LINKED (one being loaded), and so does this reader.
// Each line is the file's id, refs, load address, size and filename
// (kern_kldstat's name); FreeBSD's pathname is kept for --json.  DragonFly's
// struct is the same but for FreeBSD's leading kobj ops pointer and
// pathname, which it lacks: the layouts say where each member is.
//
// Layouts come as the process walkers get theirs: a file given, the
// namelist's type information (FreeBSD's CTF, DWARF), else the shipped file
// of the dumped release.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/modules.h>

#include "procs/dead_kernel.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvm {

namespace {

using detail::member;
using Object = detail::KernelObject;

constexpr std::size_t max_path = 1024;  // MAXPATHLEN: kldstat's name and pathname buffers

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"linker_file",
         {
             member("refs", "references (kldstat's Refs)"),
             member("userrefs", "kldload(2) references", false),
             member("flags", "LINKER_FILE_* flags: a file not yet LINKER_FILE_LINKED is not listed"),
             member("link.tqe_next", "next file on linker_files (TAILQ_ENTRY link)"),
             member("filename", "the file's name (char *): kldstat's Name"),
             member("pathname", "the file's full path (char *), FreeBSD only", false),
             member("id", "file id: kldstat's Id"),
             member("address", "load address (caddr_t)"),
             member("size", "bytes loaded (size_t)"),
         }},
    };
    r.flags = {"LINKER_FILE_LINKED"};
    return r;
}

// LINKER_FILE_LINKED is 0x1 in every FreeBSD and DragonFly sys/sys/linker.h:
// for a kernel whose type information gives the structure and whose
// release has no shipped file.
const std::vector<NamedValue>& known_flags() {
    static const std::vector<NamedValue> flags = {
        {"LINKER_FILE_LINKED", 0x1, "linker_file.flags", "the file has been fully linked (kldnext lists it)"}};
    return flags;
}

std::uint64_t extent(const StructLayout& s) {
    std::uint64_t end = 0;
    for (const auto& m : s.members)
        end = std::max(end, m.offset + m.size);
    return std::min(end, s.size);
}

class LinkerFiles final : public ModuleReader {
public:
    LinkerFiles(const Kernel& kernel, StructLayouts layouts, std::uint64_t head)
        : kernel_(kernel), layouts_(std::move(layouts)), head_(head), file_(layouts_.get("linker_file")) {
        refs_ = &file_.member("refs");
        flags_ = &file_.member("flags");
        next_ = &file_.member("link.tqe_next");
        filename_ = &file_.member("filename");
        pathname_ = file_.find("pathname");
        id_ = &file_.member("id");
        address_ = &file_.member("address");
        size_ = &file_.member("size");
        linked_ = layouts_.require_flag("LINKER_FILE_LINKED");
        const unsigned ptr = kernel.pointer_size();
        for (const MemberLayout* p : {next_, filename_, pathname_, address_})
            if (p != nullptr && p->size != ptr)
                throw_corrupt(fmt::format("{}: linker_file.{} is {} bytes, not a {}-byte pointer", layouts_.source,
                                          p->name, p->size, ptr));
        bytes_ = extent(file_);
    }

    std::string_view name() const override { return kernel_.machine().os; }
    const StructLayouts& layouts() const override { return layouts_; }

    ModuleListing read(bool /*symbols*/, const ModuleWarn& warn) const override {
        ModuleListing out;
        out.table = ModuleTable::kldstat;
        out.pointer_size = kernel_.pointer_size();
        detail::PageCache memory(kernel_, 64);
        const std::optional<std::uint64_t> first = detail::read_list_head(
            memory, kernel_, head_, fmt::format("the loaded files (linker_files at {})", hex(head_)), warn);
        if (!first) return out;
        detail::EntrySet seen("linker_file", bytes_);
        detail::walk_list("the loaded files (linker_files)", *first, detail::entries_bound(kernel_, bytes_), seen, warn,
                          [&](std::uint64_t address, std::uint64_t) {
                              const Object o(memory, kernel_.order(), bytes_, address);
                              const detail::ListStep step{o.u(next_), true};
                              if ((o.u(flags_) & linked_) == 0) return step;
                              ModuleInfo m;
                              m.address = address;
                              m.id = o.s(id_);
                              m.refs = o.s(refs_);
                              m.base = o.u(address_);
                              m.size = o.u(size_);
                              if (m.size != 0) m.ranges.push_back({m.base, m.size});
                              // A name that cannot be read leaves the line, and the list, sound.
                              const auto text = [&](const MemberLayout* p, std::string_view what) -> std::string {
                                  if (p == nullptr || o.u(p) == 0) return {};
                                  try {
                                      return memory.read_string(o.u(p), max_path);
                                  } catch (Error& e) {
                                      e.add_context(fmt::format("linker_file {} (id {}): {} at {}", hex(address), m.id,
                                                                what, hex(o.u(p))));
                                      warn(e);
                                      return {};
                                  }
                              };
                              m.name = text(filename_, "filename");
                              m.path = text(pathname_, "pathname");
                              out.modules.push_back(std::move(m));
                              return step;
                          });
        return out;
    }

private:
    const Kernel& kernel_;
    StructLayouts layouts_;
    std::uint64_t head_;  // &linker_files (a TAILQ_HEAD: its first member is tqh_first)
    const StructLayout& file_;
    const MemberLayout *refs_, *flags_, *next_, *filename_, *pathname_, *id_, *address_, *size_;
    std::uint64_t linked_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace

const LayoutRequest& bsd::linker_file_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

namespace detail {

bool freebsd_linker_files_accepts(const Kernel& kernel) {
    return kernel.machine().os == "freebsd";
}

bool dragonfly_linker_files_accepts(const Kernel& kernel) {
    return kernel.machine().os == "dragonfly";
}

std::unique_ptr<ModuleReader> linker_files_create(const Kernel& kernel, const ModuleOptions& options) {
    const Namelist& namelist = kernel.namelist();  // usage error without -N
    require_symbols(namelist, {"_linker_files"});
    const std::string& os = kernel.machine().os;
    StructLayouts layouts = bsd_dump_layouts(
        kernel, os == "dragonfly" ? "DragonFly" : "FreeBSD", bsd::linker_file_layout_request(),
        {.os = os, .file = options.layout_file, .dirs = options.layout_dirs, .known_flags = known_flags()});
    return std::make_unique<LinkerFiles>(kernel, std::move(layouts), kernel.symbol_value("_linker_files"));
}

}  // namespace detail

}  // namespace kvm
