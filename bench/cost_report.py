#!/usr/bin/env python3
"""cost_report.py: side-by-side cost of memscope and heaptrack against native (issue 12).

One interleaved run over programs x configurations x tracker libraries. Every repeat of a
(program, configuration, library) job is a *pair*: a native run of the program and the run
under the tool, back to back (native first on even rounds, tool first on odd ones, so an
order effect cancels). Jobs go round-robin, the starting job rotated each round, so every
job sees every phase of this shared machine's drifting speed. Figures are medians over
pairs of per-pair differences and ratios, never differences of medians taken minutes apart.
Each median comes with its 95 % confidence interval (order statistics, from 6 pairs up).

  bench/cost_report.py [--build DIR] [--lib LABEL=PATH]... [--repeat N] [--quick]
                       [--programs workload,sqlite3,threads,calls]
                       [--configs native,full,nostack,sampled,untracked,heaptrack]
                       [--no-perf] [--heaptrack PATH] [--json FILE]

Time is CPU time of the whole process tree: user + system from os.wait4's rusage of the
child, which includes every descendant the child waited for. For heaptrack that is the
launcher shell script, the program under heaptrack's injector, heaptrack_interpret and its
zstd compressor (the script waits for them); for memscope it is the program with the
tracker's writes (there is no other process). Exit status 0 when it ran; 2 with one line on
stderr on bad options, a missing program or library, or a failed run.
"""
import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)

# Tracker configurations: every MEMSCOPE_* variable that decides what a mode means is set
# explicitly, and the caller's own MEMSCOPE_* / LD_PRELOAD are removed (clean_env).
CONFIGS = {
    "full": {"MEMSCOPE_STACK_DEPTH": "16", "MEMSCOPE_SAMPLE": "all", "MEMSCOPE_THREADS": "all"},
    "nostack": {"MEMSCOPE_STACK_DEPTH": "0", "MEMSCOPE_SAMPLE": "all", "MEMSCOPE_THREADS": "all"},
    "sampled": {"MEMSCOPE_STACK_DEPTH": "16", "MEMSCOPE_SAMPLE": "bytes:524288",
                "MEMSCOPE_THREADS": "all"},
    "untracked": {"MEMSCOPE_STACK_DEPTH": "16", "MEMSCOPE_SAMPLE": "all",
                  "MEMSCOPE_THREADS": "none"},
    "heaptrack": None,
}
CONFIG_ORDER = ["native", "full", "nostack", "sampled", "untracked", "heaptrack"]
PROGRAM_ORDER = ["workload", "sqlite3", "threads", "calls"]
DEFAULT_PROGRAMS = ["workload", "sqlite3", "threads"]
RUN_TIMEOUT_S = 600
PERF_PERIOD_NS = 100000  # cpu-clock sample every 100 us of CPU (10 kHz)

# Leaf-sample groups of the perf breakdown. Symbols of glibc's allocator (its public entry
# points and the internal helpers they call) count as "libc malloc+free"; the rest of libc
# (memcpy, stdio, ...) is "other".
LIBC_MALLOC_SYM = re.compile(r"malloc|free|realloc|calloc|memalign|tcache|unlink_chunk|"
                             r"arena|consolidate|sysmalloc|systrim|_int_|mremap_chunk|"
                             r"munmap_chunk|heap_trim")
GROUPS = ["libunwind", "tracker", "libc malloc+free", "kernel", "program", "other"]


def fail(msg):
    print(f"cost_report: {msg}", file=sys.stderr)
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the usage too)
        fail(f"{message} (see --help)")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def clean_env():
    return {k: v for k, v in os.environ.items()
            if not k.startswith("MEMSCOPE_") and k != "LD_PRELOAD"}


def program_specs(args):
    """Per program: argv, stdin file, and the allocator calls the program itself makes
    (None when not known from its source; then the memscope full run's events stand in)."""
    bindir = os.path.join(args.build, "bench")
    wl_threads, wl_pairs = (4, 100000) if args.quick else (4, 1000000)
    t_threads = 32 if args.quick else 200
    calls_pairs, calls_rounds = (20000, 10) if args.quick else (150000, 20)
    return {
        # Per worker: PAIRS mallocs and PAIRS frees (workload.c). main: calloc x2, one
        # window malloc and free per thread, free x2. libc's own start-up and stdio buffer
        # are not counted here: they are the "start-up" part of the tracker's events.
        "workload": {"argv": [os.path.join(bindir, "ms-bench-workload"), str(wl_threads),
                              str(wl_pairs)], "stdin": None,
                     "calls": 2 * wl_threads * wl_pairs + 2 * wl_threads + 4},
        "sqlite3": {"argv": ["/usr/bin/sqlite3", ":memory:"],
                    "stdin": os.path.join(SOURCE, "tests", "oracle", "sqlite_200k.sql"),
                    "calls": None},
        "threads": {"argv": [os.path.join(bindir, "ms-bench-calls"), "threads",
                             str(t_threads)], "stdin": None, "calls": None,
                    "threads": t_threads},
        "calls": {"argv": [os.path.join(bindir, "ms-bench-calls"), "calls", str(calls_pairs),
                           str(calls_rounds)], "stdin": None, "calls": None},
    }


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            total += st.st_size
    return total


def read_memscope_trace(out):
    """Events (sum of meta.txt events= over run directories) and bytes of every file in
    them (thread files, meta.txt, maps.txt); None, None when the tracker wrote nothing."""
    runs = [d for d in os.listdir(out) if d.startswith("memscope.")]
    if not runs:
        return None, None, None
    events, size, bin_size = 0, 0, 0
    for d in runs:
        path = os.path.join(out, d)
        with open(os.path.join(path, "meta.txt")) as f:
            for line in f:
                if line.startswith("events="):
                    events += int(line.split("=", 1)[1])
        size += dir_bytes(path)
        bin_size += sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path)
                        if n.endswith(".bin"))
    return events, size, bin_size


def parse_kv(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)=([0-9.]+)$", line.strip())
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def run_once(args, prog, spec, config, lib, perf_data=None):
    """One run of PROG natively (config "native") or under a tool. Returns a dict of raw
    figures; ends the report with one line when the run fails."""
    tmp = tempfile.mkdtemp(prefix="ms-cost-")
    try:
        env = clean_env()
        argv = list(spec["argv"])
        if config == "heaptrack":
            argv = [args.heaptrack, "-o", os.path.join(tmp, "ht")] + argv
        elif config != "native":
            env["LD_PRELOAD"] = lib
            env["MEMSCOPE_OUT"] = tmp
            env.update(CONFIGS[config])
        if perf_data:
            argv = ["perf", "record", "-e", "cpu-clock", "-c", str(PERF_PERIOD_NS), "-q",
                    "-o", perf_data, "--"] + argv
        stdin = open(spec["stdin"], "rb") if spec["stdin"] else subprocess.DEVNULL
        out_path, err_path = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, env=env,
                                    start_new_session=True)
            deadline = t0 + RUN_TIMEOUT_S
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, 9)
                    fail(f"{prog}/{config} took over {RUN_TIMEOUT_S} s: killed")
                time.sleep(0.005)
            wall = time.monotonic() - t0
        if stdin is not subprocess.DEVNULL:
            stdin.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        with open(err_path, errors="replace") as f:
            err_text = f.read()
        if proc.returncode != 0:
            line = err_text.strip().splitlines()[:1]
            fail(f"{prog}/{config} ({lib or 'no lib'}) exited {proc.returncode}: "
                 f"{line[0] if line else 'no stderr'}")
        with open(out_path, errors="replace") as f:
            kv = parse_kv(f.read())
        run = {"program": prog, "config": config, "lib": lib,
               "cpu_s": usage.ru_utime + usage.ru_stime, "user_s": usage.ru_utime,
               "sys_s": usage.ru_stime, "wall_s": wall, "maxrss_kib": usage.ru_maxrss,
               "events": None, "trace_bytes": None, "bin_bytes": None}
        if "ns_per_call" in kv:
            run["ns_per_call"] = kv["ns_per_call"]
            run["program_calls"] = kv.get("calls")
        if "rss_threads_kb" in kv:
            run["rss_growth_kib"] = kv["rss_threads_kb"] - kv["rss_before_kb"]
        if config == "heaptrack":
            zst = [n for n in os.listdir(tmp) if n.startswith("ht") and n.endswith(".zst")]
            if not zst:
                fail(f"{prog}/heaptrack wrote no .zst file: {err_text.strip()[:200]}")
            run["trace_bytes"] = sum(os.path.getsize(os.path.join(tmp, n)) for n in zst)
        elif config != "native":
            ev, size, bin_size = read_memscope_trace(tmp)
            if ev is None:
                fail(f"{prog}/{config}: {lib} wrote no run directory under MEMSCOPE_OUT "
                     f"(stderr: {err_text.strip()[:200] or 'empty'})")
            run.update(events=ev, trace_bytes=size, bin_bytes=bin_size)
        return run
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def median_ci95(values):
    """A 95 % confidence interval of the median of VALUES, distribution-free (order
    statistics: ranks floor((n - 1.96 sqrt n) / 2) and ceil(1 + (n + 1.96 sqrt n) / 2),
    1-based, as in Conover's Practical Nonparametric Statistics), or None below 6 values,
    where no such interval reaches 95 %. On this shared machine a job's per-pair figures
    spread over tens of ns an event: the interval says how far its median can be trusted."""
    v = sorted(x for x in values if x is not None)
    n = len(v)
    if n < 6:
        return None
    half = 1.96 * math.sqrt(n)
    lo = max(1, math.floor((n - half) / 2))
    hi = min(n, math.ceil(1 + (n + half) / 2))
    return [v[lo - 1], v[hi - 1]]


def perf_groups(perf_data, prog_names):
    """Samples per group from the leaf of each cpu-clock sample (self time, no call chain)."""
    text = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym,dso"],
                          capture_output=True, text=True).stdout
    counts = dict.fromkeys(GROUPS, 0)
    for line in text.splitlines():
        m = re.match(r"^\s*([0-9a-f]+)\s+(.*)\s+\((.*)\)\s*$", line)
        if not m:
            continue
        ip, sym, dso = m.groups()
        base = os.path.basename(dso)
        if dso.startswith("[kernel") or int(ip, 16) >= 0xffff800000000000:
            g = "kernel"
        elif "libunwind" in base:
            g = "libunwind"
        elif "libmemscope" in base or "heaptrack" in base:
            g = "tracker"
        elif base.startswith("libc.so") and LIBC_MALLOC_SYM.search(sym):
            g = "libc malloc+free"
        elif any(base == n or base.startswith(n + ".") for n in prog_names):
            g = "program"
        else:
            g = "other"
        counts[g] += 1
    return counts


def fmt(v, spec=".1f", none="n/a"):
    return none if v is None else format(v, spec)


def parse_options():
    """Options, checked before anything runs. Returns (args, repeat, programs, tools, libs,
    specs); ends with one line and exit status 2 on anything wrong or missing."""
    p = Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(SOURCE, "build"),
                   help="build tree with bench/ms-bench-* and tracker/ (default ../build)")
    p.add_argument("--lib", action="append", default=[], metavar="LABEL=PATH",
                   help="a libmemscope.so to measure (repeatable); default build=BUILD/tracker")
    p.add_argument("--repeat", type=int, help="pairs per job (default 5, --quick 1)")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    p.add_argument("--programs", help="comma list of " + ",".join(PROGRAM_ORDER) +
                   " (default " + ",".join(DEFAULT_PROGRAMS) + ")")
    p.add_argument("--configs", help="comma list of " + ",".join(CONFIG_ORDER) +
                   " (default all; native is always run as the pair's other half)")
    p.add_argument("--no-perf", action="store_true", help="skip the perf breakdown")
    p.add_argument("--heaptrack", default="/usr/bin/heaptrack")
    p.add_argument("--json", help="write every raw run and every figure to this file")
    args = p.parse_args()

    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    if repeat < 1 or repeat > 1000:
        fail("--repeat must be from 1 to 1000")
    programs = args.programs.split(",") if args.programs else DEFAULT_PROGRAMS
    configs = args.configs.split(",") if args.configs else CONFIG_ORDER
    for name in programs:
        if name not in PROGRAM_ORDER:
            fail(f"unknown program '{name}' (one of {','.join(PROGRAM_ORDER)})")
    for name in configs:
        if name not in CONFIG_ORDER:
            fail(f"unknown configuration '{name}' (one of {','.join(CONFIG_ORDER)})")
    programs = [x for x in PROGRAM_ORDER if x in programs]
    tools = [c for c in CONFIG_ORDER if c in configs and c != "native"]
    args.build = os.path.abspath(args.build)
    libs = []
    for item in args.lib or [f"build={os.path.join(args.build, 'tracker', 'libmemscope.so')}"]:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            fail(f"--lib wants LABEL=PATH, got '{item}'")
        if label in [l for l, _ in libs]:
            fail(f"--lib label '{label}' given twice")
        if not os.path.isfile(path):
            fail(f"library {path} ({label}) not found (build it, or give --lib LABEL=PATH)")
        libs.append((label, os.path.abspath(path)))
    specs = program_specs(args)
    for name in programs:
        exe = specs[name]["argv"][0]
        if not os.access(exe, os.X_OK):
            fail(f"{exe} not found (build the bench targets, or give --build)")
        if specs[name]["stdin"] and not os.path.isfile(specs[name]["stdin"]):
            fail(f"{specs[name]['stdin']} not found")
    if "heaptrack" in tools and not os.access(args.heaptrack, os.X_OK):
        fail(f"{args.heaptrack} not found (apt-get install heaptrack, or drop it from --configs)")
    if not args.no_perf and shutil.which("perf") is None:
        fail("perf not found (apt-get install linux-perf, or give --no-perf)")
    if not tools:
        fail("--configs names no tool to compare with native")
    return args, repeat, programs, tools, libs, specs


def run_rounds(args, jobs, specs, repeat, t_start):
    """REPEAT rounds, round-robin over JOBS (the first job rotated each round), one pair per
    job a round: native then tool on even rounds, tool then native on odd ones."""
    pairs = {j: [] for j in jobs}
    for r in range(repeat):
        for k in range(len(jobs)):
            job = jobs[(k + r) % len(jobs)]
            prog, config, _, lib = job
            order = [("native", None), (config, lib)]
            if r % 2:
                order.reverse()
            res = {c: run_once(args, prog, specs[prog], c, l) for c, l in order}
            pairs[job].append({"native": res["native"], "tool": res[config], "lib": job[2],
                               "tool_first": bool(r % 2)})
        print(f"cost_report: round {r + 1}/{repeat} done, {time.monotonic() - t_start:.0f} s",
              file=sys.stderr)
    return pairs


def program_calls(programs, specs, jobs, pairs):
    """The allocator calls each program makes: from its source (workload), its own output
    (calls), else the median events of memscope's full run of the same program (sqlite3)."""
    prog_calls, calls_source = {}, {}
    for prog in programs:
        if specs[prog]["calls"] is not None:
            prog_calls[prog], calls_source[prog] = specs[prog]["calls"], "program source"
        elif prog == "calls":
            prog_calls[prog] = med(pr["native"].get("program_calls") for j in jobs
                                   if j[0] == prog for pr in pairs[j])
            calls_source[prog] = "program output calls="
        else:
            full = [j for j in jobs if j[0] == prog and j[1] == "full"]
            prog_calls[prog] = med(pr["tool"]["events"] for pr in pairs[full[0]]) if full \
                else None
            calls_source[prog] = f"memscope full ({full[0][2]}) events" if full else \
                "unknown: no full run of this program"
    return prog_calls, calls_source


def job_figures(job, ps, specs, prog_calls, calls_source):
    """The figures of one job from its pairs PS: medians of per-pair ratios and differences."""
    prog, config, label, _ = job
    fig = {"program": prog, "config": config, "lib": label, "pairs": len(ps),
           "native_cpu_s": med(p["native"]["cpu_s"] for p in ps),
           "tool_cpu_s": med(p["tool"]["cpu_s"] for p in ps),
           "cpu_ratio": med(p["tool"]["cpu_s"] / p["native"]["cpu_s"] for p in ps),
           "added_cpu_s": med(p["tool"]["cpu_s"] - p["native"]["cpu_s"] for p in ps),
           "wall_ratio": med(p["tool"]["wall_s"] / p["native"]["wall_s"] for p in ps),
           "events": med(p["tool"]["events"] for p in ps),
           "trace_bytes": med(p["tool"]["trace_bytes"] for p in ps)}
    # Denominator: the trace's own events where the tool records every call (memscope full /
    # no stacks); the program's calls where it records few or none (sampled, untracked) or
    # reports no count (heaptrack).
    if config in ("full", "nostack") and fig["events"]:
        fig["per_event_denominator"], fig["denominator_source"] = fig["events"], \
            "meta.txt events="
    else:
        fig["per_event_denominator"] = prog_calls.get(prog)
        fig["denominator_source"] = calls_source.get(prog)
    den = fig["per_event_denominator"]
    fig["added_ns_per_event"] = fig["added_cpu_s"] * 1e9 / den if den else None
    per_pair = sorted((p["tool"]["cpu_s"] - p["native"]["cpu_s"]) * 1e9 / den
                      for p in ps) if den else []
    fig["added_ns_per_event_range"] = [per_pair[0], per_pair[-1]] if per_pair else None
    fig["added_ns_per_event_ci95"] = median_ci95(per_pair)
    fig["cpu_ratio_ci95"] = median_ci95(p["tool"]["cpu_s"] / p["native"]["cpu_s"] for p in ps)
    if prog == "calls":  # its own thread-CPU timing of the loop, start-up excluded
        per_pair = sorted(p["tool"]["ns_per_call"] - p["native"]["ns_per_call"] for p in ps)
        fig["added_ns_per_event"] = med(per_pair)
        fig["added_ns_per_event_range"] = [per_pair[0], per_pair[-1]]
        fig["added_ns_per_event_ci95"] = median_ci95(per_pair)
        fig["denominator_source"] = (fig["denominator_source"] or "") + \
            "; ns column: the loop's ns_per_call= (thread CPU, median round)"
    if config == "heaptrack":
        fig["bytes_per_event"] = fig["trace_bytes"] / den if den and fig["trace_bytes"] \
            else None
    else:
        fig["bytes_per_event"] = fig["trace_bytes"] / fig["events"] if fig["events"] else None
    if prog == "threads":
        t = specs[prog]["threads"]
        fig["kib_per_thread"] = med((p["tool"]["rss_growth_kib"] -
                                     p["native"]["rss_growth_kib"]) / t for p in ps)
    return fig


def perf_breakdown(args, programs, jobs, specs, figures):
    """One perf-recorded pair (native, then the tool) per job; samples grouped by leaf."""
    perf = []
    ptmp = tempfile.mkdtemp(prefix="ms-cost-perf-")
    try:
        for prog in programs:
            if prog == "threads":
                continue
            names = {os.path.basename(specs[prog]["argv"][0])}
            if prog == "sqlite3":
                names.add("libsqlite3.so")  # Debian's sqlite3 is a thin shell on it
            data = os.path.join(ptmp, "perf.data")
            for job in (j for j in jobs if j[0] == prog):
                # Its own native profile just before: "added" within a pair, as above.
                run_once(args, prog, specs[prog], "native", None, perf_data=data)
                native_counts = perf_groups(data, names)
                run_once(args, prog, specs[prog], job[1], job[3], perf_data=data)
                counts = perf_groups(data, names)
                fig = next(f for f in figures if (f["program"], f["config"], f["lib"]) == job[:3])
                den = fig["per_event_denominator"]
                total = sum(counts.values())
                row = {"program": prog, "config": job[1], "lib": job[2], "samples": counts,
                       "native_samples": native_counts, "period_ns": PERF_PERIOD_NS,
                       "events": den, "groups": {}}
                for g in GROUPS:
                    row["groups"][g] = {
                        "pct": 100.0 * counts[g] / total if total else None,
                        "ns_per_event": counts[g] * PERF_PERIOD_NS / den if den else None,
                        "added_ns_per_event": (counts[g] - native_counts[g]) *
                        PERF_PERIOD_NS / den if den else None}
                perf.append(row)
    finally:
        shutil.rmtree(ptmp, ignore_errors=True)
    return perf


def main():
    args, repeat, programs, tools, libs, specs = parse_options()
    jobs = []  # (program, config, lib label, lib path); heaptrack once per program
    for prog in programs:
        for c in tools:
            if c == "heaptrack":
                jobs.append((prog, c, "heaptrack", None))
            else:
                jobs.extend((prog, c, label, path) for label, path in libs)

    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_start = loadavg()
    t_start = time.monotonic()
    print(f"cost_report: {len(jobs)} jobs x {repeat} pairs, started {started}, "
          f"load average {load_start}", file=sys.stderr)
    pairs = run_rounds(args, jobs, specs, repeat, t_start)
    prog_calls, calls_source = program_calls(programs, specs, jobs, pairs)
    figures = [job_figures(j, pairs[j], specs, prog_calls, calls_source) for j in jobs]
    for fig in figures:  # heaptrack added / this row's added, same program
        ht = [f for f in figures if f["program"] == fig["program"] and f["config"] == "heaptrack"]
        fig["heaptrack_over_this"] = None
        # calls: the loop's own ns per call, as its ns column (heaptrack's whole-process time
        # there is mostly its start-up and heaptrack_interpret's).
        key = "added_ns_per_event" if fig["program"] == "calls" else "added_cpu_s"
        if ht and fig["config"] != "heaptrack" and fig[key] and fig[key] > 0:
            fig["heaptrack_over_this"] = ht[0][key] / fig[key]
    perf = [] if args.no_perf else perf_breakdown(args, programs, jobs, specs, figures)

    load_end = loadavg()
    elapsed = time.monotonic() - t_start
    print_report(figures, perf, programs, libs, repeat, started, load_start, load_end,
                 elapsed, prog_calls, calls_source, specs)
    if args.json:
        doc = {"started": started, "elapsed_s": elapsed, "loadavg_start": load_start,
               "loadavg_end": load_end, "cpus": os.cpu_count(), "repeat": repeat,
               "quick": args.quick, "libs": dict(libs), "heaptrack": args.heaptrack,
               "programs": {p: {"argv": specs[p]["argv"], "stdin": specs[p]["stdin"],
                                "calls": prog_calls.get(p),
                                "calls_source": calls_source.get(p)} for p in programs},
               "configs": {c: CONFIGS[c] for c in tools}, "figures": figures, "perf": perf,
               "runs": [dict(pr, round=i) for j in jobs for i, pr in enumerate(pairs[j])]}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


def print_report(figures, perf, programs, libs, repeat, started, load_start, load_end,
                 elapsed, prog_calls, calls_source, specs):
    print(f"# memscope cost report\n\nstarted {started}, {elapsed:.0f} s; {repeat} pairs per "
          f"job, interleaved; load average (1/5/15 min) {load_start} at start, {load_end} at "
          f"end; {os.cpu_count()} CPUs. CPU = user+sys of the whole process tree (wait4).")
    print("libraries: " + ", ".join(f"{l}={p}" for l, p in libs) + "\n")
    for prog in programs:
        rows = [f for f in figures if f["program"] == prog]
        cmd = " ".join(specs[prog]["argv"]) + (" < " + specs[prog]["stdin"]
                                               if specs[prog]["stdin"] else "")
        print(f"## {prog}: `{cmd}`\n")
        if prog == "threads":
            print("| config | lib | KiB per tracked thread (VmRSS growth, tool - native) / T |")
            print("|---|---|---|")
            for f in rows:
                print(f"| {f['config']} | {f['lib']} | {fmt(f.get('kib_per_thread'))} |")
            print()
            continue
        print(f"program calls: {fmt(prog_calls.get(prog), ',.0f')} ({calls_source.get(prog)})\n")
        per = "added ns/call (loop, thread CPU)" if prog == "calls" else "added ns/event"
        print(f"| config | lib | native CPU s | tool CPU s | CPU ratio (95 % CI) | {per} "
              "(95 % CI) | pairs' range | events (denominator) | bytes/event "
              "| heaptrack added / this |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for f in rows:
            rng = f["added_ns_per_event_range"]
            rng = f"{rng[0]:.1f} – {rng[1]:.1f}" if rng else "n/a"
            ci, rci = f.get("added_ns_per_event_ci95"), f.get("cpu_ratio_ci95")
            ci = f" ({ci[0]:.1f} – {ci[1]:.1f})" if ci else ""
            rci = f" ({rci[0]:.2f} – {rci[1]:.2f})" if rci else ""
            print(f"| {f['config']} | {f['lib']} | {fmt(f['native_cpu_s'], '.3f')} | "
                  f"{fmt(f['tool_cpu_s'], '.3f')} | {fmt(f['cpu_ratio'], '.2f')}x{rci} | "
                  f"{fmt(f['added_ns_per_event'])}{ci} | {rng} | "
                  f"{fmt(f['per_event_denominator'], ',.0f')} ({f['denominator_source']}) | "
                  f"{fmt(f['bytes_per_event'], '.2f')} | "
                  f"{fmt(f['heaptrack_over_this'], '.1f')} |")
        print()
        prows = [r for r in perf if r["program"] == prog]
        if prows:
            print("perf (cpu-clock, one pair of runs per row, leaf samples): % of the tool "
                  "run's samples / ns per event in the tool run / added ns per event against "
                  "the native run made just before it\n")
            print("| config | lib | " + " | ".join(GROUPS) + " |")
            print("|---|---|" + "---|" * len(GROUPS))
            for r in prows:
                cells = [f"{fmt(r['groups'][g]['pct'], '.0f')} % / "
                         f"{fmt(r['groups'][g]['ns_per_event'])} / "
                         f"{fmt(r['groups'][g]['added_ns_per_event'], '+.1f')}" for g in GROUPS]
                print(f"| {r['config']} | {r['lib']} | " + " | ".join(cells) + " |")
            print()


if __name__ == "__main__":
    sys.exit(main())
