#!/usr/bin/env python3
"""cost_report_check.py: ctest smoke test of cost_report.py (no timing assertions).

  cost_report_check.py COST_REPORT BUILD LIB

Runs `cost_report.py --quick --configs native,full --programs workload --no-perf` on LIB and
checks what does not depend on the machine's speed: the full run recorded every call the
workload's source makes (computed here from its arguments, plus at most a few start-up calls
of libc), natives traced nothing, the ratio and added time are the medians of the raw pairs,
the medians' 95 % intervals are the right order statistics, and bad options end with exit status 2 and one line. Exit 0 when all hold, 1 otherwise.
"""
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

# ms-bench-workload THREADS PAIRS with --quick: each worker makes PAIRS mallocs and PAIRS
# frees; main makes 2 callocs, one window malloc and free per thread, and 2 frees.
THREADS, PAIRS = 4, 100000
EXPECTED_CALLS = 2 * THREADS * PAIRS + 2 * THREADS + 4
STARTUP_SLACK = 16  # libc's own calls (stdio buffer, ...) that the tracker also records

failures = []


def check(ok, what, expected, actual):
    print(f"{'ok  ' if ok else 'FAIL'} {what}: expected {expected}, got {actual}")
    if not ok:
        failures.append(what)


def main():
    if len(sys.argv) != 4:
        print("usage: cost_report_check.py COST_REPORT BUILD LIB", file=sys.stderr)
        return 2
    tool, build, lib = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="ms-cost-check-") as tmp:
        out = os.path.join(tmp, "r.json")
        proc = subprocess.run([sys.executable, tool, "--quick", "--configs", "native,full",
                               "--programs", "workload", "--no-perf", "--build", build,
                               "--lib", f"t={lib}", "--json", out],
                              capture_output=True, text=True)
        check(proc.returncode == 0, "exit status", 0, proc.returncode)
        if proc.returncode != 0:
            print(proc.stderr)
            return 1
        with open(out) as f:
            doc = json.load(f)
    argv = doc["programs"]["workload"]["argv"]
    check(argv[1:] == [str(THREADS), str(PAIRS)], "workload arguments",
          [str(THREADS), str(PAIRS)], argv[1:])
    runs = doc["runs"]
    check(len(runs) == 1, "pairs (--quick: one job x 1)", 1, len(runs))
    for pair in runs:
        ev = pair["tool"]["events"]
        check(ev is not None and EXPECTED_CALLS <= ev <= EXPECTED_CALLS + STARTUP_SLACK,
              "full-mode events = workload calls + start-up",
              f"{EXPECTED_CALLS}..{EXPECTED_CALLS + STARTUP_SLACK}", ev)
        check(pair["native"]["events"] is None and pair["native"]["trace_bytes"] is None,
              "native run has no trace", None, pair["native"]["events"])
        check(pair["tool"]["trace_bytes"] > ev, "trace has more than a byte an event",
              f"> {ev}", pair["tool"]["trace_bytes"])
        check(pair["native"]["cpu_s"] > 0 and pair["tool"]["cpu_s"] > 0,
              "CPU time measured for both runs", "> 0",
              (pair["native"]["cpu_s"], pair["tool"]["cpu_s"]))
    fig = doc["figures"][0]
    ratio = statistics.median(p["tool"]["cpu_s"] / p["native"]["cpu_s"] for p in runs)
    added = statistics.median(p["tool"]["cpu_s"] - p["native"]["cpu_s"] for p in runs)
    check(abs(fig["cpu_ratio"] - ratio) < 1e-12, "cpu_ratio = median of pair ratios", ratio,
          fig["cpu_ratio"])
    ev = statistics.median(p["tool"]["events"] for p in runs)
    check(abs(fig["added_ns_per_event"] - added * 1e9 / ev) < 1e-6,
          "added ns/event = median added CPU / meta.txt events", added * 1e9 / ev,
          fig["added_ns_per_event"])
    check(fig["added_ns_per_event_ci95"] is None and fig["cpu_ratio_ci95"] is None,
          "no 95 % CI from one pair", None, fig["added_ns_per_event_ci95"])
    # The interval itself, on values whose order statistics are known: 101 values 0..100
    # (shuffled) have 1-based ranks floor((101 - 1.96 sqrt 101) / 2) = 40 and
    # ceil(1 + (101 + 1.96 sqrt 101) / 2) = 62, i.e. the values 39 and 61; 6 values give
    # ranks 1 and 6 (the extremes); 5 give none.
    spec = importlib.util.spec_from_file_location("cost_report", tool)
    cr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cr)
    vals = [(i * 37) % 101 for i in range(101)]
    check(cr.median_ci95(vals) == [39, 61], "median CI of 0..100", [39, 61], cr.median_ci95(vals))
    check(cr.median_ci95([5, 1, 4, 2, 6, 3]) == [1, 6], "median CI of 6 values", [1, 6],
          cr.median_ci95([5, 1, 4, 2, 6, 3]))
    check(cr.median_ci95([1, 2, 3, 4, 5]) is None, "no median CI from 5 values", None,
          cr.median_ci95([1, 2, 3, 4, 5]))
    # Bad options: exit 2, exactly one line on stderr, before running anything.
    for bad in (["--configs", "bogus"], ["--lib", "nolabel"], ["--repeat", "0"],
                ["--lib", f"x={build}/does-not-exist.so"]):
        proc = subprocess.run([sys.executable, tool, "--build", build] + bad,
                              capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        check(proc.returncode == 2 and len(lines) == 1, f"bad option {' '.join(bad)}",
              "exit 2, one line", f"exit {proc.returncode}, {len(lines)} lines")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
