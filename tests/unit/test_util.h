// Helpers shared by the unit tests.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

namespace kvm::test {

// The repository root, as CMake knows it: __FILE__ may be relative (ccache's
// base_dir, -fmacro-prefix-map), so it is not used to find files.
inline std::filesystem::path source_root() {
    return KVMKIT_SOURCE_DIR;
}

// A fresh directory removed with everything in it at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "kvmkit-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// The message of the kvm::Error `f` throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

inline ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    throw std::runtime_error("no error thrown");
}

}  // namespace kvm::test
