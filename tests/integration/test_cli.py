"""The `strata` CLI (build/tools/strata) against the real broker.

check_topics: create/list/describe/alter/delete print exactly what
kafka-topics.sh 4.x prints (TopicId is the base64 of the id the broker keeps
in partition.metadata; config entries and topics in Java HashMap order),
errors go to the same stream with the same text and exit 1.
check_produce_consume_keyed: 1000 keyed lines (UTF-8, tabs, empty values,
CRLF) through `strata produce`, partitioned by Java's murmur2; kcat and
`strata consume` read back the same bytes at the same offsets, and
`strata consume` output equals kcat's output byte for byte.
check_codecs: every codec both ways (strata -> kcat, kcat -> strata).
check_console_options: headers, null.marker, --max-messages, --offset,
--timeout-ms, acks=0, the formatter's timestamp/partition/offset fields.
check_perf: perf produce/consume with small N; their lines parse and count.
check_bounded_reads: fake brokers sending an oversized frame, a truncated
body or nothing at all make the CLI fail fast with a clear message.
"""
import os
import re
import resource
import socket
import struct
import subprocess
import threading
import time
import base64

import harness
from harness import Broker

TIMEOUT_S = 240
STRATA = os.path.join(harness.BUILD, "tools", "strata")


def run(*args, input=None, timeout=60, check=True):
    cmd = [STRATA] + [str(a) for a in args]
    r = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(cmd), r.returncode, r.stdout.decode(errors="replace")[-3000:],
            r.stderr.decode(errors="replace")[-3000:]))
    return r


def kcat(*args, input=None, timeout=60):
    cmd = ["kcat"] + list(args)
    r = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    assert r.returncode == 0, "%s: %s" % (" ".join(cmd), r.stderr.decode(errors="replace"))
    return r.stdout


def murmur2(data):
    """Java's Utils.murmur2 (independent of the C one under test)."""
    m, seed = 0x5bd1e995, 0x9747b28c
    length = len(data)
    h = (seed ^ length) & 0xffffffff
    for i in range(length // 4):
        k = data[4 * i] | data[4 * i + 1] << 8 | data[4 * i + 2] << 16 | data[4 * i + 3] << 24
        k = (k * m) & 0xffffffff
        k ^= k >> 24
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    rest = length & 3
    tail = length & ~3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


def java_hash_order(names, initial=None):
    """Iteration order of a Java HashMap filled with names in this order."""
    cap = 16
    if initial is not None:
        cap = 1
        while cap < initial:
            cap <<= 1
    while len(names) > int(cap * 0.75):
        cap <<= 1

    def bucket(s):
        h = 0
        for unit in struct.unpack("<%dH" % (len(s.encode("utf-16-le")) // 2), s.encode("utf-16-le")):
            h = (31 * h + unit) & 0xffffffff
        return (h ^ (h >> 16)) & (cap - 1)
    return [n for _, _, n in sorted((bucket(n), i, n) for i, n in enumerate(names))]


def topic_id(b, topic):
    with open(os.path.join(b.data_dir, "logs", topic + "-0", "partition.metadata")) as f:
        for line in f:
            if line.startswith("topic_id:"):
                raw = line.split(":", 1)[1].strip()
                uid = bytes.fromhex(raw) if len(raw) == 32 else base64.urlsafe_b64decode(raw + "==")
                return base64.urlsafe_b64encode(uid).decode().rstrip("=")
    raise AssertionError("no topic_id for %s" % topic)


def describe_lines(b, topic, partitions, configs=""):
    head = "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: 1\tConfigs: %s" % (
        topic, topic_id(b, topic), partitions, configs)
    return [head] + ["\tTopic: %s\tPartition: %d\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: N/A\tLastKnownElr: N/A" % (
        topic, p) for p in range(partitions)]


def check_topics():
    with Broker() as b:
        bs = ["--bootstrap-server", b.bootstrap]
        r = run("topics", *bs, "--create", "--topic", "alpha", "--partitions", 3)
        assert r.stdout == b"Created topic alpha.\n", r.stdout
        r = run("topics", *bs, "--create", "--topic", "with.dot", "--config", "retention.ms=1000",
                "--config", "cleanup.policy = compact", "--config", "max.message.bytes=2000000")
        assert r.stdout == (b"WARNING: Due to limitations in metric names, topics with a period ('.') or underscore "
                            b"('_') could collide. To avoid issues it is best to use either, but not both.\n"
                            b"Created topic with.dot.\n"), r.stdout
        run("topics", *bs, "--create", "--topic", "beta")

        r = run("topics", *bs, "--create", "--topic", "alpha", check=False)
        assert r.returncode == 1
        assert r.stdout == b"Error while executing topic command : Topic 'alpha' already exists.\n", r.stdout
        r = run("topics", *bs, "--create", "--topic", "alpha", "--if-not-exists")
        assert r.stdout == b"", r.stdout

        r = run("topics", *bs, "--list")
        assert r.stdout == b"alpha\nbeta\nwith.dot\n", r.stdout
        r = run("topics", *bs, "--list", "--topic", "al.*,beta")
        assert r.stdout == b"alpha\nbeta\n", r.stdout
        r = run("topics", *bs, "--list", "--topic", "nothing")
        assert r.stdout == b"\n", r.stdout  # String.join of nothing, then println

        r = run("topics", *bs, "--describe", "--topic", "alpha")
        assert r.stdout.decode().splitlines() == describe_lines(b, "alpha", 3), r.stdout.decode()
        configs = "cleanup.policy=compact,max.message.bytes=2000000,retention.ms=1000"
        r = run("topics", *bs, "--describe", "--topic", "with.dot")
        got = r.stdout.decode().splitlines()
        # The broker may list config entries in any order: compare as sets,
        # then check the order against Java's HashMap for what it returned.
        want = describe_lines(b, "with.dot", 1, configs)
        assert got[1:] == want[1:], got
        head, _, cfg = got[0].partition("Configs: ")
        assert head + "Configs: " == want[0].partition("Configs: ")[0] + "Configs: ", got[0]
        entries = cfg.split(",")
        assert sorted(entries) == sorted(configs.split(",")), entries
        # The admin client's Config is a HashMap of every entry the broker
        # returned (defaults too), so its size sets the table capacity.
        from confluent_kafka.admin import AdminClient, ConfigResource
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        all_entries = list(admin.describe_configs([ConfigResource("topic", "with.dot")])
                           [ConfigResource("topic", "with.dot")].result(20).keys())
        printed = [e.split("=")[0] for e in entries]
        padded = printed + [n for n in all_entries if n not in printed]
        assert printed == [n for n in java_hash_order(padded) if n in printed], (entries, len(all_entries))

        # All topics: grouped per topic, topics in HashMap(n) order.
        r = run("topics", *bs, "--describe", "--exclude-internal")
        heads = [l.split("\t")[0][len("Topic: "):] for l in r.stdout.decode().splitlines() if l.startswith("Topic: ")]
        assert heads == java_hash_order(["alpha", "beta", "with.dot"], 3), heads

        r = run("topics", *bs, "--alter", "--topic", "alpha", "--partitions", 5)
        assert r.stdout == b"", r.stdout
        r = run("topics", *bs, "--describe", "--topic", "alpha")
        assert r.stdout.decode().splitlines() == describe_lines(b, "alpha", 5), r.stdout.decode()
        r = run("topics", *bs, "--alter", "--topic", "alpha", "--partitions", 2, check=False)
        assert r.returncode == 1 and r.stdout.startswith(b"Error while executing topic command : "), r.stdout

        r = run("topics", *bs, "--delete", "--topic", "beta")
        assert r.stdout == b"", r.stdout
        r = run("topics", *bs, "--list")
        assert r.stdout == b"alpha\nwith.dot\n", r.stdout
        for action in ("--delete", "--describe", "--alter"):
            extra = ["--partitions", "9"] if action == "--alter" else []
            r = run("topics", *bs, action, "--topic", "beta", *extra, check=False)
            assert r.returncode == 1, action
            assert r.stderr == b"Topic 'beta' does not exist as expected\n", (action, r.stderr)
            r = run("topics", *bs, action, "--topic", "beta", "--if-exists", *extra)

        # Argument errors: bare message on stderr, exit 1, nothing sent.
        for args, msg in ((["--list", "--describe"], b"Command must include exactly one action"),
                          (["--create"], b'Missing required argument "[topic]"'),
                          (["--create", "--topic", "x", "--partitions", "0"], b"The partitions must be greater than 0"),
                          (["--create", "--topic", "x", "--replication-factor", "0"],
                           b"The replication factor must be between 1 and 32767 inclusive"),
                          (["--create", "--topic", "x", "--config", "novalue"], b"Invalid topic config")):
            r = run("topics", *bs, *args, check=False)
            assert r.returncode == 1 and msg in r.stderr, (args, r.stderr)
        r = run("topics", *bs, "--create", "--topic", "bad/name", check=False)
        assert r.returncode == 1 and r.stdout.startswith(b"Error while executing topic command : "), r.stdout
        r = run("topics", "--bootstrap-server", "127.0.0.1:1", "--list", check=False)
        assert r.returncode == 1 and b"Connection refused" in r.stdout, r.stdout


def keyed_lines(n):
    lines = []
    for j in range(n):
        key = "k%d" % (j % 17)
        value = ["v-%d" % j, "t\tab-%d" % j, "", "ünï-%d-€" % j, "x" * (j % 300)][j % 5]
        lines.append("%s:%s" % (key, value))
    return lines


def check_topics_delete_disabled():
    """With delete.topic.enable=false, --delete prints Kafka's message for
    TOPIC_DELETION_DISABLED, not the error's name, and exits 1; the topic
    stays."""
    with Broker(overrides={"delete.topic.enable": "false"}) as b:
        bs = ["--bootstrap-server", b.bootstrap]
        run("topics", *bs, "--create", "--topic", "kept", "--partitions", 1)
        r = run("topics", *bs, "--delete", "--topic", "kept", check=False)
        assert r.returncode == 1, r
        assert r.stdout.decode().strip() == "Error while executing topic command : Topic deletion is disabled.", r.stdout
        assert run("topics", *bs, "--list").stdout.decode().split() == ["kept"]


def check_produce_consume_keyed():
    with Broker() as b:
        bs = ["--bootstrap-server", b.bootstrap]
        run("topics", *bs, "--create", "--topic", "keyed", "--partitions", 4)
        lines = keyed_lines(1000)
        # CRLF on some lines, no newline after the last: readLine semantics.
        data = "".join(l + ("\r\n" if i % 3 == 0 else "\n") for i, l in enumerate(lines)).rstrip("\n").encode()
        run("produce", *bs, "--topic", "keyed", "--property", "parse.key=true", "--property", "key.separator=:",
            input=data)
        out = kcat("-b", b.bootstrap, "-C", "-t", "keyed", "-o", "beginning", "-e", "-q", "-f", "%p|%o|%k|%s\n")
        # Parse kcat output per record (values may hold tabs, not '\n').
        rows = [r.split(b"|", 3) for r in out.split(b"\n")[:-1]]
        assert len(rows) == 1000, len(rows)
        per_part = {}
        for p, o, k, v in rows:
            per_part.setdefault(int(p), []).append((int(o), k + b":" + v))
        for p, recs in per_part.items():
            assert [o for o, _ in recs] == list(range(len(recs))), "partition %d offsets not dense" % p
        want_part = {}
        for l in lines:
            k = l.split(":", 1)[0].encode()
            want_part.setdefault((murmur2(k) & 0x7fffffff) % 4, []).append(l.encode())
        got_part = {p: [line for _, line in recs] for p, recs in per_part.items()}
        assert got_part == want_part, "records differ from input or murmur2 partitioning"

        # strata consume: the same records, and byte-identical to kcat per partition.
        r = run("consume", *bs, "--topic", "keyed", "--from-beginning", "--max-messages", 1000,
                "--property", "print.key=true", "--property", "key.separator=:")
        assert sorted(r.stdout.split(b"\n")[:-1]) == sorted(l.encode() for l in lines)
        assert r.stderr.endswith(b"Processed a total of 1000 messages\n"), r.stderr
        for p in range(4):
            mine = run("consume", *bs, "--topic", "keyed", "--partition", p, "--offset", "earliest",
                       "--max-messages", len(want_part[p]), "--property", "print.key=true",
                       "--property", "print.offset=true", "--property", "print.partition=true").stdout
            theirs = kcat("-b", b.bootstrap, "-C", "-t", "keyed", "-p", str(p), "-o", "beginning", "-e", "-q",
                          "-f", "Partition:%p\tOffset:%o\t%k\t%s\n")
            assert mine == theirs, "partition %d differs from kcat" % p


def check_codecs():
    with Broker() as b:
        bs = ["--bootstrap-server", b.bootstrap]
        lines = ["line-%d-%s" % (j, "abc" * (j % 40)) for j in range(2000)]
        data = ("\n".join(lines) + "\n").encode()
        for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
            t = "codec-" + codec
            run("topics", *bs, "--create", "--topic", t, "--partitions", 2)
            run("produce", *bs, "--topic", t, "--compression-codec", codec, "--batch-size", 65536, input=data)
            got = kcat("-b", b.bootstrap, "-C", "-t", t, "-o", "beginning", "-e", "-q").split(b"\n")[:-1]
            assert sorted(got) == sorted(l.encode() for l in lines), "%s: strata -> kcat differs" % codec
            t2 = "codec-kcat-" + codec
            run("topics", *bs, "--create", "--topic", t2, "--partitions", 1)
            kcat("-b", b.bootstrap, "-P", "-t", t2, "-z", codec, input=data)
            r = run("consume", *bs, "--topic", t2, "--from-beginning", "--max-messages", len(lines))
            assert r.stdout == data, "%s: kcat -> strata differs" % codec


def check_console_options():
    with Broker() as b:
        bs = ["--bootstrap-server", b.bootstrap]
        run("topics", *bs, "--create", "--topic", "opts", "--partitions", 1)
        src = b"h1:v1,h2:NULL\tk1\tval1\nh3:x\tNULL\tval2\nh4:y\tk3\tNULL\n"
        run("produce", *bs, "--topic", "opts", "--property", "parse.headers=true", "--property", "parse.key=true",
            "--property", "null.marker=NULL", input=src)
        r = run("consume", *bs, "--topic", "opts", "--from-beginning", "--max-messages", 3,
                "--property", "print.headers=true", "--property", "print.key=true",
                "--property", "print.timestamp=true", "--property", "print.offset=true")
        rows = r.stdout.decode().splitlines()
        assert len(rows) == 3, rows
        for i, (row, want) in enumerate(zip(rows, ["h1:v1,h2:null\tk1\tval1", "h3:x\tnull\tval2", "h4:y\tk3\tnull"])):
            ts, off, rest = row.split("\t", 2)
            assert re.fullmatch(r"CreateTime:\d{13}", ts), ts
            assert off == "Offset:%d" % i, off
            assert rest == want, (rest, want)
        # Missing key separator: reported with the line number, exit 1.
        r = run("produce", *bs, "--topic", "opts", "--property", "parse.key=true", input=b"a\tb\nnosep\n", check=False)
        assert r.returncode == 1 and b"No key separator found on line number 2: 'nosep'" in r.stderr, r.stderr
        # --offset N with --partition, --max-messages, and acks=0.
        run("produce", *bs, "--topic", "opts", "--acks", "0", input=b"".join(b"z%d\n" % i for i in range(100)))
        deadline = time.time() + 10
        while True:
            r = run("consume", *bs, "--topic", "opts", "--partition", 0, "--offset", 10, "--max-messages", 5)
            if r.stdout == b"z6\nz7\nz8\nz9\nz10\n" or time.time() > deadline:
                break
            time.sleep(0.2)
        assert r.stdout == b"z6\nz7\nz8\nz9\nz10\n", r.stdout  # offsets 0-3 are the first lines + 'a\tb'
        # --timeout-ms: exits when no record arrives in time.
        t0 = time.time()
        r = run("consume", *bs, "--topic", "opts", "--timeout-ms", 700)
        assert r.stdout == b"" and r.stderr.endswith(b"Processed a total of 0 messages\n"), r.stderr
        assert time.time() - t0 < 10
        r = run("consume", *bs, "--topic", "opts", "--offset", 5, check=False)
        assert r.returncode == 1 and b"The partition is required when offset is specified." in r.stderr
        r = run("consume", *bs, "--topic", "missing-topic", "--timeout-ms", 500, check=False)
        assert r.returncode == 1 and b"Processed a total of 0 messages" in r.stderr


FINAL = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
                   r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$")
WINDOW = re.compile(r"^\d+ records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, "
                    r"[\d.]+ ms max latency\.$")


def check_perf():
    with Broker() as b:
        bs = ["--bootstrap-server", b.bootstrap]
        run("topics", *bs, "--create", "--topic", "perf", "--partitions", 3)
        total = 0
        for acks, codec in (("1", "none"), ("-1", "lz4"), ("0", "zstd")):
            r = run("perf", "produce", *bs, "--topic", "perf", "--num-records", 20000, "--record-size", 100,
                    "--throughput", -1, "--acks", acks, "--compression", codec, "--batch-size", 32768)
            lines = r.stdout.decode().splitlines()
            assert all(WINDOW.match(l) for l in lines[:-1]), lines
            m = FINAL.match(lines[-1])
            assert m, lines[-1]
            assert int(m.group(1)) == 20000, lines[-1]
            p50, p95, p99, p999 = (int(m.group(i)) for i in range(6, 10))
            assert p50 <= p95 <= p99 <= p999 <= float(m.group(5)), lines[-1]
            total += 20000
        # Throttled: the rate stays near the target, and the tool waits
        # rather than spins between records (it once burned 2.8 s of CPU
        # in 3 s at 1,000 records/s).
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall0 = time.time()
        r = run("perf", "produce", "--producer-props", "bootstrap.servers=" + b.bootstrap, "acks=all",
                "--topic", "perf", "--num-records", 3000, "--record-size", 10, "--throughput", 1000)
        wall = time.time() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        m = FINAL.match(r.stdout.decode().splitlines()[-1])
        assert m and 750 < float(m.group(2)) < 1100, r.stdout
        print("throttled perf produce: %.2f s CPU in %.2f s" % (cpu, wall))
        assert cpu < wall / 3, "perf produce --throughput used %.2f s of CPU in %.2f s: it spins" % (cpu, wall)
        total += 3000
        deadline = time.time() + 10
        while True:
            r = run("perf", "consume", *bs, "--topic", "perf", "--messages", total, "--timeout", 3000)
            lines = r.stdout.decode().splitlines()
            if len(lines) == 2 or time.time() > deadline:
                break
        assert lines[0] == ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
                            "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"), lines
        fields = lines[1].split(", ")
        assert len(fields) == 10, fields
        for f in fields[:2]:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}", f), f
        assert int(fields[4]) == total, fields
        assert abs(float(fields[2]) - (60000 * 100 + 3000 * 10) / 1048576.0) < 0.001, fields
        # Payloads are 100 uppercase letters, as Kafka's tool sends.
        # (-e, not -c: a client leaving mid-Fetch is another test's business.)
        sample = kcat("-b", b.bootstrap, "-C", "-t", "perf", "-p", "0", "-o", "beginning", "-e", "-q").split(b"\n")
        assert all(re.fullmatch(rb"[A-Z]{100}|[A-Z]{10}", s) for s in sample[:-1]), sample[:3]
        r = run("perf", "consume", *bs, "--topic", "perf", "--messages", total + 10, "--timeout", 500)
        assert b"WARNING: Exiting before consuming the expected number of messages: timeout (500 ms) exceeded." \
            in r.stdout, r.stdout


class FakeBroker:
    """Accepts one connection at a time and answers each request with
    reply(header_bytes) (None: stay silent)."""

    def __init__(self, reply):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.reply = reply
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                size = struct.unpack(">i", conn.recv(4, socket.MSG_WAITALL))[0]
                body = conn.recv(size, socket.MSG_WAITALL)
                out = self.reply(body)
                if out is not None:
                    conn.sendall(out)
                time.sleep(5)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self.sock.close()


def check_bounded_reads():
    cases = [
        # A frame claiming 2 GiB - 1: refused before anything is allocated.
        (lambda body: struct.pack(">i", 0x7fffffff) + body[4:8], b"exceeds the 268435456 byte cap"),
        # Right correlation id, then an ApiVersions body cut short.
        (lambda body: struct.pack(">i", 7) + body[4:8] + b"\x00\x00\x05", b"could not decode"),
        # Another correlation id.
        (lambda body: struct.pack(">i", 6) + b"\x00\x00\x00\x63\x00\x00", b"correlation id"),
        # Nothing at all: the --timeout applies.
        (lambda body: None, b"timed out"),
    ]
    for reply, want in cases:
        fake = FakeBroker(reply)
        t0 = time.time()
        r = run("--timeout", "1", "topics", "--bootstrap-server", "127.0.0.1:%d" % fake.port, "--list", check=False,
                timeout=20)
        fake.close()
        assert r.returncode == 1, r
        assert want in r.stdout, (want, r.stdout)
        assert time.time() - t0 < 5, "took %.1fs" % (time.time() - t0)


if __name__ == "__main__":
    harness.run_checks(globals())
