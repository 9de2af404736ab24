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


if __name__ == "__main__":
    harness.run_checks(globals())
