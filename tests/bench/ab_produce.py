#!/usr/bin/python3
"""Two strata-server binaries on run_bench.py's rows, alternating.

A benchmark, not a test. For a change that must not slow a path down: each
round runs every selected row once on A and once on B (the order flipping
from round to round, so neither always gets the quieter moment of a noisy
machine), each on a fresh broker and topic, measured by the same
build/tests/bench/bench client as run_bench.py. Prints per row the median
records/s of each binary and the median of the per-round ratios A/B, and
the same for the broker's CPU time (utime + stime from /proc) per million
records, which a shared machine disturbs less than the wall clock.

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


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(runner, row, seq):
    """(records/s, broker CPU seconds per million records) or None."""
    topic = "ab-%d-%d" % (os.getpid(), seq)
    broker = runner.broker("strata", topic, row["partitions"])
    try:
        broker.start()
        cpu0 = cpu_seconds(broker.proc.pid)
        res = runner.run_bench(runner.bench_cmd(row["mode"], broker.bootstrap, topic, "strata", row["opts"]))
        cpu = cpu_seconds(broker.proc.pid) - cpu0
        if not res or row["metric"] not in res:
            return None
        return float(res[row["metric"]]), cpu * 1e6 / row["records"]
    except (RuntimeError, OSError) as e:
        run_bench.log("  %s" % e)
        return None
    finally:
        broker.close()


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
        rows = [r for r in run_bench.matrix(args.scale) if args.only in r["name"] and r["mode"] == "produce"]
        results = {(i, w): [] for i in range(len(rows)) for w in ("a", "b")}
        ratios = {i: [] for i in range(len(rows))}
        cpu_ratios = {i: [] for i in range(len(rows))}
        seq = 0
        for rnd in range(args.rounds):
            for i, row in enumerate(rows):
                order = ("a", "b") if (rnd + i) % 2 == 0 else ("b", "a")
                got = {}
                for which in order:
                    run_bench.log("round %d/%d  %-44s %s" % (rnd + 1, args.rounds, row["name"], which))
                    seq += 1
                    res = one_run(runners[which], row, seq)
                    if res:
                        got[which] = res
                        results[(i, which)].append(res)
                if len(got) == 2 and got["b"][0] > 0 and got["b"][1] > 0:
                    ratios[i].append(got["a"][0] / got["b"][0])
                    cpu_ratios[i].append(got["a"][1] / got["b"][1])

        def med(vals, k, fmt):
            return fmt.format(statistics.median(v[k] for v in vals)) if vals else "-"

        print("| row | A rec/s | B rec/s | A/B rec/s | A CPU s/M rec | B CPU s/M rec | A/B CPU | rounds |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for i, row in enumerate(rows):
            a, b = results[(i, "a")], results[(i, "b")]
            print("| %s | %s | %s | %s | %s | %s | %s | %d |" % (
                row["name"], med(a, 0, "{:,.0f}"), med(b, 0, "{:,.0f}"),
                "%.3f" % statistics.median(ratios[i]) if ratios[i] else "-",
                med(a, 1, "{:.3f}"), med(b, 1, "{:.3f}"),
                "%.3f" % statistics.median(cpu_ratios[i]) if cpu_ratios[i] else "-", len(ratios[i])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
