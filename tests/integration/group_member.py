#!/usr/bin/python3
"""One consumer-group member for test_groups.py, as its own process.

    group_member.py '<json config>'

config: {"client": "confluent" | "kafka-python", "bootstrap", "topic",
"group", "client_id", "session_timeout_ms", "heartbeat_ms",
"max_poll_interval_ms", "strategy" (confluent's partition.assignment.strategy),
"instance_id" (group.instance.id, optional), "debug" (librdkafka debug
contexts, optional: for diagnosis)}.

It processes one record at a time and commits it synchronously right after
(enable.auto.commit=false), so the only records it can have processed but not
committed are the one in hand. SIGTERM: close the consumer cleanly (LeaveGroup
unless static) and exit 0.

Line protocol on stdout, each line flushed before the next step is taken:
    READY                       consumer created, subscribed
    EV assign|revoke|lost P,..  a rebalance callback and the partitions it named
    A P,...                     the member's whole assignment after that event
    P <partition> <offset> <value>   processed (printed before the commit)
    C <partition> <offset>      commit of offset+1 acknowledged
    F <partition> <offset> <error>   commit failed
    ERR <text>                  a consumer error (not end-of-partition)
    BYE                         closed after SIGTERM
"""
import faulthandler
import json
import signal
import sys

stopping = False
# As in clients.py: confluent-kafka 1.7 loses references to None (null
# header values; see there); keep None's count well above zero. faulthandler
# puts a Python traceback on stderr should the client crash anyway.
_NONE_BALLAST = [None] * (1 << 22)
faulthandler.enable()


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fmt(parts):
    return ",".join(str(p) for p in sorted(parts))


def on_term(signum, frame):
    global stopping
    stopping = True


def run_confluent(cfg):
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
    conf = {
        "bootstrap.servers": cfg["bootstrap"],
        "group.id": cfg["group"],
        "client.id": cfg["client_id"],
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": cfg["session_timeout_ms"],
        "heartbeat.interval.ms": cfg["heartbeat_ms"],
        "max.poll.interval.ms": cfg["max_poll_interval_ms"],
        "partition.assignment.strategy": cfg.get("strategy", "range"),
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 2000,
    }
    if cfg.get("instance_id"):
        conf["group.instance.id"] = cfg["instance_id"]
    if cfg.get("debug"):
        conf["debug"] = cfg["debug"]
    c = Consumer(conf)
    cooperative = cfg.get("strategy") == "cooperative-sticky"
    current = set()
    unacked = {}  # partition -> last processed offset whose commit failed

    def commit_unacked(consumer, parts):
        # The usual commit-on-revoke: a commit refused during a rebalance
        # (REBALANCE_IN_PROGRESS while the group completes it) is retried
        # before the partition goes to someone else.
        for p in sorted(parts & set(unacked)):
            o = unacked.pop(p)
            try:
                res = consumer.commit(offsets=[TopicPartition(cfg["topic"], p, o + 1)], asynchronous=False)
                errs = [tp.error for tp in res if tp.error is not None]
                out("F %d %d %s" % (p, o, errs[0]) if errs else "C %d %d" % (p, o))
            except KafkaException as e:
                out("F %d %d %s" % (p, o, e.args[0]))

    def on_assign(consumer, parts):
        nonlocal current
        got = {tp.partition for tp in parts}
        current = current | got if cooperative else got
        out("EV assign %s" % fmt(got))
        out("A %s" % fmt(current))

    def on_revoke(consumer, parts):
        nonlocal current
        gone = {tp.partition for tp in parts}
        commit_unacked(consumer, gone)
        current = current - gone if cooperative else set()
        out("EV revoke %s" % fmt(gone))
        out("A %s" % fmt(current))

    def on_lost(consumer, parts):
        nonlocal current
        gone = {tp.partition for tp in parts}
        current = current - gone if cooperative else set()
        out("EV lost %s" % fmt(gone))
        out("A %s" % fmt(current))

    c.subscribe([cfg["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    out("READY")
    while not stopping:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error() is not None:
            if m.error().code() != KafkaError._PARTITION_EOF:
                out("ERR %s" % m.error())
            continue
        p, o = m.partition(), m.offset()
        out("P %d %d %s" % (p, o, m.value().decode()))
        try:
            res = c.commit(offsets=[TopicPartition(m.topic(), p, o + 1)], asynchronous=False)
            errs = [tp.error for tp in res if tp.error is not None]
            if errs:
                unacked[p] = o
                out("F %d %d %s" % (p, o, errs[0]))
            else:
                unacked.pop(p, None)
                out("C %d %d" % (p, o))
        except KafkaException as e:
            unacked[p] = o
            out("F %d %d %s" % (p, o, e.args[0]))
    c.close()
    out("BYE")


def run_kafka_python(cfg):
    from kafka import KafkaConsumer, ConsumerRebalanceListener, TopicPartition
    from kafka.errors import KafkaError
    from kafka.structs import OffsetAndMetadata
    current = set()
    unacked = {}  # TopicPartition -> last processed offset whose commit failed

    class Listener(ConsumerRebalanceListener):
        # kafka-python 2.0 only speaks the eager protocol.
        def on_partitions_revoked(self, revoked):
            nonlocal current
            for tp in sorted(set(revoked) & set(unacked)):  # commit-on-revoke, as above
                o = unacked.pop(tp)
                try:
                    c.commit({tp: OffsetAndMetadata(o + 1, "")})
                    out("C %d %d" % (tp.partition, o))
                except KafkaError as e:
                    out("F %d %d %s" % (tp.partition, o, type(e).__name__))
            current = set()
            out("EV revoke %s" % fmt(tp.partition for tp in revoked))
            out("A %s" % fmt(current))

        def on_partitions_assigned(self, assigned):
            nonlocal current
            current = {tp.partition for tp in assigned}
            out("EV assign %s" % fmt(current))
            out("A %s" % fmt(current))

    c = KafkaConsumer(bootstrap_servers=cfg["bootstrap"], group_id=cfg["group"], client_id=cfg["client_id"],
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=cfg["session_timeout_ms"], heartbeat_interval_ms=cfg["heartbeat_ms"],
                      max_poll_interval_ms=cfg["max_poll_interval_ms"], fetch_max_wait_ms=100,
                      metadata_max_age_ms=2000, request_timeout_ms=max(30000, cfg["session_timeout_ms"] + 5000))
    c.subscribe(topics=[cfg["topic"]], listener=Listener())
    out("READY")
    while not stopping:
        batches = c.poll(timeout_ms=200, max_records=1)
        for tp, records in batches.items():
            for r in records:
                out("P %d %d %s" % (r.partition, r.offset, r.value.decode()))
                tp = TopicPartition(r.topic, r.partition)
                try:
                    c.commit({tp: OffsetAndMetadata(r.offset + 1, "")})
                    unacked.pop(tp, None)
                    out("C %d %d" % (r.partition, r.offset))
                except KafkaError as e:
                    unacked[tp] = r.offset
                    out("F %d %d %s" % (r.partition, r.offset, type(e).__name__))
    c.close()
    out("BYE")


def main():
    signal.signal(signal.SIGTERM, on_term)
    cfg = json.loads(sys.argv[1])
    if cfg["client"] == "confluent":
        run_confluent(cfg)
    elif cfg["client"] == "kafka-python":
        run_kafka_python(cfg)
    else:
        raise SystemExit("unknown client %r" % cfg["client"])


if __name__ == "__main__":
    main()
