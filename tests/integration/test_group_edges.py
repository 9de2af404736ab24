"""Group and offset edge cases where a client expects Kafka's exact answer.

check_commit_unknown_partition_and_nul_metadata: librdkafka's C API
(rdkafka_commit, built from rdkafka_commit.c) commits three partitions in
one OffsetCommit: one that exists, with 12 bytes of metadata holding a NUL
("Hello\\0world!"), one past the topic's partition count and one of a topic
that does not exist. The two that do not exist answer
UNKNOWN_TOPIC_OR_PARTITION (Kafka's KafkaApis answer), the one that exists
NONE; rd_kafka_committed gives back the 12 bytes unchanged; after a SIGKILL
and restart kafka-python's admin client reads the same offset and bytes
(they came back from __consumer_offsets).

check_static_member_fenced: two confluent-kafka consumers with the same
group.instance.id (KIP-345). When the second joins, the first is fenced:
its next Heartbeat/SyncGroup/OffsetCommit answers FENCED_INSTANCE_ID, which
librdkafka hands the application as a fatal error, and the second owns the
partitions.
"""
import os
import subprocess
import time

import harness
from harness import Broker
import clients

from confluent_kafka import Consumer, KafkaError


def rdkafka_commit(bootstrap, topic, group):
    exe = os.path.join(harness.BUILD, "tests", "integration", "rdkafka_commit")
    assert os.access(exe, os.X_OK), "%s is not built (tests/integration/meson.build)" % exe
    r = subprocess.run([exe, bootstrap, topic, group], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode(errors="replace")
    print(out)
    assert r.returncode == 0, "rdkafka_commit exited %d" % r.returncode
    return out.splitlines()


def check_commit_unknown_partition_and_nul_metadata():
    with Broker() as b:
        clients.create_topic(b.bootstrap, "edges", 1)
        lines = rdkafka_commit(b.bootstrap, "edges", "g-edges")
        assert "commit edges-0: NO_ERROR" in lines, lines
        assert "commit_queue edges-0: NO_ERROR" in lines, lines
        assert "commit edges-99: UNKNOWN_TOPIC_OR_PART" in lines, lines
        assert "commit_queue edges-99: UNKNOWN_TOPIC_OR_PART" in lines, lines
        assert "commit no-such-topic-0: UNKNOWN_TOPIC_OR_PART" in lines, lines
        assert "commit_queue no-such-topic-0: UNKNOWN_TOPIC_OR_PART" in lines, lines
        assert "committed offset: 5" in lines, lines
        # librdkafka keeps the size and what precedes the NUL (its strndup);
        # the bytes themselves are checked with kafka-python below.
        assert "committed metadata hex: 48 65 6c 6c 6f 00" + " 00" * 6 in lines or \
            "committed metadata: 12 bytes, equal" in lines, lines
        assert read_metadata(b.bootstrap, "g-edges") == (5, b"Hello\0world!")
        b.kill9()
        b.start()
        assert read_metadata(b.bootstrap, "g-edges") == (5, b"Hello\0world!")


def read_metadata(bootstrap, group):
    """(offset, metadata bytes) of edges-0 through kafka-python's admin
    client, which reads strings by their length."""
    from kafka import KafkaAdminClient, TopicPartition as KTopicPartition
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        deadline = time.time() + 30
        while True:
            try:
                offsets = admin.list_consumer_group_offsets(group)
                break
            except Exception as e:  # the coordinator loads after start
                if time.time() > deadline:
                    raise
                print("retrying list_consumer_group_offsets: %r" % e)
                time.sleep(0.5)
    finally:
        admin.close()
    print("offsets: %r" % offsets)
    assert KTopicPartition("edges", 99) not in offsets, offsets
    om = offsets[KTopicPartition("edges", 0)]
    metadata = om.metadata.encode() if isinstance(om.metadata, str) else om.metadata
    return om.offset, metadata


def static_consumer(bootstrap, errors):
    def on_error(err):
        errors.append(err)
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "g-static-fence",
        "group.instance.id": "instance-1",
        "session.timeout.ms": 30000,
        "heartbeat.interval.ms": 500,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "error_cb": on_error,
    })


def poll_until(consumers, predicate, timeout_s):
    """Polls each (consumer, errors) until predicate(); errors handed out
    by poll() join the consumer's list."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        for c, errors in consumers:
            msg = c.poll(0.1)
            if msg is not None and msg.error():
                print("poll error: %s" % msg.error())
                errors.append(msg.error())
        if predicate():
            return True
    return False


def check_static_member_fenced():
    with Broker() as b:
        clients.create_topic(b.bootstrap, "fence", 2)
        first_errors, second_errors = [], []
        first = static_consumer(b.bootstrap, first_errors)
        first.subscribe(["fence"])
        assert poll_until([(first, first_errors)], lambda: len(first.assignment()) == 2, 30), "first never got its assignment"
        second = static_consumer(b.bootstrap, second_errors)
        second.subscribe(["fence"])
        try:
            def is_fatal(e):
                return e.fatal() or e.code() == KafkaError._FATAL

            def fenced():
                return any(is_fatal(e) for e in first_errors)
            assert poll_until([(first, first_errors), (second, second_errors)], lambda: fenced() and len(second.assignment()) == 2, 30), \
                "first errors %r, second errors %r, second assignment %r" % (
                    first_errors, second_errors, second.assignment())
            # librdkafka's words for FENCED_INSTANCE_ID (82) in the fatal error.
            fatal = [e for e in first_errors if is_fatal(e)]
            assert any("Static consumer fenced by other consumer with same group.instance.id" in e.str()
                       for e in fatal), fatal
            assert not any(is_fatal(e) for e in second_errors), second_errors
        finally:
            second.close()
            first.close()


if __name__ == "__main__":
    harness.run_checks(globals())
