#include <kvm/error.h>

#include <fmt/format.h>

#include <cstring>

namespace kvm {

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::io:
            return "i/o error";
        case ErrorKind::format:
            return "unrecognised format";
        case ErrorKind::corrupt:
            return "corrupt";
        case ErrorKind::fault:
            return "bad address";
        case ErrorKind::unsupported:
            return "unsupported";
        case ErrorKind::not_found:
            return "not found";
        case ErrorKind::usage:
            return "usage";
    }
    return "error";
}

Error::Error(ErrorKind kind, const std::string& message)
    : std::runtime_error(message), kind_(kind), message_(message) {}

Error& Error::with_path(std::string_view path) {
    if (path.empty()) return *this;
    if (path_.empty()) {
        path_ = std::string(path);
        // Do not repeat the path when the leaf message already starts with it.
        if (message_.compare(0, path.size() + 2, fmt::format("{}: ", path)) != 0)
            message_ = fmt::format("{}: {}", path, message_);
    } else if (path_ != path) {
        message_ = fmt::format("{}: {}", path, message_);
    }
    return *this;
}

Error& Error::with_address(std::uint64_t address) {
    address_ = address;
    return *this;
}

Error& Error::add_context(std::string_view context) {
    if (!context.empty()) message_ = fmt::format("{}: {}", context, message_);
    return *this;
}

void throw_corrupt(const std::string& message) {
    throw Error(ErrorKind::corrupt, message);
}
void throw_format(const std::string& message) {
    throw Error(ErrorKind::format, message);
}
void throw_unsupported(const std::string& message) {
    throw Error(ErrorKind::unsupported, message);
}
void throw_not_found(const std::string& message) {
    throw Error(ErrorKind::not_found, message);
}

void throw_fault(std::uint64_t address, const std::string& message) {
    Error e(ErrorKind::fault, message);
    e.with_address(address);
    throw e;
}

void throw_os(const std::string& message, int err, std::string_view path) {
    Error e(ErrorKind::io, fmt::format("{}: {}", message, std::strerror(err)));
    e.with_path(path);
    throw e;
}

std::string hex(std::uint64_t value) {
    return fmt::format("{:#x}", value);
}

}  // namespace kvm
