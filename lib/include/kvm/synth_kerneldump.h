// Synthetic FreeBSD and DragonFly dump devices: a body (a vmcore of any
// format, a compressed or "encrypted" one, a textdump's tar archive) placed
// on a partition image as the kernel places it, between a leading and a
// trailing kerneldumpheader of any version, with the key area when there is
// one (freebsd-dragonfly-dump-format.md sections 1.4 and 1.7):
//
//   v2-v4:  [64 KiB + junk][leader: B][key: K][body, then junk to E][trailer: B]
//           leader at M - 2B - E - K, body at M - B - E, trailer at M - B
//   v1:     [64 KiB + junk][leader: 512][body][trailer: 512]
//           leader at M - dumplength - 1024
//
// B is the header's blocksize, E the extent, K the key area, M the device
// size.  A textdump's 512-byte records are written last first, ending just
// below the trailer.
#pragma once

#include <kvm/io.h>
#include <kvm/kerneldump.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kvm::synth {

// Headers as the kernels write them, with known strings and time:
// FreeBSD/amd64 of any version (1: up to 11; 4: 12 and later), FreeBSD
// textdumps, DragonFly/x86_64 (always version 1).
kerneldump::Header freebsd_header(std::uint32_t version = 4);
kerneldump::Header freebsd_text_header(std::uint32_t version = 4);
kerneldump::Header dragonfly_header();

struct DumpDeviceSpec {
    // magic, architecture, version, times, strings, compression.  The
    // builder sets dumplength (the body's size), dumpextent (v3, v4),
    // dumpkeysize (the key area's size) and the parity.
    kerneldump::Header header = freebsd_header();
    Bytes key;                      // the key area (kerneldump::encode_key): an encrypted dump, v2+
    std::uint64_t extent = 0;       // v3, v4: room for the body; 0: the body rounded up to the blocksize
    std::uint64_t device_size = 0;  // 0: 64 KiB, a little junk, and what the dump needs
    std::uint64_t seed = 1;         // the junk before the leader and after the body
};

// Where the parts are, and the header written twice.
struct DumpDeviceLayout {
    std::uint64_t leader = 0;
    std::uint64_t key = 0;
    std::uint64_t key_size = 0;
    std::uint64_t body = 0;  // a textdump: the lowest record (the archive's last)
    std::uint64_t body_size = 0;
    std::uint64_t trailer = 0;
    std::uint64_t size = 0;
    Bytes header;  // 512 bytes
};

// The layout for a body of `body_size` bytes; throws usage when the spec
// cannot be laid out (a device too small, a key the version has no room for).
DumpDeviceLayout dump_device_layout(const DumpDeviceSpec& spec, std::uint64_t body_size);
// Writes the whole device to `out`, reading `body` in bounded chunks (a
// benchmark's 2 GiB body need not be in memory).
DumpDeviceLayout write_dump_device(const DumpDeviceSpec& spec, const ByteSource& body, Sink& out);
// The device in memory.
Bytes dump_device(const DumpDeviceSpec& spec, ByteSpan body);

// Bodies as the kernel compresses them: one gzip stream with the plain
// 10-byte header; one zstd frame.
Bytes gzip_body(ByteSpan data);
Bytes zstd_body(ByteSpan data);

// A ustar archive of these files (name, content), mode 0644, owner root,
// ending with two zero records: what a textdump holds.
Bytes ustar_archive(const std::vector<std::pair<std::string, std::string>>& files, std::int64_t mtime);
// A textdump's files for `header`: msgbuf.txt, panic.txt, version.txt,
// ddb.txt, config.txt (the files a FreeBSD textdump holds).
std::vector<std::pair<std::string, std::string>> textdump_files(const kerneldump::Header& header);

// A key area: AES-256-CBC, a fixed IV and a 256-byte "encrypted key".
Bytes sample_key_area(std::uint32_t blocksize = 512);

}  // namespace kvm::synth
