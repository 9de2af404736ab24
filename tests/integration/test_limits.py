"""Broker limits and switches that Kafka 4 enforces, against the real broker.

check_max_connections_per_ip: with max.connections.per.ip=2, two raw
connections from 127.0.0.2 are answered; a third from that address is
closed by the broker right after accept (with a WARN line naming the key),
while one from 127.0.0.3 is served; once one of the first two closes, a new
connection from 127.0.0.2 is served again. (Not 127.0.0.1: the harness's
readiness probe comes from there and may not have been reaped yet.)

check_group_max_size: with group.max.size=2, raw JoinGroup v5 requests:
two members join (MEMBER_ID_REQUIRED, then a join with the given id); a
third new member gets GROUP_MAX_SIZE_REACHED (81) with no member id, from
v5 and from v3 (no MEMBER_ID_REQUIRED step); a member of the full group
still rejoins; after one member leaves, a new member is taken again.

check_decompression_bombs: Produce requests whose batches inflate far
(gzip, raw and xerial snappy, lz4, zstd) on one connection. Zeros as the
records section gets INVALID_RECORD (Kafka's InvalidRecordException for a
malformed record); one well-formed record filling the 64 MiB decompression
limit followed by more bytes gets INVALID_RECORD too (more records than the
batch declares); a record declaring more than the limit gets
MESSAGE_TOO_LARGE (Strata's limit; the Java producer then splits the
batch). The bomb connection stays open and the topic stays empty. Meanwhile
another connection's ApiVersions round trips go on: at least a few are
answered while the broker is still working through the slowest bomb (gzip
inflating the whole limit), where before it answered nothing until the
bomb's verdict.

check_cleaner_disabled: one key written ten times to a compacted topic
whose segments roll on every write. With log.cleaner.enable=false all ten
records are still there after many log.cleaner.backoff.ms intervals; with
the cleaner enabled (same setup, second broker) the older values go.
"""
import socket
import struct
import threading
import time

import bombs
import harness
from harness import Broker

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from clients import reader

TIMEOUT_S = 240

NONE = 0
MEMBER_ID_REQUIRED = 79
GROUP_MAX_SIZE_REACHED = 81

API_JOIN_GROUP, API_LEAVE_GROUP, API_API_VERSIONS = 11, 13, 18


# --- a raw client for non-flexible request versions -------------------------

def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def blob(b):
    return i32(len(b)) + b


def array(items):
    return i32(len(items)) + b"".join(items)


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        assert self.pos + n <= len(self.data), "response truncated"
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]

    def str(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def blob(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def array(self, each):
        n = self.i32()
        return None if n < 0 else [each(self) for _ in range(n)]


class Conn:
    """One connection. send() and receive() are separate so that a request
    the broker parks (a JoinGroup waiting for a rebalance) does not block
    the test while other members act."""

    def __init__(self, port, source="127.0.0.1", timeout=15):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.corr = 0

    def send(self, api, version, body):
        self.corr += 1
        payload = i16(api) + i16(version) + i32(self.corr) + string("strata-it-limits") + body
        self.sock.sendall(i32(len(payload)) + payload)
        return self.corr

    def receive(self, corr):
        n = struct.unpack(">i", self._exact(4))[0]
        r = Reader(self._exact(n))
        assert r.i32() == corr, "correlation id mismatch"
        return r

    def call(self, api, version, body):
        return self.receive(self.send(api, version, body))

    def _exact(self, n):
        return harness.recv_exact(self.sock, n)

    def close(self):
        self.sock.close()


def api_versions_ok(conn):
    """ApiVersions v0 answered with NONE and a non-empty list."""
    r = conn.call(API_API_VERSIONS, 0, b"")
    err = r.i16()
    apis = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
    return err == NONE and len(apis) > 0


def closed_by_broker(conn, within_s=5.0):
    """True when the broker closes the connection (EOF or reset) without
    answering an ApiVersions request; False when it answers."""
    conn.sock.settimeout(within_s)
    try:
        conn.send(API_API_VERSIONS, 0, b"")
        return conn.sock.recv(4) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


# --- check_max_connections_per_ip -------------------------------------------

LIMITED, OTHER = "127.0.0.2", "127.0.0.3"


def check_max_connections_per_ip():
    with Broker({"max.connections.per.ip": 2}) as b:
        first, second = Conn(b.port, LIMITED), Conn(b.port, LIMITED)
        assert api_versions_ok(first) and api_versions_ok(second)

        mark = b.log_mark()
        third = Conn(b.port, LIMITED)
        assert closed_by_broker(third), "a third connection from %s was served" % LIMITED
        third.close()
        log = b.log_since(mark)
        assert "max.connections.per.ip 2 reached for %s" % LIMITED in log, log

        # The limit is per address: another loopback address is served.
        other = Conn(b.port, OTHER)
        assert api_versions_ok(other)
        # The first two still work.
        assert api_versions_ok(first) and api_versions_ok(second)

        # Freeing a slot lets the address in again, once the broker has seen
        # the close (it may accept before it reads the EOF: retry briefly).
        first.close()
        deadline = time.time() + 5
        while True:
            again = Conn(b.port, LIMITED)
            try:
                if api_versions_ok(again):
                    break
            except (AssertionError, ConnectionResetError, BrokenPipeError):
                pass
            again.close()
            assert time.time() < deadline, "no connection from %s was served after one closed" % LIMITED
            time.sleep(0.1)
        again.close()
        second.close()
        other.close()


# --- check_group_max_size ---------------------------------------------------

GROUP = "limited"
SESSION_MS = 10000


def send_join(conn, member_id, version=5):
    """JoinGroup v3 or v5 for GROUP with one 'range' protocol; returns the
    correlation id (read the answer with read_join)."""
    body = string(GROUP) + i32(SESSION_MS) + i32(SESSION_MS) + string(member_id)
    if version >= 5:
        body += string(None)  # group_instance_id: a dynamic member
    body += string("consumer") + array([string("range") + blob(b"\x00\x01meta")])
    return conn.send(API_JOIN_GROUP, version, body)


def read_join(conn, corr, version=5):
    """-> (error, generation, leader, member_id, member count)"""
    r = conn.receive(corr)
    r.i32()  # throttle_time_ms
    err, generation, _protocol, leader, member_id = r.i16(), r.i32(), r.str(), r.str(), r.str()
    if version >= 5:
        members = r.array(lambda r: (r.str(), r.str(), r.blob()))
    else:
        members = r.array(lambda r: (r.str(), r.blob()))
    return err, generation, leader, member_id, len(members)


def join(conn, member_id, version=5):
    return read_join(conn, send_join(conn, member_id, version), version)


def member_id_for(conn):
    """The id a new member is handed (KIP-394 MEMBER_ID_REQUIRED)."""
    err, _g, _l, member_id, _n = join(conn, "")
    assert err == MEMBER_ID_REQUIRED and member_id, (err, member_id)
    return member_id


def leave(conn, member_id):
    body = string(GROUP) + array([string(member_id) + string(None)])
    r = conn.call(API_LEAVE_GROUP, 3, body)
    r.i32()
    err = r.i16()
    members = r.array(lambda r: (r.str(), r.str(), r.i16()))
    return err, members


def check_group_max_size():
    with Broker({"group.max.size": 2, "group.initial.rebalance.delay.ms": 0}) as b:
        a, bee, c = Conn(b.port), Conn(b.port), Conn(b.port)
        id_a = member_id_for(a)
        err, gen, leader, _m, n = join(a, id_a)
        assert (err, gen, leader, n) == (NONE, 1, id_a, 1), (err, gen, leader, n)

        # The second member starts a rebalance that completes when the first
        # rejoins: both answers arrive then.
        id_b = member_id_for(bee)
        corr_b = send_join(bee, id_b)
        err, gen, leader, _m, n = join(a, id_a)
        assert (err, gen, n) == (NONE, 2, 2), (err, gen, n)
        err, gen, _l, member_id, _n = read_join(bee, corr_b)
        assert (err, gen, member_id) == (NONE, 2, id_b), (err, gen, member_id)

        # Full: a new member is refused, before and after KIP-394's step.
        mark = b.log_mark()
        err, _g, _l, member_id, _n = join(c, "")
        assert (err, member_id) == (GROUP_MAX_SIZE_REACHED, ""), (err, member_id)
        err, _g, _l, member_id, _n = join(c, "", version=3)
        assert (err, member_id) == (GROUP_MAX_SIZE_REACHED, ""), (err, member_id)
        assert "group.max.size 2 reached" in b.log_since(mark)

        # A member of the full group is not new: its rejoin is answered
        # with the current generation.
        err, gen, leader, member_id, _n = join(a, id_a)
        assert (err, gen, leader, member_id) == (NONE, 2, id_a, id_a), (err, gen, leader, member_id)

        # One leaves: there is room again.
        err, members = leave(bee, id_b)
        assert err == NONE and members == [(id_b, None, NONE)], (err, members)
        err, _g, _l, member_id, _n = join(c, "")
        assert err == MEMBER_ID_REQUIRED and member_id, (err, member_id)
        for conn in (a, bee, c):
            conn.close()


# --- check_cleaner_disabled -------------------------------------------------

WRITES = 10


def write_one_key(bootstrap, topic):
    """WRITES values of key 'k', each in its own segment (segment.ms=100 and
    150 ms between writes)."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    for i in range(WRITES):
        p.produce(topic, key=b"k", value=b"v%d" % i)
        assert p.flush(10) == 0, "write %d not delivered" % i
        time.sleep(0.15)


def values_in(bootstrap, topic):
    """Every value in the partition, read from offset 0 up to the high
    watermark."""
    c = reader(bootstrap)
    try:
        _lo, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, 0)])
        values, deadline = [], time.time() + 20
        while True:
            assert time.time() < deadline, "read of %s timed out at %r (high watermark %d)" % (topic, values, high)
            for m in c.consume(100, 0.5):
                if m.error() is None:
                    values.append(m.value())
                elif m.error().code() == KafkaError._PARTITION_EOF:
                    if m.offset() >= high:
                        return values
                else:
                    raise KafkaException(m.error())
    finally:
        c.close()


def compacted_topic_with_one_key(b, topic):
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    config = {"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01",
              "min.compaction.lag.ms": "0", "delete.retention.ms": "100"}
    a.create_topics([NewTopic(topic, 1, 1, config=config)])[topic].result(20)
    write_one_key(b.bootstrap, topic)


def check_cleaner_disabled():
    # A short retention check too: a broker that compacted on its
    # housekeeping pass regardless of log.cleaner.enable would show it.
    every = {"log.cleaner.backoff.ms": 200, "log.retention.check.interval.ms": 200}
    everything = [b"v%d" % i for i in range(WRITES)]

    with Broker(dict(every, **{"log.cleaner.enable": "false"})) as b:
        compacted_topic_with_one_key(b, "kept")
        time.sleep(3)  # 15 intervals
        values = values_in(b.bootstrap, "kept")
        assert values == everything, "compacted with log.cleaner.enable=false: %r" % values
        assert "log.cleaner.enable=false" in b.read_log()

    with Broker(every) as b:
        compacted_topic_with_one_key(b, "cleaned")
        deadline = time.time() + 15
        while True:
            values = values_in(b.bootstrap, "cleaned")
            if len(values) < WRITES:
                break
            assert time.time() < deadline, "the cleaner removed nothing: %r" % values
            time.sleep(0.5)
        assert values[-1] == b"v%d" % (WRITES - 1) and len(set(values)) == len(values), values


# --- check_decompression_bombs ------------------------------------------------

BOMB_TOPIC = "bombs"
DECOMPRESSED_LIMIT = 64 << 20  # strata.decompressed.batch.max.bytes default
INVALID_RECORD, MESSAGE_TOO_LARGE = 87, 10


class Pinger(threading.Thread):
    """ApiVersions round trips, one after another, on their own connection."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = Conn(port)
        self.answered = []  # monotonic time of each answer
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                assert api_versions_ok(self.conn)
                self.answered.append(time.monotonic())
        except Exception as e:  # reported by the check
            self.error = e

    def between(self, t0, t1):
        return sum(1 for t in self.answered if t0 < t < t1)


def check_decompression_bombs():
    import test_bad_input as raw
    with Broker() as b:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics([NewTopic(BOMB_TOPIC, 1, 1)])[BOMB_TOPIC].result(20)
        pinger = Pinger(b.port)
        pinger.start()
        attacker = raw.Conn(b.port, timeout=60)
        attacker.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def produce(batch):
            attacker.send(raw.produce_v9(11, BOMB_TOPIC, 0, batch, acks=1))
            sent = time.monotonic()
            _, parts = raw.parse_produce_v9(attacker.recv_frame())
            return parts[0][2], parts[0][4], sent, time.monotonic()

        snappy_bound = 16 << 20  # what fits in message.max.bytes at snappy's ~21x
        cases = []
        for codec in ("gzip", "snappy-raw", "snappy-xerial", "lz4", "zstd"):
            zeros = snappy_bound if codec.startswith("snappy") else (128 << 20 if codec == "lz4" else 256 << 20)
            cases.append((codec + " zeros", bombs.batch(codec, bombs.zero_chunks(zeros)), INVALID_RECORD))
            value = snappy_bound if codec.startswith("snappy") else DECOMPRESSED_LIMIT - 100
            cases.append((codec + " record to the limit, then more",
                          bombs.batch(codec, list(bombs.big_record(value)) + [b"\0" * 4096]), INVALID_RECORD))
            if not codec.startswith("snappy"):
                cases.append((codec + " record beyond the limit",
                              bombs.batch(codec, bombs.big_record(DECOMPRESSED_LIMIT + 1024)), MESSAGE_TOO_LARGE))
        slowest = None
        for name, batch, want in cases:
            err, msg, sent, answered = produce(batch)
            pings = pinger.between(sent, answered)
            print("%-40s -> error %d (%s) in %.0f ms, %d pings answered meanwhile"
                  % (name, err, msg, 1000 * (answered - sent), pings))
            assert err == want, "%s: error %d (%s), expected %d" % (name, err, msg, want)
            if name == "gzip record to the limit, then more":
                slowest = (pings, answered - sent)
        assert pinger.error is None, "the other connection failed: %r" % pinger.error
        pings, took = slowest
        assert pings >= 3, ("only %d round trips of another connection were answered in the %.0f ms the broker "
                            "spent on one bomb" % (pings, 1000 * took))
        # The bomb connection still works; nothing of the bombs was stored.
        attacker.api_versions()
        err, _, _, _ = produce(raw.record_batch([b"good"]))
        assert err == 0
        pinger.stop.set()
        pinger.join(10)
        assert values_in(b.bootstrap, BOMB_TOPIC) == [b"good"]
        assert BOMB_TOPIC in b.read_log()
        attacker.close()


if __name__ == "__main__":
    harness.run_checks(globals())
