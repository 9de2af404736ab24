"""Admin and offset APIs against the real broker, with Kafka 4's answers.

confluent-kafka 1.7's AdminClient drives what it can (CreateTopics,
DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs). The rest
(IncrementalAlterConfigs, DescribeCluster, ListOffsets, DeleteRecords,
OffsetForLeaderEpoch, DescribeLogDirs, DescribeProducers, CreateTopics v7 and
DeleteTopics v6 details, requests a client would refuse to build) goes
through the small raw client below, written independently of the broker's
codec. Every case asserts the exact error code; messages are checked where
Kafka's text is part of the contract a user sees.
"""
import socket
import struct
import time

import harness
from harness import Broker

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

TIMEOUT_S = 300

NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_AUTHORIZATION_FAILED = 29
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_TIMESTAMP = 32
INVALID_CONFIG = 40
INVALID_REQUEST = 42
POLICY_VIOLATION = 44
TOPIC_DELETION_DISABLED = 73
UNKNOWN_LEADER_EPOCH = 75
UNKNOWN_TOPIC_ID = 100
UNSUPPORTED_ENDPOINT_TYPE = 115

RESOURCE_TOPIC, RESOURCE_BROKER = 2, 4
OP_SET, OP_DELETE, OP_APPEND, OP_SUBTRACT = 0, 1, 2, 3


# --- a raw Kafka client ------------------------------------------------------

class W:
    """Request body writer; flexible selects compact forms and tag buffers."""

    def __init__(self, flexible):
        self.flex, self.buf = flexible, bytearray()

    def raw(self, b):
        self.buf += b
        return self

    def i8(self, v): return self.raw(struct.pack(">b", v))
    def i16(self, v): return self.raw(struct.pack(">h", v))
    def i32(self, v): return self.raw(struct.pack(">i", v))
    def i64(self, v): return self.raw(struct.pack(">q", v))
    def bool(self, v): return self.i8(1 if v else 0)
    def uuid(self, b): return self.raw(b)

    def uvarint(self, n):
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                self.buf.append(b | 0x80)
            else:
                self.buf.append(b)
                return self

    def str(self, s):
        if s is None:
            return self.uvarint(0) if self.flex else self.i16(-1)
        b = s.encode()
        return (self.uvarint(len(b) + 1) if self.flex else self.i16(len(b))).raw(b)

    def array(self, items, each):
        if items is None:
            return self.uvarint(0) if self.flex else self.i32(-1)
        self.uvarint(len(items) + 1) if self.flex else self.i32(len(items))
        for it in items:
            each(self, it)
        return self

    def tags(self):
        return self.uvarint(0) if self.flex else self


class R:
    def __init__(self, data, flexible):
        self.data, self.pos, self.flex = data, 0, flexible

    def take(self, n):
        assert self.pos + n <= len(self.data), "response truncated at %d+%d of %d" % (self.pos, n, len(self.data))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]
    def bool(self): return self.i8() != 0
    def uuid(self): return self.take(16)

    def uvarint(self):
        n = shift = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7

    def str(self):
        n = self.uvarint() - 1 if self.flex else self.i16()
        return None if n < 0 else self.take(n).decode()

    def array(self, each):
        n = self.uvarint() - 1 if self.flex else self.i32()
        return None if n < 0 else [each(self) for _ in range(n)]

    def tags(self):
        """Tagged fields as {tag: bytes}."""
        out = {}
        if self.flex:
            for _ in range(self.uvarint()):
                tag = self.uvarint()
                out[tag] = self.take(self.uvarint())
        return out

    def end(self):
        assert self.pos == len(self.data), "%d bytes left over in the response" % (len(self.data) - self.pos)


class Raw:
    """One connection; call(api, version, flexible, body_writer_fn) -> R."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.corr = 0

    def call(self, api, version, flexible, fill):
        self.corr += 1
        w = W(flexible)
        fill(w)
        hdr = W(False).i16(api).i16(version).i32(self.corr).str("strata-it-admin")
        if flexible:
            hdr.uvarint(0)
        payload = bytes(hdr.buf) + bytes(w.buf)
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        n = struct.unpack(">i", self._exact(4))[0]
        r = R(self._exact(n), flexible)
        assert r.i32() == self.corr, "correlation id mismatch"
        r.tags() if flexible else None
        return r

    def _exact(self, n):
        return harness.recv_exact(self.sock, n)

    def close(self):
        self.sock.close()


# --- request helpers ---------------------------------------------------------

def create_topics_v4(raw, topics, validate_only=False):
    """topics: [(name, partitions, rf, {config: value}, assignments or None)] -> {name: [(err, msg)]}"""
    def topic(w, t):
        name, parts, rf, configs, assignments = t
        w.str(name).i32(parts).i16(rf)
        w.array([(i, ids) for i, ids in enumerate(assignments or [])],
                lambda w, a: w.i32(a[0]).array(a[1], lambda w, b: w.i32(b)))
        w.array(sorted((configs or {}).items()), lambda w, kv: w.str(kv[0]).str(kv[1]))
    r = raw.call(19, 4, False, lambda w: w.array(topics, topic).i32(10000).bool(validate_only))
    r.i32()
    out = {}
    for name, err, msg in r.array(lambda r: (r.str(), r.i16(), r.str())):
        out.setdefault(name, []).append((err, msg))
    r.end()
    return out


def create_topic_v7(raw, name, partitions, rf, configs=None, validate_only=False):
    """One topic, the v7 result as a dict."""
    def topic(w, _):
        w.str(name).i32(partitions).i16(rf).array([], None)
        w.array(sorted((configs or {}).items()), lambda w, kv: w.str(kv[0]).str(kv[1]).tags())
        w.tags()
    r = raw.call(19, 7, True, lambda w: w.array([0], topic).i32(10000).bool(validate_only).tags())
    r.i32()

    def result(r):
        d = dict(name=r.str(), topic_id=r.uuid(), error=r.i16(), message=r.str(), num_partitions=r.i32(),
                 replication_factor=r.i16())
        d["configs"] = r.array(lambda r: (r.str(), r.str(), r.bool(), r.i8(), r.bool(), r.tags())[:5])
        d["tags"] = r.tags()
        return d
    res = r.array(result)
    r.tags()
    r.end()
    assert len(res) == 1, res
    return res[0]


def delete_topics_v6(raw, entries):
    """entries: [(name or None, 16-byte id)] -> [(name, id, err, msg)]"""
    r = raw.call(20, 6, True,
                 lambda w: w.array(entries, lambda w, e: w.str(e[0]).uuid(e[1]).tags()).i32(10000).tags())
    r.i32()
    res = r.array(lambda r: (r.str(), r.uuid(), r.i16(), r.str(), r.tags())[:4])
    r.tags()
    r.end()
    return res


def incremental_alter_v0(raw, resources, validate_only=False):
    """resources: [(type, name, [(key, op, value)])] -> [(err, msg, type, name)]"""
    def res(w, x):
        w.i8(x[0]).str(x[1]).array(x[2], lambda w, c: w.str(c[0]).i8(c[1]).str(c[2]))
    r = raw.call(44, 0, False, lambda w: w.array(resources, res).bool(validate_only))
    r.i32()
    out = r.array(lambda r: (r.i16(), r.str(), r.i8(), r.str()))
    r.end()
    return out


def describe_topic_configs(raw, topic, keys=None):
    """DescribeConfigs v1 -> (err, msg, {name: (value, source, synonyms)})"""
    r = raw.call(32, 1, False, lambda w: w.array([0], lambda w, _: w.i8(RESOURCE_TOPIC).str(topic).array(
        keys, lambda w, k: w.str(k))).bool(True))
    r.i32()

    def entry(r):
        name, value, _ro, source, _sens = r.str(), r.str(), r.bool(), r.i8(), r.bool()
        syn = r.array(lambda r: (r.str(), r.str(), r.i8()))
        return name, (value, source, syn)

    def result(r):
        err, msg, _t, _n = r.i16(), r.str(), r.i8(), r.str()
        return err, msg, dict(r.array(entry))
    res = r.array(result)
    r.end()
    return res[0]


def describe_cluster(raw, version, endpoint_type=1):
    def body(w):
        w.bool(True)
        if version >= 1:
            w.i8(endpoint_type)
        w.tags()
    r = raw.call(60, version, True, body)
    d = dict(throttle=r.i32(), error=r.i16(), message=r.str())
    if version >= 1:
        d["endpoint_type"] = r.i8()
    d["cluster_id"], d["controller_id"] = r.str(), r.i32()
    d["brokers"] = r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str(), r.tags())[:4])
    d["authorized_operations"] = r.i32()
    r.tags()
    r.end()
    return d


def list_offsets(raw, version, topic, partitions, isolation=0, replica_id=-1):
    """partitions: [(partition, timestamp, current_leader_epoch)] -> [(partition, err, ts, offset, epoch)]"""
    flex = version >= 6

    def part(w, p):
        w.i32(p[0])
        if version >= 4:
            w.i32(p[2])
        w.i64(p[1]).tags()
    def body(w):
        w.i32(replica_id)
        if version >= 2:
            w.i8(isolation)
        w.array([0], lambda w, _: w.str(topic).array(partitions, part).tags()).tags()
    r = raw.call(2, version, flex, body)
    if version >= 2:
        r.i32()

    def presp(r):
        p, err, ts, off = r.i32(), r.i16(), r.i64(), r.i64()
        epoch = r.i32() if version >= 4 else None
        r.tags()
        return p, err, ts, off, epoch
    topics = r.array(lambda r: (r.str(), r.array(presp), r.tags())[:2])
    r.tags()
    r.end()
    return topics[0][1]


def delete_records_v1(raw, topic, partitions):
    """partitions: [(partition, offset)] -> [(partition, low_watermark, err)]"""
    r = raw.call(21, 1, False, lambda w: w.array([0], lambda w, _: w.str(topic).array(
        partitions, lambda w, p: w.i32(p[0]).i64(p[1]))).i32(10000))
    r.i32()
    topics = r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), r.i64(), r.i16()))))
    r.end()
    return topics[0][1]


def offset_for_leader_epoch_v3(raw, topic, partitions):
    """partitions: [(partition, current_leader_epoch, leader_epoch)] -> [(err, partition, epoch, end_offset)]"""
    r = raw.call(23, 3, False, lambda w: w.i32(-1).array([0], lambda w, _: w.str(topic).array(
        partitions, lambda w, p: w.i32(p[0]).i32(p[1]).i32(p[2]))))
    r.i32()
    topics = r.array(lambda r: (r.str(), r.array(lambda r: (r.i16(), r.i32(), r.i32(), r.i64()))))
    r.end()
    return topics[0][1]


def describe_log_dirs_v4(raw, topics):
    """topics: None or [(topic, [partitions])] -> (err, [(err, dir, {topic: {p: size}}, total, usable)])"""
    r = raw.call(35, 4, True, lambda w: w.array(topics, lambda w, t: w.str(t[0]).array(
        t[1], lambda w, p: w.i32(p)).tags()).tags())
    r.i32()
    top_err = r.i16()

    def part(r):
        p, size, _lag, _future = r.i32(), r.i64(), r.i64(), r.bool()
        r.tags()
        return p, size

    def result(r):
        err, d = r.i16(), r.str()
        ts = {name: dict(parts) for name, parts, _ in r.array(lambda r: (r.str(), r.array(part), r.tags()))}
        total, usable = r.i64(), r.i64()
        r.tags()
        return err, d, ts, total, usable
    res = r.array(result)
    r.tags()
    r.end()
    return top_err, res


def describe_producers_v0(raw, topic, partitions):
    r = raw.call(61, 0, True, lambda w: w.array([0], lambda w, _: w.str(topic).array(
        partitions, lambda w, p: w.i32(p)).tags()).tags())
    r.i32()

    def state(r):
        s = (r.i64(), r.i32(), r.i32(), r.i64(), r.i32(), r.i64())
        r.tags()
        return s

    def part(r):
        p, err, msg, states = r.i32(), r.i16(), r.str(), r.array(state)
        r.tags()
        return p, err, states
    topics = r.array(lambda r: (r.str(), r.array(part), r.tags())[:2])
    r.tags()
    r.end()
    return topics[0][1]


# --- client helpers ----------------------------------------------------------

def admin(b):
    # No auto-creation: metadata lookups must not create the topics whose
    # absence the checks assert.
    return AdminClient({"bootstrap.servers": b.bootstrap, "socket.timeout.ms": 10000,
                        "allow.auto.create.topics": False})


def outcome(futures, key):
    """(code, message) of one admin future; (0, None) on success."""
    try:
        futures[key].result(20)
        return 0, None
    except KafkaException as e:
        err = e.args[0]
        return err.code(), err.str()


def expect(got, code, message=None):
    assert got[0] == code, "expected error %d, got %r" % (code, got)
    if message is not None:
        assert got[1] == message, "expected message %r, got %r" % (message, got[1])


def topic_partitions(a, name):
    md = a.list_topics(name, timeout=10)
    t = md.topics.get(name)
    return None if t is None or t.error is not None else len(t.partitions)


def produce(b, topic, n, partition=0, base_ts=None, idempotent=False):
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "enable.idempotence": idempotent,
                  "acks": "all"})
    base_ts = base_ts or int(time.time() * 1000) - 100000
    for i in range(n):
        p.produce(topic, value=b"v%d" % i, partition=partition, timestamp=base_ts + i * 10)
        p.flush(10) if i % 10 == 9 else p.poll(0)
    assert p.flush(20) == 0
    return base_ts


def fetch_v4(raw, topic, partitions, max_bytes, partition_max_bytes, min_bytes=1, max_wait_ms=0):
    """Fetch from offset 0 of each partition -> {partition: (err, high_watermark, record_bytes)}"""
    def part(w, p):
        w.i32(p).i64(0).i32(partition_max_bytes)
    def body(w):
        w.i32(-1).i32(max_wait_ms).i32(min_bytes).i32(max_bytes).i8(0)
        w.array([0], lambda w, _: w.str(topic).array(partitions, part))
    r = raw.call(1, 4, False, body)
    r.i32()  # throttle

    def presp(r):
        p, err, hw = r.i32(), r.i16(), r.i64()
        r.i64()  # last stable offset
        r.array(lambda r: (r.i64(), r.i64()))  # aborted transactions
        n = r.i32()
        r.take(max(n, 0))
        return p, (err, hw, max(n, 0))
    topics = r.array(lambda r: (r.str(), r.array(presp)))
    r.end()
    return dict(topics[0][1])


# --- checks ------------------------------------------------------------------

def check_create_topics():
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic("ct-ok", 3, 1, config={"retention.ms": "12345"})]), "ct-ok"), 0)
        assert topic_partitions(a, "ct-ok") == 3
        expect(outcome(a.create_topics([NewTopic("ct-ok", 3, 1)]), "ct-ok"), TOPIC_ALREADY_EXISTS,
               "Topic 'ct-ok' already exists.")
        for bad in ["bad/name", "..", "a" * 250]:
            expect(outcome(a.create_topics([NewTopic(bad, 1, 1)]), bad), INVALID_TOPIC_EXCEPTION)
        expect(outcome(a.create_topics([NewTopic("ct-zero", 0, 1)]), "ct-zero"), INVALID_PARTITIONS,
               "Number of partitions was set to an invalid non-positive value.")
        expect(outcome(a.create_topics([NewTopic("ct-rf3", 1, 3)]), "ct-rf3"), INVALID_REPLICATION_FACTOR,
               "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached "
               "because only 1 broker(s) are registered.")
        expect(outcome(a.create_topics([NewTopic("ct-cfg", 1, 1, config={"no.such.key": "1"})]), "ct-cfg"),
               INVALID_CONFIG, "Unknown topic config name: no.such.key")
        expect(outcome(a.create_topics([NewTopic("ct-cfg2", 1, 1, config={"retention.ms": "abc"})]), "ct-cfg2"),
               INVALID_CONFIG)
        # validate_only answers in full and creates nothing.
        expect(outcome(a.create_topics([NewTopic("ct-dry", 2, 1)], validate_only=True), "ct-dry"), 0)
        assert topic_partitions(a, "ct-dry") is None, "validate_only created the topic"
        # Manual assignment: only this broker (node 1), once per partition.
        expect(outcome(a.create_topics([NewTopic("ct-man", 2, replica_assignment=[[1], [1]])]), "ct-man"), 0)
        assert topic_partitions(a, "ct-man") == 2
        expect(outcome(a.create_topics([NewTopic("ct-man2", 1, replica_assignment=[[2]])]), "ct-man2"),
               INVALID_REPLICA_ASSIGNMENT,
               "The manual partition assignment includes broker 2, but no such broker is registered.")
        expect(outcome(a.create_topics([NewTopic("ct-man3", 1, replica_assignment=[[1, 1]])]), "ct-man3"),
               INVALID_REPLICA_ASSIGNMENT, "The manual partition assignment includes the broker 1 more than once.")
        # '.' and '_' collide (metric names).
        expect(outcome(a.create_topics([NewTopic("ct.dot", 1, 1)]), "ct.dot"), 0)
        expect(outcome(a.create_topics([NewTopic("ct_dot", 1, 1)]), "ct_dot"), INVALID_TOPIC_EXCEPTION,
               "Topic 'ct_dot' collides with existing topic: ct.dot")

        raw = Raw(b.port)
        try:
            # Defaults (-1/-1), rf/partitions out of range, a name twice: raw v4.
            res = create_topics_v4(raw, [("ct-def", -1, -1, None, None), ("ct-rf0", 1, 0, None, None),
                                         ("ct-neg", -2, 1, None, None), ("ct-dup", 1, 1, None, None),
                                         ("ct-dup", 2, 1, None, None), ("__cluster_metadata", 1, 1, None, None),
                                         ("ct-manrf", 1, 1, None, [[1]])])
            assert res["ct-def"] == [(NONE, None)], res
            assert res["ct-rf0"] == [(INVALID_REPLICATION_FACTOR,
                                      "Replication factor must be larger than 0, or -1 to use the default value.")], res
            assert res["ct-neg"][0][0] == INVALID_PARTITIONS, res
            assert res["ct-dup"] == [(INVALID_REQUEST, "Duplicate topic name.")], res
            assert res["__cluster_metadata"][0][0] == TOPIC_AUTHORIZATION_FAILED, res
            assert res["ct-manrf"][0][0] == INVALID_REQUEST, res
            assert topic_partitions(a, "ct-def") == 1  # num.partitions default
            assert topic_partitions(a, "ct-dup") is None
            res = create_topics_v4(raw, [("ct-big", 6000, 1, None, None), ("ct-big2", 5000, 1, None, None)])
            assert res["ct-big"][0][0] == POLICY_VIOLATION and res["ct-big2"][0][0] == POLICY_VIOLATION, res
            # v7: effective configs, counts and the topic id.
            r = create_topic_v7(raw, "ct-v7", 2, 1, {"cleanup.policy": "compact"})
            assert r["error"] == NONE and r["num_partitions"] == 2 and r["replication_factor"] == 1, r
            assert r["topic_id"] != b"\0" * 16, r
            cfg = {c[0]: c for c in r["configs"]}
            assert cfg["cleanup.policy"][1:4] == ("compact", False, 1), cfg["cleanup.policy"]  # DYNAMIC_TOPIC
            assert cfg["retention.ms"][3] in (4, 5), cfg["retention.ms"]  # broker or default
            assert [c[0] for c in r["configs"]] == sorted(cfg), "configs not sorted by name"
            r = create_topic_v7(raw, "ct-v7dry", 4, -1, validate_only=True)
            assert r["error"] == NONE and r["num_partitions"] == 4, r
            assert topic_partitions(a, "ct-v7dry") is None
        finally:
            raw.close()
        assert b.alive()


def check_delete_topics():
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic("dt-a", 1, 1), NewTopic("dt-b", 1, 1)]), "dt-a"), 0)
        fs = a.delete_topics(["dt-a", "dt-none"], operation_timeout=10)
        expect(outcome(fs, "dt-a"), 0)
        expect(outcome(fs, "dt-none"), UNKNOWN_TOPIC_OR_PARTITION)
        deadline = time.time() + 10
        while topic_partitions(a, "dt-a") is not None and time.time() < deadline:
            time.sleep(0.1)
        assert topic_partitions(a, "dt-a") is None
        raw = Raw(b.port)
        try:
            tid = create_topic_v7(raw, "dt-id", 1, 1)["topic_id"]
            res = delete_topics_v6(raw, [(None, b"\x01" * 16), (None, tid), (None, b"\0" * 16),
                                         ("dt-b", b"\x02" * 16)])
            by = {(n, i): (e, m) for n, i, e, m in res}
            assert by[(None, b"\x01" * 16)][0] == UNKNOWN_TOPIC_ID, res
            assert by[("dt-id", tid)] == (NONE, None), res
            assert by[(None, b"\0" * 16)] == (INVALID_REQUEST, "Neither topic name nor id were specified."), res
            assert by[("dt-b", b"\x02" * 16)][0] == INVALID_REQUEST, res
            res = delete_topics_v6(raw, [("dt-b", b"\0" * 16), ("dt-b", b"\0" * 16)])
            assert res == [("dt-b", b"\0" * 16, INVALID_REQUEST, "Duplicate topic name.")], res
        finally:
            raw.close()
        assert topic_partitions(a, "dt-id") is None and topic_partitions(a, "dt-b") == 1
    with Broker({"delete.topic.enable": "false"}) as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic("dt-keep", 1, 1)]), "dt-keep"), 0)
        # librdkafka sends DeleteTopics v1: before v3 Kafka says INVALID_REQUEST.
        # (v1 carries no error message.)
        expect(outcome(a.delete_topics(["dt-keep"], operation_timeout=10), "dt-keep"), INVALID_REQUEST)
        raw = Raw(b.port)
        try:
            res = delete_topics_v6(raw, [("dt-keep", b"\0" * 16)])
            assert res == [("dt-keep", b"\0" * 16, TOPIC_DELETION_DISABLED, None)], res
        finally:
            raw.close()
        assert topic_partitions(a, "dt-keep") == 1


def check_create_partitions():
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic("cp", 2, 1)]), "cp"), 0)
        expect(outcome(a.create_partitions([NewPartitions("cp", 4)]), "cp"), 0)
        assert topic_partitions(a, "cp") == 4
        expect(outcome(a.create_partitions([NewPartitions("cp", 4)]), "cp"), INVALID_PARTITIONS,
               "Topic already has 4 partition(s).")
        expect(outcome(a.create_partitions([NewPartitions("cp", 3)]), "cp"), INVALID_PARTITIONS,
               "The topic cp currently has 4 partition(s); 3 would not be an increase.")
        expect(outcome(a.create_partitions([NewPartitions("cp-none", 3)]), "cp-none"), UNKNOWN_TOPIC_OR_PARTITION)
        expect(outcome(a.create_partitions([NewPartitions("cp", 6)], validate_only=True), "cp"), 0)
        assert topic_partitions(a, "cp") == 4, "validate_only added partitions"
        expect(outcome(a.create_partitions([NewPartitions("cp", 5, replica_assignment=[[1]])]), "cp"), 0)
        assert topic_partitions(a, "cp") == 5
        expect(outcome(a.create_partitions([NewPartitions("cp", 6, replica_assignment=[[7]])]), "cp"),
               INVALID_REPLICA_ASSIGNMENT)
        assert b.alive()


def check_describe_and_alter_configs():
    with Broker({"log.retention.hours": "48"}) as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic("cfg", 1, 1, config={"segment.ms": "600000"})]), "cfg"), 0)
        res = ConfigResource("topic", "cfg")
        entries = a.describe_configs([res])[res].result(20)
        assert entries["segment.ms"].value == "600000" and entries["segment.ms"].source == 1, entries["segment.ms"]
        assert entries["retention.ms"].value == str(48 * 3600000) and entries["retention.ms"].source == 4
        missing = ConfigResource("topic", "cfg-none")
        try:
            a.describe_configs([missing])[missing].result(20)
            raise AssertionError("describe of a missing topic succeeded")
        except KafkaException as e:
            assert e.args[0].code() == UNKNOWN_TOPIC_OR_PARTITION, e
        broker = ConfigResource("broker", "1")
        bentries = a.describe_configs([broker])[broker].result(20)
        assert bentries["log.retention.hours"].value == "48", bentries["log.retention.hours"]

        # AlterConfigs replaces the whole override set.
        res = ConfigResource("topic", "cfg", set_config={"retention.ms": "1000"})
        expect(outcome(a.alter_configs([res]), res), 0)
        entries = a.describe_configs([ConfigResource("topic", "cfg")])[ConfigResource("topic", "cfg")].result(20)
        assert entries["retention.ms"].value == "1000" and entries["retention.ms"].source == 1
        assert entries["segment.ms"].source != 1, "legacy AlterConfigs kept an override it did not name"
        bad = ConfigResource("topic", "cfg", set_config={"retention.ms": "soon"})
        expect(outcome(a.alter_configs([bad]), bad), INVALID_CONFIG)
        none = ConfigResource("topic", "cfg-none", set_config={"retention.ms": "1"})
        expect(outcome(a.alter_configs([none]), none), UNKNOWN_TOPIC_OR_PARTITION,
               "The topic 'cfg-none' does not exist.")
        dry = ConfigResource("topic", "cfg", set_config={"retention.ms": "2000"})
        expect(outcome(a.alter_configs([dry], validate_only=True), dry), 0)
        static = ConfigResource("broker", "1", set_config={"log.dirs": "/tmp/x"})
        expect(outcome(a.alter_configs([static]), static), INVALID_REQUEST)

        raw = Raw(b.port)
        try:
            # Another broker's id (librdkafka would route that to broker 2).
            r = raw.call(32, 1, False, lambda w: w.array([0], lambda w, _: w.i8(RESOURCE_BROKER).str("2").array(
                None, None)).bool(False))
            r.i32()
            res = r.array(lambda r: (r.i16(), r.str(), r.i8(), r.str(), r.array(None)))
            assert res == [(INVALID_REQUEST, "Unexpected broker id, expected 1 or empty string, but received 2",
                            RESOURCE_BROKER, "2", [])], res
            err, _, cfg = describe_topic_configs(raw, "cfg", ["retention.ms"])
            assert err == NONE and list(cfg) == ["retention.ms"] and cfg["retention.ms"][0] == "1000", cfg
            syn = cfg["retention.ms"][2]
            assert syn[0] == ("retention.ms", "1000", 1) and ("log.retention.hours", "48", 4) in syn, syn

            def inc(configs, validate_only=False, name="cfg"):
                return incremental_alter_v0(raw, [(RESOURCE_TOPIC, name, configs)], validate_only)[0][:2]
            assert inc([("segment.ms", OP_SET, "700000")]) == (NONE, None)
            assert inc([("cleanup.policy", OP_APPEND, "compact")]) == (NONE, None)
            _, _, cfg = describe_topic_configs(raw, "cfg")
            assert cfg["retention.ms"][0] == "1000" and cfg["segment.ms"][0] == "700000", cfg
            assert cfg["cleanup.policy"][0] == "delete,compact", cfg["cleanup.policy"]
            assert inc([("cleanup.policy", OP_SUBTRACT, "delete")]) == (NONE, None)
            assert describe_topic_configs(raw, "cfg")[2]["cleanup.policy"][0] == "compact"
            assert inc([("retention.ms", OP_DELETE, None)]) == (NONE, None)
            assert describe_topic_configs(raw, "cfg")[2]["retention.ms"][1] == 4  # back to the broker's value
            assert inc([("retention.ms", OP_APPEND, "5")]) == (
                INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST.")
            assert inc([("segment.ms", OP_SET, "1"), ("segment.ms", OP_SET, "2")]) == (
                INVALID_REQUEST, "Error due to duplicate config keys")
            assert inc([("segment.ms", OP_SET, None)])[0] == INVALID_REQUEST
            assert inc([("segment.ms", OP_SET, "-5")])[0] == INVALID_CONFIG
            assert inc([("segment.ms", OP_SET, "1")], name="cfg-none")[0] == UNKNOWN_TOPIC_OR_PARTITION
            assert inc([("segment.ms", OP_SET, "800000")], validate_only=True) == (NONE, None)
            assert describe_topic_configs(raw, "cfg")[2]["segment.ms"][0] == "700000"
            res = incremental_alter_v0(raw, [(RESOURCE_TOPIC, "cfg", []), (RESOURCE_TOPIC, "cfg", [])])
            assert [r[0] for r in res] == [INVALID_REQUEST, INVALID_REQUEST], res
            res = incremental_alter_v0(raw, [(RESOURCE_BROKER, "2", [("log.retention.ms", OP_SET, "1")])])
            assert res[0][0] == INVALID_REQUEST, res
        finally:
            raw.close()


def check_describe_cluster():
    with Broker() as b:
        raw = Raw(b.port)
        try:
            for v in (0, 1):
                d = describe_cluster(raw, v)
                assert d["error"] == NONE and d["controller_id"] == 1, d
                assert d["brokers"] == [(1, "127.0.0.1", b.port, None)], d
                assert d["cluster_id"] and d["authorized_operations"] != -2147483648, d
            d = describe_cluster(raw, 1, endpoint_type=2)
            assert d["error"] == UNSUPPORTED_ENDPOINT_TYPE, d
        finally:
            raw.close()


def check_offsets():
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic("off", 2, 1)]), "off"), 0)
        expect(outcome(a.create_topics([NewTopic("off-compact", 1, 1, config={"cleanup.policy": "compact"})]),
                       "off-compact"), 0)
        base = produce(b, "off", 20)
        raw = Raw(b.port)
        try:
            def one(version, partition, timestamp, epoch=-1):
                return list_offsets(raw, version, "off", [(partition, timestamp, epoch)])[0]
            assert one(5, 0, -1) == (0, NONE, -1, 20, 0)
            assert one(5, 0, -2) == (0, NONE, -1, 0, 0)
            assert one(5, 1, -1) == (1, NONE, -1, 0, 0)
            assert one(1, 0, -1) == (0, NONE, -1, 20, None)
            assert one(5, 0, base + 55) == (0, NONE, base + 60, 6, 0)
            assert one(5, 0, base + 10 ** 9) == (0, NONE, -1, -1, -1)
            assert one(5, 7, -1)[1] == UNKNOWN_TOPIC_OR_PARTITION
            res = list_offsets(raw, 7, "off", [(0, -3, -1), (1, -3, -1)])
            assert res[0] == (0, NONE, base + 190, 19, 0), res
            assert res[1] == (1, NONE, -1, -1, -1), res
            assert one(9, 0, -4)[:4] == (0, NONE, -1, 0)
            assert one(9, 0, -5) == (0, NONE, -1, -1, -1)
            res = list_offsets(raw, 5, "off", [(0, -1, -1), (0, -2, -1), (1, -1, 3)], isolation=1)
            assert res[0][1] == INVALID_REQUEST and res[1][1] == INVALID_REQUEST, res
            assert res[2][1] == UNKNOWN_LEADER_EPOCH, res

            res = offset_for_leader_epoch_v3(raw, "off", [(0, -1, 0), (0, 0, 0), (0, 3, 0), (9, -1, 0)])
            assert res[0] == (NONE, 0, 0, 20) and res[1] == (NONE, 0, 0, 20), res
            assert res[2][0] == UNKNOWN_LEADER_EPOCH and res[3][0] == UNKNOWN_TOPIC_OR_PARTITION, res

            res = delete_records_v1(raw, "off", [(0, 5)])
            assert res == [(0, 5, NONE)], res
            assert one(5, 0, -2)[3] == 5
            res = delete_records_v1(raw, "off", [(0, 3)])
            assert res == [(0, 5, NONE)], res  # below the start: nothing moves
            res = delete_records_v1(raw, "off", [(0, 21), (1, -1), (9, 0)])
            assert res[0] == (0, -1, OFFSET_OUT_OF_RANGE) and res[1] == (1, 0, NONE), res
            assert res[2][2] == UNKNOWN_TOPIC_OR_PARTITION, res
            res = delete_records_v1(raw, "off", [(0, -1)])
            assert res == [(0, 20, NONE)], res
            assert one(5, 0, -2)[3] == 20 and one(5, 0, -1)[3] == 20
            res = delete_records_v1(raw, "off-compact", [(0, 0)])
            assert res[0][2] == POLICY_VIOLATION, res
        finally:
            raw.close()


def check_fetch_response_size():
    """A Fetch response takes no more partitions once it holds
    strata.fetch.response.target.bytes (1 MiB; the first batch always goes),
    starting from another partition each time without a session;
    fetch.max.bytes caps every response as in Kafka, and with the target off
    a response fills to the request's max_bytes."""
    value = b"x" * 100000
    per_partition = 30  # 30 batches of ~100 kB: ~3 MB in each partition

    def fill(b):
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic("fsz", 3, 1)]), "fsz"), 0)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all"})
        for part in range(3):
            for _ in range(per_partition):
                p.produce("fsz", value=value, partition=part)
                p.flush(10)
        assert p.flush(20) == 0

    def fetch(b, max_bytes):
        raw = Raw(b.port)
        try:
            return fetch_v4(raw, "fsz", [0, 1, 2], max_bytes, 10 * 1024 * 1024)
        finally:
            raw.close()

    mib = 1024 * 1024
    with Broker() as b:
        fill(b)
        firsts = []
        for _ in range(3):
            res = fetch(b, 50 * mib)
            assert all(res[p][0] == NONE and res[p][1] == per_partition for p in range(3)), res
            total = sum(res[p][2] for p in range(3))
            assert mib - 100200 < total <= mib, res  # whole batches up to the target
            served = [p for p in range(3) if res[p][2] > 0]
            assert len(served) == 1, res              # from one partition...
            firsts.append(served[0])
        assert sorted(firsts) == [0, 1, 2], firsts   # ...a different one each time
        res = fetch(b, 50)  # below one batch: the first batch still goes (KIP-74)
        assert sorted(res[p][2] for p in range(3))[:2] == [0, 0], res
        assert 100000 < max(res[p][2] for p in range(3)) < 100200, res
    with Broker({"strata.fetch.response.target.bytes": 0, "fetch.max.bytes": 2 * mib}) as b:
        fill(b)
        res = fetch(b, 50 * mib)
        total = sum(res[p][2] for p in range(3))
        assert 2 * mib - 100200 < total <= 2 * mib, res
    with Broker({"strata.fetch.response.target.bytes": 0}) as b:
        fill(b)
        res = fetch(b, 50 * mib)
        assert all(3000000 < res[p][2] < 3010000 for p in range(3)), res


def check_invalid_timestamp():
    """CreateTime records outside message.timestamp.before/after.max.ms get
    INVALID_TIMESTAMP and are not written; LogAppendTime topics take any."""
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([
            NewTopic("ts", 1, 1, config={"message.timestamp.before.max.ms": "60000"}),
            NewTopic("ts-append", 1, 1, config={"message.timestamp.type": "LogAppendTime"})]), "ts"), 0)
        now = int(time.time() * 1000)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all",
                      "message.send.max.retries": 0})
        results = {}

        def report(name):
            return lambda err, msg: results.__setitem__(name, err.code() if err else msg.offset())
        for topic in ("ts", "ts-append"):
            p.produce(topic, value=b"ok", timestamp=now, on_delivery=report(topic + " ok"))
            p.flush(10)
            p.produce(topic, value=b"future", timestamp=now + 2 * 3600 * 1000, on_delivery=report(topic + " future"))
            p.flush(10)
            p.produce(topic, value=b"old", timestamp=now - 120000, on_delivery=report(topic + " old"))
            p.flush(10)
        assert p.flush(20) == 0
        assert results == {"ts ok": 0, "ts future": INVALID_TIMESTAMP, "ts old": INVALID_TIMESTAMP,
                           "ts-append ok": 0, "ts-append future": 1, "ts-append old": 2}, results
        raw = Raw(b.port)
        try:
            assert list_offsets(raw, 5, "ts", [(0, -1, -1)])[0][3] == 1  # only the good record
        finally:
            raw.close()


def check_log_dirs_and_producers():
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic("ld", 2, 1), NewTopic("ld-other", 1, 1)]), "ld"), 0)
        produce(b, "ld", 10, idempotent=True)
        raw = Raw(b.port)
        try:
            err, res = describe_log_dirs_v4(raw, None)
            assert err == NONE and len(res) == 1, res
            derr, d, topics, total, usable = res[0]
            assert derr == NONE and d.endswith("logs"), res
            assert set(topics["ld"]) == {0, 1} and topics["ld"][0] > 0 and topics["ld"][1] == 0, topics
            assert "ld-other" in topics and total > 0 and 0 <= usable <= total, res
            err, res = describe_log_dirs_v4(raw, [("ld", [1, 1, 5]), ("nope", [0])])
            assert res[0][2] == {"ld": {1: 0}}, res

            parts = describe_producers_v0(raw, "ld", [0, 1, 4])
            p0 = parts[0]
            assert p0[1] == NONE and len(p0[2]) == 1, parts
            pid, epoch, last_seq, last_ts, coord_epoch, txn_start = p0[2][0]
            assert pid >= 0 and epoch >= 0 and last_seq == 9 and last_ts > 0, p0
            assert coord_epoch == -1 and txn_start == -1, p0
            assert parts[1] == (1, NONE, []), parts
            assert parts[2][1] == UNKNOWN_TOPIC_OR_PARTITION, parts
        finally:
            raw.close()


if __name__ == "__main__":
    harness.run_checks(globals())
