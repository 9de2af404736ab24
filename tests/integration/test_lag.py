"""Consumer lag as three independent observers see it (nothing mocked).

check_lag_metrics, check_lag_metrics_burrow: a 3-partition topic gets a
known number of records per partition and a group commits known offsets
(confluent-kafka Consumer.commit without subscribe, so no group membership
is involved). Then, for every partition, lag = log end offset - committed
offset, and the same (committed, log end, lag) is reported by
  - the broker's GET /metrics, parsed with prometheus_client's own text
    parser (kafka_consumergroup_current_offset,
    kafka_topic_partition_current_offset, kafka_consumergroup_lag);
  - the broker's GET /v1/groups/<group>/lag (JSON);
  - in check_lag_metrics_burrow also Burrow (Debian's burrow 1.2.1, with
    its own ZooKeeper), which decodes __consumer_offsets itself and asks for
    log end offsets with ListOffsets: /v3/kafka/<cluster>/consumer/<group>/lag
    (partitions[].end.offset, current_lag) and /v3/kafka/<cluster>/topic/<t>
    (offsets). Its configuration is burrow.toml.in.
This is checked three times: after a commit, after more records (lag follows
the log end), and after a second commit.

check_lag_strata_cli_consumer_groups: the same three times, and
`strata consumer-groups --describe --group G` prints the same CURRENT-OFFSET,
LOG-END-OFFSET and LAG per partition. Skipped (with a message) only while build/tools/strata answers
"Unknown command 'consumer-groups'".

ZooKeeper and Burrow are started here on free loopback ports with temp dirs
and killed by PID at the end.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import harness
from harness import Broker, free_port

from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

import clients

TIMEOUT_S = 300
HERE = os.path.dirname(os.path.abspath(__file__))
STRATA_CLI = os.path.join(harness.BUILD, "tools", "strata")
BURROW = "/usr/bin/Burrow"
# zookeeper.jar's manifest Class-Path names its dependencies; slf4j-simple
# (libslf4j-java), when there, makes it log to stderr, i.e. zookeeper.log.
ZOOKEEPER_CLASSPATH = ":".join(p for p in ("/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar")
                               if os.path.exists(p))
BURROW_CLUSTER = "strata"
# Burrow's sarama consumer adds the 50 partitions of __consumer_offsets to its
# Fetch requests one at a time, about two fetch waits (2 x 250 ms) apart, so a
# group's commits can take up to ~25 s after Burrow starts to reach it.
BURROW_WAIT_S = 60
TOPIC = "lag-topic"
GROUP = "lag-group"

# Records per partition, and the offsets committed for GROUP, in two rounds.
# Round 1 has a partition fully consumed (lag 0) and one committed at 0.
ROUND1_RECORDS = {0: 10, 1: 25, 2: 40}
ROUND1_COMMITS = {0: 4, 1: 25, 2: 0}
ROUND2_RECORDS = {0: 5, 1: 7, 2: 0}  # added on top of round 1
ROUND2_COMMITS = {0: 15, 1: 26, 2: 33}


# ---------------------------------------------------------------------------
# Helpers


def http_get(url, timeout_s=5):
    """(status, body text) of a GET; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def wait_listening(port, proc, what, log_path, timeout_s):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("%s exited with %s; log:\n%s" % (what, proc.returncode, tail(log_path)))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("%s did not listen on %d within %ds; log:\n%s" % (what, port, timeout_s, tail(log_path)))


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def tail(path, lines=60):
    return "\n".join(read_text(path).splitlines()[-lines:]) or "(empty log)"


def stop_process(proc, timeout_s=10):
    """SIGTERM, then SIGKILL, by PID."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class ZooKeeper:
    """A standalone ZooKeeper (Debian's zookeeper package), for Burrow only."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="strata-it-zk-")
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "zookeeper.log")

    def start(self):
        assert os.path.exists(ZOOKEEPER_CLASSPATH.split(":")[0]), \
            "no /usr/share/java/zookeeper.jar: install Debian's zookeeper (scripts/install-deps --test)"
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=500\n")
            f.write("dataDir=%s\n" % os.path.join(self.dir, "data"))
            f.write("clientPort=%d\n" % self.port)
            f.write("clientPortAddress=127.0.0.1\n")
            f.write("maxClientCnxns=0\n")
            f.write("admin.enableServer=false\n")  # no Jetty admin server on 8080
        self.log = open(self.log_path, "ab")
        # ZooKeeperServerMain is the standalone server (what zkServer.sh
        # start-foreground runs for a config without peers), without the
        # script's JMX and log4j settings.
        self.proc = subprocess.Popen(["java", "-Xmx128m", "-cp", ZOOKEEPER_CLASSPATH,
                                      "org.apache.zookeeper.server.ZooKeeperServerMain", cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_listening(self.port, self.proc, "ZooKeeper", self.log_path, 30)
        # It listens before it serves: connections made before then are
        # closed (Burrow then fails with "Authentication failed: EOF").
        deadline = time.time() + 30
        while self.four_letter_word(b"srvr").find("Mode:") < 0:
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("ZooKeeper not serving; log:\n%s" % tail(self.log_path))
            time.sleep(0.1)
        return self

    def four_letter_word(self, word):
        """ZooKeeper's answer to a four-letter command ("srvr" is allowed by default)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(word)
                out = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        return out.decode("utf-8", "replace")
                    out += chunk
        except OSError:
            return ""

    def close(self):
        stop_process(self.proc)
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Burrow:
    """Debian's Burrow with one cluster (the Strata broker) and a kafka
    consumer module reading __consumer_offsets."""

    def __init__(self, broker, zookeeper_port):
        self.dir = tempfile.mkdtemp(prefix="strata-it-burrow-")
        self.http_port = free_port()
        self.bootstrap = broker.bootstrap
        self.broker_log_mark = broker.log_mark()
        self.zookeeper_port = zookeeper_port
        self.proc = None
        self.log_path = os.path.join(self.dir, "burrow.log")

    def start(self):
        assert os.path.exists(BURROW), "no %s: install Debian's burrow (scripts/install-deps --test)" % BURROW
        with open(os.path.join(HERE, "burrow.toml.in")) as f:
            template = f.read()
        cfg = template.format(dir=self.dir, zookeeper="127.0.0.1:%d" % self.zookeeper_port,
                              bootstrap=self.bootstrap, cluster=BURROW_CLUSTER,
                              http="127.0.0.1:%d" % self.http_port)
        with open(os.path.join(self.dir, "burrow.toml"), "w") as f:
            f.write(cfg)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BURROW, "--config-dir", self.dir], cwd=self.dir,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_listening(self.http_port, self.proc, "Burrow", self.log_path, 30)
        return self

    def get(self, path):
        """Burrow's JSON answer for path, or None for an HTTP error."""
        status, body = http_get("http://127.0.0.1:%d%s" % (self.http_port, path))
        if status != 200:
            return None
        return json.loads(body)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        # Burrow 1.2.1 can take over 10 s to stop on SIGTERM (its modules
        # wait on each other); it keeps nothing worth a clean shutdown.
        stop_process(self.proc, timeout_s=2)
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# The three observers: each returns {partition: (committed, log end, lag)}
# for GROUP on TOPIC.


def strata_metrics(b):
    status, text = http_get("http://127.0.0.1:%d/metrics" % b.http_port)
    assert status == 200, "/metrics answered %d: %s" % (status, text[:500])
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append(s)
    lag, committed, end = {}, {}, {}
    for s in samples.get("kafka_consumergroup_lag", []):
        if s.labels.get("consumergroup") == GROUP and s.labels.get("topic") == TOPIC:
            lag[int(s.labels["partition"])] = s.value
    for s in samples.get("kafka_consumergroup_current_offset", []):
        if s.labels.get("consumergroup") == GROUP and s.labels.get("topic") == TOPIC:
            committed[int(s.labels["partition"])] = s.value
    for s in samples.get("kafka_topic_partition_current_offset", []):
        if s.labels.get("topic") == TOPIC:
            end[int(s.labels["partition"])] = s.value
    assert set(lag) == set(committed), "lag for %r but current_offset for %r" % (sorted(lag), sorted(committed))
    for v in list(lag.values()) + list(committed.values()) + list(end.values()):
        assert v == int(v), "non-integer sample %r" % v
    return {p: (int(committed[p]), int(end[p]) if p in end else None, int(lag[p])) for p in lag}


def strata_json(b):
    status, text = http_get("http://127.0.0.1:%d/v1/groups/%s/lag" % (b.http_port, GROUP))
    assert status == 200, "/v1/groups/%s/lag answered %d: %s" % (GROUP, status, text[:500])
    doc = json.loads(text)
    out = {}
    for e in doc["partitions"]:
        if e["topic"] == TOPIC:
            out[e["partition"]] = (e["current_offset"], e["log_end_offset"], e["lag"])
    assert doc["total_lag"] == sum(v[2] for v in out.values()), "total_lag %r for %r" % (doc["total_lag"], out)
    return out


def burrow_lag(burrow):
    """{partition: (committed, log end, lag)} from Burrow, or None while
    Burrow does not report the group.

    Burrow's lag answer has, per partition, end.offset (the last committed
    offset it decoded from __consumer_offsets) and current_lag (its latest
    log end offset, from ListOffsets, minus that); its topic answer has the
    log end offsets themselves."""
    doc = burrow.get("/v3/kafka/%s/consumer/%s/lag" % (BURROW_CLUSTER, GROUP))
    ends = burrow_topic_offsets(burrow)
    if not doc or doc.get("error") or ends is None:
        return None
    out = {}
    for p in doc["status"].get("partitions") or []:
        if p["topic"] == TOPIC and p.get("end"):
            part = p["partition"]
            out[part] = (p["end"]["offset"], ends[part] if part < len(ends) else None, p["current_lag"])
    return out


def expected(records, commits):
    return {p: (commits[p], records[p], records[p] - commits[p]) for p in records}


def burrow_topic_offsets(burrow):
    doc = burrow.get("/v3/kafka/%s/topic/%s" % (BURROW_CLUSTER, TOPIC))
    return None if not doc or doc.get("error") else doc.get("offsets")


def burrow_blocker(b, burrow):
    """Why Burrow cannot work against this broker, if its logs say so, else None.

    Burrow 1.2.1's cluster module builds its ListOffsets request as a bare
    sarama.OffsetRequest{}, i.e. version 0 whatever kafka-version says, and
    reads Offsets[0] of the v0 answer; a broker without ListOffsets v0 closes
    the connection (sarama: EOF) and Burrow never learns a log end offset."""
    broker_log = b.log_since(burrow.broker_log_mark)
    m = re.search(r"^.*unsupported version \d+ of \w+.*$", broker_log, re.M)
    if m and "failed to fetch offsets from broker" in read_text(burrow.log_path):
        return ("the broker refuses a request version Burrow sends, so Burrow gets no log end offsets "
                "(Burrow: 'failed to fetch offsets from broker', sarama_error EOF). Broker log: %s"
                % m.group(0).strip())
    return None


def wait_for(what, fn, want, b, burrow, timeout_s=BURROW_WAIT_S):
    """Poll fn() until it returns want; fail with the last value and Burrow's
    log, or at once when burrow_blocker() finds why it cannot succeed."""
    deadline = time.time() + timeout_s
    got = None
    while time.time() < deadline:
        got = fn()
        if got == want:
            return got
        assert burrow.alive(), "Burrow exited with %s; log:\n%s" % (burrow.proc.returncode, tail(burrow.log_path))
        blocker = burrow_blocker(b, burrow)
        assert blocker is None, "%s: Burrow cannot work against Strata: %s" % (what, blocker)
        time.sleep(0.5)
    raise AssertionError("%s: after %ds Burrow reports %r, expected %r; Burrow log:\n%s"
                         % (what, timeout_s, got, want, tail(burrow.log_path, 80)))


# ---------------------------------------------------------------------------
# Producing and committing


def produce(b, counts):
    p = clients.producer(b.bootstrap)
    items = []
    for part, n in counts.items():
        for i in range(n):
            items.append((len(items), dict(partition=part, key=b"k%d" % i, value=b"v%d-%d" % (part, i))))
    delivered, failed = clients.produce_all(p, TOPIC, items)
    assert not failed, "delivery failed: %r" % failed


def commit(b, group, offsets):
    """Commit {partition: offset} for group without joining it."""
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in sorted(offsets.items())], asynchronous=False)
        got = c.committed([TopicPartition(TOPIC, p) for p in sorted(offsets)], timeout=10)
        assert {tp.partition: tp.offset for tp in got} == offsets, "committed() returned %r" % got
    finally:
        c.close()


def log_end_offsets(b):
    c = clients.reader(b.bootstrap)
    try:
        return {p: c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1] for p in range(3)}
    finally:
        c.close()


def compare_strata(b, records, commits):
    want = expected(records, commits)
    assert log_end_offsets(b) == records, "log end offsets %r, expected %r" % (log_end_offsets(b), records)
    m = strata_metrics(b)
    print("/metrics: %r" % m)
    assert m == want, "/metrics (committed, log end, lag) per partition %r, expected %r" % (m, want)
    j = strata_json(b)
    print("/v1/groups/%s/lag: %r" % (GROUP, j))
    assert j == want, "/v1/groups/%s/lag (committed, log end, lag) per partition %r, expected %r" % (GROUP, j, want)
    return want


def compare_burrow(b, burrow, records, commits):
    got = wait_for("group %s lag" % GROUP, lambda: burrow_lag(burrow), expected(records, commits), b, burrow)
    print("Burrow: %r" % got)


# ---------------------------------------------------------------------------
# Checks


def step(t0, what):
    print("%6.2fs %s" % (time.time() - t0, what), flush=True)


def lag_rounds(b, t0, burrow=None, cli=False):
    """Commit, produce and commit again; after each step every observer
    (Burrow and the strata tool too, when asked) reports lag = log end -
    committed."""
    def compare(records, commits):
        compare_strata(b, records, commits)
        if burrow:
            compare_burrow(b, burrow, records, commits)
        if cli:
            compare_cli(b, records, commits)

    commit(b, GROUP, ROUND1_COMMITS)
    compare(ROUND1_RECORDS, ROUND1_COMMITS)
    step(t0, "round 1 agrees")
    produce(b, ROUND2_RECORDS)
    records = {p: ROUND1_RECORDS[p] + ROUND2_RECORDS[p] for p in range(3)}
    # More records, same commits: lag follows the log end.
    compare(records, ROUND1_COMMITS)
    commit(b, GROUP, ROUND2_COMMITS)
    compare(records, ROUND2_COMMITS)
    step(t0, "round 2 agrees")


def check_lag_metrics():
    """The broker's own two answers, without Burrow."""
    t0 = time.time()
    with Broker() as b:
        clients.create_topic(b.bootstrap, TOPIC, 3)
        produce(b, ROUND1_RECORDS)
        lag_rounds(b, t0)


def check_lag_metrics_burrow():
    zk = burrow = None
    t0 = time.time()
    with Broker() as b:
        try:
            clients.create_topic(b.bootstrap, TOPIC, 3)
            produce(b, ROUND1_RECORDS)
            # Burrow's kafka consumer module asks for __consumer_offsets'
            # partitions when it starts, and the broker creates that topic on
            # the first commit: commit for another group first.
            commit(b, "lag-warmup", {0: 1})
            step(t0, "topic created, records produced")
            # Assigned before start() so that finally: cleans up a failed start.
            zk = ZooKeeper()
            zk.start()
            step(t0, "ZooKeeper serving on port %d" % zk.port)
            burrow = Burrow(b, zk.port)
            burrow.start()
            step(t0, "Burrow listening on port %d" % burrow.http_port)
            # Burrow's in-memory storage drops a committed offset for a
            # partition whose log end offset it has not fetched yet, so wait
            # for those before committing.
            wait_for("topic %s log end offsets" % TOPIC, lambda: burrow_topic_offsets(burrow),
                     [ROUND1_RECORDS[p] for p in range(3)], b, burrow)
            step(t0, "Burrow has the log end offsets")
            lag_rounds(b, t0, burrow)
        finally:
            if burrow:
                burrow.close()
            if zk:
                zk.close()


def strata_cli_lacks_consumer_groups():
    """True only when the strata tool says it has no consumer-groups command."""
    r = subprocess.run([STRATA_CLI, "consumer-groups", "--help"], capture_output=True, text=True, timeout=10)
    return "Unknown command 'consumer-groups'" in r.stdout + r.stderr


def parse_describe(text):
    """Rows of `consumer-groups --describe` as dicts keyed by column name:
    the lines after the header up to the first blank line (Kafka's tool
    prints notes such as "has no active members" apart from the table)."""
    header = None
    rows = []
    for line in text.splitlines():
        cols = line.split()
        if header is None:
            if cols[:6] == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"]:
                header = cols
            continue
        if not cols:
            if rows:
                break
            continue
        assert len(cols) >= 6 and cols[2].isdigit(), "unexpected row %r in:\n%s" % (line, text)
        rows.append(dict(zip(header, cols)))
    assert header, "no GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG header in:\n%s" % text
    return rows


def compare_cli(b, records, commits):
    r = subprocess.run([STRATA_CLI, "consumer-groups", "--bootstrap-server", b.bootstrap,
                        "--describe", "--group", GROUP], capture_output=True, text=True, timeout=30)
    print(r.stdout + r.stderr)
    assert r.returncode == 0, "strata consumer-groups exited %d" % r.returncode
    got = {}
    for row in parse_describe(r.stdout):
        assert row["GROUP"] == GROUP, "row for group %r" % row["GROUP"]
        if row["TOPIC"] == TOPIC:
            got[int(row["PARTITION"])] = (int(row["CURRENT-OFFSET"]), int(row["LOG-END-OFFSET"]), int(row["LAG"]))
    want = expected(records, commits)
    assert got == want, "strata consumer-groups (committed, log end, lag) %r, expected %r" % (got, want)


def check_lag_strata_cli_consumer_groups():
    if strata_cli_lacks_consumer_groups():
        print("SKIPPED: %s answers \"Unknown command 'consumer-groups'\": the command does not exist yet" % STRATA_CLI)
        return
    t0 = time.time()
    with Broker() as b:
        clients.create_topic(b.bootstrap, TOPIC, 3)
        produce(b, ROUND1_RECORDS)
        lag_rounds(b, t0, cli=True)


if __name__ == "__main__":
    harness.run_checks(globals())
