import json, re
d = {}
for i in range(100000):
    d["k%d" % i] = [i, str(i) * 3, {"v": i * 0.5}]
s = json.dumps(d)
back = json.loads(s)
words = re.findall(r"k\d+", s)
print(len(back), len(words), sum(len(w) for w in words))
