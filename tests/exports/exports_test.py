#!/usr/bin/env python3
"""tests/exports: the standard exports (docs/exports.md) read back by the tools and rules
that define their formats.

  exports_test.py sqlite3    HARNESS WORK   harness run --exports on Debian's sqlite3: the
                                            collapsed stacks follow flamegraph.pl's grammar and
                                            sum to totals.allocated_bytes / allocations; ms_print
                                            reads massif.out and its peak snapshot's total is
                                            summary.json's peak_live_bytes
  exports_test.py analyze    HARNESS ANALYZE WORK   memscope-analyze --collapsed/--massif on the
                                            same trace writes the same files as the harness
  exports_test.py edges      HARNESS WORK   a run without allocations; a command line with a
                                            newline, '#' and ';' in massif.out's cmd:
  exports_test.py bad_path   HARNESS ANALYZE WORK   an unwritable export path: exit 2, one
                                            line naming it, no file

Exit 0 pass, 1 fail, 77 skip (sqlite3 or ms_print not installed)."""
import json
import os
import re
import shutil
import subprocess
import sys

SQL = """create table t(a, b);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 3000)
insert into t select x, hex(randomblob(40)) from c;
create index ti on t(b);
select count(*), sum(length(b)) from t;
delete from t where a % 2 = 0;
"""

# flamegraph.pl's stackcollapse line: frames joined by ';', one space, a count
# (flamegraph.pl: /^(.*)\s+?(\d+(?:\.\d*)?)$/). Our exports write whole numbers only and never
# an empty frame.
# Frames the tracker keeps (--stack-depth): deeper than sqlite3's stacks, so each is whole.
DEPTH = 64
LINE = re.compile(r"^([^;\n]+(?:;[^;\n]+)*) (\d+)$")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def read_collapsed(path, may_be_empty=False):
    total, lines = 0, 0
    with open(path, encoding="utf-8", errors="strict") as f:
        for ln in f:
            ln = ln.rstrip("\n")
            m = LINE.match(ln)
            check(m is not None, f"{path}: line {lines + 1} is not 'frame;frame N': {ln[:200]!r}")
            n = int(m.group(2))
            check(n > 0, f"{path}: line {lines + 1} has a count of 0")
            total += n
            lines += 1
    check(lines > 0 or may_be_empty, f"{path}: no lines")
    return total, lines


def ms_print_peak(path):
    """Runs Debian's ms_print on path; returns (peak snapshot's total, max total of all)."""
    p = subprocess.run(["ms_print", path], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"ms_print {path}: exit {p.returncode}: {p.stderr.strip()}")
    out = p.stdout
    m = re.search(r"Detailed snapshots: \[([^\]]*)\]", out)
    check(m is not None, "ms_print printed no 'Detailed snapshots' line")
    peak = [int(x.split()[0]) for x in m.group(1).split(",") if "(peak)" in x]
    check(len(peak) == 1, f"ms_print names no single peak snapshot: {m.group(0)}")
    rows = {}
    # "  n       time(ms)         total(B)   useful-heap(B) extra-heap(B)    stacks(B)"
    for r in re.finditer(r"^\s*(\d+)\s+([\d.,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s*$",
                         out, re.M):
        rows[int(r.group(1))] = int(r.group(3).replace(",", ""))
    check(peak[0] in rows, f"ms_print lists no row for the peak snapshot {peak[0]}")
    # The peak's tree: ms_print prints "100.00% (N B)" for its root.
    check(re.search(r"^100\.00% \(", out, re.M) is not None, "ms_print printed no heap tree")
    return rows[peak[0]], max(rows.values()), len(rows)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def sqlite_run(harness, work):
    if not shutil.which("sqlite3") or not shutil.which("ms_print"):
        print("SKIP: sqlite3 or ms_print (Debian's valgrind) is not installed")
        sys.exit(77)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(work, "small.sql"), "w") as f:
        f.write(SQL)
    out = os.path.join(work, "out")
    p = run([harness, "run", "--out", out, "--exports", "--no-progress",
             "--stack-depth", str(DEPTH), "--",
             "sqlite3", ":memory:", ".read small.sql"], cwd=work)
    check(p.returncode == 0, f"harness run: exit {p.returncode}: {p.stderr.strip()}")
    return out


def test_sqlite3(harness, work):
    out = sqlite_run(harness, work)
    with open(os.path.join(out, "summary.json")) as f:
        totals = json.load(f)["totals"]
    by_bytes, nb = read_collapsed(os.path.join(out, "stacks.collapsed"))
    by_calls, nc = read_collapsed(os.path.join(out, "stacks_count.collapsed"))
    print(f"collapsed: {nb} stacks, {by_bytes} bytes; {nc} stacks, {by_calls} calls; "
          f"summary: {totals['allocated_bytes']} bytes, {totals['allocations']} calls")
    check(by_bytes == totals["allocated_bytes"],
          f"collapsed bytes sum {by_bytes} != totals.allocated_bytes {totals['allocated_bytes']}")
    check(by_calls == totals["allocations"],
          f"collapsed calls sum {by_calls} != totals.allocations {totals['allocations']}")
    check(totals["allocated_bytes"] > 100000, "the sqlite3 run allocated too little to test")
    peak, highest, nsnap = ms_print_peak(os.path.join(out, "massif.out"))
    print(f"ms_print: {nsnap} snapshots, peak snapshot total {peak} B, highest {highest} B; "
          f"summary peak_live_bytes {totals['peak_live_bytes']}")
    check(peak == totals["peak_live_bytes"],
          f"ms_print's peak {peak} != summary peak_live_bytes {totals['peak_live_bytes']}")
    check(highest == peak, f"a snapshot ({highest} B) is above the peak ({peak} B)")
    # Root first: with every stack whole (--stack-depth above their depth), each starts at
    # the program's entry point, one frame for all. A file written leaf first would start at
    # malloc's many callers instead.
    with open(os.path.join(out, "stacks.collapsed")) as f:
        stacks = [ln.rsplit(" ", 1)[0].split(";") for ln in f]
    check(max(len(st) for st in stacks) < DEPTH, "a stack reached --stack-depth")
    roots = {st[0] for st in stacks}
    check(len(roots) == 1, f"the whole stacks have {len(roots)} roots: {sorted(roots)[:5]}")


def test_analyze(harness, analyze, work):
    out = sqlite_run(harness, work)
    ex = os.path.join(work, "analyze")
    p = run([analyze, os.path.join(out, "trace"), "--out", ex, "--no-details",
             "--collapsed", os.path.join(ex, "a.collapsed"),
             "--collapsed-count", os.path.join(ex, "c.collapsed"),
             "--massif", os.path.join(ex, "m.out")])
    check(p.returncode == 0, f"memscope-analyze: exit {p.returncode}: {p.stderr.strip()}")
    for mine, theirs in (("a.collapsed", "stacks.collapsed"), ("c.collapsed",
                         "stacks_count.collapsed"), ("m.out", "massif.out")):
        with open(os.path.join(ex, mine)) as a, open(os.path.join(out, theirs)) as b:
            check(a.read() == b.read(), f"memscope-analyze's {mine} differs from the harness's "
                                        f"{theirs}")
    print("memscope-analyze wrote the same three files as harness --exports")


def test_bad_path(harness, analyze, work):
    out = sqlite_run(harness, work)
    for opt in ("--collapsed", "--massif"):
        target = os.path.join(work, "missing-dir", "x")
        p = run([analyze, os.path.join(out, "trace"), "--out", os.path.join(work, "a"),
                 "--no-details", opt, target])
        check(p.returncode == 2, f"{opt} into a missing directory: expected exit 2, got "
                                 f"{p.returncode}")
        lines = p.stderr.strip().splitlines()
        check(len(lines) == 1 and target in lines[0], f"{opt}: expected one line naming "
                                                      f"{target}: {p.stderr!r}")
        check(not os.path.exists(target), f"{opt}: {target} exists")


def test_edges(harness, work):
    """/bin/true allocates nothing: empty collapsed files, one empty snapshot ms_print reads.
    A command line with a newline, '#' (ms_print's comment) and ';': one cmd line, as '?'."""
    if not shutil.which("ms_print"):
        print("SKIP: ms_print (Debian's valgrind) is not installed")
        sys.exit(77)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    out = os.path.join(work, "true")
    p = run([harness, "run", "--out", out, "--exports", "--no-progress", "--", "/bin/true"])
    check(p.returncode == 0, f"harness run /bin/true: exit {p.returncode}: {p.stderr.strip()}")
    with open(os.path.join(out, "summary.json")) as f:
        totals = json.load(f)["totals"]
    for name, key in (("stacks.collapsed", "allocated_bytes"),
                      ("stacks_count.collapsed", "allocations")):
        got, _ = read_collapsed(os.path.join(out, name), may_be_empty=True)
        check(got == totals[key], f"{name}: sum {got} != totals.{key} {totals[key]}")
    peak, highest, nsnap = (None, None, None)
    p = subprocess.run(["ms_print", os.path.join(out, "massif.out")], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0, f"ms_print on a run without a heap peak: exit {p.returncode}: "
                             f"{p.stderr.strip()}")
    if totals["peak_live_bytes"]:
        peak, highest, nsnap = ms_print_peak(os.path.join(out, "massif.out"))
        check(peak == totals["peak_live_bytes"], f"ms_print's peak {peak} != "
                                                 f"{totals['peak_live_bytes']}")
    print(f"/bin/true: {totals['allocations']} allocations; ms_print reads its massif.out")
    out = os.path.join(work, "hostile")
    arg = "a\nb#c;d"
    p = run([harness, "run", "--out", out, "--exports", "--no-progress", "--", "/bin/sh", "-c",
             "exit 0", arg])
    check(p.returncode == 0, f"harness run sh: exit {p.returncode}: {p.stderr.strip()}")
    with open(os.path.join(out, "massif.out")) as f:
        head = f.read().split("\n")
    check(head[1] == "cmd: /bin/sh -c exit 0 a?b?c;d", f"cmd line: {head[1]!r}")
    check(head[2] == "time_unit: ms", f"the command line took more than one line: {head[2]!r}")
    p = subprocess.run(["ms_print", os.path.join(out, "massif.out")], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0 and "Command:            /bin/sh -c exit 0 a?b?c;d\n" in p.stdout,
          f"ms_print's Command line: exit {p.returncode}, {p.stdout[:300]!r}")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    t = sys.argv[1]
    if t == "sqlite3":
        test_sqlite3(sys.argv[2], sys.argv[3])
    elif t == "analyze":
        test_analyze(sys.argv[2], sys.argv[3], sys.argv[4])
    elif t == "edges":
        test_edges(sys.argv[2], sys.argv[3])
    elif t == "bad_path":
        test_bad_path(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        fail("unknown test " + t)
    print("PASS " + t)


if __name__ == "__main__":
    main()
