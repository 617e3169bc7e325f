# Boot-time savecore: the systemd unit's command line, expanded as systemd
# expands it ($VAR split into words, ${VAR} one word) with its settings
# pointed at a swap image, saves the dump; the rc.d script is a
# well-formed sh script naming the same savecore.
source "$(dirname "$0")/lib.sh"

build=$(cd "$KVMKIT_BIN/.." && pwd)
unit=$build/share/kvmkit/examples/savecore.service
rc_script=$build/share/kvmkit/examples/savecore.rc
sbin=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")/sbin/savecore
grep -qx 'Type=oneshot' "$unit" || fail "the unit is not a oneshot"
grep -qx 'After=local-fs.target' "$unit" || fail "the unit does not wait for local file systems"
grep -q '^Before=swap.target' "$unit" || fail "the unit does not run before swap"
line=$(sed -n 's/^ExecStart=//p' "$unit")
[[ $line == "$sbin \$SAVECORE_FLAGS \${SAVECORE_DIR}" ]] || fail "ExecStart=$line"
grep -qF "command=\"${sbin%/savecore}/\${name}\"" "$rc_script" || fail "the rc.d script's command"
grep -q '^# BEFORE: swap$' "$rc_script" || fail "the rc.d script does not run before swap"
sh -n "$rc_script" || fail "the rc.d script does not parse"

now=$(date +%s)
mkdump "$T/m" --crash-time "$now"
printf '%s none swap sw 0 0\n' "$T/m/swap.img" >"$T/fstab"
mkdir "$T/crash"
SAVECORE_FLAGS="-N $T/m/netbsd --fstab $T/fstab"
SAVECORE_DIR=$T/crash
args=()
for word in $line; do
  case $word in
  "$sbin") args+=("$KVMKIT_BIN/savecore") ;;
  '$SAVECORE_FLAGS') read -r -a flags <<<"$SAVECORE_FLAGS" && args+=("${flags[@]}") ;;
  '${SAVECORE_DIR}') args+=("$SAVECORE_DIR") ;;
  *) args+=("$word") ;;
  esac
done
rc=0
"${args[@]}" >"$T/out" 2>"$T/err" || rc=$?
expect_rc 0
[[ $(ls "$T/crash" | tr '\n' ' ') == "bounds netbsd.0 netbsd.0.core " ]] || fail "files: $(ls "$T/crash")"
cmp "$T/crash/netbsd.0.core" "$T/m/netbsd.core" || fail "the saved core differs from the kcore file"
# The next boot finds nothing to save: exit 1, which the unit counts as success.
rc=0
"${args[@]}" >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1
grep -qx 'SuccessExitStatus=1' "$unit" || fail "no dump would fail the unit"
