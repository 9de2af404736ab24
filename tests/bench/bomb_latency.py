#!/usr/bin/python3
"""Other clients' round trip while connections send decompression bombs.

A benchmark, not a test (docs/performance.md, "Decompression bombs and
other clients' latency"): it never decides pass/fail.

    tests/bench/bomb_latency.py [--server PATH] [--seconds S] [--attackers 0,1,4]
                                [--bombs zstd-zeros,gzip-record,...] [--probes apiversions,produce]

For each bomb kind and attacker count, a fresh broker is started; N
attacker processes each send Produce requests carrying the bomb on their own
connection, back to back (the next as soon as the previous is answered),
while one victim connection sends probes one after another for S seconds
and records each round trip: ApiVersions v0, or a one-record Produce
(acks=1) to another topic. Prints p50/p99/p99.9/max per row as markdown.

Bombs (each refused by the broker; strata.decompressed.batch.max.bytes is
its default, 64 MiB):
  <codec>-zeros   records section = 256 MiB of zeros (lz4: 128 MiB, to fit
                  in message.max.bytes), compressed: a record length of 0 is
                  malformed from the first byte;
  <codec>-record  one well-formed record whose value is 64 MiB - 100 zero
                  bytes, then 1 MiB more zeros: to find that out the whole
                  limit must be inflated, the worst a batch can cost.
Codecs: gzip, zstd, lz4, snappy-xerial (64 KiB blocks, as Java sends it)
and snappy-raw (one raw block, as librdkafka sends it); snappy inflates at
most ~21x, so its bombs are 16 MiB, bounded by message.max.bytes rather
than by the limit. The batches are built by tests/integration/bombs.py.

Every child is started here and stopped by its PID; the broker runs on a
free loopback port with a temp data dir that is removed at the end.
"""
import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import bombs  # noqa: E402
from run_bench import free_port, log  # noqa: E402
from test_bad_input import compact_string, crc32c, frame, header_v1, header_v2, i8, i16, i32, i64, u32, uvarint, varint  # noqa: E402

LIMIT = 64 * 1024 * 1024
START_TIMEOUT_S = 15
SNAPPY_BOUND = 16 << 20  # what fits in message.max.bytes at snappy's ~21x


# --- bombs -----------------------------------------------------------------

def bomb_batch(kind):
    """The record batch of bomb `kind` (`<codec>-zeros` or `<codec>-record`)."""
    codec, shape = kind.rsplit("-", 1)
    snappy = codec.startswith("snappy")
    if shape == "zeros":
        total = SNAPPY_BOUND if snappy else (128 << 20 if codec == "lz4" else 256 << 20)
        return bombs.batch(codec, bombs.zero_chunks(total))
    value_len = SNAPPY_BOUND if snappy else LIMIT - 100

    def chunks():
        yield from bombs.big_record(value_len)
        yield from bombs.zero_chunks(1 << 20)
    return bombs.batch(codec, chunks())


def batch(codec_id, payload, count=1):
    ts = int(time.time() * 1000)
    after_crc = (i16(codec_id) + i32(count - 1) + i64(ts) + i64(ts) + i64(-1) + i16(-1) + i32(-1) + i32(count)
                 + payload)
    return i64(0) + i32(4 + 1 + 4 + len(after_crc)) + i32(-1) + i8(2) + u32(crc32c(after_crc)) + after_crc


def produce_v9(corr, topic, records, acks=1):
    body = (uvarint(0) + i16(acks) + i32(30000) + uvarint(2) + compact_string(topic)
            + uvarint(2) + i32(0) + uvarint(len(records) + 1) + records + uvarint(0) + uvarint(0) + uvarint(0))
    return frame(header_v2(0, 9, corr) + body)


def one_record_batch():
    rec_body = i8(0) + varint(0) + varint(0) + varint(-1) + varint(5) + b"probe" + varint(0)
    records = varint(len(rec_body)) + rec_body
    return batch(0, records)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return bytes(buf)


def round_trip(sock, request):
    sock.sendall(request)
    n = struct.unpack(">i", recv_exact(sock, 4))[0]
    return recv_exact(sock, n)


# --- processes ---------------------------------------------------------------

def attacker(port, request, stop, counter):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while not stop.is_set():
        try:
            round_trip(sock, request)
        except OSError:
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        with counter.get_lock():
            counter.value += 1


class Broker:
    def __init__(self, server):
        self.dir = tempfile.mkdtemp(prefix="strata-bomb-")
        self.port = free_port()
        props = os.path.join(self.dir, "server.properties")
        with open(props, "w") as f:
            f.write("node.id=1\nprocess.roles=broker,controller\n")
            f.write("controller.quorum.voters=1@127.0.0.1:%d\ncontroller.listener.names=CONTROLLER\n" % free_port())
            f.write("listeners=PLAINTEXT://127.0.0.1:%d\n" % self.port)
            f.write("log.dirs=%s\n" % os.path.join(self.dir, "logs"))
            f.write("http.listeners=http://127.0.0.1:%d\n" % free_port())
            f.write("num.partitions=1\n")
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen([server, props], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("broker exited with %s" % self.proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("broker did not listen")
                time.sleep(0.02)

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def ensure_topics(port):
    """Auto-creates the topics with a Metadata v1 request naming them."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    topics = [b"bombs", b"probe"]
    body = i32(len(topics)) + b"".join(i16(len(t)) + t for t in topics)
    round_trip(sock, frame(header_v1(3, 1, 1) + body))
    # The first produce to each partition creates its log: warm both.
    round_trip(sock, produce_v9(2, "probe", one_record_batch()))
    round_trip(sock, produce_v9(3, "bombs", one_record_batch()))
    sock.close()


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def run_row(server, kind, bomb, attackers, probe, seconds):
    b = Broker(server)
    try:
        ensure_topics(b.port)
        request = produce_v9(7, "bombs", bomb)
        stop = multiprocessing.Event()
        counter = multiprocessing.Value("q", 0)
        procs = [multiprocessing.Process(target=attacker, args=(b.port, request, stop, counter), daemon=True)
                 for _ in range(attackers)]
        for p in procs:
            p.start()
        victim = socket.create_connection(("127.0.0.1", b.port), timeout=60)
        victim.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if probe == "apiversions":
            req = frame(header_v1(18, 0, 9))
        else:
            req = produce_v9(9, "probe", one_record_batch())
        time.sleep(0.5)  # attackers under way
        cpu0 = b.cpu_s()
        bombs0 = counter.value
        samples = []
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            t0 = time.perf_counter()
            round_trip(victim, req)
            samples.append((time.perf_counter() - t0) * 1000.0)
            time.sleep(0.001)
        cpu = b.cpu_s() - cpu0
        bombs = counter.value - bombs0
        stop.set()
        for p in procs:
            p.join(60)
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                p.join()
        victim.close()
        samples.sort()
        return {"kind": kind, "attackers": attackers, "probe": probe, "n": len(samples),
                "p50": percentile(samples, 50), "p99": percentile(samples, 99),
                "p999": percentile(samples, 99.9), "max": samples[-1] if samples else float("nan"),
                "bombs_per_s": bombs / seconds, "cpu": cpu / seconds}
    finally:
        b.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default=os.path.join(ROOT, "build", "server", "strata-server"))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--attackers", default="0,1,4")
    ap.add_argument("--bombs", default="gzip-zeros,zstd-zeros,lz4-zeros,snappy-raw-zeros,"
                    "gzip-record,zstd-record,lz4-record,snappy-xerial-record,snappy-raw-record")
    ap.add_argument("--probes", default="apiversions,produce")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    server = os.path.join(tempfile.mkdtemp(prefix="strata-bomb-bin-"), "strata-server")
    shutil.copy2(args.server, server)  # a rebuild during the run cannot mix builds
    try:
        counts = [int(x) for x in args.attackers.split(",")]
        print("| build | bomb | attackers | probe | round trips | p50 ms | p99 ms | p99.9 ms | max ms | bombs/s | broker CPU |")
        print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        batches = {}
        for kind in args.bombs.split(","):
            if kind not in batches:
                log("building bomb %s" % kind)
                batches[kind] = bomb_batch(kind)
                log("  %s: %d bytes" % (kind, len(batches[kind])))
        done_baseline = False
        for kind in args.bombs.split(","):
            for n in counts:
                if n == 0 and done_baseline:
                    continue
                for probe in args.probes.split(","):
                    log("%s: %d attacker(s), probe %s" % (kind, n, probe))
                    r = run_row(server, kind, batches[kind], n, probe, args.seconds)
                    print("| %s | %s | %d | %s | %d | %.2f | %.2f | %.2f | %.2f | %.1f | %.0f%% |" % (
                        args.label, "-" if n == 0 else r["kind"], n, probe, r["n"], r["p50"], r["p99"], r["p999"],
                        r["max"], r["bombs_per_s"], 100 * r["cpu"]), flush=True)
                if n == 0:
                    done_baseline = True
    finally:
        shutil.rmtree(os.path.dirname(server), ignore_errors=True)


if __name__ == "__main__":
    main()
