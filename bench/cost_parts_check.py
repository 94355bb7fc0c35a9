#!/usr/bin/env python3
"""cost_parts_check.py: ctest smoke test of cost_parts.py and of the builds it measures.

  cost_parts_check.py COST_PARTS BUILD

No timing assertions. Checks that
- `cost_parts.py --quick --repeat 1` builds the four cost-attribution libraries, runs, and
  reports the five stages of the workload, and that every build still counted each of the
  workload's calls (an ablated build drops stages, not the events= count the report divides by);
- a trace written by each ablated build can never pass a verdict: its run says so on stderr,
  meta.txt says ablate=K and events_lost_exact=0, and `memscope-harness report` with a leak
  limit the same run passes under the real tracker fails it as a partial trace;
- bad options end with exit status 2 and one line.
Exit 0 when all hold, 1 otherwise.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

THREADS, PAIRS = 4, 100000  # cost_report --quick's workload
EXPECTED_CALLS = 2 * THREADS * PAIRS + 2 * THREADS + 4
STARTUP_SLACK = 16  # libc's own calls that the tracker also records
LIBS = ["tracker", "no_write", "no_encode", "no_record", "no_clock"]

failures = []


def check(ok, what, expected, actual):
    print(f"{'ok  ' if ok else 'FAIL'} {what}: expected {expected}, got {actual}")
    if not ok:
        failures.append(what)


def run_report(tool, build, tmp):
    out = os.path.join(tmp, "parts.json")
    proc = subprocess.run([sys.executable, tool, "--quick", "--repeat", "1", "--build", build,
                           "--json", out], capture_output=True, text=True)
    check(proc.returncode == 0, "cost_parts.py exit status", 0, proc.returncode)
    if proc.returncode != 0:
        print(proc.stderr)
        return
    with open(out) as f:
        doc = json.load(f)
    stages = doc["stages"][0]
    check(list(stages["stages"]) == ["write", "encode", "record", "clock", "dispatch"],
          "stages reported", "write..dispatch", list(stages["stages"]))
    libs = sorted({r["lib"] for r in doc["report"]["runs"]})
    check(libs == sorted(LIBS), "libraries measured", sorted(LIBS), libs)
    for run in doc["report"]["runs"]:
        ev = run["tool"]["events"]
        check(ev is not None and EXPECTED_CALLS <= ev <= EXPECTED_CALLS + STARTUP_SLACK,
              f"{run['lib']}: events= counts every call", f"{EXPECTED_CALLS} (+ start-up)", ev)


def verdict(build, lib, tmp, label):
    """Runs the workload under LIB into a fresh directory; returns (stderr, meta.txt text,
    `memscope-harness report` exit status with a 1 MiB leak limit)."""
    out = os.path.join(tmp, label)
    env = dict(os.environ, LD_PRELOAD=lib, MEMSCOPE_OUT=out, MEMSCOPE_STACK_DEPTH="0")
    proc = subprocess.run([os.path.join(build, "bench", "ms-bench-workload"), "2", "2000"],
                          env=env, capture_output=True, text=True)
    metas = glob.glob(os.path.join(out, "memscope.*", "meta.txt"))
    meta = open(metas[0]).read() if len(metas) == 1 else ""
    rep = subprocess.run([os.path.join(build, "harness", "memscope-harness"), "report", out,
                          "--max-leak-bytes", "1MiB"], capture_output=True, text=True)
    return proc.stderr, meta, rep.returncode


def check_ablated_traces(build, tmp):
    _, meta, rc = verdict(build, os.path.join(build, "tracker", "libmemscope.so"), tmp, "real")
    check("ablate=" not in meta and rc == 0, "the real tracker's run passes the leak limit",
          "no ablate= line, exit 0", f"exit {rc}")
    for k in range(1, len(LIBS)):
        lib = os.path.join(build, "tracker", f"libmemscope_ablate_{k}.so")
        err, meta, rc = verdict(build, lib, tmp, f"ablate{k}")
        lines = meta.splitlines()
        check(f"MS_ABLATE={k}" in err, f"ablate {k}: says so on stderr", f"MS_ABLATE={k}",
              err.strip()[:120])
        check(f"ablate={k}" in lines and "events_lost_exact=0" in lines,
              f"ablate {k}: meta.txt", f"ablate={k} and events_lost_exact=0",
              [l for l in lines if l.startswith(("ablate", "events_lost"))])
        check(rc == 1, f"ablate {k}: the same leak limit fails the run (partial)", 1, rc)


def check_bad_options(tool, build):
    for argv, what in ((["--repeat", "0"], "--repeat 0"), (["--programs", "nope"], "unknown program"),
                       (["--build", "/nonexistent"], "no build tree")):
        proc = subprocess.run([sys.executable, tool, "--no-build"] + argv +
                              ([] if "--build" in argv else ["--build", build]),
                              capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        check(proc.returncode == 2 and len(lines) == 1, f"bad option ({what})",
              "exit 2, one line", f"exit {proc.returncode}, {len(lines)} line(s)")


def main():
    if len(sys.argv) != 3:
        print("usage: cost_parts_check.py COST_PARTS BUILD", file=sys.stderr)
        return 2
    tool, build = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="ms-cost-parts-check-") as tmp:
        run_report(tool, build, tmp)  # builds the ablated libraries first
        check_ablated_traces(build, tmp)
    check_bad_options(tool, build)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
