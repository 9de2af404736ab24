#!/usr/bin/python3
"""Go clients from Debian (issue 12, acceptance 2) against the real broker.

    STRATA_BUILD=$PWD/build /usr/bin/python3 tests/integration/run.py -k test_go_clients

Builds each program under go/ (sarama/, kafkago/, confluent/, sharing jsonl/)
offline with Debian's Go packages in GOPATH mode (GO111MODULE=off,
GOPATH=<temp>:/usr/share/gocode, GOPROXY=off), starts strata-server on free
loopback ports and runs the program: produce the records of
fixture_records() to partition 0 of a one-partition topic, consume them in a
consumer group, commit, list topics. The program prints JSON lines; this
driver asserts the records byte for byte and in order at offsets 0..N-1,
the offsets the producer reported, the committed offset (also read back
with confluent-kafka, independently of the Go client) and that the topic
list holds both topics created.

Every connection goes through a logging proxy on loopback (the broker
advertises the proxy's port), which prints each client's requests as
"api vN" with the ranges ApiVersions answered and names the first request
the broker closed the connection on: what the server must serve next.

sarama 1.22 and kafka-go 0.2 send API versions that Kafka 4 removed
(KIP-896); Strata serves them while strata.legacy.api.versions.enable is on
(the default). check_legacy_versions_off shows the Kafka 4 ranges and the
refusal with it off, check_legacy_versions_on the Kafka 3.9 ranges.
"""
import atexit
import collections
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GO_DIR = os.path.join(HERE, "go")
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import Broker, free_port  # noqa: E402

import clients  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402

TIMEOUT_S = 600
STEP_TIMEOUT_S = 60
GO_SOURCES = ("jsonl", "sarama", "kafkago", "confluent")

API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
             10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
             15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions",
             19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId",
             23: "OffsetForLeaderEpoch", 32: "DescribeConfigs", 33: "AlterConfigs", 35: "DescribeLogDirs",
             36: "SaslAuthenticate", 37: "CreatePartitions", 42: "DeleteGroups", 44: "IncrementalAlterConfigs",
             47: "OffsetDelete", 60: "DescribeCluster", 61: "DescribeProducers"}


def api_name(key):
    return API_NAMES.get(key, "api%d" % key)


# ---------------------------------------------------------------------------
# The records every client produces: null and empty keys and values, NUL and
# high bytes, a value past one 64 KiB block of the codecs.

def fixture_records():
    records = [(b"key-%03d" % i, b"value-%03d\x00\xff" % i + bytes(range(i % 7))) for i in range(40)]
    records[3] = (None, b"value with a null key")
    records[5] = (b"", b"empty key")
    records[7] = (b"empty value", b"")
    records[9] = (b"null value", None)
    records[11] = (b"big", bytes((i * 7) & 0xff for i in range(100_000)))
    return records


def hexify(b):
    return None if b is None else b.hex()


# ---------------------------------------------------------------------------
# Logging proxy: forwards bytes both ways unchanged and parses the frames.

class Proxy:
    def __init__(self, upstream_port, port):
        self.upstream_port = upstream_port
        self.port = port
        self.recording = False  # only connections accepted while on are logged
        self.events = []  # (conn id, "request", key, version, correlation) / ("response", ...) / ("closed", ...)
        self.api_versions = None  # [(key, min, max)] from the first ApiVersions response
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.stopped = False
        self.conn_ids = 0
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def close(self):
        self.stopped = True
        self.sock.close()

    def record(self, *event):
        if event[0] is None:
            return
        with self.lock:
            self.events.append(event)

    def accept_loop(self):
        while not self.stopped:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self.conn_ids += 1
            cid = self.conn_ids if self.recording else None
            pending = collections.OrderedDict()  # correlation -> (key, version)
            state = {"first_close": None}
            for args in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self.pump, args=(cid,) + args + (pending, state), daemon=True).start()

    def pump(self, cid, src, dst, is_request, pending, state):
        """Copies src to dst; frames are parsed before they are passed on,
        so a request is pending before its response can come back."""
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 4:
                    size = struct.unpack(">i", buf[:4])[0]
                    if size < 0 or len(buf) < 4 + size:
                        break
                    frame, buf = buf[4:4 + size], buf[4 + size:]
                    self.parse(cid, frame, is_request, pending)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                if state["first_close"] is None:
                    state["first_close"] = "client" if is_request else "broker"
            if not is_request and state["first_close"] == "broker":
                # The broker closed: what was asked and never answered.
                for corr, (key, version) in list(pending.items()):
                    self.record(cid, "unanswered", key, version, corr)
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def parse(self, cid, frame, is_request, pending):
        if is_request:
            if len(frame) < 8:
                return
            key, version, corr = struct.unpack(">hhi", frame[:8])
            pending[corr] = (key, version)
            self.record(cid, "request", key, version, corr)
            return
        if len(frame) < 4:
            return
        corr = struct.unpack(">i", frame[:4])[0]
        key, version = pending.pop(corr, (None, None))
        self.record(cid, "response", key, version, corr)
        if key == 18 and cid is not None and self.api_versions is None:
            self.api_versions = parse_api_versions(frame[4:], version)

    def summary(self):
        """(requests in order of first use as 'Api vN', first unanswered)."""
        seen = []
        unanswered = None
        with self.lock:
            for cid, kind, key, version, corr in self.events:
                if kind == "request":
                    name = "%s v%d" % (api_name(key), version)
                    if name not in seen:
                        seen.append(name)
                elif kind == "unanswered" and unanswered is None:
                    unanswered = "%s v%d" % (api_name(key), version)
        return seen, unanswered


def parse_api_versions(body, version):
    """[(key, min, max)] of an ApiVersions response body (header v0)."""
    try:
        pos = 0
        (error,) = struct.unpack_from(">h", body, pos)
        pos += 2
        if version >= 3:
            n, pos = read_uvarint(body, pos)
            n -= 1
        else:
            (n,) = struct.unpack_from(">i", body, pos)
            pos += 4
        out = []
        for _ in range(max(n, 0)):
            key, lo, hi = struct.unpack_from(">hhh", body, pos)
            pos += 6
            if version >= 3:
                tags, pos = read_uvarint(body, pos)
                for _ in range(tags):
                    _, pos = read_uvarint(body, pos)
                    size, pos = read_uvarint(body, pos)
                    pos += size
            out.append((key, lo, hi))
        return out
    except struct.error:
        return None


def read_uvarint(b, pos):
    shift = value = 0
    while True:
        byte = b[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


# ---------------------------------------------------------------------------

_BUILT = {}


def build(program):
    """Builds go/<program> once per run; returns the binary's path."""
    if program in _BUILT:
        return _BUILT[program]
    if not shutil.which("go"):
        raise AssertionError("go is not installed (Debian: golang-go; scripts/install-deps --test)")
    gopath = tempfile.mkdtemp(prefix="strata-gopath-")
    atexit.register(shutil.rmtree, gopath, True)
    src = os.path.join(gopath, "src", "stratagotest")
    os.makedirs(src)
    for d in GO_SOURCES:
        shutil.copytree(os.path.join(GO_DIR, d), os.path.join(src, d))
    out = os.path.join(gopath, program)
    # Offline, from Debian's packages only: GOPATH mode, no module proxy.
    env = dict(os.environ, GO111MODULE="off", GOPATH=gopath + ":/usr/share/gocode", GOPROXY="off",
               GOFLAGS="", GOCACHE=os.environ.get("STRATA_GOCACHE", os.path.join(gopath, "cache")))
    p = subprocess.run(["go", "build", "-o", out, "stratagotest/" + program], env=env, cwd=gopath,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    if p.returncode != 0:
        raise AssertionError("go build %s failed:\n%s" % (program, p.stdout.decode("utf-8", "replace")))
    _BUILT[program] = out
    return out


# Clients that read a zero-length key or value as null (kafka-go 0.2's
# readNewBytes): their consumed records are compared with that in mind; the
# log itself is still checked byte for byte with confluent-kafka.
EMPTY_READS_AS_NULL = {"kafkago"}


def drive(b, proxy, program, binary, records, extra_args):
    topic, other, group = "go-%s" % program, "go-%s-other" % program, "go-%s-group" % program
    clients.create_topic(b.bootstrap, topic, 1)
    clients.create_topic(b.bootstrap, other, 2)
    records_dir = tempfile.mkdtemp(prefix="strata-go-records-")
    atexit.register(shutil.rmtree, records_dir, True)
    path = os.path.join(records_dir, "records.jsonl")
    with open(path, "w") as f:
        for k, v in records:
            f.write(json.dumps({"key": hexify(k), "value": hexify(v)}) + "\n")
    cmd = [binary, "-bootstrap", "127.0.0.1:%d" % proxy.port, "-topic", topic, "-group", group,
           "-records", path, "-timeout", "%ds" % STEP_TIMEOUT_S] + list(extra_args)
    proxy.recording = True
    mark = b.log_mark()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5 * STEP_TIMEOUT_S)
        stdout, stderr, rc = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        stdout = (e.stdout or b"").decode("utf-8", "replace")
        stderr, rc = "(killed after %ds)" % (5 * STEP_TIMEOUT_S), -9
    time.sleep(0.2)  # let the proxy see the last closes
    proxy.recording = False
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    report(program, proxy, events, rc, stderr, b.log_since(mark))
    errors = [e for e in events if e["event"] == "error"]
    assert rc == 0 and not errors, "%s failed (exit %d): %s" % (program, rc, errors or stderr[-2000:])
    verify_results(b, records, events, topic, other, group, program in EMPTY_READS_AS_NULL)


def report(program, proxy, events, rc, stderr, server_log):
    seen, unanswered = proxy.summary()
    print("%s: requests sent: %s" % (program, ", ".join(seen) or "none"))
    if proxy.api_versions is not None:
        print("%s: ApiVersions answered: %s" % (
            program, " ".join("%s:%d-%d" % (api_name(k), lo, hi) for k, lo, hi in proxy.api_versions)))
    else:
        print("%s: sent no ApiVersions" % program)
    print("%s: first request the broker closed the connection on: %s" % (program, unanswered or "none"))
    refusals = []
    for line in server_log.splitlines():
        if "unsupported version" in line:
            why = line.split(": ", 1)[-1]
            if why not in refusals:
                refusals.append(why)
    for why in refusals:
        print("%s: broker log: %s" % (program, why))
    for e in events:
        if e["event"] in ("error", "warning", "start"):
            print("%s: %s" % (program, json.dumps(e)))
    if rc != 0 and stderr.strip():
        print("%s: stderr tail:\n%s" % (program, stderr[-1500:]))


def verify_results(b, records, events, topic, other, group, empty_reads_as_null):
    n = len(records)
    produced = [e for e in events if e["event"] == "produced"]
    assert len(produced) == n, "produced %d of %d" % (len(produced), n)
    offsets = [e.get("offset") for e in produced]
    if all(o is not None for o in offsets):  # kafka-go's Writer reports none
        assert offsets == list(range(n)), "producer offsets %r" % offsets[:10]
    consumed = [e for e in events if e["event"] == "consumed"]
    assert [(e["partition"], e["offset"]) for e in consumed] == [(0, i) for i in range(n)], \
        "consumed positions %r" % [(e["partition"], e["offset"]) for e in consumed][:10]
    for i, (e, (k, v)) in enumerate(zip(consumed, records)):
        if empty_reads_as_null:
            k, v = k or None, v or None
        assert (e["key"], e["value"]) == (hexify(k), hexify(v)), \
            "record %d: got key=%r value=%.60r, want key=%r value=%.60r" % (
                i, e["key"], e["value"], hexify(k), hexify(v))
    committed = {e["partition"]: e["offset"] for e in events if e["event"] == "committed"}
    assert committed == {0: n}, "committed %r" % committed
    topics = [e for e in events if e["event"] == "topics"]
    assert topics and {topic, other} <= set(topics[-1]["topics"]), "topics %r" % topics

    # Independently of the Go client: the group's committed offset and the
    # log's contents, read with confluent-kafka.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False})
    got = c.committed([TopicPartition(topic, 0)], timeout=20)
    c.close()
    assert got[0].offset == n, "committed offset read back: %r" % got[0]
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group + "-verify",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    seen = []
    deadline = time.time() + 30
    while len(seen) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            seen.append((m.offset(), m.key(), m.value()))
    c.close()
    assert seen == [(i, k, v) for i, (k, v) in enumerate(records)], "log contents differ from what was produced"


def check_sarama():
    """sarama told the broker is Kafka 1.0 (Config.Version), a common setting."""
    run_go("sarama", ["-version", "1.0.0"])


def check_sarama_oldest_group_version():
    """sarama at the oldest Config.Version its consumer groups accept (0.10.2):
    the oldest requests a sarama user with groups sends."""
    run_go("sarama", ["-version", "0.10.2.0"])


def check_kafka_go():
    run_go("kafkago", ["-other", "go-kafkago-other"])


def check_confluent_kafka_go():
    run_go("confluent")


def run_go(program, extra_args=()):
    """Every connection of the client goes through the proxy: the broker
    advertises the proxy's port, not its own."""
    records = fixture_records()
    binary = build(program)
    proxy_port = free_port()
    with Broker(overrides={"advertised.listeners": "PLAINTEXT://127.0.0.1:%d" % proxy_port}) as b:
        proxy = Proxy(b.port, port=proxy_port)
        try:
            drive(b, proxy, program, binary, records, extra_args)
        finally:
            proxy.close()


# Lowest versions served (key: (with strata.legacy.api.versions.enable, without)):
# Kafka 3.9's and Kafka 4's. Produce is listed from v0 either way (KAFKA-18659).
LOWEST = {0: (0, 0), 1: (0, 4), 2: (0, 0), 8: (0, 2), 9: (0, 1), 19: (0, 2), 20: (0, 1), 23: (0, 2),
          32: (0, 1), 35: (0, 1)}


def raw_api_versions(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        client_id = b"strata-it-legacy"
        s.sendall(struct.pack(">ihhih", 10 + len(client_id), 18, 0, 7, len(client_id)) + client_id)
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        body = recv_exact(s, size)
        assert struct.unpack(">i", body[:4])[0] == 7, "correlation id"
        return {k: (lo, hi) for k, lo, hi in parse_api_versions(body[4:], 0)}
    finally:
        s.close()


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def produce_v2_answered(port):
    """A Produce v2 with acks=1 and no topics: answered (True) or the
    connection closed (False)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        client_id = b"strata-it-legacy"
        body = struct.pack(">hii", 1, 1000, 0)
        header = struct.pack(">hhih", 0, 2, 9, len(client_id)) + client_id
        s.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        try:
            size = struct.unpack(">i", recv_exact(s, 4))[0]
        except (EOFError, ConnectionResetError):
            return False
        frame = recv_exact(s, size)
        assert struct.unpack(">i", frame[:4])[0] == 9, "correlation id"
        return True
    finally:
        s.close()


def check_legacy_versions_on():
    """The default: every version Kafka 3.9 served."""
    with Broker() as b:
        ranges = raw_api_versions(b.port)
        lowest = {k: ranges[k][0] for k in LOWEST}
        assert lowest == {k: on for k, (on, _) in LOWEST.items()}, "lowest versions %r" % lowest
        assert produce_v2_answered(b.port), "Produce v2 refused with old versions on"


def check_legacy_versions_off():
    """strata.legacy.api.versions.enable=false: Kafka 4's ranges, and a
    Produce v2 closes the connection, as Kafka 4 does."""
    with Broker(overrides={"strata.legacy.api.versions.enable": "false"}) as b:
        ranges = raw_api_versions(b.port)
        lowest = {k: ranges[k][0] for k in LOWEST}
        assert lowest == {k: off for k, (_, off) in LOWEST.items()}, "lowest versions %r" % lowest
        mark = b.log_mark()
        assert not produce_v2_answered(b.port), "Produce v2 answered with old versions off"
        deadline = time.time() + 5
        while "unsupported version 2 of Produce" not in b.log_since(mark) and time.time() < deadline:
            time.sleep(0.05)
        assert "unsupported version 2 of Produce (supported 3-11)" in b.log_since(mark), b.log_since(mark)[-500:]


if __name__ == "__main__":
    harness.run_checks(globals())
