#!/usr/bin/env python3
"""tools/check_layers.py must fail on what it exists to catch.

Builds small trees in a temp dir (sources, object files compiled with cc,
a compile_commands.json as meson writes it) and runs the checker on each:
a clean tree passes; an include circle, a call circle without any include,
an upward include, an upward call and an unlisted source folder each fail
with their own line. Exit 0 when every case behaves.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools", "check_layers.py")
CC = os.environ.get("CC", "cc")


def make_tree(files, layers="low\nhigh\n"):
    root = tempfile.mkdtemp(prefix="check-layers-")
    build = os.path.join(root, "build")
    os.makedirs(os.path.join(build, "meson-private"))
    with open(os.path.join(root, "layers.txt"), "w") as f:
        f.write(layers)
    commands = []
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    for rel in files:
        path = os.path.join(root, rel)
        if rel.endswith(".c"):
            obj = os.path.join("objs", rel.replace("/", "_") + ".o")
            os.makedirs(os.path.join(build, "objs"), exist_ok=True)
            subprocess.run([CC, "-c", "-I", root, path, "-o", os.path.join(build, obj)], check=True)
            commands.append({"directory": build, "file": path, "output": obj,
                             "command": "%s -c %s -o %s" % (CC, path, obj)})
    with open(os.path.join(build, "compile_commands.json"), "w") as f:
        json.dump(commands, f)
    return root, build


def run(root, build):
    p = subprocess.run([sys.executable, CHECKER, "--root", root, "--build", build,
                        "--layers", os.path.join(root, "layers.txt")], capture_output=True, text=True)
    return p.returncode, p.stdout


CLEAN = {
    "low/a.h": "int low_a(void);\n",
    "low/a.c": '#include "low/a.h"\nint low_a(void) { return 1; }\n',
    "high/b.h": "int high_b(void);\n",
    "high/b.c": '#include "high/b.h"\n#include "low/a.h"\nint high_b(void) { return low_a(); }\n',
}

CASES = [
    ("clean tree passes", CLEAN, 0, []),
    ("include circle", dict(CLEAN, **{
        "high/c.h": "int high_c(void);\n",
        "high/c.c": '#include "high/c.h"\n#include "high/d.h"\nint high_c(void) { return 2; }\n',
        "high/d.h": "int high_d(void);\n",
        "high/d.c": '#include "high/d.h"\n#include "high/c.h"\nint high_d(void) { return 3; }\n',
    }), 1, ["circle    modules high/c, high/d"]),
    ("call circle without includes", dict(CLEAN, **{
        "high/e.c": "int high_f(void);\nint high_e(void) { return high_f(); }\n",
        "high/f.c": "int high_e(void);\nint high_f(void) { return high_e(); }\n",
    }), 1, ["circle    modules high/e, high/f", "high_f()"]),
    ("upward include", dict(CLEAN, **{
        "low/g.c": '#include "high/b.h"\nint low_g(void) { return 4; }\n',
    }), 1, ["upward    low/g -> high/b"]),
    ("upward call", dict(CLEAN, **{
        "low/h.c": "int high_b(void);\nint low_h(void) { return high_b(); }\n",
    }), 1, ["upward    low/h -> high/b: high_b()"]),
    ("unlisted folder", dict(CLEAN, **{"stray/x.c": "int stray_x(void) { return 5; }\n"}), 1,
     ["unlisted  stray/"]),
]


def main():
    failures = 0
    for name, files, want_rc, want_lines in CASES:
        root, build = make_tree(files)
        rc, out = run(root, build)
        ok = rc == want_rc and all(w in out for w in want_lines)
        print("%s %s (exit %d)" % ("PASS" if ok else "FAIL", name, rc))
        if not ok:
            failures += 1
            print(out)
        subprocess.run(["rm", "-rf", root])
    print("%d passed, %d failed" % (len(CASES) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
