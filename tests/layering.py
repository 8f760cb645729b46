#!/usr/bin/env python3
"""The layering check: the agent's folders are pipeline stages, and a stage
includes only itself and the stages upstream of it; no module's includes
form a circle.

  base    loop, timers, http, log, config, small data structures
  kernel  probes, cgroup paths, the cgroup map, the host at start   (base)
  api     watches, objects, node state, interruption, IMDS          (base)
  join    where kernel and API meet: the records of containers,
          pods and drains                                             (base, kernel, api)
  out     sink, encoder, writer, history, checkpoint, metrics, stats (all of the above)
  top     agent.c and main.c: the wiring                             (everything)

kernel and api are parallel branches: neither includes the other. A module
is agent/<stage>/<name>.c with include/nodetrail/<stage>/<name>.h; the BPF
program may include only the kernel<->user ABI (nodetrail/kernel/events.h).

  tests/layering.py [ROOT]       check the tree (default: this repository)
  tests/layering.py --self-test  check that the checker catches both faults
"""
import os
import re
import sys
import tempfile

ALLOWED = {
    "base": {"base"},
    "kernel": {"base", "kernel"},
    "api": {"base", "api"},
    "join": {"base", "kernel", "api", "join"},
    "out": {"base", "kernel", "api", "join", "out"},
    "top": {"base", "kernel", "api", "join", "out", "top"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"nodetrail/(?:([a-z]+)/)?([a-z0-9_]+)\.h"', re.M)


def module_of(root, path):
    """(stage, name) of a source or header, None for files that are not the agent's."""
    rel = os.path.relpath(path, root)
    parts = rel.split(os.sep)
    name = os.path.splitext(parts[-1])[0]
    if parts[0] == "agent":
        return ("top", name) if len(parts) == 2 else (parts[1], name)
    if parts[:2] == ["include", "nodetrail"]:
        return ("top", name) if len(parts) == 3 else (parts[2], name)
    return None


def files(root):
    for top in ("agent", os.path.join("include", "nodetrail")):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    yield os.path.join(d, n)


def check(root):
    problems = []
    edges = {}
    for path in files(root):
        mod = module_of(root, path)
        if mod is None or mod[0] not in ALLOWED:
            problems.append(f"{os.path.relpath(path, root)}: not in a stage folder ({', '.join(ALLOWED)})")
            continue
        with open(path) as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            stage, name = m.group(1) or "top", m.group(2)
            line = text.count("\n", 0, m.start()) + 1
            if stage not in ALLOWED[mod[0]]:
                problems.append(f"{os.path.relpath(path, root)}:{line}: the {mod[0]} stage includes "
                                f"nodetrail/{m.group(1) + '/' if m.group(1) else ''}{name}.h, of the {stage} stage "
                                f"(allowed: {', '.join(sorted(ALLOWED[mod[0]]))})")
            if (stage, name) != mod:
                edges.setdefault(mod, set()).add((stage, name))
    bpf = os.path.join(root, "bpf")
    for d, _, names in os.walk(bpf):
        for n in names:
            with open(os.path.join(d, n)) as f:
                for m in INCLUDE.finditer(f.read()):
                    if (m.group(1), m.group(2)) != ("kernel", "events"):
                        problems.append(f"bpf/{n}: includes nodetrail/{m.group(1)}/{m.group(2)}.h; "
                                        "the BPF side sees only nodetrail/kernel/events.h")
    problems += [f"include circle: {' -> '.join('/'.join(m) for m in c)}" for c in cycles(edges)]
    return problems


def cycles(edges):
    """One circle per strongly connected component of more than one module."""
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
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
                found.append(sorted(comp) + [sorted(comp)[0]])

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def put(rel, text):
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        put("agent/api/a.c", '#include "nodetrail/api/b.h"\n')
        put("agent/api/b.c", '#include "nodetrail/api/a.h"\n')
        put("agent/kernel/k.c", '#include "nodetrail/join/correlate.h"\n')
        put("bpf/x.bpf.c", '#include "nodetrail/kernel/events.h"\n')
        got = check(root)
        assert any("include circle" in p and "api/a" in p for p in got), got
        assert any("the kernel stage includes nodetrail/join/correlate.h" in p for p in got), got
        assert len(got) == 2, got
    print("ok: the layering check catches a circle and an include downstream")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    for p in problems:
        print(f"FAIL: {p}")
    if not problems:
        print("ok: stages include only themselves and what is upstream, no include circles")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
