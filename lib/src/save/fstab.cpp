// Dump devices from fstab, as FreeBSD's savecore finds them when no device
// is named: swap and dump entries.
#include <kvm/save.h>

#include <algorithm>
#include <array>
#include <sstream>
#include <utility>

namespace kvm::save {

namespace {

// fstab(5) escapes blanks in fields as octal: "\040".
std::string unescape(std::string_view field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            const std::string_view digits = field.substr(i + 1, 3);
            if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
                out.push_back(static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0')));
                i += 3;
                continue;
            }
        }
        out.push_back(field[i]);
    }
    return out;
}

bool has_option(std::string_view options, std::string_view wanted) {
    while (!options.empty()) {
        const std::size_t comma = options.find(',');
        if (options.substr(0, comma) == wanted) return true;
        if (comma == std::string_view::npos) break;
        options.remove_prefix(comma + 1);
    }
    return false;
}

// Linux names devices by tag; udev keeps links for each kind.
std::string resolve(const std::string& spec) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> tags{{
        {"UUID=", "/dev/disk/by-uuid/"},
        {"LABEL=", "/dev/disk/by-label/"},
        {"PARTUUID=", "/dev/disk/by-partuuid/"},
        {"PARTLABEL=", "/dev/disk/by-partlabel/"},
    }};
    for (const auto& [tag, dir] : tags)
        if (spec.compare(0, tag.size(), tag) == 0) return std::string(dir) + spec.substr(tag.size());
    return spec;
}

}  // namespace

std::vector<std::string> fstab_dump_devices(std::string_view fstab_text) {
    std::vector<std::string> devices;
    std::istringstream in{std::string(fstab_text)};
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string spec, file, type, options;
        if (!(fields >> spec) || spec.front() == '#') continue;
        if (!(fields >> file >> type)) continue;
        fields >> options;
        if (type != "swap" && type != "dump" && !has_option(options, "sw")) continue;
        std::string device = resolve(unescape(spec));
        if (std::find(devices.begin(), devices.end(), device) == devices.end()) devices.push_back(std::move(device));
    }
    return devices;
}

}  // namespace kvm::save
