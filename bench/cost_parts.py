#!/usr/bin/env python3
"""cost_parts.py: where the tracker's added time goes without stacks, stage by stage (issue 12).

Builds the tracker and its four cost-attribution builds (libmemscope_ablate_K.so, MS_ABLATE=K
in tracker/ms_internal.h: each drops one more stage of the no-stack path, from the end) and
runs them in one interleaved cost_report.py run, configuration nostack. Each round measures
every library against its own native run; a stage's cost is, round by round, the added time
of the build that has the stage minus that of the build without it in the same round, per
allocator call (dispatch: the last build against its own native run):

  write     the tracker          - no_write   (the stage's write(2) to the thread file)
  encode    no_write             - no_encode  (encoding the ring's records into chunks)
  record    no_encode            - no_record  (the 32-byte record in the ring, its commit)
  clock     no_record            - no_clock   (rdtsc)
  dispatch  no_clock             - native     (hook dispatch, state byte, counters)

A profile cannot give these: its sample lands one instruction after rdtsc, and the encoder's
time is caused by the hooks' records but spent at the flush. Medians of per-round
differences with their 95 % interval (cost_report.median_ci95).

  bench/cost_parts.py [--build DIR] [--repeat N] [--programs workload,sqlite3,calls]
                      [--quick] [--no-build] [--json FILE]

Exit status 0 when it ran; 2 with one line on stderr on bad options, a failed build or a
failed run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cost_report  # noqa: E402  (its run loop, statistics and option checks)

# The libraries, each with one stage fewer than the one before (MS_ABLATE = index).
LIBS = ["tracker", "no_write", "no_encode", "no_record", "no_clock"]
STAGES = ["write", "encode", "record", "clock", "dispatch"]
PROGRAMS = ["workload", "sqlite3", "calls"]


def fail(msg):
    print(f"cost_parts: {msg}", file=sys.stderr)
    sys.exit(2)


def lib_path(build, k):
    name = "libmemscope.so" if k == 0 else f"libmemscope_ablate_{k}.so"
    return os.path.join(build, "tracker", name)


def parse_options():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(cost_report.SOURCE, "build"))
    p.add_argument("--repeat", type=int, default=21, help="rounds (default 21)")
    p.add_argument("--programs", default="workload", help="comma list of " + ",".join(PROGRAMS))
    p.add_argument("--quick", action="store_true", help="cost_report's small sizes")
    p.add_argument("--no-build", action="store_true", help="use the libraries as they are")
    p.add_argument("--json", help="write every round and figure to this file")
    try:
        args = p.parse_args()
    except SystemExit as e:
        sys.exit(2 if e.code else 0)
    programs = args.programs.split(",")
    for name in programs:
        if name not in PROGRAMS:
            fail(f"unknown program '{name}' (one of {','.join(PROGRAMS)})")
    if not 1 <= args.repeat <= 1000:
        fail("--repeat must be from 1 to 1000")
    args.build = os.path.abspath(args.build)
    if not os.path.isfile(os.path.join(args.build, "CMakeCache.txt")):
        fail(f"{args.build} is not a configured build tree (cmake -S . -B {args.build})")
    return args, programs


def build_libs(build):
    targets = ["memscope"] + [f"memscope_ablate_{k}" for k in range(1, len(LIBS))]
    proc = subprocess.run(["cmake", "--build", build, "--target"] + targets,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
        fail(f"building {' '.join(targets)} failed: {last[0] if last else 'no output'}")


def stage_figures(doc, prog):
    """Per library its added ns a call (against its own pair's native run); per stage the
    difference of two libraries' tool runs in the same round (no native run in between, so
    less of the machine's drift), split into user and system time. Medians over rounds,
    with their 95 % intervals."""
    den = next(f["per_event_denominator"] for f in doc["figures"]
               if f["program"] == prog and f["lib"] == "tracker")
    runs = {lib: {} for lib in LIBS}
    for run in doc["runs"]:
        if run["tool"]["program"] == prog:
            runs[run["lib"]][run["round"]] = run
    rounds = sorted(set.intersection(*(set(v) for v in runs.values())))
    out = {"program": prog, "per_call_denominator": den, "rounds": len(rounds),
           "added_ns": {}, "stages": {}}

    def summary(vals):
        return {"median": cost_report.med(vals), "ci95": cost_report.median_ci95(vals)}

    for lib in LIBS:
        out["added_ns"][lib] = summary([(runs[lib][r]["tool"]["cpu_s"] -
                                         runs[lib][r]["native"]["cpu_s"]) * 1e9 / den
                                        for r in rounds])
    for i, stage in enumerate(STAGES):
        fig = {}
        for part in ("cpu_s", "user_s", "sys_s"):
            hi = [runs[LIBS[i]][r]["tool"][part] for r in rounds]
            lo = [runs[LIBS[i + 1]][r]["tool"][part] if i + 1 < len(LIBS)
                  else runs[LIBS[i]][r]["native"][part] for r in rounds]
            vals = [(a - b) * 1e9 / den for a, b in zip(hi, lo)]
            fig[part.replace("_s", "")] = summary(vals)
            if part == "cpu_s":
                fig["per_round"] = vals
        out["stages"][stage] = fig
    return out


def print_table(fig):
    f = cost_report.fmt
    ci = lambda c: f"{f(c[0])} – {f(c[1])}" if c else "n/a"  # noqa: E731
    print(f"\n### {fig['program']}: added ns a call, {fig['rounds']} rounds "
          f"(per call: {fig['per_call_denominator']:.0f} calls)\n")
    print("| build | added ns a call | 95 % CI |")
    print("|---|---|---|")
    for lib in LIBS:
        a = fig["added_ns"][lib]
        print(f"| {lib} | {f(a['median'])} | {ci(a['ci95'])} |")
    print("\n| stage | ns a call (CPU) | 95 % CI | user | system |")
    print("|---|---|---|---|---|")
    for stage in STAGES:
        s = fig["stages"][stage]
        print(f"| {stage} | {f(s['cpu']['median'])} | {ci(s['cpu']['ci95'])} | "
              f"{f(s['user']['median'])} | {f(s['sys']['median'], '.2f')} |")


def main():
    args, programs = parse_options()
    if not args.no_build:
        build_libs(args.build)
    libs = [(lib, lib_path(args.build, k)) for k, lib in enumerate(LIBS)]
    for label, path in libs:
        if not os.path.isfile(path):
            fail(f"{path} ({label}) not found (run without --no-build)")
    with tempfile.TemporaryDirectory(prefix="ms-cost-parts-") as tmp:
        rep = os.path.join(tmp, "report.json")
        argv = [sys.executable, os.path.join(HERE, "cost_report.py"), "--build", args.build,
                "--repeat", str(args.repeat), "--configs", "nostack", "--no-perf",
                "--programs", ",".join(programs), "--json", rep]
        argv += ["--quick"] if args.quick else []
        for label, path in libs:
            argv += ["--lib", f"{label}={path}"]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            fail(f"cost_report.py exited {proc.returncode}")
        with open(rep) as f:
            doc = json.load(f)
    print(proc.stdout, end="")
    figures = [stage_figures(doc, prog) for prog in programs]
    print("\n## Stages (cost_parts.py)")
    for fig in figures:
        print_table(fig)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"report": doc, "stages": figures}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
