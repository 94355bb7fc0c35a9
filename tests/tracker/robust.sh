#!/usr/bin/env bash
# robust.sh LIB PROG TRACESTAT: the tracker never breaks a program. For each hostile setting
# the program's stdout and exit status must equal the untracked run's, and stderr must hold
# exactly one "memscope: " line saying why. Also: private modes, no symlink following, and
# a second run never mixing with the first.
set -u
LIB=$1 PROG=$2 TRACESTAT=${3:-} CLOSEFDS=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$PROG" >"$work/native.out" 2>"$work/native.err"
native_rc=$?
[ "$native_rc" = 7 ] || fail "native run: expected exit 7, got $native_rc"

# check NAME EXPECTED_MEMSCOPE_LINES [env assignments...] : runs PROG under the tracker.
check() {
  local name=$1 want_lines=$2; shift 2
  env "$@" LD_PRELOAD="$LIB" "$PROG" >"$work/$name.out" 2>"$work/$name.err"
  local rc=$?
  [ "$rc" = "$native_rc" ] || fail "$name: exit status $rc, expected $native_rc"
  cmp -s "$work/native.out" "$work/$name.out" || fail "$name: stdout differs from the untracked run"
  local lines
  lines=$(grep -c '^memscope: ' "$work/$name.err")
  [ "$lines" = "$want_lines" ] || { fail "$name: $lines 'memscope:' lines, expected $want_lines"; cat "$work/$name.err"; }
  [ "$(wc -l <"$work/$name.err")" = "$want_lines" ] || fail "$name: stderr has other lines: $(head -3 "$work/$name.err")"
  [ "$want_lines" = 1 ] && echo "  $name: $(cat "$work/$name.err")"
}

check ok 0 MEMSCOPE_OUT="$work/ok"
check unwritable 1 MEMSCOPE_OUT=/proc/self/memscope-out
check no_dir_possible 1 MEMSCOPE_OUT=/dev/null/memscope
check out_is_file 1 MEMSCOPE_OUT="$work/native.out"
for var in STACK_DEPTH SAMPLE THREADS RESOURCES_HZ VERBOSE; do
  check "garbage_$var" 1 MEMSCOPE_OUT="$work/g" "MEMSCOPE_$var=bad$(printf '\001')value"
done
check garbage_all 1 MEMSCOPE_OUT="$work/g2" MEMSCOPE_STACK_DEPTH=banana MEMSCOPE_SAMPLE=bytes:-3 \
  MEMSCOPE_THREADS="$(printf '\001\002')" MEMSCOPE_RESOURCES_HZ=-1 MEMSCOPE_VERBOSE=yes MEMSCOPE_TYPO=1
check sample_zero 1 MEMSCOPE_OUT="$work/g3" MEMSCOPE_SAMPLE=bytes:0
check depth_huge 1 MEMSCOPE_OUT="$work/g4" MEMSCOPE_STACK_DEPTH=99999999999999999999999

# Full disk, as RLIMIT_FSIZE: crossing it would raise SIGXFSZ and kill the program.
(ulimit -f 64; check fsize_limit 1 MEMSCOPE_OUT="$work/fsize"; exit $fails) || fails=$((fails + 1))
fsize_file=$(ls "$work"/fsize/memscope.*/memscope_thread_*.bin 2>/dev/null | head -1)
[ -n "$fsize_file" ] || fail "fsize_limit: no thread file written before the limit"
[ -n "$fsize_file" ] && [ "$(stat -c %s "$fsize_file")" -le 65536 ] || fail "fsize_limit: file passed the limit"
if [ -n "$TRACESTAT" ] && [ -n "$fsize_file" ]; then
  "$TRACESTAT" "$work"/fsize/memscope.* >"$work/fsize.json" || fail "fsize_limit: trace unreadable"
  grep -q '"allocations":[[:space:]]*[1-9]' "$work/fsize.json" || fail "fsize_limit: no events kept"
fi

# A real full disk: a 256 KiB tmpfs, where mounting is allowed (root outside a container).
if [ "$(id -u)" = 0 ] && mkdir -p "$work/tmpfs" && mount -t tmpfs -o size=256k tmpfs "$work/tmpfs" 2>/dev/null; then
  check tmpfs_full 1 MEMSCOPE_OUT="$work/tmpfs/out"
  umount "$work/tmpfs"
else
  echo "  tmpfs_full: skipped (cannot mount tmpfs here); RLIMIT_FSIZE case covers a full disk"
fi

# Modes: directory 0700, files 0600.
run=$(ls -d "$work"/ok/memscope.* | head -1)
[ "$(stat -c %a "$run")" = 700 ] || fail "run directory mode $(stat -c %a "$run"), expected 700"
for f in "$run"/*; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f mode $(stat -c %a "$f"), expected 600"
done

# A second run into the same directory gets its own run directory.
check ok_again 0 MEMSCOPE_OUT="$work/ok"
[ "$(ls -d "$work"/ok/memscope.* | wc -l)" = 2 ] || fail "second run: expected 2 run directories"
id1=$(grep '^run_id=' "$work"/ok/memscope.*/meta.txt | cut -d= -f2 | sort -u | wc -l)
[ "$id1" = 2 ] || fail "second run: run ids not distinct"

# No symbolic link is followed: the run directory name this process will pick first is a
# link to a victim directory; the tracker must skip it and leave the victim empty.
mkdir -p "$work/sym" "$work/victim"
(
  ln -s "$work/victim" "$work/sym/memscope.$BASHPID.0"
  exec env MEMSCOPE_OUT="$work/sym" LD_PRELOAD="$LIB" "$PROG" >/dev/null 2>"$work/sym.err"
)
[ -z "$(ls -A "$work/victim")" ] || fail "symlink: the tracker wrote through a symbolic link"
[ "$(ls -d "$work"/sym/memscope.*.1 2>/dev/null | wc -l)" = 1 ] || fail "symlink: no fresh run directory"

# A program that closes every descriptor and reuses the numbers for its own file: the
# tracker never writes into that file, finds its own files again by name (same inode), and
# records every call: 20000 + 1000 x 100 + 50000 malloc/free pairs.
if [ -n "$CLOSEFDS" ]; then
  MEMSCOPE_OUT="$work/cfd" LD_PRELOAD="$LIB" "$CLOSEFDS" "$work/cfd.out" 2>"$work/cfd.err"
  rc=$?
  [ "$rc" = 0 ] || fail "closefds: exit status $rc"
  seq 0 999 | sed 's/^/line /' | cmp -s - "$work/cfd.out" || fail "closefds: the program's file was altered"
  [ ! -s "$work/cfd.err" ] || fail "closefds: stderr: $(head -2 "$work/cfd.err")"
  if [ -n "$TRACESTAT" ]; then
    "$TRACESTAT" "$work"/cfd --module "$(basename "$CLOSEFDS")" >"$work/cfd.json" || fail "closefds: trace unreadable"
    python3 - "$work/cfd.json" <<'PY' || fail "closefds: trace incomplete"
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
m = run["module"]
print("  closefds: %d allocations, %d frees recorded, partial=%s" % (m["allocations"], m["frees"], run["partial"]))
sys.exit(0 if (m["allocations"], m["frees"], run["partial"]) == (170000, 170000, False) else 1)
PY
  fi
fi

if [ "$fails" -gt 0 ]; then
  echo "robust.sh: $fails failure(s)"
  exit 1
fi
echo "robust.sh: all cases held"
