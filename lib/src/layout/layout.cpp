// StructLayouts: lookups, member loads, checks against a request, and the
// JSON layout-file format.
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/layout.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace kvm {

namespace {

constexpr std::string_view format_tag = "kvmkit-layout-1";
// Layout files are small; a bigger one is not a layout file.
constexpr std::uint64_t max_layout_file = 16ull * 1024 * 1024;
constexpr std::uint64_t max_struct_size = 1ull << 24;

std::string describe_source(const StructLayouts& l) {
    return l.source.empty() ? std::string("the layouts") : l.source;
}

const NamedValue* find_named(const std::vector<NamedValue>& list, std::string_view name) {
    for (const auto& v : list)
        if (v.name == name) return &v;
    return nullptr;
}

}  // namespace

// ---------------------------------------------------------------- lookups

const MemberLayout* StructLayout::find(std::string_view member) const {
    for (const auto& m : members)
        if (m.name == member) return &m;
    return nullptr;
}

const MemberLayout& StructLayout::member(std::string_view member) const {
    if (const MemberLayout* m = find(member)) return *m;
    throw_not_found(fmt::format("struct {} has no member {}", name, member));
}

const StructLayout* StructLayouts::find(std::string_view name) const {
    const auto it = structs.find(name);
    return it == structs.end() ? nullptr : &it->second;
}

const StructLayout& StructLayouts::get(std::string_view name) const {
    if (const StructLayout* s = find(name)) return *s;
    throw_not_found(fmt::format("no layout of struct {} in {}", name, describe_source(*this)));
}

std::optional<std::uint64_t> StructLayouts::flag(std::string_view name) const {
    if (const NamedValue* v = find_named(flags, name)) return v->value;
    return std::nullopt;
}

std::optional<std::uint64_t> StructLayouts::value(std::string_view name) const {
    if (const NamedValue* v = find_named(values, name)) return v->value;
    return std::nullopt;
}

std::uint64_t StructLayouts::require_flag(std::string_view name) const {
    if (auto v = flag(name)) return *v;
    throw_not_found(fmt::format("{} defines no flag {}", describe_source(*this), name));
}

std::uint64_t StructLayouts::require_value(std::string_view name) const {
    if (auto v = value(name)) return *v;
    throw_not_found(fmt::format("{} defines no value {}", describe_source(*this), name));
}

// ---------------------------------------------------------------- member loads

namespace {

ByteSpan member_bytes(ByteSpan object, const MemberLayout& m) {
    if (m.size == 0 || m.size > 8)
        throw Error(ErrorKind::usage, fmt::format("member {} is {} bytes, not an integer of 1 to 8", m.name, m.size));
    return strict_subspan(object, m.offset, m.size, m.name);
}

std::uint64_t load_raw(ByteSpan b, ByteOrder order) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < b.size(); ++i) {
        const std::size_t at = order == ByteOrder::little ? b.size() - 1 - i : i;
        v = (v << 8) | std::to_integer<std::uint64_t>(b[at]);
    }
    return v;
}

std::uint64_t extract_bits(ByteSpan b, const MemberLayout& m, ByteOrder order) {
    const std::uint64_t storage = load_raw(b, order);
    const std::uint64_t first = m.bit_offset - m.offset * 8;  // within the storage bytes, in target bit order
    const std::uint64_t width_bits = b.size() * 8;
    if (m.bit_size > 64 || first + m.bit_size > width_bits)
        throw_corrupt(fmt::format("bitfield {} (bit {} size {}) is outside its {} bytes", m.name, m.bit_offset,
                                  m.bit_size, b.size()));
    const std::uint64_t shift = order == ByteOrder::little ? first : width_bits - first - m.bit_size;
    const std::uint64_t mask = m.bit_size == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << m.bit_size) - 1;
    return (storage >> shift) & mask;
}

}  // namespace

std::uint64_t load_member_unsigned(ByteSpan object, const MemberLayout& m, ByteOrder order) {
    const ByteSpan b = member_bytes(object, m);
    return m.is_bitfield() ? extract_bits(b, m, order) : load_raw(b, order);
}

std::int64_t load_member_signed(ByteSpan object, const MemberLayout& m, ByteOrder order) {
    const std::uint64_t v = load_member_unsigned(object, m, order);
    const unsigned bits = m.is_bitfield() ? m.bit_size : static_cast<unsigned>(m.size * 8);
    if (bits >= 64) return static_cast<std::int64_t>(v);
    const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
    return static_cast<std::int64_t>((v ^ sign) - sign);
}

std::string load_member_string(ByteSpan object, const MemberLayout& m) {
    const ByteSpan b = strict_subspan(object, m.offset, m.size, m.name);
    const std::string_view chars = as_chars(b);
    return std::string(chars.substr(0, chars.find('\0')));
}

// ---------------------------------------------------------------- checks

void check_layouts(const StructLayouts& layouts, const LayoutRequest& request) {
    std::vector<std::string> missing;
    for (const auto& want : request.structs) {
        const StructLayout* s = layouts.find(want.name);
        if (s == nullptr) {
            if (want.required) missing.push_back(fmt::format("struct {}", want.name));
            continue;
        }
        for (const auto& m : want.members) {
            const MemberLayout* have = s->find(m.path);
            if (have == nullptr) {
                if (m.required) missing.push_back(fmt::format("{}.{}", want.name, m.path));
                continue;
            }
            if (have->offset > s->size || have->size > s->size - have->offset)
                throw_corrupt(fmt::format("{}: {}.{} at offset {} size {} is outside the {}-byte structure",
                                          describe_source(layouts), want.name, m.path, have->offset, have->size,
                                          s->size));
        }
    }
    for (const auto& f : request.flags)
        if (!layouts.flag(f)) missing.push_back(fmt::format("flag {}", f));
    for (const auto& v : request.values)
        if (!layouts.value(v)) missing.push_back(fmt::format("value {}", v));
    if (missing.empty()) return;
    std::string list;
    for (const auto& m : missing)
        list += (list.empty() ? "" : ", ") + m;
    throw_not_found(fmt::format("{} lacks {}", describe_source(layouts), list));
}

// ---------------------------------------------------------------- JSON

namespace {

using json = nlohmann::ordered_json;  // keeps the file's order of flags and values
using ordered_json = nlohmann::ordered_json;

class JsonReader {
public:
    explicit JsonReader(std::string_view origin) : origin_(origin) {}

    [[noreturn]] void fail(const std::string& path, const std::string& what) const {
        Error e(ErrorKind::corrupt, path.empty() ? what : fmt::format("{}: {}", path, what));
        e.with_path(origin_);
        throw e;
    }

    const json& field(const json& obj, const std::string& path, std::string_view key) const {
        if (!obj.is_object()) fail(path, "is not an object");
        const auto it = obj.find(key);
        if (it == obj.end()) fail(path, fmt::format("{} is missing", key));
        return *it;
    }

    std::string text(const json& obj, const std::string& path, std::string_view key, bool required) const {
        if (!required && (!obj.contains(key))) return {};
        const json& v = field(obj, path, key);
        if (!v.is_string()) fail(path, fmt::format("{} is not a string", key));
        return v.get<std::string>();
    }

    std::uint64_t number(const json& v, const std::string& path, std::string_view what) const {
        if (v.is_number_unsigned()) return v.get<std::uint64_t>();
        if (v.is_number_integer() && v.get<std::int64_t>() >= 0)
            return static_cast<std::uint64_t>(v.get<std::int64_t>());
        // Flag masks read better in hex: "0x80000000".
        if (v.is_string()) {
            const std::string s = v.get<std::string>();
            std::size_t used = 0;
            try {
                const std::uint64_t n = std::stoull(s, &used, 0);
                if (used == s.size() && !s.empty() && s[0] != '-') return n;
            } catch (const std::exception&) {
            }
        }
        fail(path, fmt::format("{} is not a non-negative integer", what));
    }

    std::uint64_t number(const json& obj, const std::string& path, std::string_view key, bool required,
                         std::uint64_t fallback = 0) const {
        if (!required && !obj.contains(key)) return fallback;
        return number(field(obj, path, key), path, key);
    }

private:
    std::string origin_;
};

std::vector<NamedValue> read_named(const JsonReader& r, const json& doc, std::string_view key) {
    std::vector<NamedValue> out;
    if (!doc.contains(key)) return out;
    const json& group = doc.at(std::string(key));
    if (!group.is_object()) r.fail(std::string(key), "is not an object");
    for (const auto& [name, v] : group.items()) {
        const std::string path = fmt::format("{}.{}", key, name);
        NamedValue nv{.name = name};
        if (v.is_object()) {
            nv.value = r.number(v, path, "value", true);
            nv.field = r.text(v, path, "field", false);
            nv.meaning = r.text(v, path, "meaning", false);
        } else {
            nv.value = r.number(v, path, "the value");
        }
        out.push_back(std::move(nv));
    }
    return out;
}

}  // namespace

StructLayouts parse_layouts_json(std::string_view text, std::string_view origin) {
    const JsonReader r(origin);
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error& e) {
        // nlohmann's message begins "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
        std::string what = e.what();
        if (const auto p = what.find("] "); p != std::string::npos) what.erase(0, p + 2);
        r.fail("", what);
    }
    if (!doc.is_object()) r.fail("", "a layout file is a JSON object");
    const std::string tag = r.text(doc, "", "format", true);
    if (tag != format_tag) r.fail("format", fmt::format("is \"{}\", expected \"{}\"", tag, format_tag));

    StructLayouts l;
    l.os = r.text(doc, "", "os", true);
    l.release = r.text(doc, "", "release", true);
    l.arch = r.text(doc, "", "arch", true);
    l.pointer_size = static_cast<unsigned>(r.number(doc, "", "pointer_size", true));
    if (l.pointer_size != 4 && l.pointer_size != 8) r.fail("pointer_size", "must be 4 or 8");
    const std::string order = r.text(doc, "", "byte_order", true);
    if (order == "little") {
        l.order = ByteOrder::little;
    } else if (order == "big") {
        l.order = ByteOrder::big;
    } else {
        r.fail("byte_order", fmt::format("is \"{}\", expected \"little\" or \"big\"", order));
    }
    l.derived = r.text(doc, "", "derived", true);
    l.source = std::string(origin);

    const json& structs = r.field(doc, "", "structs");
    if (!structs.is_object()) r.fail("structs", "is not an object");
    for (const auto& [sname, sdoc] : structs.items()) {
        const std::string spath = "structs." + sname;
        StructLayout s{.name = sname};
        s.size = r.number(sdoc, spath, "size", true);
        if (s.size == 0 || s.size > max_struct_size)
            r.fail(spath, fmt::format("size {} is not between 1 and {}", s.size, max_struct_size));
        const json& members = r.field(sdoc, spath, "members");
        if (!members.is_object()) r.fail(spath + ".members", "is not an object");
        for (const auto& [mname, mdoc] : members.items()) {
            const std::string mpath = fmt::format("{}.members.{}", spath, mname);
            MemberLayout m{.name = mname};
            m.offset = r.number(mdoc, mpath, "offset", true);
            m.size = r.number(mdoc, mpath, "size", true);
            m.count = r.number(mdoc, mpath, "count", false);
            m.bit_offset = r.number(mdoc, mpath, "bit_offset", false);
            m.bit_size = static_cast<unsigned>(r.number(mdoc, mpath, "bit_size", false));
            m.type = r.text(mdoc, mpath, "type", false);
            m.meaning = r.text(mdoc, mpath, "meaning", false);
            // Only a flexible array member ("struct upid[]") may be empty.
            if (m.size == 0 && !m.type.ends_with("[]")) r.fail(mpath, "size is 0");
            if (m.offset > s.size || m.size > s.size - m.offset)
                r.fail(mpath,
                       fmt::format("offset {} size {} is outside the {}-byte structure", m.offset, m.size, s.size));
            if (m.is_bitfield() &&
                (m.bit_size > 64 || m.bit_offset < m.offset * 8 || m.bit_offset + m.bit_size > (m.offset + m.size) * 8))
                r.fail(mpath, fmt::format("bits {}+{} are not within bytes {}..{}", m.bit_offset, m.bit_size, m.offset,
                                          m.offset + m.size));
            s.members.push_back(std::move(m));
        }
        std::stable_sort(s.members.begin(), s.members.end(),
                         [](const MemberLayout& a, const MemberLayout& b) { return a.offset < b.offset; });
        l.structs.emplace(sname, std::move(s));
    }
    l.flags = read_named(r, doc, "flags");
    l.values = read_named(r, doc, "values");
    if (doc.contains("devices")) {
        const json& devices = doc.at("devices");
        if (!devices.is_array()) r.fail("devices", "is not an array");
        for (std::size_t i = 0; i < devices.size(); ++i) {
            const std::string path = fmt::format("devices[{}]", i);
            DeviceName d;
            const std::uint64_t major = r.number(devices[i], path, "major", true);
            if (major > 0xfff) r.fail(path, fmt::format("major {} is over 4095", major));
            d.major = static_cast<std::uint32_t>(major);
            d.driver = r.text(devices[i], path, "driver", false);
            d.pattern = r.text(devices[i], path, "name", true);
            l.devices.push_back(std::move(d));
        }
    }
    return l;
}

StructLayouts load_layouts_file(const std::string& path) {
    const Bytes data = read_whole_file(path, max_layout_file);
    return parse_layouts_json(as_chars(data), path);
}

namespace {

ordered_json named_json(const std::vector<NamedValue>& list, bool hex) {
    ordered_json out = ordered_json::object();
    for (const auto& v : list) {
        ordered_json o = ordered_json::object();
        if (hex) {
            o["value"] = fmt::format("{:#x}", v.value);
        } else {
            o["value"] = v.value;
        }
        if (!v.field.empty()) o["field"] = v.field;
        if (!v.meaning.empty()) o["meaning"] = v.meaning;
        out[v.name] = std::move(o);
    }
    return out;
}

}  // namespace

std::string to_json(const StructLayouts& l) {
    ordered_json doc = ordered_json::object();
    doc["format"] = format_tag;
    doc["os"] = l.os;
    doc["release"] = l.release;
    doc["arch"] = l.arch;
    doc["pointer_size"] = l.pointer_size;
    doc["byte_order"] = l.order == ByteOrder::little ? "little" : "big";
    doc["derived"] = l.derived;
    ordered_json structs = ordered_json::object();
    for (const auto& [name, s] : l.structs) {
        ordered_json members = ordered_json::object();
        for (const auto& m : s.members) {
            ordered_json o = ordered_json::object();
            o["offset"] = m.offset;
            o["size"] = m.size;
            if (m.count != 0) o["count"] = m.count;
            if (m.is_bitfield()) {
                o["bit_offset"] = m.bit_offset;
                o["bit_size"] = m.bit_size;
            }
            if (!m.type.empty()) o["type"] = m.type;
            if (!m.meaning.empty()) o["meaning"] = m.meaning;
            members[m.name] = std::move(o);
        }
        ordered_json so = ordered_json::object();
        so["size"] = s.size;
        so["members"] = std::move(members);
        structs[name] = std::move(so);
    }
    doc["structs"] = std::move(structs);
    doc["flags"] = named_json(l.flags, true);
    doc["values"] = named_json(l.values, false);
    ordered_json devices = ordered_json::array();
    for (const auto& d : l.devices) {
        ordered_json o = ordered_json::object();
        o["major"] = d.major;
        if (!d.driver.empty()) o["driver"] = d.driver;
        o["name"] = d.pattern;
        devices.push_back(std::move(o));
    }
    doc["devices"] = std::move(devices);
    // Names from type information are the dump's bytes, not always UTF-8:
    // those that are not print as U+FFFD rather than throw.
    return doc.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace kvm
