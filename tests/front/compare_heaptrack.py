#!/usr/bin/env python3
"""compare_heaptrack.py HEAPTRACK_PRINT_TXT MEMSCOPE_TXT: the top 5 allocation sites by calls,
by peak and by temporary allocations in heaptrack_print's report and in memscope's must name the same functions in the
same order (sites of equal figures compared as sets).

Like for like: a site is the innermost frame that is not an allocator function, as both
tools print it. Names are compared with symbol versions, glibc's __GI_ aliases and leading
underscores folded; a frame without a function name is "<unresolved> in MODULE" (heaptrack
prints its address, memscope "<unresolved function>"; both merge a module's unresolved places
into one site), the module by its soname (heaptrack names /lib/.../libsqlite3.so.0, memscope
the file it maps, /usr/lib/.../libsqlite3.so.0.8.6). heaptrack's preload library pulls
libstdc++ into the traced process, whose initializer allocates an exception pool: that site
exists only under heaptrack and is left out when memscope's report has no libstdc++ site.
(A C++ program has that pool of its own: memscope's tracker, initialized after libstdc++,
does not see it; docs/memscope-cmd.md.)"""
import re
import sys

TOP = 5


def norm_fn(name):
    # Template arguments: heaptrack's demangler prints build<>(int) where libstdc++'s
    # __cxa_demangle (memscope) prints build<int>(int): compare without them.
    prev = None
    while prev != name:
        prev, name = name, re.sub(r"<[^<>]*>", "<>", name)
    name = name.split("@")[0]
    if name.startswith("__GI_"):
        name = name[5:]
    return name.lstrip("_")


def soname(path):
    base = path.rsplit("/", 1)[-1]
    m = re.match(r"(.*?\.so)(\.\d+)?", base)
    return m.group(1) + (m.group(2) or "") if m else base


def sites(text, title, head_re):
    """[(figure text, site name, module)] of one section, in the printed order."""
    m = re.search(r"^" + title + r"\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)", text, re.S | re.M)
    if not m:
        sys.exit("FAIL: no section " + title)
    lines = m.group(1).split("\n")
    out = []
    for i, line in enumerate(lines):
        h = re.match(head_re, line)
        if not h or i + 1 >= len(lines):
            continue
        frame = lines[i + 1]
        module = ""
        for extra in lines[i + 2:i + 4]:
            if extra.startswith("  in "):
                module = soname(extra[5:].strip())
        if frame.startswith("0x") or frame.startswith("<unresolved function>"):
            name = "<unresolved> in " + module
        else:
            name = norm_fn(frame.split(" (inlined")[0])
        out.append((h.group(1), name, module))
    return out


def ranked_groups(lst):
    """Tie groups [(figure, {names}, reaches_end)] covering the first TOP sites."""
    groups, i = [], 0
    while i < len(lst) and i < TOP:
        j = i
        while j < len(lst) and lst[j][0] == lst[i][0]:
            j += 1
        groups.append((lst[i][0], {n for _, n, _ in lst[i:j]}, j == len(lst)))
        i = j
    return groups


def compare(title, ht, ms):
    ok = True
    print(title)
    if not any(mod.startswith("libstdc++") for _, _, mod in ms):
        left = [s for s in ht if s[2].startswith("libstdc++")]
        if left:
            print("  (left out of heaptrack's list: %d libstdc++ site(s) of heaptrack's own "
                  "preloading)" % len(left))
        ht = [s for s in ht if not s[2].startswith("libstdc++")]
    for k in range(max(len(ht), len(ms))):
        if k >= TOP:
            break
        a = ht[k] if k < len(ht) else ("-", "-", "")
        b = ms[k] if k < len(ms) else ("-", "-", "")
        print("  %d. heaptrack %-10s %-40s memscope %-10s %s" % (k + 1, a[0], a[1], b[0], b[1]))
    hg, mg = ranked_groups(ht), ranked_groups(ms)
    if min(len(ht), TOP) != min(len(ms), TOP):
        print("  FAIL: %d sites listed by heaptrack, %d by memscope" % (len(ht), len(ms)))
        return False
    for (hf, hs, hend), (mf, ms_, mend) in zip(hg, mg):
        if hend or mend:  # a tie cut off by the listing's limit: compare what both list
            good = hs <= ms_ or ms_ <= hs
        else:
            good = hs == ms_
        if not good:
            print("  FAIL: sites %s (heaptrack, %s) != %s (memscope, %s)" % (sorted(hs), hf, sorted(ms_), mf))
            ok = False
    if len(hg) != len(mg):
        print("  FAIL: %d tie groups in heaptrack's top %d, %d in memscope's" % (len(hg), TOP, len(mg)))
        ok = False
    print("  %s" % ("ok" if ok else "FAIL"))
    return ok


ht_text = open(sys.argv[1]).read()
ms_text = open(sys.argv[2]).read()
calls_re = r"^(\d+) calls to allocation functions with \S+ peak consumption from$"
peak_re = r"^(\S+) peak memory consumed over \d+ calls from$"
ok = compare("by calls", sites(ht_text, "MOST CALLS TO ALLOCATION FUNCTIONS", calls_re),
             sites(ms_text, "MOST CALLS TO ALLOCATION FUNCTIONS", calls_re))
ok &= compare("by peak", sites(ht_text, "PEAK MEMORY CONSUMERS", peak_re),
              sites(ms_text, "PEAK MEMORY CONSUMERS", peak_re))
temps_re = r"^(\d+) temporary allocations of \d+ allocations in total \([0-9.]+%\) from$"
ok &= compare("by temporary allocations", sites(ht_text, "MOST TEMPORARY ALLOCATIONS", temps_re),
              sites(ms_text, "MOST TEMPORARY ALLOCATIONS", temps_re))
sys.exit(0 if ok else 1)
