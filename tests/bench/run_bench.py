#!/usr/bin/python3
"""Benchmark Strata against librdkafka's in-memory mock cluster.

A benchmark, not a test: it is not registered with meson's test() and never
decides pass/fail. See docs/performance.md for what it measures and why.

    tests/bench/run_bench.py [--rounds R] [--scale F] [--only SUBSTRING]
                             [--raw FILE] [--build DIR]

Every row of the matrix runs R rounds; in each round Strata and the mock run
one after the other on a fresh broker (Strata: new process, new temp data
dir; mock: new mock_cluster process) and a fresh topic, the order
alternating from run to run so that neither broker always gets the quieter
moment of a noisy machine. Both are measured by the same client
(build/tests/bench/bench). The table holds medians over the rounds.

Then Strata alone: idle RSS (VmRSS 1 s after start with one topic) and the
time from exec to accepting a TCP connection (median of 10), with an empty
data dir and again with an existing one.

The broker binary is copied to a temp dir at start and that copy is run
throughout, so a rebuild of the tree during a long run cannot mix builds.
Every child is started here, stopped by its PID, and bounded by a timeout.
"""
import argparse
import hashlib
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RUN_TIMEOUT_S = 240        # one bench invocation
START_TIMEOUT_S = 15       # broker start until it accepts connections
STOP_TIMEOUT_S = 20        # SIGTERM until exit; then SIGKILL
STARTUP_SAMPLES = 10
IDLE_SETTLE_S = 1.0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc, port, timeout_s, poll_s=0.001):
    """Returns seconds until port accepts a connection; raises on exit or timeout."""
    start = time.monotonic()
    deadline = start + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("broker exited with status %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return time.monotonic() - start
        except OSError:
            time.sleep(poll_s)
    raise RuntimeError("broker did not listen within %.0f s" % timeout_s)


def stop_process(proc):
    """SIGTERM, wait, SIGKILL if needed. Only ever our own child, by PID."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log("  pid %d ignored SIGTERM for %d s: SIGKILL" % (proc.pid, STOP_TIMEOUT_S))
        proc.kill()
        proc.wait(5)


class Strata:
    label = "strata"

    def __init__(self, server, overrides=None, data_dir=None):
        self.server = server
        self.overrides = dict(overrides or {})
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="strata-bench-")
        self.port = free_port()
        self.controller_port = free_port()
        self.proc = None
        self.log_file = None

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def spawn(self):
        """Starts the process (not waiting for it); returns its start time."""
        props = os.path.join(self.data_dir, "server.properties")
        with open(props, "w") as f:
            f.write("node.id=1\nprocess.roles=broker,controller\n")
            f.write("controller.quorum.voters=1@127.0.0.1:%d\n" % self.controller_port)
            f.write("controller.listener.names=CONTROLLER\n")
            f.write("listeners=PLAINTEXT://127.0.0.1:%d\n" % self.port)
            f.write("log.dirs=%s\n" % os.path.join(self.data_dir, "logs"))
        cmd = [self.server, props]
        for k, v in self.overrides.items():
            cmd += ["--override", "%s=%s" % (k, v)]
        self.log_file = open(os.path.join(self.data_dir, "server.log"), "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return t0

    def start(self):
        self.spawn()
        wait_listening(self.proc, self.port, START_TIMEOUT_S)
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        if self.log_file:
            self.log_file.close()
            self.log_file = None

    def close(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def tail_log(self, lines=15):
        try:
            with open(os.path.join(self.data_dir, "server.log"), "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""


class Mock:
    label = "mock"

    def __init__(self, build, topics):
        self.binary = os.path.join(build, "tests", "bench", "mock_cluster")
        self.topics = topics  # [(name, partitions)]
        self.proc = None
        self.bootstrap = None

    def start(self):
        cmd = [self.binary] + ["%s:%d" % t for t in self.topics]
        # stderr to a file, not a pipe nobody reads (a full pipe would block it).
        self.stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr_file)
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT_S)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line:
            self.close()
            raise RuntimeError("mock_cluster printed no bootstrap address")
        self.bootstrap = line
        return self

    def close(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()  # EOF: mock_cluster exits on its own
        except OSError:
            pass
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
        self.proc.stdout.close()
        self.proc = None

    def tail_log(self, lines=15):
        try:
            self.stderr_file.seek(0)
            return b"".join(self.stderr_file.readlines()[-lines:]).decode("utf-8", "replace")
        except (OSError, ValueError, AttributeError):
            return ""


def parse_kv(line):
    out = {}
    for field in line.split():
        if "=" in field:
            k, v = field.split("=", 1)
            out[k] = v
    return out


class Runner:
    def __init__(self, args):
        self.args = args
        self.bench = os.path.join(args.build, "tests", "bench", "bench")
        self.raw = open(args.raw, "a") if args.raw else None
        self.seq = 0

    def bench_cmd(self, mode, bootstrap, topic, label, opts):
        return [self.bench, mode, "-b", bootstrap, "-t", topic, "-L", label,
                "-T", str(RUN_TIMEOUT_S - 10)] + opts

    def run_bench(self, cmd):
        """Runs one bench invocation; returns its key=value dict or None."""
        try:
            res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            log("  TIMEOUT: %s" % " ".join(cmd))
            return None
        out = res.stdout.decode("utf-8", "replace").strip().splitlines()
        if self.raw and out:
            self.raw.write(out[-1] + "\n")
            self.raw.flush()
        if res.returncode != 0 or not out:
            err = res.stderr.decode("utf-8", "replace").strip().splitlines()
            log("  FAILED (%s): %s\n    %s\n    %s" % (res.returncode, " ".join(cmd),
                                                 out[-1] if out else "",
                                                 "\n    ".join(err[-5:])))
            return None
        return parse_kv(out[-1])

    def broker(self, which, topic, parts, overrides=None):
        """A fresh, not yet started broker: Strata (with `overrides`) or the
        mock holding `topic`."""
        if which == "strata":
            return Strata(self.args.server, dict({"num.partitions": parts}, **(overrides or {})))
        return Mock(self.args.build, [(topic, parts)])

    def one_run(self, which, row):
        """Runs a matrix row once on a fresh broker; returns the result dict."""
        self.seq += 1
        topic = "bench-%d-%d" % (os.getpid(), self.seq)
        broker = self.broker(which, topic, row["partitions"])
        try:
            broker.start()
            if row["mode"] == "consume":
                fill = self.bench_cmd("produce", broker.bootstrap, topic, which,
                                      row["fill_opts"])
                if self.run_bench(fill) is None:
                    return None
            cmd = self.bench_cmd(row["mode"], broker.bootstrap, topic, which, row["opts"])
            result = self.run_bench(cmd)
            if result is None and broker.tail_log():
                log("  broker log tail:\n" + broker.tail_log())
            return result
        except (RuntimeError, OSError) as e:
            log("  %s: %s" % (which, e))
            if broker.tail_log():
                log("  broker log tail:\n" + broker.tail_log())
            return None
        finally:
            t0 = time.monotonic()
            broker.close()
            stop_s = time.monotonic() - t0
            if stop_s > 2:
                log("  note: %s took %.1f s to stop" % (which, stop_s))


def matrix(scale):
    rows = []
    produce_records = {100: int(1000000 * scale), 1024: int(250000 * scale)}
    variants = [("1", False, "none"), ("all", False, "none"),
                ("all", True, "none"), ("all", True, "lz4")]
    for size in (100, 1024):
        for acks, idem, codec in variants:
            for parts in (1, 32):
                n = produce_records[size]
                opts = ["-n", str(n), "-s", str(size), "-a", acks, "-z", codec,
                        "-p", str(parts)] + (["-i"] if idem else [])
                name = "produce %s acks=%s%s%s %dp" % (
                    "100 B" if size == 100 else "1 KiB", acks,
                    " idempotent" if idem else "", " lz4" if codec == "lz4" else "", parts)
                rows.append({"name": name, "mode": "produce", "partitions": parts,
                             "opts": opts, "metric": "records_per_s", "records": n})
    # 32 partitions: the mock keeps only the newest ~5 MiB of a partition, so
    # the data set must fit in 32 x 5 MiB to be readable from offset 0 there.
    consume_records = {100: int(1000000 * min(scale, 1.0)),
                       1024: int(128000 * min(scale, 1.0))}
    for size in (100, 1024):
        n = consume_records[size]
        common = ["-n", str(n), "-p", "32", "-s", str(size)]
        rows.append({"name": "consume %s 32p" % ("100 B" if size == 100 else "1 KiB"),
                     "mode": "consume", "partitions": 32, "records": n,
                     "fill_opts": common + ["-s", str(size), "-a", "1", "-e"],
                     "opts": common, "metric": "records_per_s"})
    rows.append({"name": "e2e latency 10k rec/s 100 B acks=all 1p", "mode": "latency",
                 "partitions": 1, "records": 0,
                 "opts": ["-r", "10000", "-d", str(max(1, int(10 * scale))), "-w", "1",
                          "-s", "100", "-a", "all", "-p", "1"],
                 "metric": "p99_ms"})
    return rows


def median_of(results, key):
    vals = [float(r[key]) for r in results if r is not None and key in r]
    return statistics.median(vals) if vals else None


def fmt_rate(v):
    return "-" if v is None else "{:,.0f}".format(v)


def fmt_ms(v):
    return "-" if v is None else "%.2f" % v


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else "%.2f" % (a / b)


def run_matrix(runner, rows, rounds):
    results = {(i, w): [] for i in range(len(rows)) for w in ("strata", "mock")}
    run_index = 0
    for r in range(rounds):
        for i, row in enumerate(rows):
            order = ("strata", "mock") if run_index % 2 == 0 else ("mock", "strata")
            run_index += 1
            for which in order:
                log("round %d/%d  %-44s %s" % (r + 1, rounds, row["name"], which))
                res = runner.one_run(which, row)
                if res:
                    brief = {k: res[k] for k in ("records_per_s", "mb_per_s", "p50_ms",
                                                  "p99_ms", "p999_ms") if k in res}
                    log("    " + " ".join("%s=%s" % kv for kv in brief.items()))
                results[(i, which)].append(res)
    return results


def print_tables(rows, results, rounds):
    print("Throughput (medians of %d rounds; records/s, MB/s of values; ratio > 1: "
          "Strata faster)\n" % rounds)
    print("| Benchmark | records | Strata rec/s | Strata MB/s | mock rec/s | mock MB/s "
          "| Strata/mock | runs ok (S/M) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for i, row in enumerate(rows):
        if row["mode"] == "latency":
            continue
        s, m = results[(i, "strata")], results[(i, "mock")]
        s_r, m_r = median_of(s, "records_per_s"), median_of(m, "records_per_s")
        s_mb, m_mb = median_of(s, "mb_per_s"), median_of(m, "mb_per_s")
        ok = "%d/%d" % (sum(x is not None for x in s), sum(x is not None for x in m))
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["name"], "{:,}".format(row["records"]), fmt_rate(s_r),
            "-" if s_mb is None else "%.1f" % s_mb, fmt_rate(m_r),
            "-" if m_mb is None else "%.1f" % m_mb, ratio(s_r, m_r), ok))
    for i, row in enumerate(rows):
        if row["mode"] != "latency":
            continue
        s, m = results[(i, "strata")], results[(i, "mock")]
        print("\nEnd-to-end latency, %s (medians of %d rounds; ms; ratio < 1: Strata "
              "faster)\n" % (row["name"], rounds))
        print("| percentile | Strata ms | mock ms | Strata/mock |")
        print("|---|---:|---:|---:|")
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9"),
                           ("max_ms", "max")):
            a, b = median_of(s, key), median_of(m, key)
            print("| %s | %s | %s | %s |" % (label, fmt_ms(a), fmt_ms(b), ratio(a, b)))


def measure_idle_rss(runner, samples):
    values = []
    for _ in range(samples):
        broker = Strata(runner.args.server)
        try:
            broker.start()
            cmd = runner.bench_cmd("topic", broker.bootstrap, "idle", "strata", ["-p", "1"])
            if runner.run_bench(cmd) is None:
                continue
            time.sleep(IDLE_SETTLE_S)
            with open("/proc/%d/status" % broker.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        values.append(int(line.split()[1]))
        finally:
            broker.close()
    return values


def measure_startup(runner, samples):
    """Seconds from spawn to an accepted connection: empty data dirs, then a
    data dir with one topic (a restart)."""
    empty, restart = [], []
    for _ in range(samples):
        broker = Strata(runner.args.server)
        try:
            t0 = broker.spawn()
            wait_listening(broker.proc, broker.port, START_TIMEOUT_S)
            empty.append(time.monotonic() - t0)
            cmd = runner.bench_cmd("topic", broker.bootstrap, "restart", "strata", ["-p", "1"])
            runner.run_bench(cmd)
            broker.stop()
            t0 = broker.spawn()
            wait_listening(broker.proc, broker.port, START_TIMEOUT_S)
            restart.append(time.monotonic() - t0)
        finally:
            broker.close()
    return empty, restart


SUSTAINED_RECORDS = 1000000  # 1 KiB each: about 1 GiB per run


def run_sustained(runner, gib, rounds):
    """One broker per round takes `gib` runs of 1,000,000 x 1 KiB (acks=1,
    one partition) back to back: a stream that outgrows the page cache's
    recently freed pages. Strata as configured, Strata with drop-behind off
    (strata.log.drop.behind.bytes=-1, Kafka's page-cache behaviour) and the
    mock, in alternating order."""
    kinds = ["strata", "strata drop-behind off", "mock"]
    rates = {k: [[] for _ in range(gib)] for k in kinds}
    for r in range(rounds):
        for kind in (kinds if r % 2 == 0 else kinds[::-1]):
            topic = "sustained-%d-%d" % (os.getpid(), r)
            off = {"strata.log.drop.behind.bytes": -1} if kind == "strata drop-behind off" else None
            broker = runner.broker("mock" if kind == "mock" else "strata", topic, 1, off)
            try:
                broker.start()
                for i in range(gib):
                    t = topic if kind == "mock" else "%s-%d" % (topic, i)
                    log("round %d/%d  sustained GiB %d  %s" % (r + 1, rounds, i + 1, kind))
                    res = runner.run_bench(runner.bench_cmd(
                        "produce", broker.bootstrap, t, broker.label,
                        ["-n", str(SUSTAINED_RECORDS), "-s", "1024", "-a", "1", "-z", "none",
                         "-p", "1"]))
                    rates[kind][i].append(res)
            finally:
                broker.close()
    print("\nSustained produce, 1 KiB acks=1 1p, %d x %s records into one broker "
          "(medians of %d rounds, records/s)\n" % (gib, "{:,}".format(SUSTAINED_RECORDS), rounds))
    print("| GiB | " + " | ".join(kinds) + " |")
    print("|---:|" + "---:|" * len(kinds))
    for i in range(gib):
        print("| %d | %s |" % (i + 1, " | ".join(
            fmt_rate(median_of(rates[k][i], "records_per_s")) for k in kinds)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds per row (default 3)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply record counts and latency duration (quick runs: 0.1)")
    ap.add_argument("--only", default=None,
                    help="run only matrix rows whose name contains this")
    ap.add_argument("--skip-matrix", action="store_true", help="only RSS and startup")
    ap.add_argument("--skip-strata-only", action="store_true", help="skip RSS and startup")
    ap.add_argument("--sustained", type=int, default=0, metavar="GIB",
                    help="also stream GIB x 1 GiB into one broker per round (drop-behind on/off, mock)")
    ap.add_argument("--raw", default=None, help="append every bench output line to FILE")
    ap.add_argument("--build", default=os.environ.get("STRATA_BUILD",
                                                      os.path.join(ROOT, "build")))
    ap.add_argument("--server", default=None,
                    help="strata-server binary (default: BUILD/server/strata-server)")
    args = ap.parse_args()
    runner = Runner(args)

    server = args.server or os.path.join(args.build, "server", "strata-server")
    for path in (runner.bench, os.path.join(args.build, "tests", "bench", "mock_cluster"),
                 server):
        if not os.access(path, os.X_OK):
            sys.exit("missing %s: build with ninja -C %s" % (path, args.build))
    snapshot_dir = tempfile.mkdtemp(prefix="strata-bench-bin-")
    try:
        args.server = os.path.join(snapshot_dir, "strata-server")
        shutil.copy2(server, args.server)
        run_all(args, runner, server)
    finally:
        shutil.rmtree(snapshot_dir, ignore_errors=True)


def run_all(args, runner, server_origin):
    with open(args.server, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    print("Machine: %d CPUs, %s; load average %s" % (
        os.cpu_count(), cpu_model(), " ".join("%.2f" % x for x in os.getloadavg())))
    print("Broker: %s (sha256 %s, built %s)\n" % (
        server_origin, digest,
        time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(args.server)))))
    if not args.skip_matrix:
        rows = matrix(args.scale)
        if args.only:
            rows = [r for r in rows if args.only in r["name"]]
        results = run_matrix(runner, rows, args.rounds)
        print_tables(rows, results, args.rounds)

    if args.sustained > 0:
        run_sustained(runner, args.sustained, args.rounds)

    if not args.skip_strata_only:
        try:
            rss = measure_idle_rss(runner, max(1, args.rounds))
            empty, restart = measure_startup(runner, STARTUP_SAMPLES)
        except (RuntimeError, OSError) as e:
            sys.exit("Strata-alone measurements failed: %s" % e)
        print("\nStrata alone\n")
        print("| measurement | median | samples |")
        print("|---|---:|---|")
        if rss:
            print("| idle RSS, one topic, 1 s after start | %.1f MiB | %s KiB |" % (
                statistics.median(rss) / 1024, ", ".join(map(str, rss))))
        for label, vals in (("exec to accepting connections, empty data dir", empty),
                            ("exec to accepting connections, restart with one topic",
                             restart)):
            if vals:
                print("| %s | %.1f ms | %s |" % (
                    label, statistics.median(vals) * 1000,
                    ", ".join("%.1f" % (v * 1000) for v in vals)))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
