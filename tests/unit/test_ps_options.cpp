// ps(1)'s habits in the library: format lists with headers, the named
// formats and -O, selection by lists, cut lines, and the columns of times,
// users and shares.
#include <kvm/error.h>
#include <kvm/ps.h>

#include <doctest/doctest.h>

#include <cstdint>

#include "test_util.h"

#include <cstdlib>
#include <ctime>

using namespace kvm;
using kvm::test::error_of;

namespace {

std::string keywords(const std::vector<PsField>& fields) {
    std::string out;
    for (const PsField& f : fields)
        out += (out.empty() ? "" : ",") + std::string(f.column->keyword) + "=" + f.header;
    return out;
}

ProcInfo proc(std::int32_t pid, std::uint32_t uid) {
    ProcInfo p;
    p.pid = pid;
    p.uid = p.ruid = uid;
    p.comm = "sh";
    p.stat = "S";
    return p;
}

// Local time is UTC for the START columns.
struct Utc {
    Utc() {
        ::setenv("TZ", "UTC", 1);
        ::tzset();
    }
};

}  // namespace

TEST_CASE("ps format lists: keywords, headers after '=', and errors") {
    CHECK(keywords(parse_ps_fields("pid,comm")) == "pid=PID,comm=COMMAND");
    CHECK(keywords(parse_ps_fields("pid= comm")) == "pid= comm");  // the header runs to the end
    CHECK(keywords(parse_ps_fields("pid,comm=NAME,X")) == "pid=PID,comm=NAME,X");
    CHECK(keywords(parse_ps_fields(" user %cpu,%mem ")) == "user=USER,%cpu=%CPU,%mem=%MEM");
    CHECK(error_of([] { (void)parse_ps_fields("pid,bogus=X"); }) == "bogus: keyword not found");
    CHECK(error_of([] { (void)parse_ps_fields(" ,"); }) == "no valid keywords");
}

TEST_CASE("ps formats: the default, the named ones, -o appends, -O after PID") {
    using Kind = PsFormatOption::Kind;
    const auto format = [](std::initializer_list<PsFormatOption> o) {
        std::string out;
        for (const PsField& f : ps_format(std::vector<PsFormatOption>(o)))
            out += (out.empty() ? "" : ",") + std::string(f.column->keyword);
        return out;
    };
    CHECK(format({}) == "pid,tt,stat,time,command");
    CHECK(format({{Kind::user, {}}}) == "user,pid,%cpu,%mem,vsz,rss,tt,stat,start,time,command");
    CHECK(format({{Kind::jobs, {}}}) == "user,pid,ppid,pgid,sid,stat,tt,time,command");
    CHECK(format({{Kind::long_, {}}}) == "uid,pid,ppid,cpu,pri,nice,vsz,rss,wchan,stat,tt,time,command");
    CHECK(format({{Kind::virtual_, {}}}) == "pid,stat,time,vsz,rss,%cpu,%mem,command");
    CHECK(format({{Kind::add, "ppid"}}) == "pid,ppid,tt,stat,time,command");
    CHECK(format({{Kind::columns, "comm"}, {Kind::add, "ppid"}}) == "ppid,comm");  // no PID: first
    CHECK(format({{Kind::columns, "pid"}, {Kind::columns, "uid"}, {Kind::add, "sid,pgid"}}) == "pid,sid,pgid,uid");
    CHECK(format({{Kind::columns, "pid"}, {Kind::jobs, {}}}) == "pid,user,pid,ppid,pgid,sid,stat,tt,time,command");
}

TEST_CASE("ps selection: any value of a list, every list") {
    CHECK(split_ps_list("1,416  7,,") == std::vector<std::string>{"1", "416", "7"});
    CHECK(split_ps_list(" , ").empty());
    PsSelection s{{{{ProcOp::pid, 1}, {ProcOp::pid, 416}}, {{ProcOp::uid, 0}}}};
    CHECK(ps_selected(proc(1, 0), s));
    CHECK_FALSE(ps_selected(proc(416, 1000), s));
    CHECK_FALSE(ps_selected(proc(2, 0), s));
    CHECK(ps_selected(proc(2, 0), PsSelection{}));
    // Only the one-value lists go to the walker.
    const std::vector<ProcFilter> pushed = ps_walk_filters(s);
    REQUIRE(pushed.size() == 1);
    CHECK(pushed[0].op == ProcOp::uid);
    CHECK(ps_user_id("1000", false) == 1000);
    CHECK(error_of([] { (void)ps_user_id("root", false); }) ==
          "root: no such user (a dump's users are another machine's: give the number)");
    CHECK(error_of([] { (void)ps_user_id("4294967295", false); }) == "4294967295: no such user");
}

TEST_CASE("ps tables: no header line when every header is empty; lines cut at the width") {
    const std::vector<ProcInfo> rows{proc(1, 0), proc(416, 1000)};
    CHECK(format_ps_table(rows, parse_ps_fields("pid=")) == "  1\n416\n");
    CHECK(format_ps_table(rows, parse_ps_fields("pid,comm"), {.width = 5}) == "PID C\n  1 s\n416 s\n");
    // USER: the name where one is known, else the number; unknown ids are "-".
    std::vector<ProcInfo> users{proc(1, 0), proc(2, 1000), proc(3, ProcInfo::unknown_id)};
    const PsTableOptions names{.user_name = [](std::uint32_t uid) { return uid == 0 ? "root" : ""; }};
    CHECK(format_ps_table(users, parse_ps_fields("user,pid"), names) == "USER PID\nroot   1\n1000   2\n-      3\n");
}

TEST_CASE("ps columns of times, shares and flags") {
    const Utc utc;
    ProcInfo p = proc(1, 0);
    const auto field = [&](std::string_view keyword, const PsTableOptions& o) {
        return ps_field(p, *parse_ps_fields(keyword)[0].column, o);
    };
    // Without the source's values: "-".
    for (const char* k : {"pri", "cpu", "%cpu", "%mem", "start", "lstart", "etime", "emul"})
        CHECK(field(k, {}) == "-");
    const std::int64_t start = 1732200000;  // Thu Nov 21 14:40:00 2024 UTC
    p.start_usec = start * 1000000 + 250000;
    p.priority = 20;
    p.cpu = 7;
    p.pctcpu_tenths = 125;
    p.rss_kib = 1536;
    p.flags = 0x4000;
    p.emul = "linux";
    CHECK(field("pri", {}) == "20");
    CHECK(field("cpu", {}) == "7");
    CHECK(field("%cpu", {}) == "12.5");
    CHECK(field("%mem", {.physmem_kib = 1024ULL * 1024}) == "0.1");
    CHECK(field("%mem", {.physmem_kib = 4096}) == "37.5");
    CHECK(field("flags", {}) == "4000");
    CHECK(field("emul", {}) == "linux");
    CHECK(field("lstart", {}) == "Thu Nov 21 14:40:00 2024");
    CHECK(field("start", {.now_sec = start + 3600}) == "2:40PM");
    CHECK(field("start", {.now_sec = start + 3LL * 86400}) == "Thu02PM");
    CHECK(field("start", {.now_sec = start + 30LL * 86400}) == "21Nov24");
    CHECK(field("etime", {}) == "-");
    CHECK(field("etime", {.now_sec = start + 65}) == "01:05");
    CHECK(field("etime", {.now_sec = start + 3LL * 3600 + 65}) == "03:01:05");
    CHECK(field("etime", {.now_sec = start + 2LL * 86400 + 3LL * 3600 + 65}) == "2-03:01:05");
    // A dump's clock at either end of time: ages saturate, no overflow.
    CHECK(field("etime", {.now_sec = INT64_MIN}) == "00:00");
    CHECK(field("etime", {.now_sec = INT64_MAX}) == "106751991147252-00:50:07");
    CHECK(field("start", {.now_sec = INT64_MIN}) == "2:40PM");
    // VSZ and RSS a walker did not read: "-", and %MEM with them.
    p.vsz_kib.reset();
    p.rss_kib.reset();
    CHECK(field("vsz", {}) == "-");
    CHECK(field("rss", {}) == "-");
    CHECK(field("%mem", {.physmem_kib = 4096}) == "-");
}
