// Which deflate savecore -z should write, and which inflate the readers
// should use: zlib, libdeflate and ISA-L's igzip on the same data, one
// thread, cut into the independent 1 MiB members savecore writes.  Each
// row gives compression speed (CPU time of this thread, steadier than wall
// time on a shared machine), the size of the members against `gzip -1` of
// the whole file (the goal: within 10%), and how fast zlib, libdeflate and
// ISA-L inflate that output.  Also the CRC-32 of each library.
//
//   build/bench/deflate_bench [--source /work/realdump/vmcore.elf] [--synthetic-mib 256] [--runs 3]
//
// The inputs: a real Linux vmcore (when --source exists) and a synthetic
// NetBSD/amd64 core of realistic RAM (kvm::synth's filler).
#include <kvm/io.h>
#include <kvm/synth.h>

#include <fmt/format.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <zlib.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

#include <time.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr std::size_t member = std::size_t{1} << 20;
constexpr std::size_t member_overhead = 32 + 8;  // savecore's member header and trailer

double thread_cpu() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Compresses one member's input into `out` (sized by the caller to the
// bound); returns the raw deflate size.
using Compress = std::function<std::size_t(const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t cap)>;
// Inflates a raw deflate stream into `out` of exactly `n` bytes.
using Inflate = std::function<bool(const std::uint8_t* in, std::size_t n_in, std::uint8_t* out, std::size_t n)>;

Compress zlib_compress(int level) {
    auto z = std::shared_ptr<z_stream>(new z_stream{}, [](z_stream* p) {
        deflateEnd(p);
        delete p;
    });
    deflateInit2(z.get(), level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    return [z](const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t cap) {
        deflateReset(z.get());
        z->next_in = const_cast<Bytef*>(in);
        z->avail_in = static_cast<uInt>(n);
        z->next_out = out;
        z->avail_out = static_cast<uInt>(cap);
        if (deflate(z.get(), Z_FINISH) != Z_STREAM_END) throw std::runtime_error("zlib deflate");
        return cap - z->avail_out;
    };
}

Compress libdeflate_compress(int level) {
    auto c = std::shared_ptr<libdeflate_compressor>(libdeflate_alloc_compressor(level), libdeflate_free_compressor);
    return [c](const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t cap) {
        const std::size_t got = libdeflate_deflate_compress(c.get(), in, n, out, cap);
        if (got == 0) throw std::runtime_error("libdeflate");
        return got;
    };
}

Compress isal_compress(int level) {
    static constexpr std::size_t level_buf_sizes[] = {ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT,
                                                      ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};
    auto buf = std::make_shared<std::vector<std::uint8_t>>(level_buf_sizes[level]);
    return [buf, level](const std::uint8_t* in, std::size_t n, std::uint8_t* out, std::size_t cap) {
        isal_zstream s{};
        isal_deflate_stateless_init(&s);
        s.level = static_cast<std::uint32_t>(level);
        s.level_buf = buf->data();
        s.level_buf_size = static_cast<std::uint32_t>(buf->size());
        s.end_of_stream = 1;
        s.flush = NO_FLUSH;
        s.next_in = const_cast<std::uint8_t*>(in);
        s.avail_in = static_cast<std::uint32_t>(n);
        s.next_out = out;
        s.avail_out = static_cast<std::uint32_t>(cap);
        if (isal_deflate_stateless(&s) != COMP_OK) throw std::runtime_error("isal deflate");
        return static_cast<std::size_t>(s.total_out);
    };
}

Inflate zlib_inflate() {
    auto z = std::shared_ptr<z_stream>(new z_stream{}, [](z_stream* p) {
        inflateEnd(p);
        delete p;
    });
    inflateInit2(z.get(), -15);
    return [z](const std::uint8_t* in, std::size_t n_in, std::uint8_t* out, std::size_t n) {
        inflateReset(z.get());
        z->next_in = const_cast<Bytef*>(in);
        z->avail_in = static_cast<uInt>(n_in);
        z->next_out = out;
        z->avail_out = static_cast<uInt>(n);
        return inflate(z.get(), Z_FINISH) == Z_STREAM_END && z->avail_out == 0;
    };
}

Inflate libdeflate_inflate() {
    auto d = std::shared_ptr<libdeflate_decompressor>(libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
    return [d](const std::uint8_t* in, std::size_t n_in, std::uint8_t* out, std::size_t n) {
        return libdeflate_deflate_decompress(d.get(), in, n_in, out, n, nullptr) == LIBDEFLATE_SUCCESS;
    };
}

Inflate isal_inflate() {
    auto state = std::make_shared<inflate_state>();
    return [state](const std::uint8_t* in, std::size_t n_in, std::uint8_t* out, std::size_t n) {
        isal_inflate_init(state.get());
        state->next_in = const_cast<std::uint8_t*>(in);
        state->avail_in = static_cast<std::uint32_t>(n_in);
        state->next_out = out;
        state->avail_out = static_cast<std::uint32_t>(n);
        return isal_inflate_stateless(state.get()) == ISAL_DECOMP_OK && state->total_out == n;
    };
}

struct Compressed {
    std::vector<std::vector<std::uint8_t>> members;
    std::size_t bytes = 0;  // with savecore's per-member overhead
    double seconds = 0;     // best of the runs
};

Compressed compress_all(const kvm::Bytes& data, const Compress& compress, int runs) {
    Compressed c;
    const auto* in = reinterpret_cast<const std::uint8_t*>(data.data());
    for (int r = 0; r < runs; ++r) {
        std::vector<std::vector<std::uint8_t>> members;
        const double start = thread_cpu();
        for (std::size_t at = 0; at < data.size(); at += member) {
            const std::size_t n = std::min(member, data.size() - at);
            std::vector<std::uint8_t> out(n + n / 8 + 4096);
            out.resize(compress(in + at, n, out.data(), out.size()));
            members.push_back(std::move(out));
        }
        const double t = thread_cpu() - start;
        if (r == 0 || t < c.seconds) c.seconds = t;
        c.members = std::move(members);
    }
    for (const auto& m : c.members)
        c.bytes += m.size() + member_overhead;
    return c;
}

// Seconds to inflate every member, best of the runs; throws if any member
// does not give back its input.
double inflate_all(const kvm::Bytes& data, const Compressed& c, const Inflate& inflate, int runs) {
    std::vector<std::uint8_t> out(member);
    double best = 0;
    for (int r = 0; r < runs; ++r) {
        const double start = thread_cpu();
        std::size_t at = 0;
        for (const auto& m : c.members) {
            const std::size_t n = std::min(member, data.size() - at);
            if (!inflate(m.data(), m.size(), out.data(), n)) throw std::runtime_error("inflate failed");
            at += n;
        }
        const double t = thread_cpu() - start;
        if (r == 0 || t < best) best = t;
    }
    // Checked once, outside the timing.
    std::size_t at = 0;
    for (const auto& m : c.members) {
        const std::size_t n = std::min(member, data.size() - at);
        if (!inflate(m.data(), m.size(), out.data(), n) || std::memcmp(out.data(), data.data() + at, n) != 0)
            throw std::runtime_error("inflate gave other bytes");
        at += n;
    }
    return best;
}

std::uint64_t gzip1_size(const std::string& path) {
    const std::string out = path + ".gzip1";
    const bench::Run r = bench::run({"gzip", "-1", "-c", path}, out);
    if (r.status != 0) throw std::runtime_error("gzip -1 failed");
    const std::uint64_t n = std::filesystem::file_size(out);
    std::filesystem::remove(out);
    return n;
}

void measure(const std::string& what, const kvm::Bytes& data, const std::string& path, int runs) {
    const double mib = static_cast<double>(data.size()) / (1u << 20);
    const std::uint64_t reference = gzip1_size(path);
    fmt::print("\n{}: {:.1f} MiB; gzip -1: {} bytes\n", what, mib, reference);
    fmt::print("  {:<16} {:>12} {:>12} {:>9} {:>14} {:>14} {:>14}\n", "deflate", "MiB/s", "bytes", "vs gzip",
               "zlib inflate", "libdeflate inf", "isa-l inflate");
    struct Candidate {
        std::string name;
        Compress compress;
    };
    std::vector<Candidate> candidates;
    for (const int level : {1, 2, 3, 6})
        candidates.push_back({fmt::format("zlib -{}", level), zlib_compress(level)});
    for (const int level : {1, 2, 3, 4, 6})
        candidates.push_back({fmt::format("libdeflate -{}", level), libdeflate_compress(level)});
    for (const int level : {0, 1, 2, 3})
        candidates.push_back({fmt::format("isa-l -{}", level), isal_compress(level)});
    const Inflate zi = zlib_inflate();
    const Inflate li = libdeflate_inflate();
    const Inflate ii = isal_inflate();
    for (const Candidate& c : candidates) {
        const Compressed out = compress_all(data, c.compress, runs);
        fmt::print("  {:<16} {:>12.1f} {:>12} {:>+8.1f}% {:>14.1f} {:>14.1f} {:>14.1f}\n", c.name, mib / out.seconds,
                   out.bytes, 100.0 * (static_cast<double>(out.bytes) / static_cast<double>(reference) - 1),
                   mib / inflate_all(data, out, zi, runs), mib / inflate_all(data, out, li, runs),
                   mib / inflate_all(data, out, ii, runs));
        std::fflush(stdout);
    }
    const auto* in = reinterpret_cast<const std::uint8_t*>(data.data());
    const auto time_crc = [&](const std::function<std::uint32_t()>& f) {
        double best = 0;
        std::uint32_t crc = 0;
        for (int r = 0; r < runs; ++r) {
            const double start = thread_cpu();
            crc = f();
            const double t = thread_cpu() - start;
            if (r == 0 || t < best) best = t;
        }
        return std::pair{mib / best, crc};
    };
    const auto [zc, zcrc] =
        time_crc([&] { return static_cast<std::uint32_t>(crc32(0, in, static_cast<uInt>(data.size()))); });
    const auto [lc, lcrc] = time_crc([&] { return libdeflate_crc32(0, in, data.size()); });
    const auto [ic, icrc] = time_crc([&] { return crc32_gzip_refl(0, in, data.size()); });
    if (zcrc != lcrc || zcrc != icrc) throw std::runtime_error("the CRC-32s differ");
    fmt::print("  CRC-32 MiB/s: zlib {:.0f}, libdeflate {:.0f}, isa-l {:.0f}\n", zc, lc, ic);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"zlib, libdeflate and ISA-L deflate/inflate on 1 MiB members", "deflate_bench"};
    std::string source = "/work/realdump/vmcore.elf";
    std::uint64_t synthetic_mib = 256;
    int runs = 3;
    std::string work;
    app.add_option("--source", source, "a real vmcore (skipped when missing)");
    app.add_option("--synthetic-mib", synthetic_mib, "RAM of the synthetic NetBSD core");
    app.add_option("--runs", runs, "runs of each measurement (the fastest counts)");
    app.add_option("--work", work, "work directory (default: a temporary one)");
    CLI11_PARSE(app, argc, argv);
    try {
        const bench::WorkDir dir(work);
        if (!dir) return 1;
        fmt::print("deflate benchmark: one thread, independent {} KiB members, CPU time of the thread\n", member >> 10);
        if (std::filesystem::exists(source)) {
            const kvm::Bytes data = kvm::read_whole_file(source, std::uint64_t{16} << 30);
            measure(source, data, source, runs);
        }
        kvm::synth::CrashedMachine machine({.ram = {{0x1000, 0x9e000}, {0x100000, (synthetic_mib << 20) - 0x100000}}});
        const auto segments = machine.prepare_dump({});
        kvm::MemorySink core;
        machine.write_kcore(core, segments);
        const std::string path = dir / "netbsd.core";
        kvm::synth::write_file(path, core.data());
        measure(fmt::format("synthetic NetBSD/amd64 core ({} MiB of RAM)", synthetic_mib), core.data(), path, runs);
    } catch (const std::exception& e) {
        fmt::print(stderr, "deflate_bench: {}\n", e.what());
        return 1;
    }
    return 0;
}
