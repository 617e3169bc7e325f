// AtomicFile: savecore's output appears under its name only when complete
// and on disk, and a planted symlink is never followed.
#include <kvm/error.h>
#include <kvm/io.h>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>

namespace kvm {

namespace {

// Renames without replacing: renameat2(RENAME_NOREPLACE) where the kernel
// and filesystem have it, else link and unlink (link never replaces).
// Returns 0 or an errno value.
int rename_noreplace(int dir_fd, const std::string& from, const std::string& to) {
#ifdef RENAME_NOREPLACE
    if (::renameat2(dir_fd, from.c_str(), dir_fd, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
#endif
    if (::linkat(dir_fd, from.c_str(), dir_fd, to.c_str(), 0) != 0) return errno;
    if (::unlinkat(dir_fd, from.c_str(), 0) != 0) return errno;
    return 0;
}

}  // namespace

AtomicFile::AtomicFile(int dir_fd, std::string dir_name, std::string name, unsigned mode, Replace replace)
    : dir_fd_(dir_fd),
      dir_name_(std::move(dir_name)),
      name_(std::move(name)),
      temp_name_(name_ + std::string(temp_suffix)),
      replace_(replace) {
    if (name_.empty() || name_.find('/') != std::string::npos)
        throw Error(ErrorKind::usage, fmt::format("{}: not a plain file name", name_));
    // O_EXCL fails on any existing name, a symlink included; O_NOFOLLOW
    // says so twice.
    fd_ = ::openat(dir_fd_, temp_name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   static_cast<mode_t>(mode));
    if (fd_ < 0) throw_os("cannot create", errno, temp_path());
    // The mode asked for, whatever the umask.
    if (::fchmod(fd_, static_cast<mode_t>(mode)) != 0) {
        const int err = errno;
        abandon();
        throw_os("cannot set the file mode", err, temp_path());
    }
}

AtomicFile::~AtomicFile() {
    if (!committed_) abandon();
}

std::string AtomicFile::path() const {
    return fmt::format("{}/{}", dir_name_, name_);
}
std::string AtomicFile::temp_path() const {
    return fmt::format("{}/{}", dir_name_, temp_name_);
}

void AtomicFile::commit() {
    if (committed_ || fd_ < 0) throw Error(ErrorKind::usage, fmt::format("{}: already committed or abandoned", path()));
    if (::fsync(fd_) != 0) throw_os("fsync failed", errno, temp_path());
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_os("close failed", errno, temp_path());
    if (replace_ == Replace::allowed) {
        if (::renameat(dir_fd_, temp_name_.c_str(), dir_fd_, name_.c_str()) != 0)
            throw_os(fmt::format("cannot rename {} to {}", temp_name_, name_), errno, dir_name_);
    } else if (const int err = rename_noreplace(dir_fd_, temp_name_, name_); err != 0) {
        if (err == EEXIST) {
            Error e(ErrorKind::io, "exists already; not replacing it");
            e.with_path(path());
            throw e;
        }
        throw_os(fmt::format("cannot rename {} to {}", temp_name_, name_), err, dir_name_);
    }
    committed_ = true;
    // The rename itself reaches the disk with the directory.
    if (::fsync(dir_fd_) != 0) throw_os("fsync of the directory failed", errno, dir_name_);
}

void AtomicFile::check_not_removed() const {
    if (fd_ < 0) return;
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_os("cannot stat", errno, temp_path());
    if (st.st_nlink == 0) {
        Error e(ErrorKind::io, "removed while being written");
        e.with_path(temp_path());
        throw e;
    }
}

void AtomicFile::abandon() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (!committed_ && !abandoned_) {
        ::unlinkat(dir_fd_, temp_name_.c_str(), 0);
        abandoned_ = true;
    }
}

}  // namespace kvm
