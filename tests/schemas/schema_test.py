#!/usr/bin/env python3
"""tests/schemas: every JSON file memscope writes, validated against docs/schemas/*.schema.json
with python3-jsonschema (Debian's package; draft 2020-12), and the schemas shown to be strict
enough to catch an undocumented key.

  schema_test.py schemas   SCHEMA_DIR                    each schema is a valid 2020-12 schema;
                                                         drifted documents are rejected
  schema_test.py run       SCHEMA_DIR HARNESS PROG WORK  harness run --repeat 1 --history:
                                                         summary, resources, the 5 detail files,
                                                         overhead.json, the history lines
  schema_test.py scenario  SCHEMA_DIR HARNESS WORK       scenario leak_demo --repeat 1: the same,
                                                         with the summary's "scenario"
  schema_test.py all       SCHEMA_DIR HARNESS WORK       all: the index and every scenario's
                                                         reports
  schema_test.py analyze   SCHEMA_DIR HARNESS ANALYZE TRACESTAT PROG WORK   memscope-analyze's
                                                         engine-only summary.json and details,
                                                         memscope-tracestat's output
  schema_test.py baselines SCHEMA_DIR CI_DIR             every ci/*.json against the overhead
                                                         schema
  schema_test.py findings  SCHEMA_DIR WORK_ROOT         the findings.json the harness.fuzz
                                                         tests left (skip, 77, when none)
  schema_test.py fuzz_report SCHEMA_DIR LIB TARGET WORK  the fuzz oracle's report of a leaking
                                                         input

Exit 0 pass, 1 fail, 77 skip."""
import copy
import glob
import json
import os
import shutil
import subprocess
import sys

import jsonschema


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def load_schemas(d):
    out = {}
    for p in sorted(glob.glob(os.path.join(d, "*.schema.json"))):
        with open(p) as f:
            out[os.path.basename(p)] = json.load(f)
    if len(out) < 10:
        fail(f"expected the schema files in {d}, found {sorted(out)}")
    return out


def validator(schemas, name):
    """A 2020-12 validator for schemas[name] that resolves the other files' $ids locally
    (never over the network): referencing's Registry where jsonschema has it (>= 4.18), else
    the RefResolver store of Debian 12's jsonschema 4.10."""
    schema = schemas[name]
    cls = jsonschema.Draft202012Validator
    try:
        from referencing import Registry, Resource
        reg = Registry().with_resources(
            [(s["$id"], Resource.from_contents(s)) for s in schemas.values()])
        return cls(schema, registry=reg)
    except ImportError:
        store = {s["$id"]: s for s in schemas.values()}
        return cls(schema, resolver=jsonschema.RefResolver.from_schema(schema, store=store))


def errors(v, doc):
    return sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))


def expect_valid(schemas, name, path, doc=None):
    if doc is None:
        with open(path) as f:
            doc = json.load(f)
    errs = errors(validator(schemas, name), doc)
    for e in errs[:10]:
        print(f"  {path}: at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}")
    if errs:
        fail(f"{path} does not match {name}: {len(errs)} errors")
    print(f"ok {path} matches {name}")


def expect_invalid(schemas, name, doc, what):
    if not errors(validator(schemas, name), doc):
        fail(f"{name} accepts a document with {what}")
    print(f"ok {name} rejects {what}")


def run(cmd, ok=(0,), **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    if p.returncode not in ok:
        fail(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[:500]}")
    return p


def fresh(work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)


def check_report_dir(schemas, out, name, engine_only=False):
    """summary.json, resources.json and the detail files of one harness --out DIR."""
    expect_valid(schemas, "summary.schema.json", os.path.join(out, "summary.json"))
    if not engine_only:
        expect_valid(schemas, "resources.schema.json", os.path.join(out, "resources.json"))
    for kind in ("memory_analysis", "lifetime", "performance", "comprehensive",
                 "resource_rankings"):
        expect_valid(schemas, kind + ".schema.json", os.path.join(out, f"{name}_{kind}.json"))


def check_overhead(schemas, out, history, overhead_json=True):
    """overhead.json (scenario and all write it; run keeps its overhead in summary.json, which
    the summary schema checks) and every line of the --history file."""
    if overhead_json:
        expect_valid(schemas, "overhead.schema.json", os.path.join(out, "overhead.json"))
    n = 0
    with open(history) as f:
        for i, line in enumerate(f):
            expect_valid(schemas, "overhead_history.schema.json", f"{history}:{i + 1}",
                         json.loads(line))
            n += 1
    if n < 1:
        fail(f"{history}: no lines")


def t_schemas(d):
    schemas = load_schemas(d)
    for name, s in schemas.items():
        jsonschema.Draft202012Validator.check_schema(s)
        if s.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            fail(f"{name}: $schema is not draft 2020-12")
        print(f"ok {name} is a valid 2020-12 schema")
    # A minimal document built from the schema's own required lists would only echo it, so
    # drift is shown on an example written here by hand from docs/summary-schema.md.
    base = {
        "schema": "memscope.summary/1",
        "run": {"dir": "/t/memscope.1.0", "pid": 1, "exe": "/bin/x", "cmdline": "x",
                "origin": "exec", "end_reason": "exit", "partial": False,
                "completeness": {"complete": True, "stopped": False, "salvaged": False,
                                 "events_lost": 0, "reason": ""},
                "calibration": "identity", "stacks": 0, "thread_files": 0, "events_lost": 0,
                "late_events": 0, "stack_table_full": 0, "write_errors": 0, "damage": [],
                "symbol_warnings": []},
        "totals": {k: 0 for k in (
            "allocations frees reallocs allocated_bytes peak_live_bytes peak_time_ns "
            "leaked_blocks leaked_bytes temporary_allocations suppressed_leaked_blocks "
            "suppressed_leaked_bytes unmatched_frees unmatched_realloc_old alloc_over_live "
            "unknown_stack_refs marks vars events first_ts_ns last_ts_ns duration_ns").split()},
        "threads": [], "leaks": [], "leak_groups": 0, "assertions": [], "overhead": None,
        "mode": {"sample": "all", "estimated": False, "sample_bytes": None, "stack_depth": 16,
                 "threads": "all"},
        "scopes": [], "marks": [], "timeline": {"t_ns": [], "live_bytes": []},
        "size_histogram": [], "hot_stacks": {"by_count": [], "by_bytes": []},
        "lifetimes": {"count": 0, "min_ns": None, "median_ns": None, "max_ns": None,
                      "mean_ns": None, "histogram_log2_ns": []},
        "flamegraph": {"frames": [], "stacks": [], "stacks_total": 0, "stacks_shown": 0,
                       "not_shown": {"stacks": 0, "allocations": 0, "allocated_bytes": 0},
                       "estimated": False, "basis": "b"},
        "roles": {"thresholds": {}, "thresholds_source": "defaults", "precedence": [],
                  "counts": {}, "alert_counts": {}, "comparison": "c"},
        "correlation": {"x": "cpu_percent", "y": "allocated_bytes_per_s", "n": 0, "r": None,
                        "slope": None, "intercept": None, "points": [], "excluded": {},
                        "reason": "r", "method": "m"},
        "bottlenecks": {"limit": 10, "hot_stacks_by_count": [], "hot_stacks_by_bytes": [],
                        "largest_leaks": [], "churn_threads": [], "churn_unknown_threads": 0,
                        "churn_basis": "b"},
    }
    expect_valid(schemas, "summary.schema.json", "(hand-written example)", base)
    d1 = copy.deepcopy(base)
    d1["undocumented"] = 1
    expect_invalid(schemas, "summary.schema.json", d1, "an undocumented top-level key")
    d2 = copy.deepcopy(base)
    del d2["totals"]
    expect_invalid(schemas, "summary.schema.json", d2, "no totals")
    d3 = copy.deepcopy(base)
    d3["totals"]["new_figure"] = 1
    expect_invalid(schemas, "summary.schema.json", d3, "an undocumented totals key")
    d4 = copy.deepcopy(base)
    d4["totals"]["allocated_bytes"] = 1.5
    expect_invalid(schemas, "summary.schema.json", d4, "a fractional byte count")
    d5 = copy.deepcopy(base)
    d5["leak_assertion_basis"] = {"filter": "all"}
    expect_invalid(schemas, "summary.schema.json", d5, "an incomplete leak_assertion_basis")
    # role_basis: the grammar docs/summary-schema.md gives.
    thread = {"tid": 1, "thread_seq": 0, "name": "", "tracked": True, "allocations": 0,
              "frees": 0, "reallocs": 0, "allocated_bytes": 0, "live_bytes": 0,
              "peak_live_bytes": 0, "peak_time_ns": 0, "temporary_allocations": 0,
              "avg_size": 0, "alloc_rate_per_s": 0, "allocated_bytes_per_s": 0,
              "resources": None, "cpu_percent": None, "cpu_time_s": None, "io_ops": None,
              "timeline": {"t_ns": [], "live_bytes": []}, "size_histogram": [],
              "lifetime_histogram_log2_ns": [], "role": "light", "alert": "normal",
              "role_basis": "", "role_reason": "", "alert_reason": ""}
    for basis, good in (
            ("known: peak_live_bytes, allocations; unknown: cpu_percent, io_ops", True),
            ("known: peak_live_bytes, allocations, cpu_percent, io_ops; resources: tracker",
             True),
            ("unknown: peak_live_bytes, allocations, cpu_percent, io_ops", True),
            ("peak_live_bytes, allocations", False),
            ("known: peak_live_bytes; resources: somewhere", False)):
        d = copy.deepcopy(base)
        d["threads"] = [dict(thread, role_basis=basis)]
        if good:
            expect_valid(schemas, "summary.schema.json", f"(role_basis {basis!r})", d)
        else:
            expect_invalid(schemas, "summary.schema.json", d, f"role_basis {basis!r}")


def t_run(d, harness, prog, work):
    schemas = load_schemas(d)
    fresh(work)
    out, hist = os.path.join(work, "out"), os.path.join(work, "history.jsonl")
    run([harness, "run", "--out", out, "--no-progress", "--repeat", "1", "--history", hist,
         "--", prog, "2", "2000"])
    check_report_dir(schemas, out, os.path.basename(prog))
    with open(os.path.join(out, "summary.json")) as f:
        if not isinstance(json.load(f).get("overhead"), dict):
            fail("run --repeat 1 wrote no overhead object into summary.json")
    check_overhead(schemas, out, hist, overhead_json=False)
    # report: the same files again from the trace (its "harness" has no child figures).
    rep = os.path.join(work, "report")
    run([harness, "report", os.path.join(out, "trace"), "--out", rep, "--no-progress"])
    check_report_dir(schemas, rep, "trace")


def t_scenario(d, harness, work):
    schemas = load_schemas(d)
    fresh(work)
    out, hist = os.path.join(work, "out"), os.path.join(work, "history.jsonl")
    # leak_demo leaks on purpose: its leak assertion fails (exit 1), the reports are whole.
    run([harness, "scenario", "leak_demo", "--out", out, "--no-progress", "--repeat", "1",
         "--history", hist], ok=(0, 1))
    check_report_dir(schemas, out, "leak_demo")
    check_overhead(schemas, out, hist)
    with open(os.path.join(out, "summary.json")) as f:
        if "scenario" not in json.load(f):
            fail("a scenario's summary.json has no 'scenario'")


def t_all(d, harness, work):
    schemas = load_schemas(d)
    fresh(work)
    out = os.path.join(work, "out")
    run([harness, "all", "--out", out, "--no-progress"], ok=(0, 1))
    expect_valid(schemas, "all.schema.json", os.path.join(out, "summary.json"))
    with open(os.path.join(out, "summary.json")) as f:
        entries = json.load(f)["scenarios"]
    if len(entries) < 5:
        fail(f"all listed {len(entries)} scenarios")
    for e in entries:
        check_report_dir(schemas, os.path.join(out, e["dir"]), e["name"])


def t_analyze(d, harness, analyze, tracestat, prog, work):
    schemas = load_schemas(d)
    fresh(work)
    out = os.path.join(work, "out")
    run([harness, "run", "--out", out, "--no-progress", "--", prog, "2", "500"])
    an = os.path.join(work, "analyze")
    run([analyze, os.path.join(out, "trace"), "--out", an, "--module", prog])
    check_report_dir(schemas, an, "memscope", engine_only=True)
    # memscope-tracestat: the reader's statistics on stdout, with and without --module.
    for extra in ([], ["--module", prog]):
        p = run([tracestat, os.path.join(out, "trace")] + extra)
        expect_valid(schemas, "tracestat.schema.json", "memscope-tracestat " + " ".join(extra),
                     json.loads(p.stdout))


def t_baselines(d, ci_dir):
    schemas = load_schemas(d)
    files = sorted(glob.glob(os.path.join(ci_dir, "*.json")))
    if not files:
        fail(f"no JSON files in {ci_dir}")
    for p in files:
        expect_valid(schemas, "overhead.schema.json", p)


def t_fuzz_report(d, lib, target, work):
    schemas = load_schemas(d)
    fresh(work)
    os.makedirs(os.path.join(work, "in"))
    os.makedirs(os.path.join(work, "rep"))
    with open(os.path.join(work, "in", "leak"), "w") as f:
        f.write("L1")  # oracle_target.c: 'L' leaks one byte
    env = dict(os.environ, LD_PRELOAD=lib, MEMSCOPE_FUZZ="1",
               MEMSCOPE_FUZZ_REPORT_DIR=os.path.join(work, "rep"))
    run([target, os.path.join(work, "in")], ok=(-6,), env=env)  # the oracle's abort()
    reports = glob.glob(os.path.join(work, "rep", "memscope-*.json"))
    if len(reports) != 1:
        fail(f"expected one fuzz report, found {reports}")
    expect_valid(schemas, "fuzz_report.schema.json", reports[0])


def t_findings(d, work_root):
    """The findings.json (and the reports beside them) the harness's fuzz tests left in
    WORK_ROOT/fuzz_*/o: an AFL++ campaign is too slow to run here for this alone."""
    schemas = load_schemas(d)
    files = sorted(glob.glob(os.path.join(work_root, "fuzz_*", "o", "findings.json")))
    if not files:
        print(f"SKIP: no findings.json under {work_root} (the harness.fuzz tests did not run)")
        sys.exit(77)
    for p in files:
        expect_valid(schemas, "findings.schema.json", p)
        for r in sorted(glob.glob(os.path.join(os.path.dirname(p), "findings", "*",
                                               "report.json"))):
            expect_valid(schemas, "fuzz_report.schema.json", r)


def main():
    a = sys.argv[1:]
    if not a:
        print(__doc__)
        sys.exit(2)
    tests = {"schemas": t_schemas, "run": t_run, "scenario": t_scenario, "all": t_all, "analyze": t_analyze,
             "baselines": t_baselines, "findings": t_findings, "fuzz_report": t_fuzz_report}
    if a[0] not in tests:
        fail("unknown test " + a[0])
    tests[a[0]](*a[1:])
    print("PASS " + a[0])


if __name__ == "__main__":
    main()
