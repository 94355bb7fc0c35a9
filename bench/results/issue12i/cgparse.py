import sys,re,subprocess,collections
f,lib,fn=sys.argv[1],sys.argv[2],sys.argv[3]
cost=collections.Counter()
cur_fn=None; cur_ob=None; last=0; names={}; obnames={}
in_call=False
for line in open(f):
    line=line.rstrip('\n')
    m=re.match(r'^(c?)(fn|ob|fl|fi|fe|cfn|cob|cfi|cfl)=\((\d+)\)(?: (.*))?$',line)
    if line.startswith(('fn=','ob=','cfn=','cob=','fl=','fi=','fe=','cfi=','cfl=')):
        key,val=line.split('=',1)
        mm=re.match(r'\((\d+)\)(?: (.*))?',val)
        if mm:
            idx,name=mm.group(1),mm.group(2)
            tbl=names if key in('fn','cfn') else obnames if key in ('ob','cob') else None
            if tbl is not None:
                if name: tbl[idx]=name
                name=tbl.get(idx)
        else: name=val
        if key=='fn': cur_fn=name
        if key=='ob': cur_ob=name
        continue
    if line.startswith('calls='):
        in_call=True; continue
    m=re.match(r'^(0x[0-9a-f]+|[+-]\d+|\*)\s+(?:\S+)\s+(\d+)',line)
    if m:
        a=m.group(1)
        if a.startswith('0x'): addr=int(a,16)
        elif a=='*': addr=last
        else: addr=last+int(a)
        last=addr
        if in_call: in_call=False; continue  # inclusive cost line of a call
        if cur_fn and cur_fn.startswith(fn) and cur_ob and lib in cur_ob:
            cost[addr]+=int(m.group(2))
tot=sum(cost.values()); print('total',tot)
base=min(cost) if cost else 0
for a in sorted(cost): print(hex(a), cost[a])
