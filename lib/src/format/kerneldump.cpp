// struct kerneldumpheader, versions 1 to 4, and struct kerneldumpkey
// (freebsd-dragonfly-dump-format.md sections 1.1-1.3).  Every integer field
// is big-endian; the layouts differ only in which fields exist and where.
#include <kvm/error.h>
#include <kvm/kerneldump.h>

#include <fmt/format.h>

#include <array>

namespace kvm::kerneldump {

namespace {

constexpr std::size_t architecture_offset = 20;
constexpr std::size_t architecture_size = 12;
constexpr std::size_t version_offset = 32;
constexpr std::size_t architecture_version_offset = 36;
constexpr std::size_t parity_offset = 508;

// Offsets and sizes per version; a size of 0 is a field the version lacks.
constexpr std::array<Layout, 4> layouts{{
    // v1: FreeBSD up to 11, every DragonFly.
    {.dumplength = {40, 8},
     .dumpextent = {0, 0},
     .dumptime = {48, 8},
     .dumpkeysize = {0, 0},
     .blocksize = {56, 4},
     .compression = {0, 0},
     .hostname = {60, 64},
     .versionstring = {124, 192},
     .panicstring = {316, 192}},
    // v2: a key size.
    {.dumplength = {40, 8},
     .dumpextent = {0, 0},
     .dumptime = {48, 8},
     .dumpkeysize = {56, 4},
     .blocksize = {60, 4},
     .compression = {0, 0},
     .hostname = {64, 64},
     .versionstring = {128, 192},
     .panicstring = {320, 188}},
    // v3: the extent and compression, in the middle.
    {.dumplength = {40, 8},
     .dumpextent = {48, 8},
     .dumptime = {56, 8},
     .dumpkeysize = {64, 4},
     .blocksize = {68, 4},
     .compression = {72, 1},
     .hostname = {73, 64},
     .versionstring = {137, 192},
     .panicstring = {329, 179}},
    // v4: FreeBSD 12 and later; the v2 layout with compression and the
    // extent moved to the end.
    {.dumplength = {40, 8},
     .dumpextent = {496, 8},
     .dumptime = {48, 8},
     .dumpkeysize = {56, 4},
     .blocksize = {60, 4},
     .compression = {495, 1},
     .hostname = {64, 64},
     .versionstring = {128, 192},
     .panicstring = {320, 175}},
}};

std::uint64_t load_field(ByteSpan h, FieldPlace f) {
    return f.size == 0 ? 0 : load_uint(h.data() + f.offset, static_cast<unsigned>(f.size), ByteOrder::big);
}

std::string load_string(ByteSpan h, std::size_t offset, std::size_t size) {
    const std::string_view s = as_chars(h.subspan(offset, size));
    return std::string(s.substr(0, s.find('\0')));
}

[[noreturn]] void throw_usage(const std::string& message) {
    throw Error(ErrorKind::usage, message);
}

void store_string(Bytes& h, std::size_t offset, std::size_t size, std::string_view s, std::string_view field) {
    // The kernel copies with strlcpy: room for the NUL.
    if (s.size() >= size)
        throw_usage(
            fmt::format("kerneldumpheader {} of {} bytes does not fit in its {}-byte field", field, s.size(), size));
    std::copy(s.begin(), s.end(), reinterpret_cast<char*>(h.data() + offset));
}

void store_field(Bytes& h, FieldPlace f, std::uint64_t value, std::uint32_t version, std::string_view field) {
    if (f.size == 0) {
        if (value != 0)
            throw_usage(fmt::format("kerneldumpheader version {} has no {} (set to {})", version, field, value));
        return;
    }
    if (f.size < 8 && value >> (8 * f.size) != 0)
        throw_usage(fmt::format("kerneldumpheader {} {:#x} does not fit in {} bytes", field, value, f.size));
    store_uint(h.data() + f.offset, value, static_cast<unsigned>(f.size), ByteOrder::big);
}

struct MagicRow {
    Magic magic;
    std::string_view text;
};
constexpr std::array magic_rows{
    MagicRow{Magic::freebsd_kernel, freebsd_magic},
    MagicRow{Magic::freebsd_text, freebsd_text_magic},
    MagicRow{Magic::dragonfly_kernel, dragonfly_magic},
    MagicRow{Magic::dragonfly_text, dragonfly_text_magic},
    MagicRow{Magic::cleared, cleared_magic},
};

}  // namespace

std::string printable(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return out;
}

std::string_view to_string(Os os) {
    return os == Os::dragonfly ? "dragonfly" : "freebsd";
}

std::string_view magic_text(Magic magic) {
    for (const MagicRow& r : magic_rows)
        if (r.magic == magic) return r.text;
    return cleared_magic;
}

std::optional<Magic> identify_magic(ByteSpan header) {
    if (header.size() < magic_size) return std::nullopt;
    const std::string_view field = as_chars(header.first(magic_size));
    for (const MagicRow& r : magic_rows)
        if (field.substr(0, r.text.size()) == r.text && field[r.text.size()] == '\0') return r.magic;
    return std::nullopt;
}

std::string compression_name(std::uint8_t compression) {
    switch (compression) {
        case 0:
            return "none";
        case 1:
            return "gzip";
        case 2:
            return "zstd";
        default:
            return fmt::format("unknown ({})", compression);
    }
}

std::string encryption_name(std::uint8_t encryption) {
    switch (encryption) {
        case 0:
            return "none";
        case 1:
            return "AES-256-CBC";
        case 2:
            return "ChaCha20";
        default:
            return fmt::format("unknown ({})", encryption);
    }
}

const Layout& layout_of(std::uint32_t version) {
    if (version < min_version || version > max_version)
        throw_unsupported(fmt::format("kerneldumpheader version {} (kvmkit reads versions {} to {})", version,
                                      min_version, max_version));
    return layouts[version - 1];
}

std::uint32_t parity_xor(ByteSpan header) {
    std::uint32_t x = 0;
    for (std::size_t at = 0; at + 4 <= std::min(header.size(), header_size); at += 4)
        x ^= load32(header.data() + at, ByteOrder::little);
    return x;
}

Header decode(ByteSpan header) {
    if (header.size() < header_size)
        throw_corrupt(fmt::format("truncated: a kerneldumpheader needs {} bytes, got {}", header_size, header.size()));
    const ByteSpan h = header.first(header_size);
    Header out;
    out.version = load32(h.data() + version_offset, ByteOrder::big);
    const Layout& l = layout_of(out.version);
    out.magic = load_string(h, 0, magic_size);
    out.architecture = load_string(h, architecture_offset, architecture_size);
    out.architecture_version = load32(h.data() + architecture_version_offset, ByteOrder::big);
    out.dumplength = load_field(h, l.dumplength);
    out.dumpextent = l.dumpextent.size != 0 ? load_field(h, l.dumpextent) : out.dumplength;
    out.dumptime = load_field(h, l.dumptime);
    out.dumpkeysize = static_cast<std::uint32_t>(load_field(h, l.dumpkeysize));
    out.blocksize = static_cast<std::uint32_t>(load_field(h, l.blocksize));
    out.compression = static_cast<std::uint8_t>(load_field(h, l.compression));
    out.hostname = load_string(h, l.hostname.offset, l.hostname.size);
    out.versionstring = load_string(h, l.versionstring.offset, l.versionstring.size);
    out.panicstring = load_string(h, l.panicstring.offset, l.panicstring.size);
    out.parity = load32(h.data() + parity_offset, ByteOrder::little);
    return out;
}

Bytes encode(const Header& hdr) {
    if (hdr.version < min_version || hdr.version > max_version)
        throw_usage(fmt::format("kerneldumpheader version {} (versions {} to {} exist)", hdr.version, min_version,
                                max_version));
    const Layout& l = layouts[hdr.version - 1];
    Bytes h(header_size);
    store_string(h, 0, magic_size + 1, hdr.magic, "magic");  // 20 bytes; a 20-character magic has no NUL
    store_string(h, architecture_offset, architecture_size, hdr.architecture, "architecture");
    store32(h.data() + version_offset, hdr.version, ByteOrder::big);
    store32(h.data() + architecture_version_offset, hdr.architecture_version, ByteOrder::big);
    store_field(h, l.dumplength, hdr.dumplength, hdr.version, "dumplength");
    if (l.dumpextent.size != 0) {
        store_field(h, l.dumpextent, hdr.dumpextent, hdr.version, "dumpextent");
    } else if (hdr.dumpextent != 0 && hdr.dumpextent != hdr.dumplength) {
        throw_usage(fmt::format("kerneldumpheader version {} has no dumpextent (set to {:#x}, dumplength {:#x})",
                                hdr.version, hdr.dumpextent, hdr.dumplength));
    }
    store_field(h, l.dumptime, hdr.dumptime, hdr.version, "dumptime");
    store_field(h, l.dumpkeysize, hdr.dumpkeysize, hdr.version, "dumpkeysize");
    store_field(h, l.blocksize, hdr.blocksize, hdr.version, "blocksize");
    store_field(h, l.compression, hdr.compression, hdr.version, "compression");
    store_string(h, l.hostname.offset, l.hostname.size, hdr.hostname, "hostname");
    store_string(h, l.versionstring.offset, l.versionstring.size, hdr.versionstring, "versionstring");
    store_string(h, l.panicstring.offset, l.panicstring.size, hdr.panicstring, "panicstring");
    // The parity word is 0 so far: the XOR of the others is the value that
    // makes all 128 XOR to 0.
    store32(h.data() + parity_offset, parity_xor(h), ByteOrder::little);
    return h;
}

DumpKey decode_key(ByteSpan area) {
    if (area.size() < key_fixed_size)
        throw_corrupt(fmt::format("dumpkeysize {} is smaller than the {}-byte kerneldumpkey header", area.size(),
                                  key_fixed_size));
    DumpKey key;
    key.encryption = static_cast<std::uint8_t>(area[0]);
    key.iv.assign(area.begin() + 1, area.begin() + 1 + key_iv_size);
    const std::uint32_t size = load32(area.data() + 1 + key_iv_size, ByteOrder::big);
    if (size > max_encrypted_key)
        throw_corrupt(fmt::format("kerneldumpkey encryptedkeysize {} is larger than the largest key ({} bytes)", size,
                                  max_encrypted_key));
    if (size > area.size() - key_fixed_size)
        throw_corrupt(fmt::format("kerneldumpkey encryptedkeysize {} does not fit in dumpkeysize {} ({} + {} > {})",
                                  size, area.size(), key_fixed_size, size, area.size()));
    key.encrypted_key.assign(area.begin() + key_fixed_size, area.begin() + key_fixed_size + size);
    return key;
}

Bytes encode_key(const DumpKey& key, std::uint32_t blocksize) {
    if (key.iv.size() > key_iv_size)
        throw_usage(fmt::format("kerneldumpkey iv of {} bytes (at most 32)", key.iv.size()));
    if (key.encrypted_key.size() > max_encrypted_key)
        throw_usage(fmt::format("kerneldumpkey of {} bytes (at most {})", key.encrypted_key.size(), max_encrypted_key));
    if (blocksize == 0 || (blocksize & (blocksize - 1)) != 0)
        throw_usage(fmt::format("blocksize {} is not a power of two", blocksize));
    Encoder e(ByteOrder::big);
    e.u8(key.encryption).bytes(key.iv).zeros(key_iv_size - key.iv.size());
    e.u32(static_cast<std::uint32_t>(key.encrypted_key.size())).bytes(key.encrypted_key);
    e.pad_to(blocksize);
    return e.take();
}

}  // namespace kvm::kerneldump
