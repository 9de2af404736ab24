"""confluent-kafka (librdkafka via Python) against the real broker.

check_roundtrip_<codec>: 20,000 keyed records with headers and timestamps,
idempotent acks=all producer, into a fresh 3-partition topic; read back with
assign() from the beginning; every record exactly once, in produce order per
partition, bytes intact, offsets equal to the delivery reports (rtspec.verify).
check_admin_*: CreateTopics/Metadata behaviour and Kafka's error codes.
"""
import harness
from harness import Broker

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

import clients
import rtspec

TIMEOUT_S = 420

# Kafka wire codes (librdkafka names 17 "TOPIC_EXCEPTION").
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37


def roundtrip(codec):
    with Broker() as b:
        topic = "rt-confluent-%s" % codec
        clients.create_topic(b.bootstrap, topic, 3)
        base = rtspec.base_timestamp_ms()
        p = clients.producer(b.bootstrap, compression_type=codec)
        items = ((i, dict(key=rtspec.key(i), value=rtspec.value(i), headers=rtspec.headers(i),
                          timestamp=rtspec.timestamp(i, base)))
                 for i in range(rtspec.N_RECORDS))
        delivered, failed = clients.produce_all(p, topic, items)
        assert not failed, "delivery failed for %d records, e.g. %r" % (len(failed), next(iter(failed.items())))
        consumed = clients.consume_all(b.bootstrap, topic)
        rtspec.verify(rtspec.N_RECORDS, base, delivered, consumed)
        counts = {}
        for c in consumed:
            counts[c.partition] = counts.get(c.partition, 0) + 1
        # 101 keys over 3 partitions: each partition must get some.
        assert sorted(counts) == [0, 1, 2], "records landed on partitions %r" % counts
        print("codec %s: %d records round-tripped, per partition %r" % (codec, len(consumed), counts))


def check_roundtrip_none():
    roundtrip("none")


def check_roundtrip_gzip():
    roundtrip("gzip")


def check_roundtrip_snappy():
    roundtrip("snappy")


def check_roundtrip_lz4():
    roundtrip("lz4")


def check_roundtrip_zstd():
    roundtrip("zstd")


def create_error(a, topic):
    """The Kafka error code CreateTopics gives for topic (0 if created)."""
    fs = a.create_topics([topic], operation_timeout=10, request_timeout=15)
    try:
        fs[topic.topic].result(20)
        return 0
    except KafkaException as e:
        err = e.args[0]
        print("create %r (%d partitions): %s" % (topic.topic, topic.num_partitions, err))
        return err.code()


def check_admin_topics():
    with Broker() as b:
        a = clients.admin(b.bootstrap)
        assert create_error(a, NewTopic("admin-three", 3, 1)) == 0
        assert create_error(a, NewTopic("admin-one", 1, 1)) == 0
        md = a.list_topics(timeout=10)
        assert [br.id for br in md.brokers.values()] == [1], "brokers %r" % md.brokers
        broker = md.brokers[1]
        assert (broker.host, broker.port) == ("127.0.0.1", b.port), "broker advertised as %s:%d" % (broker.host, broker.port)
        for name, n in (("admin-three", 3), ("admin-one", 1)):
            t = md.topics.get(name)
            assert t is not None, "list_topics lacks %s: %r" % (name, sorted(md.topics))
            assert t.error is None, "%s: %s" % (name, t.error)
            assert sorted(t.partitions) == list(range(n)), "%s partitions %r" % (name, sorted(t.partitions))
            for p in t.partitions.values():
                assert p.leader == 1 and p.replicas == [1] and p.isrs == [1], \
                    "%s/%d leader %d replicas %r isr %r" % (name, p.id, p.leader, p.replicas, p.isrs)
        # Metadata for one unknown topic names it with UNKNOWN_TOPIC_OR_PARTITION
        # when the client does not ask for auto-creation.
        a = clients.admin(b.bootstrap, **{"allow.auto.create.topics": False})
        md = a.list_topics("no-such-topic", timeout=10)
        t = md.topics.get("no-such-topic")
        assert t is not None and t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, \
            "metadata for unknown topic: %r" % (t and t.error)


def check_admin_errors():
    with Broker() as b:
        a = clients.admin(b.bootstrap)
        bad_names = ["bad/name", "..", ".", "a" * 250, "sp ace", "ünïcode"]
        for name in bad_names:
            code = create_error(a, NewTopic(name, 1, 1))
            assert code == INVALID_TOPIC_EXCEPTION, "create %r gave %r, expected INVALID_TOPIC_EXCEPTION(17)" % (name, code)
        code = create_error(a, NewTopic("zero-partitions", 0, 1))
        assert code == INVALID_PARTITIONS, "0 partitions gave %r, expected INVALID_PARTITIONS(37)" % code
        # (librdkafka refuses negative counts other than -1 itself.)
        assert create_error(a, NewTopic("twice", 2, 1)) == 0
        code = create_error(a, NewTopic("twice", 2, 1))
        assert code == TOPIC_ALREADY_EXISTS, "second create gave %r, expected TOPIC_ALREADY_EXISTS(36)" % code
        code = create_error(a, NewTopic("twice", 5, 1))
        assert code == TOPIC_ALREADY_EXISTS, "create with other count gave %r, expected TOPIC_ALREADY_EXISTS(36)" % code
        # None of the failures may have left a topic behind, and the first
        # "twice" keeps its 2 partitions.
        md = a.list_topics(timeout=10)
        leaked = [n for n in bad_names + ["zero-partitions"] if n in md.topics]
        assert not leaked, "failed creates left topics: %r" % leaked
        assert len(md.topics["twice"].partitions) == 2, "twice has %d partitions" % len(md.topics["twice"].partitions)
        assert b.alive()


if __name__ == "__main__":
    harness.run_checks(globals())
