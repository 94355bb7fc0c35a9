#!/usr/bin/env python3
"""analysis_speed.py: memscope-analyze's events per CPU-second on the 8 M-event trace (issue 12).

Makes the trace once (ms-bench-workload 4 PAIRS under the tracker, default 16-frame stacks:
4 threads x 1,000,000 malloc+free = 8,000,216 events with --events 8000000), then runs
memscope-analyze on it --runs times in each of two modes: as a user runs it (symbols on:
libdw loads the programs' debug info to name the reported frames) and with --no-symbols.
Each run's figure is the whole process's CPU time, user + system, from the child's own
rusage (os.wait4): events / CPU seconds, so the figure holds on a loaded machine, where
wall time does not. The tool's own timing (events / (open + pass) from
memscope_performance.json, issue 3's figure) is reported beside it.

With --compare OTHER, OTHER (another build's memscope-analyze) runs interleaved with this
one, run for run and mode for mode, so both see the same minutes of the machine.

  bench/analysis_speed.py [--build DIR] [--runs K] [--events N | --trace RUN_DIR]
                          [--compare OTHER_ANALYZE] [--json FILE]

--trace takes an existing trace instead: the merge's cost depends on how finely the threads'
events interleave, which depends on the machine's load while the trace was recorded, so
before/after comparisons across sessions should read one kept trace.

Prints, per binary and mode, the median and best events per CPU-second, the median CPU
seconds, the tool's open + pass figure, and the peak RSS. Exit status 0 when it ran; 2 with
one line on stderr on an error.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

TARGET = 10e6  # events per CPU-second, issue 12
THREADS = 4
MODES = (("symbols", []), ("no-symbols", ["--no-symbols"]))


def fail(msg):
    print(f"analysis_speed: {msg}", file=sys.stderr)
    sys.exit(2)


def make_trace(build, tmp, pairs):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMSCOPE_") and k != "LD_PRELOAD"}
    env["LD_PRELOAD"] = os.path.join(build, "tracker", "libmemscope.so")
    env["MEMSCOPE_OUT"] = tmp
    prog = [os.path.join(build, "bench", "ms-bench-workload"), str(THREADS), str(pairs)]
    if subprocess.run(prog, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        fail(f"{' '.join(prog)} failed under the tracker")
    dirs = [d for d in os.listdir(tmp) if d.startswith("memscope.")]
    if len(dirs) != 1:
        fail(f"expected one run directory in {tmp}, found {len(dirs)}")
    return os.path.join(tmp, dirs[0])


def analyze_once(binary, trace, out, extra):
    """One run; returns (events, cpu_s of the whole process, open_s, pass_s, maxrss_kib)."""
    proc = subprocess.Popen([binary, trace, "--out", out] + extra,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        fail(f"{binary} exited {proc.returncode}: {err.strip()[:200]}")
    with open(os.path.join(out, "memscope_performance.json")) as f:
        a = json.load(f)["analysis"]
    return (a["events"], usage.ru_utime + usage.ru_stime, a["open_s"], a["pass_s"],
            usage.ru_maxrss)


def summarize(binary, mode, runs):
    ev = runs[0][0]
    cpu = [c for _, c, _, _, _ in runs]
    wall = [o + s for _, _, o, s, _ in runs]
    return {"binary": binary, "mode": mode, "events": ev, "runs": len(runs),
            "events_per_cpu_s_median": ev / statistics.median(cpu),
            "events_per_cpu_s_best": ev / min(cpu),
            "cpu_s_median": statistics.median(cpu),
            "open_pass_events_per_s_median": ev / statistics.median(wall),
            "peak_rss_kib": max(r for _, _, _, _, r in runs),
            "raw": [{"cpu_s": c, "open_s": o, "pass_s": s} for _, c, o, s, _ in runs]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(here, "..", "build"))
    p.add_argument("--runs", type=int, default=11)
    p.add_argument("--events", type=int, default=8000000,
                   help="about this many events: ms-bench-workload 4 EVENTS/8 (default 8M)")
    p.add_argument("--trace", help="analyze this run directory instead of making one")
    p.add_argument("--compare", help="another memscope-analyze, run interleaved")
    p.add_argument("--json", help="also write every run's figures to this file")
    args = p.parse_args()
    if args.runs < 1:
        fail("--runs must be at least 1")
    pairs = args.events // (2 * THREADS)
    if pairs < 1:
        fail(f"--events must be at least {2 * THREADS}")
    mine = os.path.join(args.build, "analysis", "memscope-analyze")
    binaries = [mine] + ([args.compare] if args.compare else [])
    needed = binaries + ([] if args.trace else [os.path.join(args.build, "tracker", "libmemscope.so")])
    if args.trace and not os.path.isdir(args.trace):
        fail(f"{args.trace}: not a directory")
    for b in needed:
        if not os.path.exists(b):
            fail(f"{b} not found (build first, or give --build)")
    tmp = tempfile.mkdtemp(prefix="ms-anaspeed-")
    try:
        trace = args.trace or make_trace(args.build, tmp, pairs)
        runs = {(b, m): [] for b in binaries for m, _ in MODES}
        for _ in range(args.runs):
            for b in binaries:
                for m, extra in MODES:
                    runs[(b, m)].append(analyze_once(b, trace, os.path.join(tmp, "out"), extra))
    finally:
        shutil.rmtree(tmp)
    report = []
    for b in binaries:
        print(b)
        for m, _ in MODES:
            row = summarize(b, m, runs[(b, m)])
            report.append(row)
            print(f"  {m:>10}: {row['events']:,} events, {row['runs']} runs: "
                  f"{row['events_per_cpu_s_median'] / 1e6:.2f} M events/CPU-s median, "
                  f"{row['events_per_cpu_s_best'] / 1e6:.2f} M best "
                  f"({row['cpu_s_median']:.3f} CPU-s); open + pass "
                  f"{row['open_pass_events_per_s_median'] / 1e6:.2f} M/s; peak RSS "
                  f"{row['peak_rss_kib'] / 1024:.1f} MiB; target >= {TARGET / 1e6:.0f} M: "
                  f"{'met' if row['events_per_cpu_s_median'] >= TARGET else 'MISSED'} (median)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"target_events_per_cpu_s": TARGET, "pairs_per_thread": pairs,
                       "threads": THREADS, "rows": report}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
