"""The HTTP views: /metrics carries kafka_exporter's metric families, with
its label names, so dashboards built for kafka_exporter work unchanged;
/v1/groups/<group>/lag tells a group without commits from one caught up.

check_kafka_exporter_families: a 3-topic fixture (1, 2 and 3 partitions,
known record counts per partition), one group with commits on two topics
(one partition of topic "m-b" left uncommitted). GET /metrics parsed with
prometheus_client's text parser: every family kafka_exporter exports is
there, typed gauge, each sample with exactly kafka_exporter's labels, and
the values a single-node Kafka would give (one replica, in sync, the
preferred leader = node 1; offsets, lag and their sums from the fixture).

check_lag_unknown_without_commits: a consumer in a group that has not
committed: /v1/groups/<group>/lag answers total_lag "unknown", not 0; after
a commit, the number.
"""
import json
import time
import urllib.request

import harness
from harness import Broker
import clients

from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

TOPICS = {"m-a": [3], "m-b": [5, 7], "m-c": [2, 0, 4]}
GROUP = "m-group"
COMMITS = {("m-a", 0): 1, ("m-b", 0): 5, ("m-c", 0): 2, ("m-c", 2): 1}

PARTITION_LABELS = {"partition", "topic"}
GROUP_PARTITION_LABELS = {"consumergroup", "partition", "topic"}
GROUP_TOPIC_LABELS = {"consumergroup", "topic"}


def fixture(b):
    for name, counts in TOPICS.items():
        clients.create_topic(b.bootstrap, name, len(counts))
    p = clients.producer(b.bootstrap)
    for name, counts in TOPICS.items():
        for part, n in enumerate(counts):
            for i in range(n):
                p.produce(name, value=b"v%d" % i, partition=part)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(t, part, o) for (t, part), o in sorted(COMMITS.items())], asynchronous=False)
    finally:
        c.close()


def scrape(b):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % b.http_port, timeout=10) as r:
        text = r.read().decode()
    families = {}
    for fam in text_string_to_metric_families(text):
        families[fam.name] = fam
    return families


def samples(families, name, labels):
    assert name in families, "missing family %s" % name
    fam = families[name]
    assert fam.type == "gauge", (name, fam.type)
    out = {}
    for s in fam.samples:
        assert set(s.labels) == labels, "%s has labels %r, kafka_exporter's are %r" % (name, sorted(s.labels), sorted(labels))
        out[tuple(s.labels[k] for k in sorted(labels))] = s.value
    return out


def check_kafka_exporter_families():
    with Broker() as b:
        fixture(b)
        f = scrape(b)
        assert samples(f, "kafka_brokers", set()) == {(): 1}
        info = samples(f, "kafka_broker_info", {"address", "id"})
        assert info == {("127.0.0.1:%d" % b.port, "1"): 1}, info

        user_partitions = {(str(p), t) for t, counts in TOPICS.items() for p in range(len(counts))}
        for name, value in [("kafka_topic_partition_in_sync_replica", 1), ("kafka_topic_partition_leader", 1),
                            ("kafka_topic_partition_leader_is_preferred", 1), ("kafka_topic_partition_replicas", 1),
                            ("kafka_topic_partition_under_replicated_partition", 0)]:
            got = samples(f, name, PARTITION_LABELS)
            for key in user_partitions:
                assert got.get(key) == value, "%s%r = %r, want %r" % (name, key, got.get(key), value)
            # __consumer_offsets is a topic like any other to kafka_exporter.
            assert got.get(("0", "__consumer_offsets")) == value, name
        current = samples(f, "kafka_topic_partition_current_offset", PARTITION_LABELS)
        oldest = samples(f, "kafka_topic_partition_oldest_offset", PARTITION_LABELS)
        for t, counts in TOPICS.items():
            for p, n in enumerate(counts):
                assert current[(str(p), t)] == n, (t, p, current.get((str(p), t)))
                assert oldest[(str(p), t)] == 0
        partitions = samples(f, "kafka_topic_partitions", {"topic"})
        for t, counts in TOPICS.items():
            assert partitions[(t,)] == len(counts)

        offsets = samples(f, "kafka_consumergroup_current_offset", GROUP_PARTITION_LABELS)
        lag = samples(f, "kafka_consumergroup_lag", GROUP_PARTITION_LABELS)
        for (t, p), o in COMMITS.items():
            assert offsets[(GROUP, str(p), t)] == o
            assert lag[(GROUP, str(p), t)] == TOPICS[t][p] - o
        offset_sum = samples(f, "kafka_consumergroup_current_offset_sum", GROUP_TOPIC_LABELS)
        lag_sum = samples(f, "kafka_consumergroup_lag_sum", GROUP_TOPIC_LABELS)
        for t in TOPICS:
            committed = {p: o for (tt, p), o in COMMITS.items() if tt == t}
            assert offset_sum[(GROUP, t)] == sum(committed.values()), (t, offset_sum)
            assert lag_sum[(GROUP, t)] == sum(TOPICS[t][p] - o for p, o in committed.items()), (t, lag_sum)
        members = samples(f, "kafka_consumergroup_members", {"consumergroup"})
        assert members[(GROUP,)] == 0


def get_lag(b, group):
    url = "http://127.0.0.1:%d/v1/groups/%s/lag" % (b.http_port, group)
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode())


def check_lag_unknown_without_commits():
    with Broker() as b:
        clients.create_topic(b.bootstrap, "m-lag", 1)
        p = clients.producer(b.bootstrap)
        for i in range(4):
            p.produce("m-lag", value=b"v%d" % i, partition=0)
        assert p.flush(30) == 0
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "m-lag-group", "enable.auto.commit": False,
                      "auto.offset.reset": "earliest"})
        try:
            c.subscribe(["m-lag"])
            deadline = time.time() + 30
            while not c.assignment() and time.time() < deadline:
                c.poll(0.2)
            assert c.assignment(), "no assignment"
            doc = get_lag(b, "m-lag-group")
            assert doc["total_lag"] == "unknown", doc
            assert doc["members"] == 1, doc
            c.commit(offsets=[TopicPartition("m-lag", 0, 1)], asynchronous=False)
            doc = get_lag(b, "m-lag-group")
            assert doc["total_lag"] == 3, doc
        finally:
            c.close()


if __name__ == "__main__":
    harness.run_checks(globals())
