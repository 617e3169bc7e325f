// FreeBSD and DragonFly BSD dump devices: struct kerneldumpheader (versions
// 1 to 4), struct kerneldumpkey, and where the kernel puts the leading
// header, the key, the body and the trailing header on the dump partition
// (freebsd-dragonfly-dump-format.md sections 1 and 4).
//
// Every integer field is big-endian on every architecture; the character
// arrays are NUL-padded; the header is 512 bytes in every version, and the
// XOR of its 128 32-bit words is 0 (parity).  The version, at offset 32 in
// every layout, picks the layout.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/io.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvm::kerneldump {

constexpr std::size_t header_size = 512;
constexpr std::size_t magic_size = 20;
constexpr std::uint32_t min_version = 1;
constexpr std::uint32_t max_version = 4;

inline constexpr std::string_view freebsd_magic = "FreeBSD Kernel Dump";
inline constexpr std::string_view freebsd_text_magic = "FreeBSD Text Dump";
inline constexpr std::string_view dragonfly_magic = "DragonFly Kern Dump";
inline constexpr std::string_view dragonfly_text_magic = "DragonFly Text Dump";
inline constexpr std::string_view cleared_magic = "Cleared Kernel Dump";

// struct kerneldumpkey limits (KERNELDUMP_IV_MAX_SIZE, KERNELDUMP_ENCKEY_MAX_SIZE).
constexpr std::size_t key_iv_size = 32;
constexpr std::size_t key_fixed_size = 37;  // encryption, iv, encryptedkeysize
constexpr std::uint32_t max_encrypted_key = 2048;

enum class Os { freebsd, dragonfly };
std::string_view to_string(Os os);  // "freebsd", "dragonfly"

// What a magic says.  A cleared header keeps neither the OS nor the kind.
enum class Magic { freebsd_kernel, freebsd_text, dragonfly_kernel, dragonfly_text, cleared };
std::string_view magic_text(Magic magic);
// The magic at the start of a header (compared as strncmp over 20 bytes:
// the text and its NUL); nullopt when it is none of the five.
std::optional<Magic> identify_magic(ByteSpan header);

// A header string for messages and logs: bytes other than printable ASCII
// (a hostile hostname's newlines, junk where a leader should be) as '?'.
std::string printable(std::string_view s);

enum class Compression : std::uint8_t { none = 0, gzip = 1, zstd = 2 };
// "none", "gzip", "zstd", or "unknown (N)".
std::string compression_name(std::uint8_t compression);

enum class Encryption : std::uint8_t { none = 0, aes_256_cbc = 1, chacha20 = 2 };
std::string encryption_name(std::uint8_t encryption);  // "AES-256-CBC", "ChaCha20", "unknown (N)"

struct Header {
    std::string magic;         // up to the first NUL
    std::string architecture;  // MACHINE_ARCH: "amd64", "i386", "aarch64"; DragonFly "x86_64"
    std::uint32_t version = max_version;
    std::uint32_t architecture_version = 0;
    std::uint64_t dumplength = 0;  // bytes of the body as stored
    // Room reserved for the body (v3, v4).  Versions 1 and 2 do not store
    // it: decode sets it to dumplength, encode requires 0 or dumplength.
    std::uint64_t dumpextent = 0;
    std::uint64_t dumptime = 0;     // Unix seconds
    std::uint32_t dumpkeysize = 0;  // bytes of the key area (v2+; else 0)
    std::uint32_t blocksize = 512;
    std::uint8_t compression = 0;  // Compression (v3+; else 0)
    std::string hostname;
    std::string versionstring;
    std::string panicstring;
    // As stored, read little-endian (as savecore on amd64, i386 and arm64
    // prints it).  Encoding ignores it and stores the parity that makes the
    // words XOR to 0.
    std::uint32_t parity = 0;
};

// Field offsets and sizes of one layout (for messages and for tests that
// damage one field).
struct FieldPlace {
    std::size_t offset = 0;
    std::size_t size = 0;  // 0: the version has no such field
};
struct Layout {
    FieldPlace dumplength, dumpextent, dumptime, dumpkeysize, blocksize, compression, hostname, versionstring,
        panicstring;
};
// Throws unsupported for a version outside 1-4.
const Layout& layout_of(std::uint32_t version);

// Decodes a 512-byte header of any version.  Throws unsupported naming the
// version when it is not 1-4, corrupt when `header` is short.  No check of
// magic or parity: see identify_magic and parity_xor.
Header decode(ByteSpan header);
// Encodes `h` in the layout of h.version, with the parity that makes the
// words XOR to 0.  Throws usage when a string does not fit its field or a
// field the version lacks is set.
Bytes encode(const Header& h);
// XOR of the 128 32-bit words: 0 for a header whose parity checks.
std::uint32_t parity_xor(ByteSpan header);

// struct kerneldumpkey: the area after the leading header when dumpkeysize
// is not 0.  kdk_encryptedkeysize is big-endian.
struct DumpKey {
    std::uint8_t encryption = 0;
    Bytes iv;             // 32 bytes
    Bytes encrypted_key;  // kdk_encryptedkeysize bytes, at most 2048
};
// Decodes a key area; throws corrupt naming the field when the key does not
// fit in the area or is larger than 2048 bytes.
DumpKey decode_key(ByteSpan area);
// The key area: 37 + the key, zero-padded to a multiple of `blocksize`.
Bytes encode_key(const DumpKey& key, std::uint32_t blocksize);

// ------------------------------------------------------------ the device

// A dump found on a device from its trailing header.
struct DeviceDump {
    std::string device;            // the source's name
    Magic found = Magic::cleared;  // the trailer's magic as it is on the device
    // The trailer with its magic restored when it was cleared: the magic
    // that makes the parity check (clearing leaves the parity as it was),
    // else the kernel-dump magic of the OS the architecture suggests.
    Header header;
    Bytes trailer;  // the 512 bytes, magic restored
    Os os = Os::freebsd;
    bool text = false;     // a textdump (a tar archive written backwards)
    bool cleared = false;  // savecore saved it already

    std::uint64_t sector_size = 512;
    std::uint64_t trailer_offset = 0;
    std::uint64_t leader_offset = 0;
    std::uint64_t key_offset = 0;
    std::uint64_t key_size = 0;
    // The body: dumplength bytes.  A textdump's records lie in
    // [trailer_offset - dumplength, trailer_offset), last record first.
    std::uint64_t body_offset = 0;
    std::uint64_t body_length = 0;

    std::uint32_t parity = 0;  // XOR of the trailer's words (magic restored); 0 is good
    bool leader_matches = false;
    std::string leader_difference;  // why not, naming the field; empty when it matches

    bool parity_ok() const noexcept { return parity == 0; }
    bool encrypted() const noexcept { return key_size != 0; }
    bool compressed() const noexcept { return header.compression != 0; }
};

// Reads the last sector (the larger of 512 and the device's write
// granularity) and, when it holds one of the five magics, decodes it, finds
// the leading header by the version's rule and compares it.  nullopt when
// the last sector holds no kerneldumpheader magic.  Throws unsupported for
// a version outside 1-4 and corrupt, naming the device and the field, when
// the header's sizes do not fit in the device (a dumplength past it, a
// dumpextent or dumpkeysize that overflows); nothing is allocated from them.
std::optional<DeviceDump> find_device_dump(const ByteSource& device);

// What fails of a dump's checks, as corrupt errors naming the device, the
// offsets and the field: the parity, then the leader; empty when both check.
std::vector<Error> device_dump_problems(const DeviceDump& dump);
// Throws the first of them.
void check_device_dump(const DeviceDump& dump);

// A message saying why the body cannot be read in place (a textdump, a
// compressed or an encrypted body); nullopt when it can.
std::optional<std::string> unreadable_body(const DeviceDump& dump);

// The format row "freebsd-dumpdev": a FreeBSD or DragonFly dump device
// (leader, optional key, body, trailer).  The body is opened as a slice of
// the device through open_format, with ProbeOptions::device set, so any body
// format works; the returned Format reports the device's OS and header facts
// (info keys "kerneldump.*") and device offsets.
std::unique_ptr<Format> probe_device(std::shared_ptr<ByteSource> source, const ProbeOptions& options);

// The dump device a Format was opened from, and the body's own Format;
// nullptr when `format` is not a freebsd-dumpdev.
const DeviceDump* device_of(const Format& format);
const Format* body_of(const Format& format);

}  // namespace kvm::kerneldump
