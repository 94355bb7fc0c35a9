#!/usr/bin/env python3
"""ci/overhead-merge.py: adds the instruction counts of a callgrind run to a CPU-time overhead file.

usage: overhead-merge.py TIME_JSON CALLGRIND_JSON OUT_JSON

TIME_JSON is an overhead.json of `memscope-harness all --repeat N` (CPU times, mode "time");
CALLGRIND_JSON one of `all --overhead-mode callgrind --repeat K` on the same build. OUT_JSON is
TIME_JSON with each scenario's "instructions" from CALLGRIND_JSON, and "instructions_host" (the
machine of the callgrind run). The gate compares CPU times between files of the same host and
instruction counts otherwise (docs/harness.md, "Comparing like with like").
Exit: 0 written, 2 bad input (one line on stderr).
"""
import json
import os
import sys


def main(argv):
    if len(argv) != 4:
        print("usage: overhead-merge.py TIME_JSON CALLGRIND_JSON OUT_JSON", file=sys.stderr)
        return 2
    try:
        with open(argv[1]) as f:
            doc = json.load(f)
        with open(argv[2]) as f:
            cg = json.load(f)
    except (OSError, ValueError) as e:
        print(f"overhead-merge.py: {e}", file=sys.stderr)
        return 2
    if doc.get("mode", "time") != "time" or cg.get("mode") != "callgrind":
        print("overhead-merge.py: give a time-mode file, then a callgrind-mode file", file=sys.stderr)
        return 2
    missing = []
    for name, s in doc.get("scenarios", {}).items():
        ins = cg.get("scenarios", {}).get(name, {}).get("instructions")
        if ins is None:
            missing.append(name)
        else:
            s["instructions"] = ins
    if missing:
        print(f"overhead-merge.py: {argv[2]} has no instruction counts for {', '.join(missing)}",
              file=sys.stderr)
        return 2
    doc["instructions_host"] = cg.get("host")
    tmp = argv[3] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
