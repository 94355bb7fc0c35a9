import collections,statistics as st,sys
d=collections.defaultdict(dict)
for l in open(sys.argv[1]):
    i,n,v=l.split(); d[n][int(i)]=float(v)
ev=float(sys.argv[2]) if len(sys.argv)>2 else 8e6
for n in d:
    if n=='nat': continue
    diffs=sorted((d[n][i]-d['nat'][i])*1e6/ev for i in d['nat'] if i in d[n])
    k=len(diffs); lo=diffs[max(0,int(k/2-1.96*k**0.5/2))]; hi=diffs[min(k-1,int(k/2+1.96*k**0.5/2))]
    print(n,'median added ns/call %.1f (%.1f-%.1f)'%(st.median(diffs),lo,hi), 'mean %.1f'%st.mean(diffs))
print('nat median ms', st.median(d['nat'].values()))
import itertools
names=[n for n in d if n!='nat']
for a,b in itertools.combinations(names,2):
    diffs=sorted((d[a][i]-d[b][i])*1e6/ev for i in d[a] if i in d[b])
    k=len(diffs); lo=diffs[max(0,int(k/2-1.96*k**0.5/2))]; hi=diffs[min(k-1,int(k/2+1.96*k**0.5/2))]
    print('%s - %s: median %.1f (%.1f - %.1f)'%(a,b,st.median(diffs),lo,hi))
