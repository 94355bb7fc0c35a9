# paired.py REPORT.json A B: per round, B's tool CPU minus A's (ns/event) for each program and config of a
# cost_report.py JSON, median and distribution-free 95 % CI (order statistics); also the
# system-time part. Used for issue 12 fourth pass (docs/benchmarks.md).
import json,statistics as st,sys,collections
d=json.load(open(sys.argv[1]))
by=collections.defaultdict(dict)
for r in d['runs']:
    by[(r['tool']['program'],r['tool']['config'],r['round'])][r['lib']]=r
libs=sorted({r['lib'] for r in d['runs']})
a,b=sys.argv[2],sys.argv[3]
def ci(v):
    v=sorted(v); n=len(v)
    import math
    # order-statistic CI as in cost_report
    from math import comb
    best=None
    for k in range(0,n//2):
        p=sum(comb(n,i) for i in range(k+1,n-k))/2**n
        if p>=0.95: best=(v[k],v[n-1-k])
    return best
for prog,cfg in sorted({(k[0],k[1]) for k in by}):
    diffs=[];sysd=[];ev=None
    for k,v in by.items():
        if k[0]!=prog or k[1]!=cfg or a not in v or b not in v: continue
        ev=v[a]['tool']['events']
        diffs.append((v[b]['tool']['cpu_s']-v[a]['tool']['cpu_s'])*1e9/ev)
        sysd.append((v[b]['tool']['sys_s']-v[a]['tool']['sys_s'])*1e9/ev)
    print(f"{prog:9s} {cfg:8s} {b}-{a}: median {st.median(diffs):+6.2f} ns/event CI {ci(diffs)}  sys median {st.median(sysd):+5.2f} ns/event  (n={len(diffs)})")
