#!/usr/bin/env bash
# report_files_test.sh CASE: the reports of memscope-analyze and memscope-harness as a user
# gets them (issue 8).
#   symlink_victims   links planted at every report name (and at guessable temporary names) in
#                     the --out directories, pointing at victim files outside: every victim is
#                     byte-identical afterwards
#   selective_tracked selective_50's summary.json: tracked true for main and the 25 even
#                     workers, false for the 25 odd ones (they named themselves, then switched
#                     tracking off)
#   per_core_cpu_null a run short enough for one resource sample: the per-core CPU figures of
#                     that sample are null (0/0), with the reason, never 0
# Environment (tests/analysis/CMakeLists.txt): HARNESS, ANALYZE, LIB, LEAKY, WORK.
set -uo pipefail

case_name=$1
: "${HARNESS:?}" "${ANALYZE:?}" "${LIB:?}" "${LEAKY:?}" "${WORK:?}"
rm -rf "$WORK"
mkdir -p "$WORK"

# shellcheck source=../harness/test_lib.sh
. "$(dirname "$0")/../harness/test_lib.sh"

case "$case_name" in
symlink_victims)
  trace="$WORK/trace"
  mkdir -p "$trace"
  MEMSCOPE_OUT="$trace" LD_PRELOAD="$LIB" "$LEAKY" >/dev/null || fail "the traced program failed"
  out_a="$WORK/out-analyze"
  out_h="$WORK/out-harness"
  mkdir -p "$out_a" "$out_h/plots" "$WORK/victims"
  # One python process plants everything (a loop of ln would use up the pids guessed below).
  # Each report name gets its own victim; the guesses of a "<name>.tmp.<pid>" temporary (the
  # pids the next ~3000 processes get) share one victim per name. A manifest says which link
  # leads to which victim, and a copy of each victim is kept to compare with.
  python3 - "$WORK" "$out_a" "$out_h" <<'EOF' || fail "planting the links failed"
import os, sys
work, out_a, out_h = sys.argv[1:4]
victims = os.path.join(work, "victims")
last = int(open("/proc/sys/kernel/ns_last_pid").read())
manifest = open(os.path.join(work, "manifest"), "w")
n = 0
def victim(label):
    global n
    n += 1
    v = os.path.join(victims, "v%d" % n)
    with open(v, "w") as f:
        f.write("victim %d (%s): memscope must never write here\n" % (n, label))
    with open(v + ".orig", "w") as f:
        f.write("victim %d (%s): memscope must never write here\n" % (n, label))
    return v
def plant(d, name, guesses):
    v = victim(name)
    os.symlink(v, os.path.join(d, name))
    manifest.write("%s %s\n" % (v, os.path.join(d, name)))
    if guesses:
        g = victim(name + ".tmp.<pid>")
        for pid in range(last + 1, last + 3000):
            os.symlink(g, os.path.join(d, "%s.tmp.%d" % (name, pid)))
        manifest.write("%s %s\n" % (g, os.path.join(d, name + ".tmp.<pid>")))
analyze = ["summary.json", "events.bin", "events.jsonl"] + [
    "memscope_%s.json" % k for k in
    ("memory_analysis", "lifetime", "performance", "comprehensive", "resource_rankings")]
for name in analyze:
    plant(out_a, name, True)
harness = ["junit.xml", "summary.json", "resources.json", "report.html", "index.html",
           ".memscope-write-test"] + [
    "leak_demo_%s.json" % k for k in
    ("memory_analysis", "lifetime", "performance", "comprehensive", "resource_rankings")]
for name in harness:
    plant(out_h, name, name in ("junit.xml", "summary.json", ".memscope-write-test"))
for base in ("heap_timeline", "rss_cpu", "thread_peaks", "size_histogram", "cpu_alloc_scatter",
             "overhead_history"):
    for ext in ("dat", "gp", "png", "svg"):
        plant(os.path.join(out_h, "plots"), "%s.%s" % (base, ext), False)
plant(os.path.join(out_h, "plots"), "gnuplot.log", False)
plant(os.path.join(out_h, "plots"), "overhead_history.log", False)
EOF
  # The trace directory's name too: a link to a victim directory must stay a link to an
  # empty directory (the harness makes a new trace directory beside it).
  mkdir -p "$WORK/victims/tracedir"
  ln -s "$WORK/victims/tracedir" "$out_h/trace"
  expect_exit 0 "$ANALYZE" "$trace" --out "$out_a"
  expect_exit 0 "$ANALYZE" "$trace" --export-compare "$out_a"
  # leak_demo's leak assertion fails by design: exit 1.
  expect_exit 1 "$HARNESS" scenario leak_demo --out "$out_h" --html --plots --no-progress
  bad=""
  while read -r v link; do
    cmp -s "$v" "$v.orig" || bad="$bad $link"
  done <"$WORK/manifest"
  [ -z "$bad" ] || fail "victim files written through links planted at:$bad"
  [ -z "$(ls -A "$WORK/victims/tracedir")" ] || fail "the trace was written through a link at trace/"
  # The reports themselves were written: the links at their names replaced by regular files.
  for f in "$out_a/summary.json" "$out_a/memscope_lifetime.json" "$out_a/events.bin" \
           "$out_a/events.jsonl" "$out_h/junit.xml" "$out_h/summary.json" \
           "$out_h/report.html" "$out_h/plots/heap_timeline.png"; do
    [ -f "$f" ] && [ ! -L "$f" ] || fail "$f is not a regular file of its own"
  done
  ;;
selective_tracked)
  expect_exit 0 "$HARNESS" scenario selective_50 --out "$WORK/rep" --no-progress --html
  # The page's data lists the 51 threads, 26 of them tracked (main + 25 even workers): its
  # "tracked threads" card shows them (docs/dashboard.md; the browser tests check the display).
  python3 - "$WORK/rep/report.html" <<'EOF' || fail "report.html's data does not hold 26 tracked threads of 51"
import json, re, sys
m = re.search(r'<script type="application/json" id="memscope-data">(.*?)</script>',
              open(sys.argv[1], encoding="utf-8").read(), re.S)
threads = json.loads(m.group(1))["summary"]["threads"]
tracked = sum(1 for t in threads if t["tracked"] is True)
sys.exit(0 if (tracked, len(threads)) == (26, 51) else f"tracked {tracked} of {len(threads)}")
EOF
  python3 - "$WORK/rep/summary.json" <<'EOF' || fail "threads[].tracked is not as selective_50 ran"
import json, re, sys
threads = json.load(open(sys.argv[1]))["threads"]
got = {"true": [], "false": [], "other": []}
for t in threads:
    v = t["tracked"]
    got["true" if v is True else "false" if v is False else "other"].append(t["name"])
print("tracked true: %d, false: %d, other: %d" % tuple(len(got[k]) for k in ("true", "false", "other")))
def worker(name):
    m = re.fullmatch(r"sel-worker-(\d+)", name)
    return int(m.group(1)) if m else None
even = [n for n in got["true"] if worker(n) is not None and worker(n) % 2 == 0]
odd = [n for n in got["false"] if worker(n) is not None and worker(n) % 2 == 1]
main = [n for n in got["true"] if worker(n) is None]
ok = (len(got["true"]) == 26 and len(even) == 25 and len(main) == 1 and
      len(got["false"]) == 25 and len(odd) == 25 and not got["other"])
if not ok:
    print("expected: true = main + 25 even workers, false = 25 odd workers; got", got)
sys.exit(0 if ok else 1)
EOF
  ;;
per_core_cpu_null)
  expect_exit 0 "$HARNESS" run --out "$WORK/rep" --no-progress -- "$(command -v true)"
  python3 - "$WORK/rep/resources.json" <<'EOF' || fail "per-core CPU figures of a 0/0 interval are not null"
import json, sys
r = json.load(open(sys.argv[1]))
samples = r["samples"]
print("samples:", len(samples), "first cpu:", samples[0]["cpu"] if samples else None)
ok = bool(samples)
for s in samples:
    cpu = s["cpu"]
    vals = [cpu.get("total_percent")] + list(cpu.get("per_core_percent") or [])
    for v in vals:
        ok &= v is None or (isinstance(v, (int, float)) and 0 <= v <= 100)
    if any(v is None for v in vals):
        ok &= isinstance(cpu.get("null_reason"), str) and cpu["null_reason"] != ""
# The first sample comes within a millisecond of the baseline read of /proc/stat: no core can
# have counted a tick in between on all of them, so some figure is 0/0.
first = samples[0]["cpu"] if samples else {}
ok &= any(v is None for v in [first.get("total_percent")] + list(first.get("per_core_percent") or []))
sys.exit(0 if ok else 1)
EOF
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "ok $case_name"
