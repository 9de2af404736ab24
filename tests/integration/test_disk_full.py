"""A full disk, then space again, without a restart (issue 10, item 4).

The broker's log dir is a tmpfs of 8 MiB, mounted in a mount namespace of
the test's own (unshare), so it goes away with the test whatever happens
(the test is root, as in CI). A filler file leaves about 2 MiB; a producer (acks=all)
writes numbered 1 KiB records until the disk is full and its deliveries fail,
and an offset commit into an empty __consumer_offsets partition fails too.
Then the filler goes, and without a restart:

- new records are acknowledged again, and the offset commit succeeds;
- a topic can be created (the metadata log takes writes again);
- the broker's log named the errno ("No space left on device") at ERROR, once
  per log, and said at INFO when writes succeeded again;
- every acknowledged record is in the log exactly once at its acknowledged
  offset with its value, and no refused record is there;
- every segment file holds whole batches with valid CRCs (no partial batch
  of a failed write), and a restart finds nothing to cut.
"""
import os
import shutil
import struct
import subprocess
import tempfile
import time

import crc32c

import harness
from harness import Broker
from test_admin import Raw

import clients
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

TIMEOUT_S = 240

TOPIC = "full"
TMPFS_SIZE = "8m"
OFFSETS_PARTITIONS = 4
NOT_COORDINATOR = 16


def value_of(i):
    return b"%08d-" % i + b"x" * 1024


def java_hash(s):
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h


def offsets_partition(group):
    return (java_hash(group) & 0x7FFFFFFF) % OFFSETS_PARTITIONS


def offset_commit_v2(raw, group, topic, partition, offset):
    """OffsetCommit v2 of a simple consumer (no member, generation -1): the
    partition's error code."""
    def fill(w):
        w.str(group).i32(-1).str("").i64(-1)
        w.array([topic], lambda w, t: w.str(t).array([partition], lambda w, p: w.i32(p).i64(offset).str("")))
    r = raw.call(8, 2, False, fill)
    topics = r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), r.i16()))))
    r.end()
    return topics[0][1][0][1]


def committed(b, group):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(TOPIC, 0)], timeout=10)[0].offset
    finally:
        c.close()


def fill_up(path):
    """Writes `path` until the file system is full."""
    chunk = b"\0" * 65536
    with open(path, "ab", buffering=0) as f:
        size = len(chunk)
        while size:
            try:
                f.write(chunk[:size])
            except OSError:
                size //= 2


def produce(b, first, count, timeout_ms):
    p = clients.producer(b.bootstrap, enable_idempotence=False, linger_ms=5, batch_size=16384,
                         message_timeout_ms=timeout_ms)
    return clients.produce_all(p, TOPIC, [(i, {"value": value_of(i)}) for i in range(first, first + count)],
                               flush_timeout_s=timeout_ms / 1000 + 30)


def whole_batches(part):
    """Every .log in a partition dir is whole batches with valid CRCs."""
    for name in sorted(os.listdir(part)):
        if not name.endswith(".log"):
            continue
        data = open(os.path.join(part, name), "rb").read()
        pos = 0
        while pos < len(data):
            assert len(data) - pos >= 61, "%s: %d stray bytes at the end" % (name, len(data) - pos)
            (length,) = struct.unpack(">i", data[pos + 8:pos + 12])
            (crc,) = struct.unpack(">I", data[pos + 17:pos + 21])
            total = 12 + length
            assert pos + total <= len(data), "%s: a partial batch at %d" % (name, pos)
            assert crc32c.crc32c(data[pos + 21:pos + total]) == crc, "%s: bad CRC at %d" % (name, pos)
            pos += total


def check_disk_full_then_freed():
    # The scenario runs in a mount namespace of its own: its tmpfs vanishes
    # with the last process in it, even when run.py kills the group at
    # TIMEOUT_S before any cleanup could unmount it.
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "/usr/bin/python3", "-u", "-c",
                        "import test_disk_full; test_disk_full.scenario()"], cwd=here)
    assert r.returncode == 0, "the scenario failed (exit %d); its output is above" % r.returncode


def scenario():
    work = tempfile.mkdtemp(prefix="strata-it-full-")
    logs = os.path.join(work, "logs")
    os.mkdir(logs)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % TMPFS_SIZE, "tmpfs", logs], check=True)
    b = Broker({"offsets.topic.num.partitions": OFFSETS_PARTITIONS}, data_dir=work)
    try:
        b.start()
        a = clients.admin(b.bootstrap)
        a.create_topics([NewTopic(TOPIC, 1, 1, config={"segment.bytes": str(1 << 20)})])[TOPIC].result(20)
        raw = Raw(b.port)
        # A group whose __consumer_offsets partition gets data now (which
        # creates the topic), and one whose partition is still empty.
        groups = ["full-g%d" % i for i in range(40)]
        g1 = groups[0]
        g2 = next(g for g in groups if offsets_partition(g) != offsets_partition(g1))
        assert offset_commit_v2(raw, g1, TOPIC, 0, 1) == 0
        pid = b.pid

        filler = os.path.join(logs, "filler")
        st = os.statvfs(logs)
        free = st.f_bavail * st.f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - (2 << 20)))
        mark = b.log_mark()
        delivered, failed = produce(b, 0, 4000, 4000)
        print("while filling: %d acknowledged, %d failed (%s)" % (len(delivered), len(failed),
                                                                  sorted(set(str(e) for e in failed.values()))[:2]))
        assert len(delivered) >= 1000, "only %d acknowledged before the disk filled" % len(delivered)
        assert failed, "the disk never filled"
        fill_up(filler + "2")
        err = offset_commit_v2(raw, g2, TOPIC, 0, 5)
        assert err == NOT_COORDINATOR, "a commit into a full disk answered %d, not NOT_COORDINATOR" % err
        text = b.log_since(mark)
        full_lines = [line for line in text.splitlines() if " ERROR " in line]
        print("\n".join(full_lines))
        assert any("%s-0: writing" % TOPIC in line and "No space left on device (errno 28)" in line
                   for line in full_lines), "no ERROR line naming the errno:\n%s" % text
        assert any("__consumer_offsets-%d" % offsets_partition(g2) in line and "No space left on device" in line
                   for line in full_lines), "no ERROR line for the offsets partition:\n%s" % text
        assert sum(1 for line in full_lines if "%s-0:" % TOPIC in line) == 1, "one ERROR line per failed log"

        os.unlink(filler)
        os.unlink(filler + "2")
        more, more_failed = produce(b, 4000, 500, 30000)
        assert not more_failed, "after space was freed, deliveries failed: %r" % list(more_failed.items())[:3]
        assert b.alive() and b.pid == pid, "the broker restarted"
        deadline = time.time() + 10
        while offset_commit_v2(raw, g2, TOPIC, 0, 5) != 0:
            assert time.time() < deadline, "offset commits still fail after space was freed"
            time.sleep(0.2)
        raw.close()
        assert committed(b, g2) == 5
        a.create_topics([NewTopic("after-full", 1, 1)])["after-full"].result(20)
        text = b.log_since(mark)
        assert "%s-0: writes succeed again after \"No space left on device\" (errno 28)" % TOPIC in text, text

        delivered.update(more)
        consumed = clients.consume_all(b.bootstrap, TOPIC, timeout_s=60)
        got = {}
        for m in consumed:
            i = int(m.value[:8])
            assert i not in got, "record %d twice" % i
            assert m.value == value_of(i), "record %d damaged" % i
            got[i] = (m.partition, m.offset)
        wrong = [i for i in delivered if got.get(i) != delivered[i]]
        assert not wrong, "%d acknowledged records missing or moved, e.g. %r" % (len(wrong), wrong[:5])
        refused = [i for i in got if i not in delivered]
        assert not refused, "refused records are in the log: %r" % refused[:5]
        print("%d acknowledged records read back at their offsets" % len(got))

        assert b.stop() == 0
        whole_batches(os.path.join(logs, TOPIC + "-0"))
        mark = b.log_mark()
        b.start()
        assert "Found invalid data" not in b.log_since(mark), "a restart found something to cut"
        assert len(clients.consume_all(b.bootstrap, TOPIC, timeout_s=60)) == len(delivered)
    except BaseException:
        b.print_log_tail(60)
        raise
    finally:
        b.stop()
        b.close()
        r = subprocess.run(["umount", logs])
        if r.returncode != 0:
            subprocess.run(["umount", "-l", logs])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    harness.run_checks(globals())
