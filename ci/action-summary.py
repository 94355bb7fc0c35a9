#!/usr/bin/env python3
"""ci/action-summary.py: the GitHub Action's job summary (Markdown) and leak annotations.

usage: action-summary.py [--workspace DIR] [--markdown FILE] [--baseline FILE] [--top N]
                         [--title TEXT] PATH...

Each PATH is a summary.json written by memscope-harness, or a folder searched for them (trace
folders skipped). For each run it writes, appended to FILE (the action passes
$GITHUB_STEP_SUMMARY; default: stdout), the totals, every assertion with its verdict, the top
N leaks (default 5) with the file:line of their allocation site, and the overhead measured,
against the same scenario's in --baseline (an overhead.json such as ci/overhead-baseline.json)
when given. On stdout it prints one workflow command per leak,
    ::error file=REL,line=N,title=memscope: leak::...
at the leak's allocation site: the innermost stack frame whose file is inside --workspace
(default $GITHUB_WORKSPACE, else the current folder), with the path relative to it; a leak
with no such frame gets no annotation (GitHub could not place it) but stays in the summary.

Strings from the trace (function and file names) are data: HTML-escaped in the Markdown (the
job summary renders HTML) and escaped as GitHub's workflow commands require.
Exit: 0 written, 2 bad input (one line on stderr). Whether the job fails is the harness's
exit code, not this script's.
"""
import argparse
import html
import json
import os
import sys

SCHEMA = "memscope.summary/1"


def fail(msg):
    print(f"action-summary.py: {msg}", file=sys.stderr)
    sys.exit(2)


def find_summaries(paths):
    found = []
    for p in paths:
        if os.path.isfile(p):
            found.append(p)
        elif os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                # A run's raw trace holds no summary; do not descend into it.
                dirs[:] = sorted(d for d in dirs if d != "trace" and not d.startswith("trace."))
                if "summary.json" in files:
                    found.append(os.path.join(root, "summary.json"))
        else:
            fail(f"{p}: no such file or folder; give a summary.json or a report folder")
    return found


def load(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    return d


def inside(path, workspace):
    """The path relative to the workspace when the file is inside it, else None."""
    if not path:
        return None
    if not os.path.isabs(path):
        # Debug info may name files relative to a compile folder this script cannot know
        # (glibc's "./nptl/allocatestack.c"): only a file that exists in the workspace counts.
        path = os.path.join(workspace, path)
        if not os.path.isfile(path):
            return None
    real = os.path.realpath(path)
    ws = os.path.realpath(workspace)
    if real == ws or not real.startswith(ws + os.sep):
        return None
    return os.path.relpath(real, ws)


def site(stack, workspace):
    """(relative file, line, function) of the innermost frame inside the workspace, else None."""
    for fr in stack or []:
        rel = inside(fr.get("file"), workspace)
        if rel and isinstance(fr.get("line"), int) and fr["line"] > 0:
            return rel, fr["line"], fr.get("function") or "?"
    return None


def where(stack, workspace):
    """(allocating function, location cell) for the leak table: the innermost frame's function,
    and the workspace site (with its function when that is another one), else the innermost
    frame with a file."""
    inner = ((stack or [{}])[0].get("function")) or "?"
    s = site(stack, workspace)
    if s:
        return inner, f"<code>{md(f'{s[0]}:{s[1]}')}</code>" + ("" if s[2] == inner else f" in {md(s[2])}")
    for fr in stack or []:
        if fr.get("file"):
            return inner, f"<code>{md(fr['file'])}:{fr.get('line') or '?'}</code>"
    return inner, "(no file:line)"


def md(text):
    """A Markdown table cell: HTML-escaped, pipes and newlines neutralised."""
    return html.escape(str(text)).replace("|", "&#124;").replace("\n", " ")


def cmd_data(text):
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def cmd_prop(text):
    return cmd_data(text).replace(":", "%3A").replace(",", "%2C")


def human(n):
    if not isinstance(n, (int, float)):
        return "n/a"
    # Decimal units, as the harness's console lines print them.
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit} ({int(n)} B)"
    return f"{int(n)} B"


def blocks(n):
    return f"{n} block" if n == 1 else f"{n if n is not None else 'n/a'} blocks"


def run_name(d, path):
    sc = d.get("scenario") or {}
    if sc.get("name"):
        return sc["name"]
    argv = (d.get("harness") or {}).get("argv") or []
    return os.path.basename(argv[0]) if argv else os.path.dirname(path)


HOST_KEYS = ("cpu", "ncpu", "kernel")


def same_host(a, b):
    """The gate's rule (harness/hs_overhead.c): CPU model, cores and kernel all recorded, equal."""
    return all(a.get(k) for k in HOST_KEYS) and all(a.get(k) == b.get(k) for k in HOST_KEYS)


def describe(h):
    if not any(h.get(k) for k in HOST_KEYS):
        return "unrecorded"
    return f"{h.get('cpu') or 'unknown CPU'}, {h.get('ncpu') or '?'} cores, kernel {h.get('kernel') or '?'}"


def overhead_lines(d, name, baseline):
    ov = d.get("overhead")
    if not isinstance(ov, dict):
        return ["Overhead: not measured (give `repeat` or `max-overhead`)."]
    out = []
    cpu = ov.get("cpu") or {}
    ins = ov.get("instructions")
    base = ((baseline or {}).get("scenarios") or {}).get(name) if baseline else None
    if ov.get("mode") != "callgrind" and isinstance(cpu.get("median"), (int, float)):
        line = f"Overhead: CPU time x{cpu['median']:.3f} (median of {len(cpu.get('ratios') or [])} pairs)"
        b = (base or {}).get("cpu") or {}
        if isinstance(b.get("median"), (int, float)):
            bh, ch = (baseline.get("host") or {}), (ov.get("host") or {})
            if same_host(bh, ch):
                line += f"; baseline x{b['median']:.3f}, {(cpu['median'] / b['median'] - 1) * 100:+.1f}%"
            else:
                # Like with like (docs/harness.md): CPU times of two kinds of machine are not
                # compared; the instruction counts below are, when both sides have them.
                line += (f"; the baseline's x{b['median']:.3f} was measured on another machine "
                         f"({md(describe(bh))}; this run: {md(describe(ch))}): not compared")
        out.append(line + ".")
    if isinstance(ins, dict) and isinstance(ins.get("median"), (int, float)):
        line = f"Overhead: instructions x{ins['median']:.3f} (callgrind)"
        b = (base or {}).get("instructions") or {}
        if isinstance(b.get("median"), (int, float)):
            line += f"; baseline x{b['median']:.3f}, {(ins['median'] / b['median'] - 1) * 100:+.1f}%"
        out.append(line + ".")
    return out or ["Overhead: no figure in this summary."]


def render(d, path, args, baseline, annotations):
    name = run_name(d, path)
    t = d.get("totals") or {}
    asserts = d.get("assertions") or []
    failed = [a for a in asserts if not a.get("passed")]
    exit_code = (d.get("harness") or {}).get("exit_code")
    verdict = "FAILED" if failed else "passed"
    lines = [f"### {'❌' if failed else '✅'} {md(name)}: {verdict}", ""]
    cmd = (d.get("harness") or {}).get("argv")
    if cmd:
        lines += [f"Command: <code>{md(' '.join(cmd))}</code> (exit {md(exit_code)})", ""]
    lines += ["| allocations | frees | reallocs | allocated | peak live | leaked |",
              "|---:|---:|---:|---:|---:|---:|",
              f"| {t.get('allocations', 'n/a')} | {t.get('frees', 'n/a')} | {t.get('reallocs', 'n/a')} | "
              f"{human(t.get('allocated_bytes'))} | {human(t.get('peak_live_bytes'))} | "
              f"{human(t.get('leaked_bytes'))} in {blocks(t.get('leaked_blocks'))} |", ""]
    if asserts:
        lines += ["| | assertion | result |", "|---|---|---|"]
        for a in asserts:
            lines.append(f"| {'✅' if a.get('passed') else '❌'} | {md(a.get('name', '?'))} | "
                         f"{md(a.get('message', ''))} |")
        lines.append("")
    else:
        lines += ["No assertions were given.", ""]
    leaks = [lk for lk in d.get("leaks") or [] if not lk.get("suppressed")]
    leaks.sort(key=lambda lk: -(lk.get("bytes") or 0))
    if leaks:
        lines += [f"Top leaks ({min(len(leaks), args.top)} of {len(leaks)}):", "",
                  "| bytes | blocks | allocated by | site in the workspace (else innermost file) |", "|---:|---:|---|---|"]
        for lk in leaks[: args.top]:
            fn, loc = where(lk.get("stack"), args.workspace)
            lines.append(f"| {lk.get('bytes')} | {lk.get('blocks')} | {md(fn)} | {loc} |")
        lines.append("")
    else:
        lines += ["No leaks.", ""]
    # One annotation per leak (not only the top N): each is a place to fix.
    for lk in leaks:
        s = site(lk.get("stack"), args.workspace)
        inner = ((lk.get("stack") or [{}])[0].get("function")) or "?"
        if s:
            annotations.append(
                f"::error file={cmd_prop(s[0])},line={s[1]},title={cmd_prop('memscope: leak')}::"
                + cmd_data(f"{lk.get('bytes')} B leaked in {blocks(lk.get('blocks'))} allocated in "
                           + (s[2] if s[2] == inner else f"{inner}, called from {s[2]} here")
                           + f" ({name}); see the job summary"))
    lines += overhead_lines(d, name, baseline) + [""]
    return lines, bool(failed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", default=os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    ap.add_argument("--markdown")
    ap.add_argument("--baseline")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--title", default="memscope")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    if args.top < 1:
        fail("--top: give a positive number")
    baseline = load(args.baseline) if args.baseline else None
    runs = []
    for p in find_summaries(args.paths):
        d = load(p)
        if d.get("schema") == SCHEMA:  # an `all` run's index summary has other keys
            runs.append((p, d))
    if not runs:
        fail(f"no memscope summary.json in {', '.join(args.paths)}")
    annotations, body, nfailed = [], [], 0
    for p, d in runs:
        lines, failed = render(d, p, args, baseline, annotations)
        nfailed += failed
        body += lines
    head = [f"## {md(args.title)}: {'FAILED' if nfailed else 'passed'} "
            f"({nfailed} of {len(runs)} run{'s' if len(runs) > 1 else ''} failed an assertion)", ""]
    text = "\n".join(head + body) + "\n"
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    for a in annotations:
        print(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
