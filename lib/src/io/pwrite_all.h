// Writing a whole buffer at an offset, which pwrite(2) may do in pieces.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace kvm::detail {

// Retries short writes and EINTR; any other failure throws an io error
// naming `name`, the length and the offset.
inline void pwrite_all(int fd, std::uint64_t offset, ByteSpan data, const std::string& name) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_os(fmt::format("write of {} bytes at offset {:#x} failed", data.size() - done, offset + done), errno,
                     name);
        }
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace kvm::detail
