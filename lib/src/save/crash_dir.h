// The directory savecore writes to (/var/crash): opened once and used
// through its descriptor, locked against a second savecore, with NetBSD's
// bounds and minfree files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvm::save::detail {

class CrashDir {
public:
    // Opens the directory; throws ErrorKind::io naming it.
    explicit CrashDir(std::string path);
    ~CrashDir();
    CrashDir(const CrashDir&) = delete;
    CrashDir& operator=(const CrashDir&) = delete;

    int fd() const noexcept { return fd_; }
    const std::string& path() const noexcept { return path_; }
    std::string path_of(std::string_view name) const;

    // An exclusive lock for this run; a second savecore on the same
    // directory fails instead of racing for names.
    void lock();

    // Temporary files a killed savecore left behind ("netbsd.*.tmp",
    // "vmcore.*.tmp", "info.*.tmp", ..., "bounds.tmp"): removed (never
    // followed), their names returned.
    std::vector<std::string> remove_stale_temporaries();

    // Whether a name exists in any form (a symlink counts, dangling or not).
    bool exists(const std::string& name) const;

    // The first line of a small file, or nullopt when there is none.  A
    // symlink is not followed (an error, as any other failure to read).
    std::optional<std::string> first_line(const std::string& name) const;

    // The size of a regular file (a symlink or anything else: nullopt, as
    // when it is missing).
    std::optional<std::uint64_t> file_size(const std::string& name) const;

    // Removes a name (a symlink itself, never its target); throws
    // ErrorKind::io naming it on failure other than its absence.
    void remove(const std::string& name);

    // Points the symbolic link `name` at `target`, atomically: a new link
    // is made under a temporary name and renamed over the old one.  A name
    // that exists and is not a symlink is left alone (false).
    bool replace_symlink(const std::string& name, const std::string& target);

    // Writes "<n>\n" to bounds, atomically.
    void write_bounds(std::uint64_t n);

    // Kilobytes available to unprivileged users (f_bavail), as NetBSD counts.
    std::uint64_t free_kib() const;

private:
    std::string path_;
    int fd_ = -1;
};

// The value of a NetBSD counter file (bounds, minfree): leading blanks, then
// digits.  nullopt when the line does not start with a number.
std::optional<std::uint64_t> parse_count(std::string_view line);

}  // namespace kvm::save::detail
