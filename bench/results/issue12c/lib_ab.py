# lib_ab.py ROUNDS PAIRS LABEL=LIB[:VAR=VALUE]...: the interleaved A/B of tracker builds used for
# issue 12 third pass (docs/benchmarks.md): ms-bench-workload 4 PAIRS natively, then under each
# library without stacks (order reversed every other round), CPU time from wait4; prints each
# library's median added ns/event against the same round's native run and against the first
# library; raw times in /tmp/exp_raw.json. Kept as the exact script that measured them.
import os,sys,subprocess,statistics as st,shutil,collections,json
R=int(sys.argv[1]); P=int(sys.argv[2]); libs=[a.split('=',1) for a in sys.argv[3:]]
extra={}
for i,(n,l) in enumerate(libs):
    if ':' in l:
        l,kv=l.split(':',1); k,v=kv.split('=',1); extra[n]={k:v}; libs[i]=[n,l]
W='/work/main/build/bench/ms-bench-workload'; args=[W,'4',str(P)]; EV=8*P
def run(env):
    e=dict(os.environ); e.update(env)
    p=subprocess.Popen(args,env=e,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    _,status,ru=os.wait4(p.pid,0); return ru.ru_utime+ru.ru_stime
d=collections.defaultdict(list)
for r in range(R):
    order=list(libs) if r%2==0 else list(reversed(libs))
    nat=run({})
    for n,lib in order:
        shutil.rmtree('/tmp/exp_out',ignore_errors=True); os.mkdir('/tmp/exp_out')
        env={'MEMSCOPE_OUT':'/tmp/exp_out','MEMSCOPE_STACK_DEPTH':'0','LD_PRELOAD':lib}; env.update(extra.get(n,{})); d[n].append(run(env))
    d['native'].append(nat)
json.dump(d,open('/tmp/exp_raw.json','w'))
base=libs[0][0]
for n,_ in libs:
    add=[(x-y)/EV*1e9 for x,y in zip(d[n],d['native'])]
    vb=[(x-y)/EV*1e9 for x,y in zip(d[n],d[base])]
    print(f"{n:10s} added median {st.median(add):6.1f}  vs {base}: median {st.median(vb):+6.1f} ns/event")
print('native median %.3f s, min %.3f max %.3f' % (st.median(d['native']),min(d['native']),max(d['native'])))
