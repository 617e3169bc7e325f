// JSON strings of text read from a dump, shared by the tools' --json output.
#pragma once

#include <string>
#include <string_view>

namespace kvm::detail {

// Appends `s` as a quoted JSON string.  Any bytes: valid UTF-8 passes
// through; a byte that does not start a valid sequence becomes U+FFFD.
void append_json_string(std::string& out, std::string_view s);

}  // namespace kvm::detail
