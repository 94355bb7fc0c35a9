#!/usr/bin/env python3
"""stderr_pipe.py LIB PROG: the tracker's stderr line never kills the program.

The tracker writes a line to stderr when it cannot track as asked (here: a stack depth that
is not a number). When stderr is a pipe whose reader is gone, that write raised SIGPIPE and
ended a program that never writes to stderr itself (exit 141 from a shell). The program must
end as it does without the tracker."""
import os
import subprocess
import sys
import tempfile

lib, prog = sys.argv[1], sys.argv[2]
fails = 0


def run(env_extra):
    r, w = os.pipe()
    os.close(r)  # the reader is gone: a write to w raises SIGPIPE
    with tempfile.TemporaryDirectory() as out:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MEMSCOPE_") and k != "LD_PRELOAD"}
        env.update({"LD_PRELOAD": lib, "MEMSCOPE_OUT": out}, **env_extra)
        # restore_signals (the default) gives the child SIGPIPE's default action back
        p = subprocess.run([prog, "1"], env=env, stdout=subprocess.DEVNULL, stderr=w,
                           timeout=60)
    os.close(w)
    return p.returncode


native = subprocess.run([prog, "1"], stdout=subprocess.DEVNULL, timeout=60).returncode
rc = run({"MEMSCOPE_STACK_DEPTH": "not-a-number"})
if rc != native:
    print(f"FAIL stderr a broken pipe: exit {rc} (a negative value is the signal), "
          f"{native} without the tracker")
    fails += 1
else:
    print(f"ok   stderr a broken pipe: exit {rc}, as without the tracker")
sys.exit(1 if fails else 0)
