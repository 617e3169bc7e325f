// kvm::Error: the one exception type of libkvmkit.
//
// Every failure carries a kind (what a caller may branch on), an optional
// fault address and file path (as data, not only as text), and a message a
// person can act on.  Context is prepended while the error travels up
// ("reading allproc: 0xffff...: level 2 entry not valid"), as libkdumpfile's
// err_add does.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kvm {

enum class ErrorKind {
    io,           // the operating system refused a read, write, open or stat
    format,       // not the format we were asked to read (wrong magic, wrong class)
    corrupt,      // the right format, but a field is impossible or out of bounds
    fault,        // a virtual or physical address cannot be read from this dump
    unsupported,  // a real, valid thing we do not handle (an arch, a feature)
    not_found,    // a symbol, process or file that is not there
    usage,        // the caller asked for something contradictory
};

std::string_view to_string(ErrorKind kind);

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message);

    ErrorKind kind() const noexcept { return kind_; }
    const std::optional<std::uint64_t>& address() const noexcept { return address_; }
    const std::string& path() const noexcept { return path_; }

    // Records the file the error is about and prefixes "path: " to the text,
    // once; a second call with another path only adds context.
    Error& with_path(std::string_view path);
    Error& with_address(std::uint64_t address);
    // Prepends "context: " to the message.
    Error& add_context(std::string_view context);

    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& message() const noexcept { return message_; }

private:
    ErrorKind kind_;
    std::optional<std::uint64_t> address_;
    std::string path_;
    std::string message_;
};

// Shorthands that read like the sentence they produce.
[[noreturn]] void throw_corrupt(const std::string& message);
[[noreturn]] void throw_format(const std::string& message);
[[noreturn]] void throw_fault(std::uint64_t address, const std::string& message);
[[noreturn]] void throw_unsupported(const std::string& message);
[[noreturn]] void throw_not_found(const std::string& message);
// errno-based: "message: strerror(errno)".
[[noreturn]] void throw_os(const std::string& message, int err, std::string_view path = {});

// "0xffffffff80001234": the one way addresses are shown in messages.
std::string hex(std::uint64_t value);

}  // namespace kvm
