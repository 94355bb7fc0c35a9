import json,sys,math
d=json.load(open(sys.argv[1])); a,b=sys.argv[2],sys.argv[3]
den=float(sys.argv[4]) if len(sys.argv)>4 else 8000017
by={}
for r in d['runs']:
    by.setdefault(r['lib'],{})[r['round']]=r
rounds=sorted(set(by[a])&set(by[b]))
def cpu(x): return x['cpu_s'] if 'cpu_s' in x else x['user_s']+x['sys_s']
print(list(by[a][rounds[0]]['tool'].keys()))
def med_ci(v):
    v=sorted(v); n=len(v); h=0.98*math.sqrt(n)
    return v[n//2], v[max(0,int(n/2-h))], v[min(n-1,int(n/2+h))]
for part in ['cpu','user','sys']:
    vals=[]
    for r in rounds:
        ta,tb=by[a][r]['tool'],by[b][r]['tool']
        if part=='cpu': x=cpu(tb)-cpu(ta)
        else:
            k=[k for k in ta if k.startswith(part)][0]; x=tb[k]-ta[k]
        vals.append(x*1e9/den)
    m,lo,hi=med_ci(vals); print(f"{b}-{a} {part}: {m:.2f} ns ({lo:.2f} .. {hi:.2f}) n={len(vals)}")
