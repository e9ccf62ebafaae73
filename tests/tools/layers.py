#!/usr/bin/env python3
"""layers.py - checks that calls between the C files of each folder run one
way: no file calls a function defined in a file that (directly or through
others) calls back into it. Usage: layers.py DIR... ; prints the cycles found
and "layers: ok" or exits 1."""
import glob
import re
import sys


def defined_and_source(files):
    defs, src = {}, {}
    for f in files:
        s = re.sub(r'/\*.*?\*/', '', open(f, encoding='utf-8').read(), flags=re.S)
        src[f] = s
        for m in re.finditer(r'^(?!static)[a-zA-Z_][\w \*]*?\b(\w+)\s*\([^;]*?\)\s*\{', s, re.M):
            defs.setdefault(m.group(1), f)
    return defs, src


def call_graph(files):
    defs, src = defined_and_source(files)
    g = {f: set() for f in files}
    for f, s in src.items():
        for fn, df in defs.items():
            if df != f and re.search(r'\b' + fn + r'\s*\(', s):
                g[f].add(df)
    return g


def cycles(g):
    """Strongly connected components of more than one file (Tarjan)."""
    idx, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        idx[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in idx:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in idx:
            visit(v)
    return out


def main():
    bad = 0
    for d in sys.argv[1:]:
        files = sorted(glob.glob(d + '/*.c') + glob.glob(d + '/*.cc'))
        for comp in cycles(call_graph(files)):
            print('layers: calls go round in ' + ' '.join(comp))
            bad += 1
    print('layers: ok' if not bad else 'layers: %d cycle(s)' % bad)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
