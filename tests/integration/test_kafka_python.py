"""kafka-python (a pure-Python protocol implementation, with its own record
batch encoder and codecs) against the real broker. The API versions are
negotiated (api_version is not pinned). Same round trip as test_confluent:
20,000 keyed records with headers and timestamps into a 3-partition topic,
acks=all (kafka-python 2.0 has no idempotent producer; its producer
refuses null header values, so those are left out), read back with
assign() from the beginning, every record once, in order, intact, at the
offset its send() future reported. Codecs whose Python module is missing are
skipped with a note (gzip is always there)."""
import time

import harness
from harness import Broker

import kafka
import kafka.codec
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

import rtspec

TIMEOUT_S = 600

AVAILABLE = {
    "none": lambda: True,
    "gzip": kafka.codec.has_gzip,
    "snappy": kafka.codec.has_snappy,
    "lz4": kafka.codec.has_lz4,
    "zstd": kafka.codec.has_zstd,
}


def roundtrip(codec):
    if not AVAILABLE[codec]():
        print("NOTE: kafka-python has no %s codec here (python module missing): skipped" % codec)
        return
    with Broker() as b:
        topic = "rt-kafka-python-%s" % codec
        adm = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=20000)
        adm.create_topics([NewTopic(topic, 3, 1)], timeout_ms=20000)
        adm.close()
        base = rtspec.base_timestamp_ms()
        producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=5, retries=5,
                                 compression_type=None if codec == "none" else codec,
                                 max_in_flight_requests_per_connection=1)
        print("kafka-python %s negotiated broker api_version %r" % (kafka.__version__, producer.config["api_version"]))
        futures = []
        for i in range(rtspec.N_RECORDS):
            futures.append(producer.send(topic, key=rtspec.key(i), value=rtspec.value(i),
                                         headers=rtspec.headers(i, null=False), timestamp_ms=rtspec.timestamp(i, base)))
        producer.flush(120)
        delivered = {}
        for i, f in enumerate(futures):
            md = f.get(timeout=60)
            delivered[i] = (md.partition, md.offset)
        producer.close(10)

        consumer = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=None, enable_auto_commit=False,
                                 auto_offset_reset="earliest", fetch_max_wait_ms=100)
        parts = sorted(consumer.partitions_for_topic(topic) or [])
        assert parts == [0, 1, 2], "partitions_for_topic: %r" % parts
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(tps)
        consumed = []
        position = {tp: 0 for tp in tps}
        deadline = time.time() + 120
        while any(position[tp] < ends[tp] for tp in tps):
            assert time.time() < deadline, "consume timed out: %d read, positions %r, ends %r" % (len(consumed), position, ends)
            for tp, msgs in consumer.poll(timeout_ms=500, max_records=5000).items():
                for m in msgs:
                    consumed.append(rtspec.Consumed(m.partition, m.offset, m.key, m.value, m.headers,
                                                    m.timestamp, m.timestamp_type + 1))
                    position[tp] = m.offset + 1
        # Nothing beyond the end offsets.
        extra = consumer.poll(timeout_ms=500)
        consumer.close()
        assert not any(extra.values()), "records past the end offsets: %r" % extra
        # kafka-python reports timestamp_type 0 for CreateTime; Consumed uses
        # librdkafka's numbering (1), hence the +1 above.
        rtspec.verify(rtspec.N_RECORDS, base, delivered, consumed, headers_of=lambda i: rtspec.headers(i, null=False))
        print("codec %s: %d records round-tripped" % (codec, len(consumed)))


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



def legacy_roundtrip(api_version, codecs):
    """kafka-python pinned to an old broker version sends Produce v0-2
    (message format v0 or v1) and Fetch v0-3: the broker converts on write
    and on read (strata.legacy.api.versions.enable, on by default). Read
    back both with the same old client and with confluent-kafka (record
    batch v2 from the log), byte for byte and at the offsets reported."""
    from confluent_kafka import Consumer, TopicPartition as CTopicPartition
    n = 300
    with Broker() as b:
        for codec in codecs:
            # Message format v0's lz4 (Kafka 0.8's framing) needs python3-xxhash.
            if not AVAILABLE[codec]() or (codec == "lz4" and api_version < (0, 10) and kafka.codec.xxhash is None):
                print("NOTE: kafka-python cannot write %s at api_version %r here: skipped" % (codec, api_version))
                continue
            topic = "legacy-%s-%s" % ("-".join(map(str, api_version)), codec)
            adm = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=20000)
            adm.create_topics([NewTopic(topic, 1, 1)], timeout_ms=20000)
            adm.close()
            records = [(None if i % 7 == 0 else b"k%d" % i, b"" if i % 11 == 0 else (b"v%d\0" % i) * (1 + i % 50))
                       for i in range(n)]
            producer = KafkaProducer(bootstrap_servers=b.bootstrap, api_version=api_version, acks=1, linger_ms=5,
                                     compression_type=None if codec == "none" else codec)
            futures = [producer.send(topic, key=k, value=v, partition=0) for k, v in records]
            producer.flush(60)
            offsets = [f.get(timeout=30).offset for f in futures]
            producer.close(10)
            assert offsets == list(range(n)), "%s: produced offsets %r" % (codec, offsets[:10])

            consumer = KafkaConsumer(bootstrap_servers=b.bootstrap, api_version=api_version, group_id=None,
                                     enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100)
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            got = []
            deadline = time.time() + 60
            while len(got) < n and time.time() < deadline:
                for msgs in consumer.poll(timeout_ms=500).values():
                    got.extend((m.offset, m.key, m.value) for m in msgs)
            consumer.close()
            assert got == [(i, k, v) for i, (k, v) in enumerate(records)], \
                "%s: read back with api_version %r differs (%d records)" % (codec, api_version, len(got))

            c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "legacy-verify", "enable.auto.commit": False})
            c.assign([CTopicPartition(topic, 0, 0)])
            seen = []
            deadline = time.time() + 60
            while len(seen) < n and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and m.error() is None:
                    seen.append((m.offset(), m.key(), m.value() or b""))
            c.close()
            assert seen == [(i, k, v) for i, (k, v) in enumerate(records)], \
                "%s: log read with confluent-kafka differs (%d records)" % (codec, len(seen))
            print("api_version %r %s: %d records converted both ways" % (api_version, codec, n))


def check_legacy_message_format_v0():
    """api_version 0.9: Produce v1 with message format v0, Fetch v1."""
    legacy_roundtrip((0, 9), ("none", "gzip", "snappy", "lz4"))


def check_legacy_message_format_v1():
    """api_version 0.10.1: Produce v2 with message format v1, Fetch v3."""
    legacy_roundtrip((0, 10, 1), ("none", "gzip", "snappy", "lz4"))


if __name__ == "__main__":
    harness.run_checks(globals())
