// A dead kernel's process's own memory, read through its page tables
// (ProcessAddressSpace): its arguments and environment, for the walkers
// that can reach them (Linux: mm->arg_start..arg_end; NetBSD: ps_strings),
// and the one note a walk gives about the processes whose pages the dump
// left out.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/procs.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvm::detail {

// The most of a process's arguments, or of its environment, read: a
// setuid program's are bounded by the stack rlimit only, a dump's by
// nothing.
constexpr std::uint64_t max_user_strings = 2 << 20;

class UserMemory {
public:
    // `root`: the physical address of the process's top-level page table.
    UserMemory(const Kernel& kernel, std::uint64_t root)
        : space_(kernel, root), order_(kernel.order()), pointer_size_(kernel.pointer_size()) {}

    // Exactly out.size() bytes at `va`; the error names `what` and the address.
    void read(std::uint64_t va, MutableByteSpan out, std::string_view what) const {
        const PartialRead r = space_.read_partial(va, out);
        if (!r.error) return;
        Error e = *r.error;
        e.add_context(fmt::format("{} at {}", what, hex(va)));
        throw e;
    }

    // `count` pointers of the process's ABI at `va`.
    std::vector<std::uint64_t> pointers(std::uint64_t va, std::uint64_t count, std::string_view what) const {
        if (count > max_user_strings / pointer_size_)
            throw_corrupt(
                fmt::format("{}: {} pointers, over the limit of {}", what, count, max_user_strings / pointer_size_));
        Bytes b(count * pointer_size_);
        read(va, b, what);
        std::vector<std::uint64_t> out(count);
        for (std::uint64_t i = 0; i < count; ++i)
            out[i] = load_uint(b.data() + i * pointer_size_, pointer_size_, order_);
        return out;
    }

    // NUL-separated strings at [start, end), as /proc/PID/cmdline and
    // environ read them (Linux fs/proc/base.c): a range past
    // max_user_strings is cut there.
    std::vector<std::string> strings_between(std::uint64_t start, std::uint64_t end, std::string_view what) const {
        if (end < start) throw_corrupt(fmt::format("{} end {} is before its start {}", what, hex(end), hex(start)));
        Bytes bytes(std::min(end - start, max_user_strings));
        read(start, bytes, what);
        const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        // Without a NUL at its end the region was rewritten in place
        // (setproctitle): /proc shows it up to its first NUL.
        if (!text.empty() && text.back() != '\0') return {std::string(text.substr(0, text.find('\0')))};
        return split_nul(text);
    }

    // The NUL-terminated strings the `count` pointers at `vector` point to
    // (an argv or envp array), as kvm_getargv reads them; max_user_strings
    // bounds their bytes together, a string cut there ends the list.
    std::vector<std::string> strings_at(std::uint64_t vector, std::uint64_t count, std::string_view what) const {
        std::vector<std::string> out;
        std::uint64_t budget = max_user_strings;
        for (const std::uint64_t at : pointers(vector, count, what)) {
            std::string s = string(at, budget, what);
            const bool cut = s.size() == budget;
            budget -= std::min<std::uint64_t>(budget, s.size() + 1);
            out.push_back(std::move(s));
            if (cut || budget == 0) break;
        }
        return out;
    }

private:
    // Up to `max` bytes at `va`, to its NUL, read a page at most at a time
    // (the next page of a string may be absent while the string ends here).
    std::string string(std::uint64_t va, std::uint64_t max, std::string_view what) const {
        constexpr std::uint64_t chunk = 4096;
        std::string out;
        Bytes b;
        while (out.size() < max) {
            const std::uint64_t at = va + out.size();
            const std::uint64_t n = std::min(chunk - (at & (chunk - 1)), max - out.size());
            b.resize(n);
            read(at, b, what);
            const std::string_view part(reinterpret_cast<const char*>(b.data()), b.size());
            const std::size_t nul = part.find('\0');
            out.append(part.substr(0, nul));
            if (nul != std::string_view::npos) break;
        }
        return out;
    }

    ProcessAddressSpace space_;
    ByteOrder order_;
    unsigned pointer_size_;
};

// The processes of one walk whose user pages could not be read: each
// keeps an empty argv and the reason, and the walk says so once.
class UserMemoryMisses {
public:
    void record(ProcInfo& p, const Error& e) {
        p.argv.clear();
        p.envv.clear();
        p.argv_read = p.envv_read = false;
        p.user_memory_error = e.what();
        if (count_++ == 0) first_ = fmt::format("pid {} ({}): {}", p.pid, p.comm, e.what());
    }

    // `leaves_them_out`: what kind of dump omits user pages ("a filtered
    // dump", "a sparse dump").
    void note(const WalkOptions& options, std::string_view leaves_them_out) const {
        if (count_ == 0 || !options.note) return;
        options.note(
            fmt::format("the user pages of {} process{} are not in the dump ({} leaves them "
                        "out): COMMAND shows the command name in parentheses (first: {})",
                        count_, count_ == 1 ? "" : "es", leaves_them_out, first_));
    }

private:
    std::uint64_t count_ = 0;
    std::string first_;
};

}  // namespace kvm::detail
