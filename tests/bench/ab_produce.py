#!/usr/bin/python3
"""Two strata-server binaries on run_bench.py's rows, alternating.

A benchmark, not a test. For a change that must not slow a path down: each
round runs every selected row once on A and once on B (the order flipping
from round to round, so neither always gets the quieter moment of a noisy
machine), each on a fresh broker and topic, measured by the same
build/tests/bench/bench client as run_bench.py. Prints per row the median
records/s of each binary and the median of the per-round ratios A/B.

    tests/bench/ab_produce.py --a NEW --b OLD [--rounds 5] [--only 'produce 1 KiB'] [--scale 1]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run_bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="strata-server binary A (the change)")
    ap.add_argument("--b", required=True, help="strata-server binary B (the baseline)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="produce")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--build", default=os.path.join(run_bench.ROOT, "build"))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="strata-ab-")
    try:
        runners = {}
        for which in ("a", "b"):
            copy = os.path.join(tmp, which, "strata-server")
            os.makedirs(os.path.dirname(copy))
            shutil.copy2(getattr(args, which), copy)  # a rebuild during the run cannot mix builds
            ns = argparse.Namespace(build=args.build, server=copy, raw=None)
            runners[which] = run_bench.Runner(ns)
        rows = [r for r in run_bench.matrix(args.scale) if args.only in r["name"]]
        results = {(i, w): [] for i in range(len(rows)) for w in ("a", "b")}
        ratios = {i: [] for i in range(len(rows))}
        for rnd in range(args.rounds):
            for i, row in enumerate(rows):
                order = ("a", "b") if (rnd + i) % 2 == 0 else ("b", "a")
                got = {}
                for which in order:
                    run_bench.log("round %d/%d  %-44s %s" % (rnd + 1, args.rounds, row["name"], which))
                    res = runners[which].one_run("strata", row)
                    if res and row["metric"] in res:
                        got[which] = float(res[row["metric"]])
                        results[(i, which)].append(got[which])
                if len(got) == 2 and got["b"] > 0:
                    ratios[i].append(got["a"] / got["b"])
        print("| row | A rec/s | B rec/s | A/B (median of per-round ratios) | rounds |")
        print("|---|---:|---:|---:|---:|")
        for i, row in enumerate(rows):
            a, b = results[(i, "a")], results[(i, "b")]
            print("| %s | %s | %s | %s | %d |" % (
                row["name"], "{:,.0f}".format(statistics.median(a)) if a else "-",
                "{:,.0f}".format(statistics.median(b)) if b else "-",
                "%.3f" % statistics.median(ratios[i]) if ratios[i] else "-", len(ratios[i])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
