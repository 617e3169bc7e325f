// A ByteSource over a descriptor that is already open (a temporary file
// with no name).
#pragma once

#include <kvm/io.h>

#include <memory>
#include <string>

namespace kvm::detail {

// Takes ownership of `fd` (closed with the source); `name` is for messages.
std::shared_ptr<ByteSource> adopt_fd(int fd, std::string name);

}  // namespace kvm::detail
