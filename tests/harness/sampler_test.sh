#!/usr/bin/env bash
# sampler_test.sh CASE: the harness's /proc resource sampler (harness/hs_monitor.c,
# docs/harness.md "Resource monitor"): the steady rate, the fast start of a short run, the
# first and last samples, MEMSCOPE_RESOURCES_HZ / --resources-hz, and threads that only /proc
# sees. Environment (tests/harness/CMakeLists.txt): HARNESS, TIMELINE (ms_h_timeline), WORK.
set -uo pipefail

case_name=$1
: "${HARNESS:?}" "${TIMELINE:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"
# shellcheck source=test_lib.sh
. "$(dirname "$0")/test_lib.sh"

# check FILE PYTHON: runs PYTHON with `d` = the parsed FILE; an AssertionError fails the test.
check() {
  python3 - "$1" "$2" <<'PY' || fail "check on $1 failed (above)"
import json, sys
d = json.load(open(sys.argv[1]))
def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
exec(sys.argv[2])
PY
}

# The documented policy (docs/harness.md), recomputed here: the first sample, 20 more at
# 1 ms, then each interval 1.1 times the one before until it reaches 1/hz. Seconds after the
# first sample at which the steady part starts, for 10 Hz.
ramp_end=$(python3 -c "
t, iv = 20 * 0.001, 0.001
while iv * 1.1 < 0.1:
    iv *= 1.1
    t += iv
print(t + 0.1)")

case "$case_name" in
steady_3s)
  # A 3 s run at --resources-hz 10: after the ramp, samples 100 ms apart (median within
  # 10 %), and as many as 10 Hz gives over the steady span (within 10 %).
  expect_exit 0 "$HARNESS" run --resources-hz 10 --out "$WORK/o" --no-progress -- "$TIMELINE" 3000
  check "$WORK/o/resources.json" "
s = d['samples']
ts = [x['t_s'] for x in s]
assert all(isinstance(t, float) or isinstance(t, int) for t in ts), 'a sample without t_s'
assert all(b > a for a, b in zip(ts, ts[1:])), 't_s not increasing'
assert d['hz'] == 10 and d['rate_policy']['steady_hz'] == 10, d['rate_policy']
assert d['gpu'] == 'unavailable'
# Steady part: from the recomputed ramp end plus 0.2 s margin, the last (zombie) one aside.
start = ts[0] + $ramp_end + 0.2
steady = [x for x in s if x['t_s'] >= start and x['phase'] != 'last']
st = [x['t_s'] for x in steady]
assert all(x['phase'] == 'steady' for x in steady), [x['phase'] for x in steady]
iv = [b - a for a, b in zip(st, st[1:])]
m = median(iv)
print('steady samples', len(st), 'median interval %.4f s' % m, 'min %.4f max %.4f' % (min(iv), max(iv)))
assert 0.090 <= m <= 0.110, 'median interval %.4f s is not 100 ms +- 10 %%' % m
rate = (len(st) - 1) / (st[-1] - st[0])
print('steady rate %.3f Hz over %.3f s' % (rate, st[-1] - st[0]))
assert 9.0 <= rate <= 11.0, 'steady rate %.3f Hz is not 10 Hz +- 10 %%' % rate
assert len(st) >= 12, 'only %d steady samples in a 3 s run' % len(st)
assert s[-1]['phase'] == 'last' and s[0]['phase'] == 'first'
"
  ;;
short_run)
  # A 40 ms run: at least 20 samples, the first within a few ms of the program's start (its
  # main() prints when it started and ended, CLOCK_MONOTONIC like the sampler's t0), the last
  # one of the exited (zombie) process after main() ended and right before the reap.
  expect_exit 0 "$HARNESS" run --out "$WORK/o" --no-progress -- "$TIMELINE" 40
  main_start=$(sed -n 's/.*main_start_s=\([0-9.]*\).*/\1/p' "$WORK/out")
  main_end=$(sed -n 's/.*main_end_s=\([0-9.]*\).*/\1/p' "$WORK/out")
  [ -n "$main_start" ] && [ -n "$main_end" ] || fail "the target did not print its times: $(cat "$WORK/out")"
  check "$WORK/o/resources.json" "
s = d['samples']
first = d['t0_monotonic_s'] + s[0]['t_s'] - $main_start
last_after_end = d['t0_monotonic_s'] + s[-1]['t_s'] - $main_end
print('samples', len(s), 'first sample %+.4f s from main() start' % first, 'last %+.4f s after main() end' % last_after_end, 'reap %.4f s after the last' % (d['wall_s'] - s[-1]['t_s']))
assert len(s) >= 20, 'only %d samples in a 40 ms run' % len(s)
assert d['nsamples'] == len(s)
assert s[0]['phase'] == 'first' and first <= 0.010, first
assert s[0]['process']['rss_bytes'] > 0
last = s[-1]
assert last['phase'] == 'last' and last['zombie'] is True, last
# After main() the tracker still writes its trace out (atexit): a few ms on a loaded machine.
assert 0 <= last_after_end <= 0.050, last_after_end
assert d['wall_s'] - last['t_s'] <= 0.010, 'last sample %.4f s before the reap' % (d['wall_s'] - last['t_s'])
assert last['process']['rss_bytes'] is None and 'rss_bytes' in last['unreadable']
assert last['process']['utime_s'] is not None and last['null_reason']
assert last['threads'] is None
"
  ;;
off_and_bad)
  # 0 = no timeline, no error; a bad rate is one line on stderr and exit 2, before anything runs.
  MEMSCOPE_RESOURCES_HZ=0 expect_exit 0 "$HARNESS" run --out "$WORK/off" --no-progress -- "$TIMELINE" 40
  [ -s "$WORK/err" ] && fail "stderr with MEMSCOPE_RESOURCES_HZ=0: $(cat "$WORK/err")"
  check "$WORK/off/resources.json" "
assert d['hz'] == 0 and d['nsamples'] == 0 and d['samples'] == [] and d['timeline_reason'], d
"
  check "$WORK/off/summary.json" "
r = d['resources']
assert r['samples'] == 0 and r['first_sample_s'] is None and r['timeline_reason'], r
"
  expect_exit 0 "$HARNESS" run --resources-hz 0 --out "$WORK/off2" --no-progress -- "$TIMELINE" 40
  check "$WORK/off2/resources.json" "assert d['nsamples'] == 0"
  # The option wins over the variable.
  MEMSCOPE_RESOURCES_HZ=abc expect_exit 0 "$HARNESS" run --resources-hz 20 --out "$WORK/opt" --no-progress -- "$TIMELINE" 40
  check "$WORK/opt/resources.json" "assert d['hz'] == 20"
  for v in abc -1 5000 1.5 ''; do
    MEMSCOPE_RESOURCES_HZ=$v expect_exit 2 "$HARNESS" run --out "$WORK/bad" --no-progress -- "$TIMELINE" 40
    [ "$(wc -l <"$WORK/err")" = 1 ] || fail "MEMSCOPE_RESOURCES_HZ='$v': not one line: $(cat "$WORK/err")"
    grep -q "MEMSCOPE_RESOURCES_HZ='$v': give an integer from 0" "$WORK/err" || fail "message: $(cat "$WORK/err")"
    expect_exit 2 "$HARNESS" run --resources-hz "$v" --out "$WORK/bad" --no-progress -- "$TIMELINE" 40
    [ "$(wc -l <"$WORK/err")" = 1 ] || fail "--resources-hz '$v': not one line: $(cat "$WORK/err")"
    grep -q -- "--resources-hz '$v': give an integer from 0" "$WORK/err" || fail "message: $(cat "$WORK/err")"
    MEMSCOPE_RESOURCES_HZ=$v expect_exit 2 "$HARNESS" scenario atomics --out "$WORK/bad" --no-progress
    [ "$(wc -l <"$WORK/err")" = 1 ] || fail "scenario, MEMSCOPE_RESOURCES_HZ='$v': not one line"
  done
  [ -e "$WORK/bad" ] && fail "a bad rate still ran the target"
  for cmd in scenario all run; do
    # Whole help first: grep -q stops reading at the match, and under pipefail the harness's
    # SIGPIPE on the rest of its help would fail the pipeline now and then.
    help=$("$HARNESS" $cmd --help)
    grep -q -- "--resources-hz N" <<<"$help" || fail "$cmd --help does not list --resources-hz"
  done
  ;;
untracked)
  # Threads the tracker does not track. selective_50: the 25 odd workers switch tracking off
  # (the trace has their names and the tracker's own resource records, taken at attach and
  # exit whether or not a thread's allocations are tracked); they keep tracked:false, and their
  # resources come from the tracker's records where the trace has two, else from /proc. --threads none: the trace holds no thread at all, so every thread
  # of the program (main + 5) is added from /proc.
  expect_exit 0 "$HARNESS" scenario selective_50 --out "$WORK/s" --no-progress
  # cpu_percent recomputed from the raw samples: the thread's CPU time at the last and the
  # first sample it is listed in, over the time between them; schedstat's run time when both
  # samples have it, else utime + stime (a thread that ended between its stat read and its
  # schedstat read has cpu_s null in that sample: hs_monitor.c, thread_json).
  python3 - "$WORK/s/resources.json" >"$WORK/cpu_pct.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
seen = {}
for s in d['samples']:
    for t in s['threads'] or []:
        seen.setdefault(t['tid'], []).append((s['t_s'], t['cpu_s'], t['utime_s'] + t['stime_s']))
out = {}
for tid, v in seen.items():
    if len(v) < 2:
        out[tid] = None
        continue
    k = 1 if v[0][1] is not None and v[-1][1] is not None else 2
    out[tid] = 100 * (v[-1][k] - v[0][k]) / (v[-1][0] - v[0][0])
print(json.dumps(out))
PY
  check "$WORK/s/summary.json" "
expect = json.load(open('$WORK/cpu_pct.json'))
odd = [t for t in d['threads'] if t['name'].startswith('sel-worker-') and int(t['name'][11:]) % 2]
print('odd workers', len(odd), 'sources', sorted(set(t['resources']['source'] for t in odd)))
assert len(odd) == 25, len(odd)
assert all(t['tracked'] is False for t in odd)
assert all(t['resources']['source'] in ('proc', 'tracker') for t in odd), [t['resources'] for t in odd]
for t in odd:
    r = t['resources']
    if r['source'] == 'tracker':
        assert isinstance(r['cpu_percent'], (int, float)) and r['samples'] >= 2, r
        assert t['cpu_percent'] == r['cpu_percent'] and t['io_ops'] == r['io_ops'], t
        continue
    assert isinstance(r['cpu_time_s'], (int, float)) and r['samples'] >= 1, r
    assert t['cpu_time_s'] == r['cpu_time_s'] and t['io_ops'] == r['io_ops']
    want = expect[str(t['tid'])]
    if want is None:
        assert r['cpu_percent'] is None and r['cpu_percent_reason'], r
    else:
        assert abs(r['cpu_percent'] - want) < 1e-6 * max(1, want), (r['cpu_percent'], want)
        assert t['cpu_percent'] == r['cpu_percent']
assert d['resources']['first_sample_s'] is not None
"
  expect_exit 0 "$HARNESS" run --threads none --out "$WORK/n" --no-progress -- "$TIMELINE" 300 5
  check "$WORK/n/summary.json" "
th = d['threads']
print('threads', len(th), 'added from /proc', d['resources']['threads_seen_only_by_proc'])
assert len(th) == 6, [t['tid'] for t in th]
assert d['resources']['threads_seen_only_by_proc'] == 6
for t in th:
    assert t['tracked'] is False and t['in_trace'] is False, t
    assert t['allocations'] is None and t['memory_reason'], t
    assert t['resources']['source'] == 'proc' and t['resources']['samples'] >= 2, t
    assert isinstance(t['resources']['cpu_percent'], (int, float)), t
"
  check "$WORK/n/resources.json" "
tids = sorted(t['tid'] for t in d['threads'])
assert len(tids) == 6 and tids[0] == d['samples'][0]['threads'][0]['tid'], tids
"
  ;;
cpu_window)
  # CPU % is taken over a window of at least W = 50 ms (docs/harness.md: the kernel counts
  # utime/stime and /proc/stat in 10 ms ticks). A 400 ms run whose main thread spins, with two
  # sleeping threads. Every process cpu_percent is recomputed here from the raw cpu_s (the
  # process's CPU clock, ns) of this sample and of the most recent earlier sample at least W
  # before it, found here from the t_s; a sample with no such earlier sample has none.
  expect_exit 0 "$HARNESS" run --out "$WORK/o" --no-progress -- "$TIMELINE" 400 2 spin
  check "$WORK/o/resources.json" "
W = 0.050
s = d['samples']
assert d['cpu_window_min_s'] == W, d['cpu_window_min_s']
assert 'clock_getcpuclockid' in d['process_cpu_basis'], d['process_cpu_basis']
ncpu = d['ncpu']
ts = [x['t_s'] for x in s]
got = 0
for i, x in enumerate(s):
    p = x['process']
    earlier = [j for j in range(i) if ts[i] - ts[j] >= W]
    j = earlier[-1] if earlier else None
    if j is None:
        assert p['cpu_percent'] is None and p['cpu_window_s'] is None, (i, p)
        assert 'no earlier sample 50 ms' in p['cpu_percent_reason'], p
    else:
        win = ts[i] - ts[j]
        assert p['cpu_window_s'] is not None and p['cpu_window_s'] >= W, (i, p)
        assert abs(p['cpu_window_s'] - win) < 2e-6, ('not the latest sample >= W before', i, p['cpu_window_s'], win)
        want = 100 * (p['cpu_s'] - s[j]['process']['cpu_s']) / win
        assert abs(p['cpu_percent'] - want) <= 0.006, (i, p['cpu_percent'], want)
        # An exact CPU clock cannot show more than every core busy (1 % slack: the time stamp
        # and the clock read are a few microseconds apart).
        assert -1e-9 <= p['cpu_percent'] <= 101 * ncpu, (i, p['cpu_percent'])
        got += 1
    # cpu_s is the same CPU time as utime + stime, which are each cut to whole 10 ms ticks
    # (so up to 20 ms less) and read a moment after the clock.
    if p['cpu_s'] is not None and p['utime_s'] is not None:
        gap = p['utime_s'] + p['stime_s'] - p['cpu_s']
        assert -0.0201 <= gap <= 0.005, (i, p['cpu_s'], p['utime_s'], p['stime_s'])
    c = x['cpu']
    if c['total_percent'] is not None:
        assert c['window_s'] >= W, (i, c)
    else:
        assert c['window_s'] is None and c['null_reason'], (i, c)
print('samples', len(s), 'with a process CPU %', got, 'windows', sorted(round(x['process']['cpu_window_s'] * 1e3, 1) for x in s if x['process']['cpu_window_s'])[:5], '... ms')
assert got >= 4, 'only %d process CPU figures in a 400 ms run' % got
assert s[0]['process']['cpu_percent'] is None and s[0]['cpu']['total_percent'] is None
"
  ;;
cost)
  # 100 threads in the target: every sample reads all 101 (and says what it cost).
  expect_exit 0 "$HARNESS" run --out "$WORK/o" --no-progress -- "$TIMELINE" 1500 100
  check "$WORK/o/resources.json" "
sp = d['sampler']
print('samples %d, harness CPU per sample %.1f us (wall %.1f us), %d threads' % (sp['samples_taken'], sp['cpu_per_sample_s'] * 1e6, sp['wall_per_sample_s'] * 1e6, sp['max_threads']))
assert sp['max_threads'] == 101, sp
assert sp['samples_taken'] == d['nsamples'] >= 20, sp
assert max(len(x['threads'] or []) for x in d['samples']) == 101
assert len(d['threads']) == 101
"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "PASS [$case_name]"
