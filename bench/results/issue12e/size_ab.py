#!/usr/bin/env python3
"""size_ab.py ROUNDS NAME=LIB...: the workload's added CPU without stacks under several tracker
builds, interleaved (issue 12, fifth pass; results in size_ab.txt).

Each round runs, for every library (the first one rotated each round), a native run of
ms-bench-workload and a tracked one back to back (native first on even rounds), and takes
the tracked run's user + sys CPU minus the native run's, per event. Prints each library's
median, its user and sys parts, and for every library after the first the median of the
per-round differences against the first. The workload: $ABBIN (default build/bench/
ms-bench-workload under the current directory) with $ABARGS (default "4 1000000"); stacks
$ABDEPTH deep (default 0)."""
import os, sys, subprocess, resource, statistics, tempfile, shutil
W=os.environ.get("ABBIN","build/bench/ms-bench-workload")
ARGS=os.environ.get("ABARGS","4 1000000").split()
EV=int(ARGS[0])*int(ARGS[1])*2
DEPTH=os.environ.get("ABDEPTH","0")
def run(env):
    r0=resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([W]+ARGS,env=env,stdout=subprocess.DEVNULL,check=True)
    r1=resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime-r0.ru_utime, r1.ru_stime-r0.ru_stime)
n=int(sys.argv[1]); libs=sys.argv[2:]
res={l:[] for l in libs}
for i in range(n):
    order=libs[i%len(libs):]+libs[:i%len(libs)]
    for l in order:
        name,path=l.split("=",1)
        d=tempfile.mkdtemp(dir="/tmp")
        e=dict(os.environ,LD_PRELOAD=path,MEMSCOPE_OUT=d,MEMSCOPE_STACK_DEPTH=DEPTH)
        if i%2==0:
            nat=run(dict(os.environ)); t=run(e)
        else:
            t=run(e); nat=run(dict(os.environ))
        shutil.rmtree(d)
        res[l].append(((t[0]+t[1]-nat[0]-nat[1])/EV*1e9,(t[0]-nat[0])/EV*1e9,(t[1]-nat[1])/EV*1e9))
base=libs[0]
for l,v in res.items():
    line=l.split("=")[0]+" added ns/event median %.1f  user %.1f  sys %.1f  n=%d"%(statistics.median(x[0] for x in v),statistics.median(x[1] for x in v),statistics.median(x[2] for x in v),len(v))
    if l!=base:
        d=[a[0]-b[0] for a,b in zip(v,res[base])]
        line+="   paired vs %s: %+.1f"%(base.split("=")[0],statistics.median(d))
    print(line)
