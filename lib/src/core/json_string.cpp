// JSON strings of text read from a dump (json_string.h).
#include "core/json_string.h"

#include <fmt/format.h>

namespace kvm::detail {

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            ++i;
        } else if (c < 0x20) {
            out += fmt::format("\\u{:04x}", c);
            ++i;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
        } else {
            // Length of a well-formed sequence starting here, 0 if none.
            std::size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
            if (n > s.size() - i) n = 0;
            for (std::size_t k = 1; k < n; ++k)
                if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) n = 0;
            if (n == 3) {
                const auto c1 = static_cast<unsigned char>(s[i + 1]);
                if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)) n = 0;  // overlong, surrogate
            } else if (n == 4) {
                const auto c1 = static_cast<unsigned char>(s[i + 1]);
                if ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90)) n = 0;  // overlong, past U+10FFFF
            }
            if (n == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(s.substr(i, n));
                i += n;
            }
        }
    }
    out += '"';
}

}  // namespace kvm::detail
