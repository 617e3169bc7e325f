#include "save/crash_dir.h"

#include <kvm/error.h>
#include <kvm/io.h>

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <array>
#include <cerrno>
#include <charconv>

namespace kvm::save::detail {

namespace {

bool is_stale_temporary(std::string_view name) {
    constexpr std::string_view suffix = AtomicFile::temp_suffix;
    if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) return false;
    if (name == "bounds.tmp") return true;
    // NetBSD's files; FreeBSD's and DragonFly's, and their *.last links.
    for (const std::string_view prefix :
         {"netbsd.", "vmcore.", "vmcore_encrypted.", "key.", "info.", "textdump.tar.", "kern."})
        if (name.substr(0, prefix.size()) == prefix) return true;
    return false;
}

}  // namespace

CrashDir::CrashDir(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) throw_os("cannot open the directory", errno, path_);
}

CrashDir::~CrashDir() {
    if (fd_ >= 0) ::close(fd_);
}

std::string CrashDir::path_of(std::string_view name) const {
    return fmt::format("{}/{}", path_, name);
}

void CrashDir::lock() {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    if (errno == EWOULDBLOCK) {
        Error e(ErrorKind::io, "another savecore is writing here");
        e.with_path(path_);
        throw e;
    }
    throw_os("cannot lock", errno, path_);
}

std::vector<std::string> CrashDir::remove_stale_temporaries() {
    std::vector<std::string> removed;
    const int dup_fd = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup_fd < 0) throw_os("cannot read the directory", errno, path_);
    DIR* dir = ::fdopendir(dup_fd);
    if (dir == nullptr) {
        const int err = errno;
        ::close(dup_fd);
        throw_os("cannot read the directory", err, path_);
    }
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir))
        if (is_stale_temporary(entry->d_name)) names.emplace_back(entry->d_name);
    ::closedir(dir);
    for (const std::string& name : names) {
        struct stat st {};
        if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;  // not ours to remove
        if (::unlinkat(fd_, name.c_str(), 0) != 0) throw_os("cannot remove", errno, path_of(name));
        removed.push_back(name);
    }
    return removed;
}

bool CrashDir::exists(const std::string& name) const {
    struct stat st {};
    if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
    if (errno != ENOENT) throw_os("cannot stat", errno, path_of(name));
    return false;
}

std::optional<std::string> CrashDir::first_line(const std::string& name) const {
    const int fd = ::openat(fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw_os("cannot open", errno, path_of(name));
    }
    std::array<char, 256> buf{};
    ssize_t n = 0;
    do {
        n = ::read(fd, buf.data(), buf.size());
    } while (n < 0 && errno == EINTR);
    const int err = errno;
    ::close(fd);
    if (n < 0) throw_os("cannot read", err, path_of(name));
    std::string line(buf.data(), static_cast<std::size_t>(n));
    if (const auto nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
    return line;
}

std::optional<std::uint64_t> CrashDir::file_size(const std::string& name) const {
    struct stat st {};
    if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return std::nullopt;
        throw_os("cannot stat", errno, path_of(name));
    }
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    return static_cast<std::uint64_t>(st.st_size);
}

void CrashDir::remove(const std::string& name) {
    if (::unlinkat(fd_, name.c_str(), 0) != 0 && errno != ENOENT) throw_os("cannot remove", errno, path_of(name));
}

bool CrashDir::replace_symlink(const std::string& name, const std::string& target) {
    struct stat st {};
    if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISLNK(st.st_mode)) return false;
    } else if (errno != ENOENT) {
        throw_os("cannot stat", errno, path_of(name));
    }
    const std::string temp = name + std::string(AtomicFile::temp_suffix);
    if (::unlinkat(fd_, temp.c_str(), 0) != 0 && errno != ENOENT) throw_os("cannot remove", errno, path_of(temp));
    if (::symlinkat(target.c_str(), fd_, temp.c_str()) != 0)
        throw_os("cannot make a symbolic link", errno, path_of(temp));
    if (::renameat(fd_, temp.c_str(), fd_, name.c_str()) != 0) {
        const int err = errno;
        ::unlinkat(fd_, temp.c_str(), 0);
        throw_os("cannot rename " + path_of(temp) + " to it", err, path_of(name));
    }
    return true;
}

void CrashDir::write_bounds(std::uint64_t n) {
    AtomicFile file(fd_, path_, "bounds", 0600, AtomicFile::Replace::allowed);
    auto sink = create_fd_sink(file.fd(), file.temp_path());
    sink->write(to_bytes(fmt::format("{}\n", n)));
    sink->finish();
    file.commit();
}

std::uint64_t CrashDir::free_kib() const {
    struct statvfs st {};
    if (::fstatvfs(fd_, &st) != 0) throw_os("cannot find the free space", errno, path_);
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize / 1024;
}

std::optional<std::uint64_t> parse_count(std::string_view line) {
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
        line.remove_prefix(1);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc{} || end == line.data()) return std::nullopt;
    return value;
}

}  // namespace kvm::save::detail
