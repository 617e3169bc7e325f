// FreeBSD and DragonFly dump devices (freebsd-dragonfly-dump-format.md
// sections 1.4-1.7 and 4): the trailing header in the last sector, the
// leading header found by the version's rule, the key area, the body; and
// the format row that opens the body in place.
//
//   [...][leader: one sector][key: dumpkeysize][body: dumplength <= extent][trailer: last sector]
//
// v1 (FreeBSD up to 11, DragonFly) has no extent and a 512-byte leader
// right before the body: leader = trailer - dumplength - 512.  v2+ put the
// leader a sector before the key: leader = trailer - extent - keysize -
// sector, extent being dumplength where the version does not store it.
#include <kvm/error.h>
#include <kvm/kerneldump.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace kvm::kerneldump {

namespace {

// The largest key area accepted: a 2048-byte key and its header, padded to
// a block of up to 64 KiB.
constexpr std::uint64_t max_key_area = 64u << 10;

[[noreturn]] void fail(ErrorKind kind, const ByteSource& device, const std::string& message) {
    Error e(kind, message);
    e.with_path(device.name());
    throw e;
}

Bytes with_magic(ByteSpan header, std::string_view magic) {
    Bytes b(header.begin(), header.end());
    std::fill_n(b.begin(), magic_size, std::byte{0});
    std::copy(magic.begin(), magic.end(), reinterpret_cast<char*>(b.data()));
    return b;
}

// A cleared header's own magic: clearing leaves the parity as it was, so
// exactly the original magic makes the words XOR to 0 again.  When none
// does (the header is damaged as well), the architecture decides: DragonFly
// calls amd64 x86_64.
Magic restored_magic(ByteSpan trailer) {
    for (const Magic m : {Magic::freebsd_kernel, Magic::freebsd_text, Magic::dragonfly_kernel, Magic::dragonfly_text})
        if (parity_xor(with_magic(trailer, magic_text(m))) == 0) return m;
    const std::string_view arch = as_chars(trailer.subspan(20, 12));
    return arch.substr(0, arch.find('\0')) == "x86_64" ? Magic::dragonfly_kernel : Magic::freebsd_kernel;
}

// Why the leader differs from the trailer, naming the first field that does.
std::string leader_difference(ByteSpan leader, ByteSpan trailer, const Header& t) {
    if (!identify_magic(leader)) {
        const std::string_view m = as_chars(leader.first(magic_size));
        return fmt::format("no kerneldumpheader there (magic \"{}\")", printable(m.substr(0, m.find('\0'))));
    }
    const std::uint32_t version = load32(leader.data() + 32, ByteOrder::big);
    if (version != t.version) return fmt::format("version {} in the leader, {} in the trailer", version, t.version);
    const Header l = decode(leader);
    const auto number = [](std::string_view field, std::uint64_t a, std::uint64_t b) {
        return fmt::format("{} {:#x} in the leader, {:#x} in the trailer", field, a, b);
    };
    const auto text = [](std::string_view field, const std::string& a, const std::string& b) {
        return fmt::format("{} \"{}\" in the leader, \"{}\" in the trailer", field, printable(a), printable(b));
    };
    if (l.magic != t.magic) return text("magic", l.magic, t.magic);
    if (l.architecture != t.architecture) return text("architecture", l.architecture, t.architecture);
    if (l.architecture_version != t.architecture_version)
        return number("architectureversion", l.architecture_version, t.architecture_version);
    if (l.dumplength != t.dumplength) return number("dumplength", l.dumplength, t.dumplength);
    if (l.dumpextent != t.dumpextent) return number("dumpextent", l.dumpextent, t.dumpextent);
    if (l.dumptime != t.dumptime) return number("dumptime", l.dumptime, t.dumptime);
    if (l.dumpkeysize != t.dumpkeysize) return number("dumpkeysize", l.dumpkeysize, t.dumpkeysize);
    if (l.blocksize != t.blocksize) return number("blocksize", l.blocksize, t.blocksize);
    if (l.compression != t.compression) return number("compression", l.compression, t.compression);
    if (l.hostname != t.hostname) return text("hostname", l.hostname, t.hostname);
    if (l.versionstring != t.versionstring) return text("versionstring", l.versionstring, t.versionstring);
    if (l.panicstring != t.panicstring) return text("panicstring", l.panicstring, t.panicstring);
    if (l.parity != t.parity) return number("parity", l.parity, t.parity);
    const auto diff = std::mismatch(leader.begin(), leader.end(), trailer.begin());
    return fmt::format("byte {:#x} differs", diff.first - leader.begin());
}

class DeviceFormat final : public Format {
public:
    DeviceFormat(std::shared_ptr<ByteSource> device, std::unique_ptr<DeviceDump> dump, std::unique_ptr<Format> body)
        : device_(std::move(device)), dump_(std::move(dump)), body_(std::move(body)) {
        machine_ = body_->machine();
        machine_.os = std::string(to_string(dump_->os));
        const Header& h = dump_->header;
        machine_.info["kerneldump.magic"] = h.magic;
        machine_.info["kerneldump.version"] = std::to_string(h.version);
        machine_.info["kerneldump.architecture"] = h.architecture;
        machine_.info["kerneldump.hostname"] = h.hostname;
        machine_.info["kerneldump.dumptime"] = std::to_string(h.dumptime);
        machine_.info["kerneldump.versionstring"] = h.versionstring;
        machine_.info["kerneldump.panicstring"] = h.panicstring;
        machine_.info["kerneldump.body_offset"] = fmt::format("{:#x}", dump_->body_offset);
    }

    std::string_view name() const override { return "freebsd-dumpdev"; }
    const MachineState& machine() const override { return machine_; }
    void read_phys(std::uint64_t pa, MutableByteSpan out) const override { body_->read_phys(pa, out); }
    std::vector<PhysRun> phys_ranges() const override {
        std::vector<PhysRun> runs = body_->phys_ranges();
        for (PhysRun& r : runs)
            r.offset += dump_->body_offset;
        return runs;
    }
    std::optional<std::uint64_t> phys_to_offset(std::uint64_t pa) const override {
        return device_offset(body_->phys_to_offset(pa));
    }
    std::size_t read_virtual(std::uint64_t va, MutableByteSpan out) const override {
        return body_->read_virtual(va, out);
    }
    std::optional<std::uint64_t> virtual_to_offset(std::uint64_t va) const override {
        return device_offset(body_->virtual_to_offset(va));
    }
    const ByteSource& source() const override { return *device_; }
    ByteSource& source() override { return *device_; }

    const DeviceDump& dump() const { return *dump_; }
    const Format& body() const { return *body_; }

private:
    std::optional<std::uint64_t> device_offset(std::optional<std::uint64_t> in_body) const {
        if (!in_body) return std::nullopt;
        return *in_body + dump_->body_offset;
    }

    std::shared_ptr<ByteSource> device_;
    std::unique_ptr<DeviceDump> dump_;
    std::unique_ptr<Format> body_;
    MachineState machine_;
};

}  // namespace

std::optional<DeviceDump> find_device_dump(const ByteSource& device) {
    const std::uint64_t sector = std::max<std::uint64_t>(header_size, device.write_granularity());
    const std::uint64_t size = device.size();
    if (size < sector) return std::nullopt;
    DeviceDump d;
    d.device = device.name();
    d.sector_size = sector;
    d.trailer_offset = size - sector;
    const Bytes last = device.read_bytes(d.trailer_offset, header_size, "the last sector");
    const std::optional<Magic> magic = identify_magic(last);
    if (!magic) return std::nullopt;
    d.found = *magic;
    d.cleared = *magic == Magic::cleared;
    const Magic own = d.cleared ? restored_magic(last) : *magic;
    d.trailer = with_magic(last, magic_text(own));
    d.os = own == Magic::dragonfly_kernel || own == Magic::dragonfly_text ? Os::dragonfly : Os::freebsd;
    d.text = own == Magic::freebsd_text || own == Magic::dragonfly_text;
    const std::string where = fmt::format("kerneldumpheader at offset {:#x} (the last sector)", d.trailer_offset);
    try {
        d.header = decode(d.trailer);
    } catch (Error& e) {
        e.add_context(where);
        e.with_path(device.name());
        throw;
    }
    d.parity = parity_xor(d.trailer);
    const Header& h = d.header;

    if (h.dumplength > h.dumpextent)
        fail(ErrorKind::corrupt, device,
             fmt::format("{}: dumplength {:#x} is larger than dumpextent {:#x}", where, h.dumplength, h.dumpextent));
    if (d.text && h.dumplength % header_size != 0)
        fail(ErrorKind::corrupt, device,
             fmt::format("{}: textdump dumplength {:#x} is not a multiple of {}", where, h.dumplength, header_size));
    if (h.dumpkeysize > max_key_area)
        fail(ErrorKind::corrupt, device,
             fmt::format("{}: dumpkeysize {:#x} is larger than any key area (at most {:#x} bytes)", where,
                         h.dumpkeysize, max_key_area));
    // v1 writes a 512-byte leader right before the body (DragonFly reads
    // 512 bytes whatever the sector size); later versions a whole sector.
    const std::uint64_t lead_span = h.version == 1 ? header_size : sector;
    const std::uint64_t extent = h.dumpextent;
    const std::uint64_t key = h.dumpkeysize;
    const std::uint64_t room = d.trailer_offset;
    if (extent > room || key > room - extent || lead_span > room - extent - key) {
        const bool has_extent = layout_of(h.version).dumpextent.size != 0;
        fail(ErrorKind::corrupt, device,
             fmt::format("{}: {} {:#x} is past the device: with dumpkeysize {:#x} and the {}-byte leading header it "
                         "needs more than the {:#x} bytes before the trailer",
                         where, has_extent ? "dumpextent" : "dumplength", extent, key, lead_span, room));
    }
    d.leader_offset = room - extent - key - lead_span;
    d.key_offset = d.leader_offset + lead_span;
    d.key_size = key;
    d.body_offset = d.text ? room - h.dumplength : d.key_offset + key;
    d.body_length = h.dumplength;

    const Bytes leader = device.read_bytes(d.leader_offset, header_size, "the leading kerneldumpheader");
    d.leader_matches = leader == d.trailer;
    if (!d.leader_matches) d.leader_difference = leader_difference(leader, d.trailer, h);
    return d;
}

std::vector<Error> device_dump_problems(const DeviceDump& d) {
    std::vector<Error> problems;
    if (!d.parity_ok()) {
        Error e(
            ErrorKind::corrupt,
            fmt::format("kerneldumpheader at offset {:#x} (the last sector): parity check failed: its 128 words "
                        "XOR to {:#010x}, not 0{}",
                        d.trailer_offset, d.parity, d.cleared ? " (with the magic it had before it was cleared)" : ""));
        e.with_path(d.device);
        problems.push_back(std::move(e));
    }
    if (!d.leader_matches) {
        Error e(ErrorKind::corrupt,
                fmt::format("the leading kerneldumpheader at offset {:#x} differs from the trailer at offset {:#x}: {}",
                            d.leader_offset, d.trailer_offset, d.leader_difference));
        e.with_path(d.device);
        problems.push_back(std::move(e));
    }
    return problems;
}

void check_device_dump(const DeviceDump& d) {
    std::vector<Error> problems = device_dump_problems(d);
    if (!problems.empty()) throw problems.front();
}

std::optional<std::string> unreadable_body(const DeviceDump& d) {
    const std::string_view os = d.os == Os::dragonfly ? "DragonFly" : "FreeBSD";
    if (d.text)
        return fmt::format(
            "{}: a {} textdump (a tar archive of ddb output, not memory); savecore saves it as "
            "textdump.tar.N",
            d.device, os);
    if (d.encrypted())
        return fmt::format(
            "{}: the dump is encrypted (dumpkeysize {}) and kvmkit does not decrypt; savecore saves "
            "it as vmcore_encrypted.N and key.N for decryptcore(8)",
            d.device, d.header.dumpkeysize);
    if (d.compressed()) {
        const std::string method = compression_name(d.header.compression);
        return fmt::format(
            "{}: the dump body is compressed ({}, kerneldumpheader compression {}) and cannot be read "
            "in place; save it with savecore -u{}",
            d.device, method, d.header.compression,
            d.header.compression <= 2
                ? fmt::format(", or uncompress the saved vmcore.N.{}", d.header.compression == 1 ? "gz" : "zst")
                : "");
    }
    return std::nullopt;
}

std::unique_ptr<Format> probe_device(std::shared_ptr<ByteSource> source, const ProbeOptions& options) {
    if (options.device != nullptr) return nullptr;  // a body never holds another device
    std::optional<DeviceDump> found = find_device_dump(*source);
    if (!found) return nullptr;
    auto dump = std::make_unique<DeviceDump>(std::move(*found));
    check_device_dump(*dump);
    if (const std::optional<std::string> why = unreadable_body(*dump)) {
        Error e(ErrorKind::unsupported, *why);
        e.with_path(dump->device);
        throw e;
    }
    const std::string body_name =
        fmt::format("{}: the {} body at offset {:#x}", source->name(), dump->header.magic, dump->body_offset);
    ProbeOptions inner = options;
    inner.device = dump.get();
    std::unique_ptr<Format> body;
    try {
        body = open_format(slice_source(source, dump->body_offset, dump->body_length, body_name), inner);
    } catch (const Error& e) {
        Error out(e.kind() == ErrorKind::format ? ErrorKind::unsupported : e.kind(), e.message());
        out.with_path(source->name());
        throw out;
    }
    return std::make_unique<DeviceFormat>(std::move(source), std::move(dump), std::move(body));
}

const DeviceDump* device_of(const Format& format) {
    const auto* d = dynamic_cast<const DeviceFormat*>(&format);
    return d != nullptr ? &d->dump() : nullptr;
}

const Format* body_of(const Format& format) {
    const auto* d = dynamic_cast<const DeviceFormat*>(&format);
    return d != nullptr ? &d->body() : nullptr;
}

}  // namespace kvm::kerneldump
