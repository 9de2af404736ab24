"""kcat (the command-line librdkafka client) against the real broker.

check_metadata: `kcat -L` (text and -J) names broker 1 at the listener's
address and lists the created topics with their partitions, each led by 1.
check_roundtrip: `kcat -P -K:` with headers, then `kcat -C -e` reads every
line back once, keys and headers intact, per-key order kept, offsets dense;
`-o -N` reads the tail of a partition (ListOffsets latest).
"""
import json
import subprocess

import harness
from harness import Broker

import clients

TIMEOUT_S = 120


def kcat(*args, input=None, timeout=30):
    cmd = ["kcat"] + list(args)
    r = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(cmd), r.returncode, r.stdout.decode(errors="replace")[-3000:], r.stderr.decode(errors="replace")[-3000:]))
    return r.stdout.decode()


def check_metadata():
    with Broker() as b:
        out = kcat("-b", b.bootstrap, "-L")
        print(out)
        assert "broker 1 at 127.0.0.1:%d" % b.port in out, "kcat -L did not list broker 1 at %s" % b.bootstrap
        clients.create_topic(b.bootstrap, "kcat-three", 3)
        clients.create_topic(b.bootstrap, "kcat-one", 1)
        out = kcat("-b", b.bootstrap, "-L")
        print(out)
        assert '1 brokers:' in out, "expected exactly one broker"
        assert 'topic "kcat-three" with 3 partitions:' in out
        assert 'topic "kcat-one" with 1 partitions:' in out
        md = json.loads(kcat("-b", b.bootstrap, "-L", "-J"))
        assert [(x["id"], x["name"]) for x in md["brokers"]] == [(1, b.bootstrap)], md["brokers"]
        topics = {t["topic"]: t for t in md["topics"]}
        for name, n in (("kcat-three", 3), ("kcat-one", 1)):
            parts = topics[name]["partitions"]
            assert sorted(p["partition"] for p in parts) == list(range(n)), parts
            for p in parts:
                assert p["leader"] == 1, p
                assert [r["id"] for r in p["replicas"]] == [1], p
                assert [r["id"] for r in p["isrs"]] == [1], p
        md = json.loads(kcat("-b", b.bootstrap, "-L", "-J", "-t", "kcat-one"))
        assert [t["topic"] for t in md["topics"]] == ["kcat-one"], md["topics"]


def check_roundtrip():
    with Broker() as b:
        topic = "kcat-rt"
        clients.create_topic(b.bootstrap, topic, 3)
        n = 3000
        lines = "".join("key-%d:value-%d-%s\n" % (j % 7, j, "x" * (j % 50)) for j in range(n))
        kcat("-b", b.bootstrap, "-P", "-t", topic, "-K", ":", "-H", "h1=v1", "-H", "src=kcat",
             "-X", "enable.idempotence=true", input=lines.encode())
        out = kcat("-b", b.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                   "-f", "%p\t%o\t%k\t%s\t%h\n")
        rows = [l.split("\t") for l in out.splitlines()]
        assert len(rows) == n, "read %d records back, produced %d" % (len(rows), n)
        seen = set()
        last = {}
        next_offset = {}
        key_partition = {}
        for p, o, k, v, h in rows:
            p, o = int(p), int(o)
            j = int(v.split("-")[1])
            assert v == "value-%d-%s" % (j, "x" * (j % 50)), "value %r" % v
            assert k == "key-%d" % (j % 7), "record %d key %r" % (j, k)
            assert h == "h1=v1,src=kcat", "record %d headers %r" % (j, h)
            assert j not in seen, "record %d read twice" % j
            seen.add(j)
            assert o == next_offset.get(p, 0), "partition %d: offset %d, expected %d" % (p, o, next_offset.get(p, 0))
            next_offset[p] = o + 1
            assert j > last.get(p, -1), "partition %d: record %d after %d" % (p, j, last[p])
            last[p] = j
            assert key_partition.setdefault(k, p) == p, "key %s on partitions %d and %d" % (k, key_partition[k], p)
        # The tail of the fullest partition, by offset relative to the end.
        p = max(next_offset, key=next_offset.get)
        out = kcat("-b", b.bootstrap, "-C", "-t", topic, "-p", str(p), "-o", "-10", "-e", "-q", "-f", "%o\n")
        tail = [int(x) for x in out.split()]
        assert tail == list(range(next_offset[p] - 10, next_offset[p])), "tail of partition %d: %r" % (p, tail)


if __name__ == "__main__":
    harness.run_checks(globals())
