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
  exports_test.py sites      HARNESS ANALYZE SITES WORK   the peak snapshot's heap tree of
                                            tests/front/sites.c (known live bytes per site at
                                            its peak) as written and as ms_print prints it;
                                            memscope-analyze --massif writes the same tree; a
                                            sampled run keeps the root only

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


NODE = re.compile(r"^( *)n(\d+): (\d+) (.*)$")
ROOT_TEXT = "(heap allocation functions) malloc/new/new[], --alloc-fns, etc."
FOLD = re.compile(r"^in (\d+) place(?:,|s, all) below massif's threshold \(1\.00%\)$")


def massif_peak_tree(path):
    """massif.out's heap_tree=peak, parsed by Massif's grammar (valgrind's massif docs): each
    node `nN: BYTES text`, indented one space per level, followed by its N children. Returns
    (mem_heap_B of the peak snapshot, root) with nodes {bytes, text, children}. Checks that the
    nesting is consistent, that no node's children hold more than the node, and that every
    level's siblings are sorted largest first."""
    with open(path) as f:
        lines = f.read().split("\n")
    at = lines.index("heap_tree=peak")
    heap = None
    for ln in reversed(lines[:at]):
        if ln.startswith("mem_heap_B="):
            heap = int(ln.split("=")[1])
            break
    pos = [at + 1]

    def node(depth):
        ln = lines[pos[0]]
        m = NODE.match(ln)
        check(m is not None, f"massif.out line {pos[0] + 1}: not a tree node: {ln!r}")
        check(len(m.group(1)) == depth, f"massif.out line {pos[0] + 1}: indented "
                                        f"{len(m.group(1))}, expected {depth}")
        pos[0] += 1
        n = {"bytes": int(m.group(3)), "text": m.group(4), "children": []}
        for _ in range(int(m.group(2))):
            n["children"].append(node(depth + 1))
        kids = [c["bytes"] for c in n["children"]]
        check(sum(kids) <= n["bytes"], f"children of {n['text']!r} hold {sum(kids)} > "
                                       f"{n['bytes']}")
        check(kids == sorted(kids, reverse=True), f"children of {n['text']!r} not sorted "
                                                  f"largest first: {kids}")
        return n

    root = node(0)
    check(lines[pos[0]].startswith("#-----------") or lines[pos[0]] == "",
          f"massif.out: the peak tree is followed by {lines[pos[0]]!r}")
    check(root["text"] == ROOT_TEXT, f"root text {root['text']!r}")
    return heap, root


def check_tree_sums(heap, root, what):
    """The root is the peak's live bytes and its first-level children add up to it."""
    check(root["bytes"] == heap, f"{what}: root {root['bytes']} != mem_heap_B {heap}")
    kids = sum(c["bytes"] for c in root["children"])
    check(kids == root["bytes"], f"{what}: first-level children sum to {kids}, root "
                                 f"{root['bytes']}")
    folds = [c for c in root["children"] if FOLD.match(c["text"])]
    check(len(folds) <= 1, f"{what}: {len(folds)} threshold lines under the root")
    for c in root["children"]:
        m = FOLD.match(c["text"])
        if m:  # each of the N places is below 1 %, so together below N %
            places = int(m.group(1))
            check(c["bytes"] * 100 < places * root["bytes"],
                  f"{what}: {c['bytes']} B folded from {places} places below 1 % of "
                  f"{root['bytes']}")
        else:
            check(c["bytes"] * 100 >= root["bytes"], f"{what}: {c['text']!r} ({c['bytes']} B)"
                                                     f" is below 1 % and not folded")


def skip_or_fail(what):
    """A missing tool skips the test on a developer's machine; under CI (CI=true), where
    ci/setup.sh installs it, it is a failure: a Must-show must not turn into a skip."""
    if os.environ.get("CI") == "true":
        print("FAIL: %s is not installed (CI=true: ci/setup.sh should have installed it)" % what)
        sys.exit(1)
    print("SKIP: %s is not installed" % what)
    sys.exit(77)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def sqlite_run(harness, work):
    if not shutil.which("sqlite3") or not shutil.which("ms_print"):
        skip_or_fail("sqlite3 or ms_print (Debian's valgrind)")
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
    heap, root = massif_peak_tree(os.path.join(out, "massif.out"))
    check_tree_sums(heap, root, "sqlite3")
    check(len(root["children"]) > 1, "sqlite3's peak tree has no call tree under the root")
    print(f"peak tree: {len(root['children'])} first-level nodes summing to {root['bytes']} B")
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
        skip_or_fail("ms_print (Debian's valgrind)")
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


# tests/front/sites.c's constants: bytes live at its peak per site (the last allocation,
# hold_big's fifth, reaches it). leak_some's three calls are three call sites once the loop is
# unrolled (-O1), each 77 B: below 1 % of the total, so folded.
SITES = [("hold_big", 5 * 10000), ("zeroed_blocks", 12 * 500), ("hold_small", 40 * 100),
         ("grow_buffer", 25 * 64)]
FOLDED = 3 * 77


def test_sites(harness, analyze, sites, work):
    if not shutil.which("ms_print"):
        skip_or_fail("ms_print (Debian's valgrind)")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    out = os.path.join(work, "out")
    p = run([harness, "run", "--out", out, "--exports", "--no-progress", "--", sites])
    check(p.returncode == 0, f"harness run sites: exit {p.returncode}: {p.stderr.strip()}")
    with open(os.path.join(out, "summary.json")) as f:
        summ = json.load(f)
    expect_total = sum(b for _, b in SITES) + FOLDED
    check(summ["totals"]["peak_live_bytes"] == expect_total,
          f"peak_live_bytes {summ['totals']['peak_live_bytes']} != {expect_total}")
    mpath = os.path.join(out, "massif.out")
    heap, root = massif_peak_tree(mpath)
    check_tree_sums(heap, root, "sites")
    check(root["bytes"] == summ["totals"]["peak_live_bytes"],
          f"root {root['bytes']} != peak_live_bytes {summ['totals']['peak_live_bytes']}")
    got = [(c["bytes"], c["text"]) for c in root["children"]]
    check(len(got) == len(SITES) + 1, f"first level: {got}")
    for (fn, b), (gb, text) in zip(SITES, got):
        check(gb == b and re.fullmatch(r"0x[0-9A-F]+: " + fn + r" \(sites\.c:\d+\)", text),
              f"expected {fn} with {b} B, got {gb} B {text!r}")
    check(got[-1] == (FOLDED, "in 3 places, all below massif's threshold (1.00%)"),
          f"threshold line: {got[-1]}")
    # Callers nest below: each site's only child is main, which called it.
    for c in root["children"][:len(SITES)]:
        check(len(c["children"]) == 1 and ": main (sites.c:" in c["children"][0]["text"]
              and c["children"][0]["bytes"] == c["bytes"], f"{c['text']}: caller "
              f"{[k['text'] for k in c['children']]}")
    # The top child is summary.json's largest stack at the peak.
    top = summ["peak_stacks"]["stacks"][0]
    check(top["live_bytes"] == root["children"][0]["bytes"] and
          top["stack"][0]["function"] == "hold_big", f"summary's top peak stack: {top}")
    p = subprocess.run(["ms_print", mpath], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"ms_print: exit {p.returncode}: {p.stderr.strip()}")
    tree = p.stdout[p.stdout.index("100.00% ("):]
    tree = tree[:tree.index("\n-----")] if "\n-----" in tree else tree
    print("ms_print's peak tree (head):\n" + "\n".join(tree.split("\n")[:14]))
    check(tree.startswith(f"100.00% ({expect_total:,}B) {ROOT_TEXT}"), "ms_print's root line")
    for fn, b in SITES:
        check(re.search(rf"^->\d\d\.\d\d% \({b:,}B\) 0x[0-9A-F]+: {fn} \(sites\.c:\d+\)$",
                        tree, re.M), f"ms_print printed no first-level line for {fn} ({b} B)")
    check(re.search(rf"^->00\.37% \({FOLDED}B\) in 1\+ places, all below ms_print's", tree,
                    re.M), "ms_print printed no below-threshold line for 231 B")
    # memscope-analyze --massif on the same trace: the same file.
    mine = os.path.join(work, "a.massif")
    p = run([analyze, os.path.join(out, "trace"), "--out", os.path.join(work, "a"),
             "--no-details", "--massif", mine])
    check(p.returncode == 0, f"memscope-analyze --massif: exit {p.returncode}: {p.stderr}")
    with open(mine) as a, open(mpath) as b:
        check(a.read() == b.read(), "memscope-analyze's massif.out differs from the harness's")
    # Sampled: the per-stack live bytes at the peak are not computed, the root stays alone.
    out = os.path.join(work, "sampled")
    p = run([harness, "run", "--out", out, "--exports", "--no-progress", "--sample",
             "bytes:4096", "--", sites])
    check(p.returncode == 0, f"harness run --sample: exit {p.returncode}: {p.stderr.strip()}")
    heap, root = massif_peak_tree(os.path.join(out, "massif.out"))
    check(root["children"] == [] and root["bytes"] == heap,
          f"sampled run: root {root['bytes']} B with {len(root['children'])} children")


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
    elif t == "sites":
        test_sites(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif t == "bad_path":
        test_bad_path(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        fail("unknown test " + t)
    print("PASS " + t)


if __name__ == "__main__":
    main()
