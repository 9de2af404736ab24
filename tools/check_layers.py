#!/usr/bin/env python3
"""Fails when the code's structure breaks its layers.

    tools/check_layers.py --root SRC --build BUILD [--layers tools/layers.txt]

A module is a .c and its .h (protocol/codec.c + protocol/codec.h). An arrow
A -> B is an include of B's header in A, or a call of (or reference to) a
public symbol that A's object file leaves undefined and B's object file
defines (read with nm from the objects that BUILD/compile_commands.json
lists). Folders are ordered in the layers file, lowest first: a folder may
use only folders listed before it.

Reported, each on its own line, and the exit status is 1 when any is found:
  circle    modules (or folders) that use each other in a loop, with the
            arrows and the names that tie them;
  upward    an arrow from a folder to one listed after it;
  unlisted  a source folder that the layers file does not name.
Folders the layers file lists under `users:` (tools, tests) may use every
layer and are not checked. Generated sources in BUILD count as modules of
the folder they are generated for (BUILD/protocol/messages.c is
protocol/messages).
"""
import argparse
import json
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_layers(path):
    """(ordered layer folders, user folders)"""
    layers, users = [], []
    section = layers
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line == "users:":
            section = users
            continue
        section.append(line.rstrip("/"))
    return layers, users


def module_of(rel):
    """'protocol/codec.c' -> 'protocol/codec'"""
    base, ext = os.path.splitext(rel)
    return base if ext in (".c", ".h") else None


def layer_of(module, layers):
    """The layers-file folder a module belongs to (longest prefix), or None."""
    best = None
    for folder in layers:
        if module == folder or module.startswith(folder + "/"):
            if best is None or len(folder) > len(best):
                best = folder
    return best


def top_folder(module):
    return module.split("/", 1)[0]


def source_files(root, folders):
    for folder in folders:
        base = os.path.join(root, folder)
        for dirpath, _, names in os.walk(base):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def rel_to_tree(path, root, build):
    """A source path from compile_commands relative to the tree (generated
    files: relative to BUILD, which mirrors the tree)."""
    path = os.path.normpath(path)
    for base in (root, build):
        rel = os.path.relpath(path, base)
        if not rel.startswith(".."):
            return rel
    return None


def nm_symbols(obj):
    """(defined, undefined) global symbol sets of an object file."""
    out = subprocess.run(["nm", "-P", "-g", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRGSVWC":
            defined.add(name)
    return defined, undefined


def collect(root, build, layers, users):
    """{(a, b): set of names} for every arrow between two modules."""
    arrows = {}
    known = set()
    checked = [f for f in layers]
    for rel in source_files(root, checked):
        known.add(module_of(rel))
    # Generated modules live in the build tree.
    for rel in source_files(build, checked):
        known.add(module_of(rel))

    def add(a, b, name):
        if a and b and a != b:
            arrows.setdefault((a, b), set()).add(name)

    for rel in source_files(root, checked):
        a = module_of(rel)
        text = open(os.path.join(root, rel), errors="replace").read()
        for inc in INCLUDE.findall(text):
            b = module_of(inc)
            if b in known:
                add(a, b, "#include \"%s\"" % inc)

    cc_path = os.path.join(build, "compile_commands.json")
    commands = json.load(open(cc_path)) if os.path.exists(cc_path) else []
    defined_by = {}
    undefined_in = {}
    for entry in commands:
        src = entry["file"]
        if not os.path.isabs(src):
            src = os.path.join(entry["directory"], src)
        rel = rel_to_tree(src, root, build)
        if rel is None:
            continue
        mod = module_of(rel)
        if mod not in known:
            continue
        obj = entry.get("output")
        if not obj:
            m = re.search(r"-o\s+(\S+)", entry.get("command", ""))
            obj = m.group(1) if m else None
        if not obj:
            continue
        obj = os.path.join(entry["directory"], obj)
        if not os.path.exists(obj):
            continue
        defined, undefined = nm_symbols(obj)
        for name in defined:
            defined_by.setdefault(name, set()).add(mod)
        undefined_in.setdefault(mod, set()).update(undefined)
    for a, names in undefined_in.items():
        for name in names:
            for b in defined_by.get(name, ()):
                add(a, b, name + "()")
    return arrows, known


def strongly_connected(nodes, edges):
    """Tarjan's algorithm; returns the components with more than one node."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    counter = [0]
    succ = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in succ.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                result.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return result


def describe(names, limit=4):
    names = sorted(names)
    more = len(names) - limit
    return ", ".join(names[:limit]) + (" and %d more" % more if more > 0 else "")


def check(root, build, layers_path):
    layers, users = read_layers(layers_path)
    problems = []
    listed = set(layers) | set(users)
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if entry.startswith(".") or entry in listed or not os.path.isdir(path):
            continue
        if os.path.exists(os.path.join(path, "meson-private")):
            continue  # a build directory
        if any(n.endswith((".c", ".h")) for _, _, ns in os.walk(path) for n in ns):
            problems.append("unlisted  %s/ holds C sources but %s does not name it" % (entry, layers_path))
    arrows, modules = collect(root, build, layers, users)
    rank = {}
    for i, folder in enumerate(layers):
        rank[folder] = i
    for (a, b), names in sorted(arrows.items()):
        la, lb = layer_of(a, layers), layer_of(b, layers)
        if la is None or lb is None or la == lb:
            continue
        if rank[lb] > rank[la] and not lb.startswith(la + "/"):
            problems.append("upward    %s -> %s: %s (%s is listed above %s)" % (a, b, describe(names), lb, la))
    for comp in strongly_connected(modules, arrows.keys()):
        inside = ["%s -> %s: %s" % (a, b, describe(n)) for (a, b), n in sorted(arrows.items())
                  if a in comp and b in comp]
        problems.append("circle    modules %s\n            %s" % (", ".join(comp), "\n            ".join(inside)))
    folder_arrows = {}
    for (a, b), names in arrows.items():
        fa, fb = os.path.dirname(a), os.path.dirname(b)
        if fa != fb:
            folder_arrows.setdefault((fa, fb), set()).add("%s -> %s" % (a, b))
    folders = {os.path.dirname(m) for m in modules}
    for comp in strongly_connected(folders, folder_arrows.keys()):
        inside = ["%s -> %s: %s" % (a, b, describe(n)) for (a, b), n in sorted(folder_arrows.items())
                  if a in comp and b in comp]
        problems.append("circle    folders %s\n            %s" % (", ".join(comp), "\n            ".join(inside)))
    return problems, len(modules), len(arrows)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(here))
    ap.add_argument("--build", default=None)
    ap.add_argument("--layers", default=None)
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    build = os.path.abspath(args.build or os.path.join(root, "build"))
    layers = args.layers or os.path.join(root, "tools", "layers.txt")
    problems, modules, arrows = check(root, build, layers)
    for p in problems:
        print(p)
    print("check_layers: %d modules, %d arrows, %d problem(s)" % (modules, arrows, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
