// What kvmps prints: ps(1) columns over ProcInfo records, and JSON.
//
// Columns follow NetBSD ps: a keyword selects a field, numbers are
// right-justified and text left-justified in a column as wide as its widest
// value or header, columns are separated by one space and the last one is
// not padded.  The default is "pid,tt,stat,time,command" under the headers
// PID TTY STAT TIME COMMAND.
#pragma once

#include <kvm/procs.h>

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

// Header line and one line per record.
std::string format_ps_table(std::span<const ProcInfo> procs, std::span<const PsColumn* const> columns);
// One JSON object per record and line (JSON Lines), every field.
std::string format_ps_json(const ProcInfo& p);

// ps's order: by terminal (processes without one last), then pid, then lid.
void sort_ps(std::vector<ProcInfo>& procs);

}  // namespace kvm
