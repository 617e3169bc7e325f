#!/usr/bin/env bash
# kvmps without a dump lists the running host from /proc: a process started
# here reads back as /proc shows it at the time, with its full argv.
source "$(dirname "$0")/lib.sh"
[[ -r /proc/self/stat ]] || { echo "no /proc" >&2; exit 77; }

sleep 4321 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$T"' EXIT
# Wait until the child has exec'd sleep and sleeps: on a loaded machine it
# can stay runnable (R) for a while, and its state must not change between
# the looks below.
for _ in $(seq 200); do
  [[ $(cat /proc/$pid/comm 2>/dev/null) == sleep && $(sed 's/^.*) //' /proc/$pid/stat) == S\ * ]] && break
  sleep 0.05
done

# What /proc says: stat fields after the command name (field 3 on).
read -r -a f < <(sed 's/^.*) //' /proc/$pid/stat)
state=${f[0]} ppid=${f[1]} pgid=${f[2]} sid=${f[3]} tty_nr=${f[4]} nice=${f[16]} nlwp=${f[17]}
read -r _ ruid euid _ _ < <(grep '^Uid:' /proc/$pid/status)
read -r _ rgid egid _ _ < <(grep '^Gid:' /proc/$pid/status)
stat=$state
((nice < 0)) && stat+="<"
((nice > 0)) && stat+="N"
[[ $tty_nr -eq 0 ]] || ((pgid != ${f[5]})) || stat+="+"
# TIME is utime plus stime: a sleeping process's do not move, but exec on a
# loaded machine can already have cost a clock tick or two.
cs=$(( (f[11] + f[12]) * 100 / $(getconf CLK_TCK) ))
time=$(printf '%d:%02d.%02d' $((cs / 6000)) $((cs / 100 % 60)) $((cs % 100)))

run_tool kvmps -p "$pid" -o pid,ppid,pgid,sid,uid,ruid,gid,rgid,nlwp,nice,stat,time,comm,command
expect_rc 0
expect_stderr ""
printf '%s\n' "PID PPID PGID SID UID RUID GID RGID NLWP NI STAT TIME COMMAND COMMAND" >"$T/want"
printf '%s\n' "$pid $ppid $pgid $sid $euid $ruid $egid $rgid $nlwp $nice $stat $time sleep sleep 4321" >>"$T/want"
sed -E 's/^ +//; s/ +/ /g' "$T/out" | diff -u "$T/want" - >&2 || fail "row differs from /proc"

# The terminal as /proc has it.
run_tool kvmps -p "$pid" -o tt
if [[ $tty_nr -eq 0 ]]; then
  [[ $(tail -1 "$T/out") == "?" ]] || fail "no terminal expected: $(tail -1 "$T/out")"
else
  [[ $(tail -1 "$T/out") != "?" ]] || fail "terminal $tty_nr expected"
fi

# JSON carries the argv and says the record is live.
run_tool kvmps -p "$pid" --json
expect_rc 0
grep -q "^{\"pid\":$pid,\"ppid\":$ppid,\"pgid\":$pgid,\"sid\":$sid," "$T/out" || fail "json: $(cat "$T/out")"
grep -q '"comm":"sleep","command":"sleep 4321","argv":\["sleep","4321"\],"live":true}$' "$T/out" || fail "json: $(cat "$T/out")"

# The whole listing: this shell and the sleep are in it; every pid listed
# existed in /proc just before or after, or is kvmps itself, or is newer
# than the sleep (other tests run in parallel and their short-lived
# processes can come and go between the two looks at /proc).
ls /proc | grep -E '^[0-9]+$' | sort >"$T/before"
run_tool kvmps -o pid,comm
expect_rc 0
ls /proc | grep -E '^[0-9]+$' | sort >"$T/after"
tail -n +2 "$T/out" | sed -E 's/^ +//' | sort >"$T/listed"
grep -q "^$pid sleep$" "$T/listed" || fail "the sleep is not listed"
grep -q "^$$ " "$T/listed" || fail "this shell is not listed"
cut -d' ' -f1 "$T/listed" | sort | comm -23 - <(sort -u "$T/before" "$T/after") >"$T/new"
while read -r p; do
  grep -q "^$p kvmps$" "$T/listed" || ((p > pid)) || fail "pid $p listed but not in /proc"
done <"$T/new"

# Filters on the host.
run_tool kvmps -o pid -u "$euid" -p "$pid"
expect_rc 0
[[ $(wc -l <"$T/out") -eq 2 && $(tail -1 "$T/out" | tr -d ' ') == "$pid" ]] || fail "-u $euid -p $pid"
run_tool kvmps -o pid -g "$pgid"
grep -qx " *$pid" "$T/out" || fail "-g $pgid does not list $pid"
run_tool kvmps -o pid -s "$sid" -u $((euid + 1)) -p "$pid"
expect_rc 1
[[ $(wc -l <"$T/out") -eq 1 ]] || fail "-u of another user still lists $pid"

# The host's own columns: the user's name, the priority, the start time
# (btime plus starttime's clock ticks), the emulation; -u by name.
user=$(id -un "$euid")
btime=$(awk '$1 == "btime" { print $2 }' /proc/stat)
start=$((btime + ${f[19]} / $(getconf CLK_TCK)))
TZ=UTC run_tool kvmps -u "$user" -p "$pid" -o pid= -o user= -o pri= -o emul= -o lstart=
expect_rc 0
printf '%s\n' "$pid $user ${f[15]} linux $(TZ=UTC LC_ALL=C date -d "@$start" '+%a %b %e %H:%M:%S %Y')" >"$T/want"
sed -E 's/^ +//; s/ +/ /g' "$T/out" | diff -u <(sed -E 's/ +/ /g' "$T/want") - >&2 || fail "host columns differ from /proc"
run_tool kvmps -H -p "$pid" -o pid,lid,stat
expect_rc 0
[[ $(tail -1 "$T/out" | tr -s ' ' | sed 's/^ //') == "$pid $pid $stat" ]] || fail "-H: $(tail -1 "$T/out")"
