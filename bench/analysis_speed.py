#!/usr/bin/env python3
"""analysis_speed.py: how fast memscope-analyze reads a 10 M-event trace (issue 3).

Makes the trace once (ms-bench-workload 4 1250000 under the tracker: 4 threads, 10,000,014
events, ~74 MB), then runs memscope-analyze on it --runs times (--no-symbols, so libdw's
loading of debug info is left out; the pass itself never symbolizes) and reads each run's own
timing from its memscope_performance.json: events / (open + pass) on one core, and the pass
alone. With --compare OTHER, OTHER (another build's memscope-analyze) runs interleaved with
this one, run for run, so both see the same machine: this machine's speed drifts by tens of
percent from minute to minute, and only figures taken in the same minutes compare.

  bench/analysis_speed.py [--build DIR] [--runs K] [--compare OTHER_ANALYZE] [--json FILE]

Prints, per binary, the median and best events/s and the peak RSS (ru_maxrss of the runs).
Exit status 0 when it ran; 2 with one line on stderr on an error.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

TARGET = 10e6  # events per second, issue 3


def fail(msg):
    print(f"analysis_speed: {msg}", file=sys.stderr)
    sys.exit(2)


def make_trace(build, tmp):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMSCOPE_") and k != "LD_PRELOAD"}
    env["LD_PRELOAD"] = os.path.join(build, "tracker", "libmemscope.so")
    env["MEMSCOPE_OUT"] = tmp
    prog = [os.path.join(build, "bench", "ms-bench-workload"), "4", "1250000"]
    if subprocess.run(prog, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        fail(f"{' '.join(prog)} failed under the tracker")
    dirs = [d for d in os.listdir(tmp) if d.startswith("memscope.")]
    if len(dirs) != 1:
        fail(f"expected one run directory in {tmp}, found {len(dirs)}")
    return os.path.join(tmp, dirs[0])


def analyze_once(binary, trace, out):
    """One run; returns (events, open_s, pass_s, maxrss_kib of that run alone)."""
    proc = subprocess.Popen([binary, trace, "--out", out, "--no-symbols"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        fail(f"{binary} exited {proc.returncode}: {err.strip()[:200]}")
    with open(os.path.join(out, "memscope_performance.json")) as f:
        a = json.load(f)["analysis"]
    return a["events"], a["open_s"], a["pass_s"], usage.ru_maxrss


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(here, "..", "build"))
    p.add_argument("--runs", type=int, default=11)
    p.add_argument("--compare", help="another memscope-analyze, run interleaved")
    p.add_argument("--json", help="also write every run's figures to this file")
    args = p.parse_args()
    if args.runs < 1:
        fail("--runs must be at least 1")
    mine = os.path.join(args.build, "analysis", "memscope-analyze")
    binaries = [mine] + ([args.compare] if args.compare else [])
    for b in binaries + [os.path.join(args.build, "tracker", "libmemscope.so")]:
        if not os.path.exists(b):
            fail(f"{b} not found (build first, or give --build)")
    tmp = tempfile.mkdtemp(prefix="ms-anaspeed-")
    try:
        trace = make_trace(args.build, tmp)
        runs = {b: [] for b in binaries}
        for _ in range(args.runs):
            for b in binaries:
                runs[b].append(analyze_once(b, trace, os.path.join(tmp, "out")))
    finally:
        shutil.rmtree(tmp)
    report = []
    for b in binaries:
        ev = runs[b][0][0]
        total = [o + s for _, o, s, _ in runs[b]]
        pas = [s for _, _, s, _ in runs[b]]
        row = {"binary": b, "events": ev, "runs": len(total),
               "events_per_s_median": ev / statistics.median(total),
               "events_per_s_best": ev / min(total),
               "pass_events_per_s_median": ev / statistics.median(pas),
               "open_s_median": statistics.median(o for _, o, _, _ in runs[b]),
               "peak_rss_kib": max(r for _, _, _, r in runs[b]),
               "raw": [{"open_s": o, "pass_s": s} for _, o, s, _ in runs[b]]}
        report.append(row)
        print(f"{b}\n  {ev:,} events, {len(total)} runs: open + pass "
              f"{row['events_per_s_median'] / 1e6:.2f} M events/s median, "
              f"{row['events_per_s_best'] / 1e6:.2f} M best; pass alone "
              f"{row['pass_events_per_s_median'] / 1e6:.2f} M median; open "
              f"{row['open_s_median']:.3f} s; peak RSS {row['peak_rss_kib'] / 1024:.1f} MiB; "
              f"target >= {TARGET / 1e6:.0f} M: "
              f"{'met' if row['events_per_s_median'] >= TARGET else 'MISSED'} (median)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"target_events_per_s": TARGET, "binaries": report}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
