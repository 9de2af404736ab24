"""offsets.retention.minutes: the committed offsets of an Empty group expire,
leave tombstones in __consumer_offsets, and the group is gone; a group with
live members keeps its offsets however old they are.

Takes a little over a minute: Kafka's smallest offsets.retention.minutes is 1.
"""
import struct
import time

import harness
from harness import Broker

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

TIMEOUT_S = 240
TOPIC = "expiry-topic"


def java_partition(group, partitions=50):
    """Kafka's Utils.abs(String.hashCode()) % partitions (ASCII group ids)."""
    h = 0
    for ch in group:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    h = 0 if h == -(1 << 31) else abs(h)
    return h % partitions


def committed(bootstrap, group, partitions=(0,)):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return [tp.offset for tp in c.committed([TopicPartition(TOPIC, p) for p in partitions], timeout=10)]
    finally:
        c.close()


def offset_tombstones(bootstrap, group):
    """Keys of tombstones (value None) for `group`'s offsets in its
    __consumer_offsets partition: (topic, partition) pairs."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "expiry-reader", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    found = []
    try:
        c.assign([TopicPartition("__consumer_offsets", java_partition(group), 0)])
        deadline = time.time() + 15
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                break  # partition EOF
            key = m.key()
            version = struct.unpack(">h", key[:2])[0]
            if version not in (0, 1) or m.value() is not None:
                continue
            glen = struct.unpack(">h", key[2:4])[0]
            g = key[4:4 + glen].decode()
            pos = 4 + glen
            tlen = struct.unpack(">h", key[pos:pos + 2])[0]
            topic = key[pos + 2:pos + 2 + tlen].decode()
            part = struct.unpack(">i", key[pos + 2 + tlen:pos + 6 + tlen])[0]
            if g == group:
                found.append((topic, part))
    finally:
        c.close()
    return found


def check_empty_group_offsets_expire():
    overrides = {"offsets.retention.minutes": 1, "offsets.retention.check.interval.ms": 500,
                 "group.initial.rebalance.delay.ms": 0}
    with Broker(overrides) as b:
        p = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(5):
            p.produce(TOPIC, value=b"v%d" % i, partition=0)
        assert p.flush(10) == 0

        # A: a simple consumer commits and goes away (the group is Empty).
        simple = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "expiring", "enable.auto.commit": False})
        simple.commit(offsets=[TopicPartition(TOPIC, 0, 3)], asynchronous=False)
        simple.close()
        assert committed(b.bootstrap, "expiring") == [3]

        # B: a subscribed member that stays; its commit is as old as A's.
        live = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "staying", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 10000})
        live.subscribe([TOPIC])
        deadline = time.time() + 20
        while not live.assignment() and time.time() < deadline:
            live.poll(0.2)
        assert live.assignment(), "the live member got no assignment"
        live.commit(offsets=[TopicPartition(TOPIC, 0, 4)], asynchronous=False)
        t_commit = time.time()

        # Wait past one minute, keeping the live member alive.
        while time.time() - t_commit < 68:
            live.poll(0.5)
        try:
            assert committed(b.bootstrap, "expiring") == [-1001], \
                "offsets of the empty group did not expire: %r" % committed(b.bootstrap, "expiring")
            assert committed(b.bootstrap, "staying") == [4], "a live group's offsets must not expire"
            admin = AdminClient({"bootstrap.servers": b.bootstrap})
            groups = {g.id for g in admin.list_groups(timeout=10)}
            assert "expiring" not in groups and "staying" in groups, groups
            tombs = offset_tombstones(b.bootstrap, "expiring")
            assert (TOPIC, 0) in tombs, "no tombstone for the expired offset in __consumer_offsets: %r" % tombs
            assert "offsets expired" in b.read_log(), "no log line about the expiry"
            print("expired offsets of 'expiring' after %.0f s; tombstones %r; 'staying' kept offset 4"
                  % (time.time() - t_commit, tombs))
        finally:
            live.close()


if __name__ == "__main__":
    harness.run_checks(globals())
