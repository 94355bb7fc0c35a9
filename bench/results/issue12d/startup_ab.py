# startup_ab.py N LABEL=LIB...: `sqlite3 :memory:` reading one statement (/tmp/one.sql: "select 1;"),
# N rounds of native then each library (order reversed every other round), CPU time of the
# child (getrusage); prints each library's median added ms. Issue 12 fourth pass.
import os, sys, resource, subprocess, tempfile, shutil, statistics
libs = [a.split("=",1) for a in sys.argv[2:]]; n = int(sys.argv[1])
prog = ["/usr/bin/sqlite3", ":memory:"]
def run(env):
    t0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open("/tmp/one.sql") as f:
        subprocess.run(prog, env=env, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime)
d = tempfile.mkdtemp(); res = {k: [] for k, _ in libs}; nat = []
for i in range(n):
    nat.append(run(dict(os.environ)))
    for k, l in (libs if i % 2 == 0 else libs[::-1]):
        res[k].append(run(dict(os.environ, LD_PRELOAD=l, MEMSCOPE_OUT=d)) - nat[-1])
        for x in os.listdir(d): shutil.rmtree(os.path.join(d, x), ignore_errors=True)
for k in res: print(k, "added median %.3f ms" % (statistics.median(res[k]) * 1e3))
