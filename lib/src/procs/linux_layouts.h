// Structure layouts of a Linux dump, for every reader of its kernel
// structures (the process walker, the module list): resolve_layouts() in
// its order, with the kernel's own BTF (__start_BTF..__stop_BTF, read out of
// the dump) as the type information the dumped kernel carries.
#pragma once

#include <kvm/kernel.h>
#include <kvm/layout.h>

#include <optional>
#include <string>
#include <vector>

namespace kvm::detail {

// Needs the namelist (it names __start_BTF); `flags` and `values` are the
// constants every kernel with BTF has (LayoutSearch::known_flags, ...).
// Throws usage when the layouts describe pointers of another size or order.
StructLayouts linux_dump_layouts(const Kernel& kernel, const LayoutRequest& request,
                                 const std::optional<std::string>& layout_file, const std::vector<std::string>& dirs,
                                 const std::vector<NamedValue>& flags, const std::vector<NamedValue>& values);

}  // namespace kvm::detail
