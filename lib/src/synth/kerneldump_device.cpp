// Synthetic FreeBSD and DragonFly dump devices (see synth_kerneldump.h).
#include <kvm/error.h>
#include <kvm/synth_kerneldump.h>

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace kvm::synth {

namespace kd = kerneldump;

namespace {

constexpr std::uint64_t metadata = 64u << 10;  // SIZEOF_METADATA: never written by the kernel
constexpr std::uint64_t junk_after_metadata = 8u << 10;
constexpr std::size_t chunk = 1u << 20;

[[noreturn]] void throw_usage(const std::string& message) {
    throw Error(ErrorKind::usage, message);
}

constexpr std::int64_t crash_time = 1732200000;  // Thu Nov 21 14:40:00 2024 UTC

// Stale bytes, as an old swap partition holds: never zero, never a magic.
void junk(Sink& out, std::uint64_t n, std::uint64_t& state) {
    Bytes buf(static_cast<std::size_t>(std::min<std::uint64_t>(n, chunk)));
    while (n > 0) {
        const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(n, buf.size()));
        for (std::size_t i = 0; i < len; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = static_cast<std::byte>((state >> 56) | 1);
        }
        out.write(ByteSpan(buf.data(), len));
        n -= len;
    }
}

void copy_forward(const ByteSource& body, Sink& out) {
    Bytes buf(static_cast<std::size_t>(std::min<std::uint64_t>(body.size(), chunk)));
    for (std::uint64_t done = 0; done < body.size();) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(body.size() - done, buf.size()));
        body.read_exact(done, MutableByteSpan(buf.data(), n), "the dump body");
        out.write(ByteSpan(buf.data(), n));
        done += n;
    }
}

// A textdump on the device: the archive's last record first.
void copy_records_backwards(const ByteSource& body, Sink& out) {
    const std::uint64_t total = body.size();
    Bytes in(static_cast<std::size_t>(std::min<std::uint64_t>(total, chunk)));
    Bytes rev(in.size());
    for (std::uint64_t done = 0; done < total;) {
        // Device order runs from the archive's end towards its start.
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(total - done, in.size()));
        const std::uint64_t from = total - done - n;
        body.read_exact(from, MutableByteSpan(in.data(), n), "the textdump archive");
        const std::size_t records = n / kd::header_size;
        for (std::size_t k = 0; k < records; ++k)
            std::memcpy(rev.data() + k * kd::header_size, in.data() + (records - 1 - k) * kd::header_size,
                        kd::header_size);
        out.write(ByteSpan(rev.data(), n));
        done += n;
    }
}

void put_octal(Bytes& h, std::size_t offset, std::size_t width, std::uint64_t value) {
    // width - 1 digits and a NUL.
    const std::string digits = fmt::format("{:0{}o}", value, width - 1);
    if (digits.size() != width - 1)
        throw_usage(fmt::format("ustar field of {} digits cannot hold {}", width - 1, value));
    std::memcpy(h.data() + offset, digits.data(), digits.size());
}

void put_text(Bytes& h, std::size_t offset, std::size_t width, std::string_view s) {
    if (s.size() > width) throw_usage(fmt::format("ustar name \"{}\" is longer than {} bytes", s, width));
    std::memcpy(h.data() + offset, s.data(), s.size());
}

}  // namespace

kd::Header freebsd_header(std::uint32_t version) {
    kd::Header h;
    h.magic = std::string(kd::freebsd_magic);
    h.architecture = "amd64";
    h.version = version;
    h.architecture_version = 2;
    h.dumptime = crash_time;
    h.blocksize = 512;
    h.hostname = "crashbox.example.org";
    h.versionstring = version == 1
                          ? "FreeBSD 11.4-RELEASE #0 r362094: Fri Jun 12 18:27:15 UTC 2020\n"
                            "    root@releng2.nyi.freebsd.org:/usr/obj/usr/src/sys/GENERIC\n"
                          : "FreeBSD 14.1-RELEASE #0 releng/14.1-n267679-10e31f0946d8: Fri May 31 00:00:00 UTC 2024\n"
                            "    root@releng3.nyi.freebsd.org:/usr/obj/usr/src/amd64.amd64/sys/GENERIC\n";
    h.panicstring = "vm_fault_lookup: fault on nofault entry, addr: 0xfffffe00f8a3c000";
    return h;
}

kd::Header freebsd_text_header(std::uint32_t version) {
    kd::Header h = freebsd_header(version);
    h.magic = std::string(kd::freebsd_text_magic);
    return h;
}

kd::Header dragonfly_header() {
    kd::Header h;
    h.magic = std::string(kd::dragonfly_magic);
    h.architecture = "x86_64";
    h.version = 1;
    h.architecture_version = 2;
    h.dumptime = crash_time;
    h.blocksize = 512;
    h.hostname = "dfly.example.org";
    h.versionstring =
        "DragonFly v6.4.0-RELEASE #0: Sat Dec 31 00:00:00 UTC 2022\n"
        "    root@builder.dragonflybsd.org:/usr/obj/usr/src/sys/X86_64_GENERIC\n";
    h.panicstring = "assertion \"lp->lwp_stat == LSRUN\" failed in lwkt_schedule";
    return h;
}

DumpDeviceLayout dump_device_layout(const DumpDeviceSpec& spec, std::uint64_t body_size) {
    kd::Header h = spec.header;
    const std::uint64_t b = h.blocksize;
    if (b < kd::header_size || (b & (b - 1)) != 0)
        throw_usage(fmt::format("blocksize {} is not a power of two of at least 512", b));
    const bool v1 = h.version == 1;
    const bool has_extent = kd::layout_of(h.version).dumpextent.size != 0;
    const bool text = h.magic == kd::freebsd_text_magic || h.magic == kd::dragonfly_text_magic;
    if (text && body_size % kd::header_size != 0)
        throw_usage(fmt::format("a textdump of {} bytes is not whole 512-byte records", body_size));
    if (!spec.key.empty() && (v1 || spec.key.size() % b != 0))
        throw_usage(fmt::format("a key area of {} bytes in a version {} header with blocksize {}", spec.key.size(),
                                h.version, b));
    std::uint64_t extent = body_size;
    if (has_extent) extent = spec.extent != 0 ? spec.extent : align_up(body_size, b);
    if (extent < body_size)
        throw_usage(fmt::format("extent {:#x} is smaller than the body ({:#x})", extent, body_size));
    if (!has_extent && spec.extent != 0) throw_usage(fmt::format("version {} has no extent", h.version));
    h.dumplength = body_size;
    h.dumpextent = has_extent ? extent : 0;
    h.dumpkeysize = static_cast<std::uint32_t>(spec.key.size());

    DumpDeviceLayout l;
    const std::uint64_t span = v1 ? kd::header_size : b;  // the leader and the trailer
    const std::uint64_t needed = span + spec.key.size() + extent + span;
    const std::uint64_t minimum = metadata + junk_after_metadata + needed;
    l.size = spec.device_size != 0 ? spec.device_size : align_up(minimum, b);
    if (l.size < minimum)
        throw_usage(fmt::format("a device of {:#x} bytes cannot hold this dump ({:#x} needed)", l.size, minimum));
    l.trailer = l.size - span;
    l.leader = l.trailer - extent - spec.key.size() - span;
    l.key = l.leader + span;
    l.key_size = spec.key.size();
    l.body = text ? l.trailer - body_size : l.key + l.key_size;
    l.body_size = body_size;
    l.header = kd::encode(h);
    return l;
}

DumpDeviceLayout write_dump_device(const DumpDeviceSpec& spec, const ByteSource& body, Sink& out) {
    DumpDeviceLayout l = dump_device_layout(spec, body.size());
    const bool text = spec.header.magic == kd::freebsd_text_magic || spec.header.magic == kd::dragonfly_text_magic;
    const std::uint64_t span = l.key - l.leader;
    std::uint64_t state = spec.seed;
    junk(out, l.leader, state);
    out.write(l.header);
    out.zeros(span - kd::header_size);
    out.write(spec.key);
    if (text) {
        // Records fill the top of the extent, down from the trailer.
        junk(out, l.body - (l.key + l.key_size), state);
        copy_records_backwards(body, out);
    } else {
        copy_forward(body, out);
        // A compressed stream's last block is padded out; the rest of the
        // extent is whatever the partition held.
        const std::uint64_t end = l.body + l.body_size;
        const std::uint64_t padded = std::min(l.trailer, l.body + align_up(l.body_size, spec.header.blocksize));
        out.zeros(padded - end);
        junk(out, l.trailer - padded, state);
    }
    out.write(l.header);
    out.zeros(l.size - l.trailer - kd::header_size);
    return l;
}

Bytes dump_device(const DumpDeviceSpec& spec, ByteSpan body) {
    const MemorySource source(Bytes(body.begin(), body.end()), "body");
    MemorySink out;
    write_dump_device(spec, source, out);
    return out.data();
}

Bytes gzip_body(ByteSpan data) {
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw Error(ErrorKind::io, "zlib: cannot start a gzip stream");
    Bytes out(deflateBound(&z, static_cast<uLong>(data.size())) + 64);
    z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int ret = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (ret != Z_STREAM_END) throw Error(ErrorKind::io, "zlib: the gzip stream did not end");
    return out;
}

Bytes zstd_body(ByteSpan data) {
    Bytes out(ZSTD_compressBound(data.size()));
    const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    if (ZSTD_isError(n) != 0) throw Error(ErrorKind::io, fmt::format("zstd: {}", ZSTD_getErrorName(n)));
    out.resize(n);
    return out;
}

Bytes ustar_archive(const std::vector<std::pair<std::string, std::string>>& files, std::int64_t mtime) {
    Bytes out;
    for (const auto& [name, content] : files) {
        Bytes h(kd::header_size);
        put_text(h, 0, 100, name);
        put_octal(h, 100, 8, 0644);
        put_octal(h, 108, 8, 0);
        put_octal(h, 116, 8, 0);
        put_octal(h, 124, 12, content.size());
        put_octal(h, 136, 12, static_cast<std::uint64_t>(mtime));
        h[156] = std::byte{'0'};
        put_text(h, 257, 6, std::string_view("ustar\0", 6));
        put_text(h, 263, 2, "00");
        put_text(h, 265, 32, "root");
        put_text(h, 297, 32, "wheel");
        // The checksum counts its own field as blanks.
        std::fill_n(h.begin() + 148, 8, std::byte{' '});
        unsigned sum = 0;
        for (const std::byte c : h)
            sum += static_cast<unsigned>(c);
        const std::string check = fmt::format("{:06o}", sum);
        std::memcpy(h.data() + 148, check.data(), 6);
        h[154] = std::byte{0};
        h[155] = std::byte{' '};
        out.insert(out.end(), h.begin(), h.end());
        const Bytes data = to_bytes(content);
        out.insert(out.end(), data.begin(), data.end());
        out.resize(align_up(out.size(), kd::header_size));
    }
    out.resize(out.size() + 2 * kd::header_size);
    return out;
}

std::vector<std::pair<std::string, std::string>> textdump_files(const kd::Header& header) {
    return {
        {"msgbuf.txt", fmt::format("Fatal trap 12: page fault while in kernel mode\ncpuid = 1; apic id = 01\n"
                                   "panic: {}\ncpuid = 1\ntime = {}\nKDB: enter: panic\n",
                                   header.panicstring, header.dumptime)},
        {"panic.txt", header.panicstring},
        {"version.txt", header.versionstring},
        {"ddb.txt",
         "db:0:kdb.enter.panic>  run lockinfo\ndb:1:lockinfo> show locks\nNo such command\n"
         "db:0:kdb.enter.panic>  bt\nTracing pid 0 tid 100000 td 0xffffffff81d0c900\n"
         "kdb_enter() at kdb_enter+0x33/frame 0xfffffe00f8a3b8f0\n"},
        {"config.txt",
         "options\tCONFIG_AUTOGENERATED\nident\tGENERIC\nmachine\tamd64\ncpu\tHAMMER\n"
         "options\tDDB\noptions\tTEXTDUMP_PREFERRED\n"},
    };
}

Bytes sample_key_area(std::uint32_t blocksize) {
    kd::DumpKey key;
    key.encryption = static_cast<std::uint8_t>(kd::Encryption::aes_256_cbc);
    for (std::size_t i = 0; i < kd::key_iv_size; ++i)
        key.iv.push_back(static_cast<std::byte>(0xa0 + i));
    for (std::size_t i = 0; i < 256; ++i)
        key.encrypted_key.push_back(static_cast<std::byte>(i * 7 + 3));
    return kd::encode_key(key, blocksize);
}

}  // namespace kvm::synth
