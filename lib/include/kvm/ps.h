// What kvmps prints: ps(1) columns over ProcInfo records, and JSON.
//
// Columns follow NetBSD ps: a keyword selects a field, numbers are
// right-justified and text left-justified in a column as wide as its widest
// value or header, columns are separated by one space and the last one is
// not padded.  The default is "pid,tt,stat,time,command" under the headers
// PID TTY STAT TIME COMMAND.
#pragma once

#include <kvm/procs.h>

#include <cstdint>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {

struct PsColumn {
    std::string_view keyword;  // "pid"
    std::string_view header;   // "PID"
    bool left = false;         // left-justified (text)
    std::string_view meaning;  // for the man page and --help
};

// Every keyword kvmps knows, in the order the man page lists them.
std::span<const PsColumn> ps_columns();
// Parses a list of keywords separated by commas or blanks ("pid,ppid
// comm"); throws usage "foo: keyword not found" for an unknown one.
std::vector<const PsColumn*> parse_ps_format(std::string_view spec);
std::vector<const PsColumn*> default_ps_format();

// The text of one field, unpadded.
std::string ps_field(const ProcInfo& p, const PsColumn& column);
// TIME: M:SS.hh, the microseconds rounded to hundredths of a second.
std::string ps_time(std::uint64_t usec);
// TTY as ps shows it: the name, "-" appended when the session has lost
// the terminal's vnode; "?" without a terminal or with an unknown one.
std::string ps_tty(const ProcInfo& p);
// COMMAND: the arguments when the source has them, else the command name
// in parentheses, or in brackets for a kernel process, as ps prints a
// process whose arguments it cannot read; then the environment, when it
// was read (ps -e).
std::string ps_command(const ProcInfo& p);

// A column as a format list asks for it: the keyword's column under the
// keyword's header, or under the text given after '=' ("pid=", "comm=NAME").
struct PsField {
    const PsColumn* column = nullptr;
    std::string header;
};

// A format list as ps -o takes it: keywords separated by commas or blanks;
// a keyword followed by '=' takes the rest of the list as its header, commas
// included ("comm=NAME,X" heads COMM with "NAME,X").  Throws usage "foo:
// keyword not found" for an unknown keyword, "no valid keywords" for none.
std::vector<PsField> parse_ps_fields(std::string_view list);

// The format options of BSD ps, in the order they were given.
struct PsFormatOption {
    enum class Kind {
        columns,   // -o list: these columns, appended
        add,       // -O list: these columns after PID
        user,      // -u: user,pid,%cpu,%mem,vsz,rss,tt,stat,start,time,command
        jobs,      // -j: user,pid,ppid,pgid,sid,jobc,stat,tt,time,command
        long_,     // -l: uid,pid,ppid,cpu,pri,nice,vsz,rss,wchan,stat,tt,time,command
        virtual_,  // -v: pid,stat,time,sl,re,pagein,vsz,rss,lim,tsiz,%cpu,%mem,command
    };
    Kind kind = Kind::columns;
    std::string list;  // -o and -O
};
// The columns the options make, as BSD ps makes them: -o and the named
// formats append to what is there; -O adds its columns after the PID of
// the format so far (the default one when nothing came before it), or first
// when it has no PID; no option at all gives the default format.
std::vector<PsField> ps_format(std::span<const PsFormatOption> options);

// How the table is printed, beyond the columns.
struct PsTableOptions {
    // Lines are cut at this many characters (ps cuts at the terminal's
    // width); 0: not cut.
    std::size_t width = 0;
    // The USER column's name for a user id, or empty for the number (as ps
    // prints a user its passwd does not know).  Unset: numbers.
    std::function<std::string(std::uint32_t)> user_name;
    // What ETIME counts to: the crash time of a dump, now on the running
    // host, in seconds since the Epoch; unset: ETIME prints "-".
    std::optional<std::int64_t> now_sec;
    // The machine's memory, for %MEM; 0: %MEM prints "-".
    std::uint64_t physmem_kib = 0;
};

// Header line (none when every header is empty, as ps omits it) and one
// line per record.
std::string format_ps_table(std::span<const ProcInfo> procs, std::span<const PsField> fields,
                            const PsTableOptions& options = {});
std::string format_ps_table(std::span<const ProcInfo> procs, std::span<const PsColumn* const> columns);
// One field with the table's options (USER names, ETIME, %MEM).
std::string ps_field(const ProcInfo& p, const PsColumn& column, const PsTableOptions& options);

// ---------------------------------------------------------------- selection

// The words of an option's list ("1,416", "root 0"): separated by commas or
// blanks, empty words dropped.
std::vector<std::string> split_ps_list(std::string_view list);

// What -p, -U, -u, -g, -s and -t select: each option given is a list of
// filters of one kind (-p 1,416 is two pid filters).  A process is
// selected when it matches one filter of every list (ps's lists: any of
// the pids, and any of the users).
struct PsSelection {
    std::vector<std::vector<ProcFilter>> lists;
};
// The filters a walker can apply itself: those of lists with one value.
std::vector<ProcFilter> ps_walk_filters(const PsSelection& selection);
bool ps_selected(const ProcInfo& p, const PsSelection& selection);

// A user as -U and -u name one: a number, or a name the running host's
// passwd knows (`host`; a dump's users are another machine's, known only by
// number).  Throws usage "NAME: no such user" naming which.
std::uint32_t ps_user_id(std::string_view user, bool host);
// The running host's name for a uid, or empty when its passwd has none.
std::string host_user_name(std::uint32_t uid);
// One JSON object per record and line (JSON Lines), every field.
std::string format_ps_json(const ProcInfo& p);

// ps's order: by terminal (processes without one last), then pid, then lid.
void sort_ps(std::vector<ProcInfo>& procs);

}  // namespace kvm
