#!/usr/bin/env python3
"""sampled_accuracy.py: how close `bytes:N` sampling comes to the full run (issue 3).

Runs bench's 4-thread workload (ms-bench-workload 4 PAIRS LIVE) once in full mode and RUNS
times with MEMSCOPE_SAMPLE=bytes:N, for each heap size LIVE (blocks kept live per thread),
analyzes every trace with memscope-analyze and compares the sampled estimates of allocated
bytes and peak live bytes with the full run's exact figures: the error in percent and
whether the reported ci95 covers the exact value. Nothing is modelled: every figure is read
from the summary.json of a real run.

A heap size "meets" the target when every sampled run lands within --target percent on both
figures and the intervals cover as often as 95 % intervals should: a count of covering runs
that a true 95 % interval would give with probability below 1 % (binomial) is a miss, so 9 of
10 is fine and 6 of 10 is not. The relative standard error of an instant's live-bytes
estimate is about sqrt(N / L) for L live bytes, printed beside each heap so a miss can be
told from a defect: the peak is estimable to 5 % only when L is some hundreds of N.

  bench/sampled_accuracy.py [--build DIR] [--runs K] [--live 64,262144] [--pairs P]
                            [--sample-bytes N] [--target PCT] [--json FILE]

Exit status: 0 when it ran (met or not: the table and the JSON say which), 2 on an error
(a missing program, a run that failed), with one line on stderr.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile


def die(msg):
    print(f"sampled_accuracy: {msg}", file=sys.stderr)
    sys.exit(2)


def run_traced(args, tmp, tag, live, sample):
    """Runs the workload under the tracker; returns the analyzed summary.json as a dict."""
    out = os.path.join(tmp, tag)
    os.makedirs(out)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMSCOPE_") and k != "LD_PRELOAD"}
    env.update(LD_PRELOAD=args.lib, MEMSCOPE_OUT=out, MEMSCOPE_SAMPLE=sample)
    cmd = [args.workload, "4", str(args.pairs), str(live)]
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        die(f"{' '.join(cmd)} ({sample}) exited {r.returncode}: {r.stderr.strip()[:200]}")
    runs = [d for d in os.listdir(out) if d.startswith("memscope.")]
    if len(runs) != 1:
        die(f"{tag}: expected one run directory in {out}, found {len(runs)}")
    run_dir = os.path.join(out, runs[0])
    r = subprocess.run([args.analyze, run_dir, "--out", run_dir, "--no-symbols",
                        "--no-details"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        die(f"memscope-analyze {run_dir} exited {r.returncode}: {r.stderr.strip()[:200]}")
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    shutil.rmtree(out)  # a full trace of a large heap is tens of MB
    return summary


def compare(est, exact, target):
    """One estimate (mode.estimates entry) against the exact figure."""
    value = est["value"]
    low, high = est["ci95"] if est.get("ci95") else (None, None)
    err = 100.0 * (value - exact) / exact if exact else float("nan")
    covered = low is not None and low <= exact <= high
    return {"exact": exact, "value": value, "error_pct": err, "ci95": [low, high],
            "std_error": est.get("std_error"), "covered": covered,
            "within_target": abs(err) <= target}


def coverage_plausible(covered, runs, level=0.95, alpha=0.01):
    """False when `covered` of `runs` intervals covering is below what `level` intervals give
    with probability alpha: P(X <= covered) < alpha for X ~ Binomial(runs, level)."""
    cdf = sum(math.comb(runs, k) * level ** k * (1 - level) ** (runs - k)
              for k in range(covered + 1))
    return cdf >= alpha


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(here, "..", "build"),
                   help="build tree holding tracker/, analysis/ and bench/ (default ../build)")
    p.add_argument("--runs", type=int, default=5, help="sampled runs per heap size (5)")
    p.add_argument("--live", default="64,262144",
                   help="blocks kept live per thread, comma-separated (64,262144)")
    p.add_argument("--pairs", type=int, default=1000000, help="malloc/free pairs per thread")
    p.add_argument("--sample-bytes", type=int, default=524288, help="N of bytes:N (524288)")
    p.add_argument("--target", type=float, default=5.0, help="target error, percent (5)")
    p.add_argument("--json", help="also write every figure to this file")
    args = p.parse_args()
    if args.runs < 1 or args.pairs < 1 or args.sample_bytes < 1:
        die("--runs, --pairs and --sample-bytes must be at least 1")
    try:
        lives = [int(x) for x in args.live.split(",")]
    except ValueError:
        die(f"--live wants comma-separated block counts, not '{args.live}'")
    args.lib = os.path.join(args.build, "tracker", "libmemscope.so")
    args.analyze = os.path.join(args.build, "analysis", "memscope-analyze")
    args.workload = os.path.join(args.build, "bench", "ms-bench-workload")
    for path in (args.lib, args.analyze, args.workload):
        if not os.path.exists(path):
            die(f"{path} not found (build first, or give --build)")

    sample = f"bytes:{args.sample_bytes}"
    results = []
    with tempfile.TemporaryDirectory(prefix="ms-sampacc-") as tmp:
        for live in lives:
            full = run_traced(args, tmp, f"full-{live}", live, "all")
            exact = {"allocated_bytes": full["totals"]["allocated_bytes"],
                     "peak_live_bytes": full["totals"]["peak_live_bytes"]}
            rel_se = math.sqrt(args.sample_bytes / exact["peak_live_bytes"])
            runs = []
            for k in range(args.runs):
                s = run_traced(args, tmp, f"s{k}-{live}", live, sample)
                ests = s["mode"]["estimates"]
                runs.append({fig: compare(ests[fig], exact[fig], args.target)
                             for fig in ("allocated_bytes", "peak_live_bytes")})
            met = all(r[f]["within_target"] for r in runs for f in r) and all(
                coverage_plausible(sum(r[f]["covered"] for r in runs), len(runs))
                for f in ("allocated_bytes", "peak_live_bytes"))
            results.append({"live_blocks_per_thread": live, "exact": exact,
                            "instant_relative_std_error": rel_se, "runs": runs, "met": met})

    print(f"sampled accuracy: ms-bench-workload 4 {args.pairs} LIVE, {sample}, "
          f"{args.runs} sampled runs per heap, target +-{args.target:g} % and ci95 covering")
    print(f"{'LIVE':>8} {'exact peak':>14} {'sqrt(N/L)':>9}  {'figure':<16} "
          f"{'errors, % (per run)':<44} covered")
    for r in results:
        for i, fig in enumerate(("allocated_bytes", "peak_live_bytes")):
            errs = " ".join(f"{x[fig]['error_pct']:+.1f}" for x in r["runs"])
            cov = sum(x[fig]["covered"] for x in r["runs"])
            head = (f"{r['live_blocks_per_thread']:>8} {r['exact']['peak_live_bytes']:>14,} "
                    f"{100 * r['instant_relative_std_error']:>8.1f}%" if i == 0
                    else " " * 33)
            print(f"{head}  {fig:<16} {errs:<44} {cov}/{len(r['runs'])}")
        print(f"{'':33}  -> {'met' if r['met'] else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"workload": f"ms-bench-workload 4 {args.pairs} LIVE", "sample": sample,
                       "target_pct": args.target, "heaps": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
