# stime_ab.py ROUNDS LABEL=LIB...: ms-bench-workload 4 1000000 without stacks under each library,
# interleaved; medians of user and system time (wait4) and the per-round system-time
# difference from the first library, ns/event. Issue 12 fourth pass.
import os,sys,subprocess,statistics as st,shutil,collections
R=int(sys.argv[1]); libs=[a.split('=',1) for a in sys.argv[2:]]
args=['/work/main/build/bench/ms-bench-workload','4','1000000']
def run(env):
    e=dict(os.environ); e.update(env)
    p=subprocess.Popen(args,env=e,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    _,_,ru=os.wait4(p.pid,0); return ru.ru_utime, ru.ru_stime
d=collections.defaultdict(list)
for r in range(R):
    for n,lib in (libs if r%2==0 else libs[::-1]):
        shutil.rmtree('/tmp/exp_out',ignore_errors=True); os.mkdir('/tmp/exp_out')
        d[n].append(run({'MEMSCOPE_OUT':'/tmp/exp_out','MEMSCOPE_STACK_DEPTH':'0','LD_PRELOAD':lib}))
for n,_ in libs:
    print(n, "user median %.1f ms, sys median %.1f ms, sys ns/event %.2f" % (st.median(x[0] for x in d[n])*1e3, st.median(x[1] for x in d[n])*1e3, st.median(x[1] for x in d[n])*1e9/8e6))
b=libs[0][0]
for n,_ in libs[1:]:
    print(n,"- base sys per pair median %.2f ns/event" % st.median((x[1]-y[1])*1e9/8e6 for x,y in zip(d[n],d[b])))
