#!/usr/bin/env python3
"""check_layers.py SOURCE_DIR: the library's includes follow lib/LAYERS.

Every file of lib/ and include/finops/ may include the headers of its own
area and of the layers below it, never of a layer above nor of another area
of its own layer; and no two modules (a .c file and its header) may include
each other, directly or round a longer cycle.
Exits 1 naming each file and include that breaks a rule.

check_layers.py --self-test: the check fails on a small tree that breaks
each rule, and passes on the same tree mended."""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def self_test():
    def tree(files):
        d = tempfile.mkdtemp(prefix="fo-layers.")
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        return d

    layers = "1 core a\n2 mid b\n3 top c\n"
    good = {"lib/LAYERS": layers, "include/finops/a.h": "", "include/finops/b.h":
            '#include "finops/a.h"\n', "include/finops/c.h": '#include "finops/b.h"\n',
            "lib/core/a.c": '#include "finops/a.h"\n', "lib/mid/b.c": '#include "finops/a.h"\n',
            "lib/top/c.c": '#include "finops/b.h"\n'}
    upward = dict(good, **{"lib/core/a.c": '#include "finops/c.h"\n'})
    cycle = dict(good, **{"include/finops/d.h": "", "lib/LAYERS": layers.replace("b", "b d"),
                          "lib/mid/d.c": '#include "finops/b.h"\n',
                          "lib/mid/b.c": '#include "finops/d.h"\n'})
    sideways = dict(good, **{"include/finops/e.h": "", "lib/LAYERS": layers + "2 mid3 e\n",
                             "lib/mid3/e.c": "", "lib/mid/b.c": '#include "finops/e.h"\n'})
    for name, files, want, says in (("good", good, 0, "no include cycle"),
                                    ("upward", upward, 1, "a layer above it"),
                                    ("cycle", cycle, 1, "include cycle between modules"),
                                    ("sideways", sideways, 1, "another area of its layer")):
        d = tree(files)
        try:
            r = subprocess.run([sys.executable, __file__, d], capture_output=True, text=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        if r.returncode != want or says not in r.stdout:
            sys.exit(f"self-test: the {name} tree exits {r.returncode}, not {want}, saying"
                     f" {r.stdout.strip()!r}")
    print("self-test: an upward include, a sideways one and a cycle fail, the mended tree"
          " passes")
    sys.exit(0)


if sys.argv[1:] == ["--self-test"]:
    self_test()
root = sys.argv[1]
layers, area_of_header = {}, {}
for line in open(os.path.join(root, "lib", "LAYERS")):
    line = line.split("#")[0].split()
    if not line:
        continue
    layer, area, headers = int(line[0]), line[1], line[2:]
    layers[area] = layer
    for h in headers:
        area_of_header[h] = area

problems = []
files = []
for d, _, names in os.walk(os.path.join(root, "lib")):
    files += [os.path.join(d, n) for n in names if n.endswith((".c", ".h"))]
files += [os.path.join(root, "include", "finops", n)
          for n in os.listdir(os.path.join(root, "include", "finops")) if n.endswith(".h")]


def where(path):
    """(area, module) of a file of the library."""
    rel = os.path.relpath(path, root)
    stem = os.path.splitext(os.path.basename(rel))[0]
    if rel.startswith("include/"):
        if stem not in area_of_header:
            problems.append(f"{rel}: a public header no area of lib/LAYERS lists")
            return None, stem
        return area_of_header[stem], stem
    area = rel.split(os.sep)[1]
    if area not in layers:
        problems.append(f"{rel}: in lib/{area}/, an area lib/LAYERS does not list")
        return None, stem
    # the private header of an area's helpers (core/core.h) is the module of its helpers
    if rel.endswith(".h") and not os.path.exists(path[:-2] + ".c"):
        return area, area + "/" + stem
    return area, stem


def target(inc):
    """(area, module) of an included header, or None for one outside the library."""
    if inc.startswith("finops/"):
        stem = os.path.splitext(inc[7:])[0]
        return area_of_header.get(stem, "?"), stem
    first = inc.split("/")[0]
    if first in layers and inc.endswith(".h"):
        path = os.path.join(root, "lib", inc)
        stem = os.path.splitext(os.path.basename(inc))[0]
        if not os.path.exists(path[:-2] + ".c"):
            return first, first + "/" + stem
        return first, stem
    return None


edges = {}
for path in sorted(files):
    area, module = where(path)
    if area is None:
        continue
    rel = os.path.relpath(path, root)
    for n, line in enumerate(open(path, errors="replace"), 1):
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if not m:
            continue
        t = target(m.group(1))
        if t is None:
            continue
        tarea, tmodule = t
        if tarea == "?":
            problems.append(f"{rel}:{n}: includes {m.group(1)}, which no area lists")
            continue
        if layers[tarea] > layers[area]:
            problems.append(f"{rel}:{n}: {area} (layer {layers[area]}) includes {m.group(1)} of"
                            f" {tarea} (layer {layers[tarea]}), a layer above it")
        elif layers[tarea] == layers[area] and tarea != area:
            problems.append(f"{rel}:{n}: {area} includes {m.group(1)} of {tarea}, another area"
                            f" of its layer {layers[area]}")
        if tmodule != module:
            edges.setdefault(module, set()).add(tmodule)

# cycles between modules (Tarjan's strongly connected components)
index, low, stack, on, sccs = {}, {}, [], set(), []


def strong(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in sorted(edges.get(v, ())):
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
    if v not in index:
        strong(v)
for comp in sccs:
    problems.append("include cycle between modules: " + " <-> ".join(comp))

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"{len(files)} files follow lib/LAYERS ({len(layers)} areas), no include cycle")
