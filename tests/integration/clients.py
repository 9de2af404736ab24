"""confluent-kafka (librdkafka) helpers shared by the integration tests."""
import os
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, OFFSET_BEGINNING, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from rtspec import Consumed

# confluent-kafka 1.7 (Debian 12) drops a reference to None for every null
# header value it converts in Message.headers(); after a few thousand such
# headers None's count reaches zero and CPython aborts ("none_dealloc").
# These references keep it well above zero for any run of these tests.
_NONE_BALLAST = [None] * (1 << 22)


def admin(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000}
    conf.update(extra)
    return AdminClient(conf)


def create_topic(bootstrap, name, partitions, timeout_s=20):
    """Create a topic and wait until metadata shows all its partitions led."""
    a = admin(bootstrap)
    fs = a.create_topics([NewTopic(name, partitions, 1)], operation_timeout=timeout_s, request_timeout=timeout_s)
    fs[name].result(timeout_s)
    deadline = time.time() + timeout_s
    while True:
        md = a.list_topics(name, timeout=10)
        t = md.topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions and \
                all(p.leader >= 0 and p.error is None for p in t.partitions.values()):
            return
        if time.time() > deadline:
            raise AssertionError("topic %s not ready after create: %r" % (name, t and t.partitions))
        time.sleep(0.1)


def producer(bootstrap, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "message.timeout.ms": 60000,
    }
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return Producer(conf)


def produce_all(p, topic, items, flush_timeout_s=60):
    """Produce items [(i, kwargs)], return ({i: (partition, offset)}, {i: error})."""
    delivered, failed = {}, {}

    def on_delivery(i):
        def cb(err, msg):
            if err is not None:
                failed[i] = err
            else:
                delivered[i] = (msg.partition(), msg.offset())
        return cb

    for i, kwargs in items:
        while True:
            try:
                p.produce(topic, on_delivery=on_delivery(i), **kwargs)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(flush_timeout_s)
    if left:
        raise AssertionError("%d records still undelivered after %ds flush" % (left, flush_timeout_s))
    return delivered, failed


def reader(bootstrap, **extra):
    """A consumer for assign(): a group.id is mandatory in this client but
    nothing is committed and no subscription is made, so no group is joined."""
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": "strata-it-reader-%d-%d" % (os.getpid(), time.monotonic_ns()),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "error",
        "fetch.wait.max.ms": 100,
    }
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return Consumer(conf)


def consume_all(bootstrap, topic, timeout_s=60, **extra):
    """Every record of every partition of topic, from the start to the end.

    Ends when each partition reports end-of-partition at its high watermark
    (which is read first, after all producers are done)."""
    c = reader(bootstrap, **extra)
    try:
        md = c.list_topics(topic, timeout=10)
        t = md.topics[topic]
        if t.error is not None:
            raise AssertionError("metadata for %s: %s" % (topic, t.error))
        parts = sorted(t.partitions)
        highs = {}
        for p in parts:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if lo != 0:
                raise AssertionError("partition %d log start offset %d, expected 0" % (p, lo))
            highs[p] = hi
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        pending = set(parts)
        out = []
        deadline = time.time() + timeout_s
        while pending:
            if time.time() > deadline:
                raise AssertionError("consume of %s timed out: %d read, partitions %r not at end (high watermarks %r)"
                                     % (topic, len(out), sorted(pending), highs))
            for m in c.consume(2000, 0.5):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if m.offset() >= highs[m.partition()]:
                            pending.discard(m.partition())
                        continue
                    raise KafkaException(err)
                ts_type, ts = m.timestamp()
                out.append(Consumed(m.partition(), m.offset(), m.key(), m.value(), m.headers(), ts, ts_type))
        ends = {}
        for m in out:
            ends[m.partition] = m.offset + 1
        for p in parts:
            if ends.get(p, 0) != highs[p] and highs[p] > 0:
                raise AssertionError("partition %d: last record read at offset %d, high watermark %d"
                                     % (p, ends.get(p, 0) - 1, highs[p]))
        return out
    finally:
        c.close()
