// Helpers shared by the savecore tests (test_save.cpp, test_save_bsd.cpp):
// a directory's files, a file's bytes and mode, gzip streams, and a Logger
// that keeps every message.
#pragma once

#include <kvm/bytes.h>
#include <kvm/save.h>

#include <doctest/doctest.h>
#include <zlib.h>

#include <sys/stat.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace kvm::test::save_util {

using kvm::save::Priority;

inline Bytes file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes b(c.size());
    std::memcpy(b.data(), c.data(), c.size());
    return b;
}

inline std::vector<std::string> listing(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

inline unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

inline Bytes gunzip(const Bytes& gz, int* members = nullptr) {
    Bytes out;
    std::size_t pos = 0;
    int count = 0;
    while (pos < gz.size()) {
        z_stream z{};
        REQUIRE(inflateInit2(&z, 16 + 15) == Z_OK);
        z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(gz.data() + pos));
        z.avail_in = static_cast<uInt>(gz.size() - pos);
        Bytes buf(1 << 16);
        int ret = Z_OK;
        while (ret == Z_OK) {
            z.next_out = reinterpret_cast<Bytef*>(buf.data());
            z.avail_out = static_cast<uInt>(buf.size());
            ret = inflate(&z, Z_NO_FLUSH);
            out.insert(out.end(), buf.begin(), buf.end() - z.avail_out);
        }
        REQUIRE(ret == Z_STREAM_END);
        pos = gz.size() - z.avail_in;
        inflateEnd(&z);
        ++count;
    }
    if (members != nullptr) *members = count;
    return out;
}

// Messages as they were logged, with their priority.
class Captured final : public kvm::save::Logger {
public:
    void log(Priority p, std::string_view message) override { lines.emplace_back(p, std::string(message)); }
    std::vector<std::string> messages() const {
        std::vector<std::string> m;
        for (const auto& [p, s] : lines)
            m.push_back(s);
        return m;
    }
    bool said(Priority p, const std::string& message) const {
        return std::find(lines.begin(), lines.end(), std::pair{p, message}) != lines.end();
    }
    std::vector<std::pair<Priority, std::string>> lines;
};

// Local time is UTC in these tests, so crash times print as written here.
struct Utc {
    Utc() {
        ::setenv("TZ", "UTC0", 1);
        ::tzset();
    }
};

}  // namespace kvm::test::save_util
