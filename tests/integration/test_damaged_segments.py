"""A damaged older segment loses only what is damaged (issue 10, item 1).

A 1-partition topic with 1 MiB segments gets 20,000 numbered records from an
idempotent acks=all producer (five segments or more), the broker is stopped
(SIGTERM or SIGKILL), and one older, inactive segment, the second, is
damaged on disk in one of three ways; then the broker starts again:

- truncated to half: the segment keeps its whole batches before the cut,
  every later segment stays, and one WARN line names the file, the byte
  position of the cut, the bytes truncated and the valid bytes kept;
- bytes flipped in the middle: the batch whose CRC no longer matches and
  what follows it in that segment are cut, with the same WARN line;
- its offset index deleted: it is rebuilt (one INFO line), nothing is lost.

In each case a real client (confluent-kafka) reads the whole partition back:
every record outside the lost range is served at its acknowledged offset with
its value, nothing else is there, the high watermark is unchanged, a
consumer placed inside the lost range gets the next available record (the
first of the next segment), and the log takes new writes at its end.
"""
import os
import struct

import crc32c

import harness
from harness import Broker

import clients
from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic

TIMEOUT_S = 300

RECORDS = 20000
SEGMENT_BYTES = 1 << 20
TOPIC = "damaged"
DAMAGED = 1  # the second segment: older, with segments before and after it


def value_of(i):
    return b"%08d-" % i + b"v" * 200


def batches_of(path):
    """[(position, base_offset, last_offset, total_bytes)] of a .log file."""
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(data):
        base, length = struct.unpack(">qi", data[pos:pos + 12])
        (last_delta,) = struct.unpack(">i", data[pos + 23:pos + 27])
        (crc,) = struct.unpack(">I", data[pos + 17:pos + 21])
        total = 12 + length
        assert crc32c.crc32c(data[pos + 21:pos + total]) == crc, "%s: bad CRC at %d before the damage" % (path, pos)
        out.append((pos, base, base + last_delta, total))
        pos += total
    return out


def segments(b):
    part = os.path.join(b.data_dir, "logs", TOPIC + "-0")
    logs = sorted(f for f in os.listdir(part) if f.endswith(".log"))
    return part, [os.path.join(part, f) for f in logs]


def fill(b):
    """Creates the topic and writes RECORDS numbered records; returns {offset: i}."""
    a = clients.admin(b.bootstrap)
    fs = a.create_topics([NewTopic(TOPIC, 1, 1, config={"segment.bytes": str(SEGMENT_BYTES)})])
    fs[TOPIC].result(20)
    # Small batches: many per segment, so a damaged segment keeps some.
    p = clients.producer(b.bootstrap, linger_ms=5, batch_size=16384)
    delivered, failed = clients.produce_all(p, TOPIC, [(i, {"key": b"k%d" % i, "value": value_of(i)})
                                                      for i in range(RECORDS)])
    assert not failed, "deliveries failed: %r" % list(failed.items())[:3]
    offsets = {}
    for i, (partition, offset) in delivered.items():
        assert partition == 0
        offsets[offset] = i
    assert sorted(offsets) == list(range(RECORDS)), "offsets not dense"
    return offsets


def read_back(b, offsets, lost):
    """Everything the partition serves: each record outside `lost` (a range of
    offsets) at its acknowledged offset, nothing else, the end unchanged."""
    consumed = clients.consume_all(b.bootstrap, TOPIC, timeout_s=90)
    got = {m.offset: m for m in consumed}
    assert len(got) == len(consumed), "an offset served twice"
    errors = []
    for off, i in sorted(offsets.items()):
        if off in lost:
            if off in got:
                errors.append("offset %d of the lost range is still served" % off)
            continue
        m = got.get(off)
        if m is None:
            errors.append("record %d missing at offset %d" % (i, off))
        elif m.value != value_of(i) or m.key != b"k%d" % i:
            errors.append("offset %d holds %r, expected record %d" % (off, m.value[:12], i))
        if len(errors) > 10:
            break
    extra = sorted(set(got) - set(offsets))
    if extra:
        errors.append("offsets never written are served: %r" % extra[:5])
    assert not errors, "\n  ".join(errors)
    lo, hi = watermarks(b)
    assert (lo, hi) == (0, RECORDS), "watermarks %r after recovery" % ((lo, hi),)
    print("%d records served at their offsets, %d lost with the damaged range" % (len(got), len(lost)))


def watermarks(b):
    c = clients.reader(b.bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    finally:
        c.close()


def first_served_from(b, offset):
    """The offset of the first record a consumer placed at `offset` gets."""
    c = clients.reader(b.bootstrap)
    try:
        c.assign([TopicPartition(TOPIC, 0, offset)])
        for _ in range(40):
            for m in c.consume(1, 0.5):
                assert m.error() is None, m.error()
                return m.offset()
        raise AssertionError("nothing served from offset %d" % offset)
    finally:
        c.close()


def writes_go_on(b):
    p = clients.producer(b.bootstrap)
    delivered, failed = clients.produce_all(p, TOPIC, [(0, {"value": b"after-recovery"})])
    assert not failed and delivered[0] == (0, RECORDS), "the write after recovery went to %r" % delivered


def damaged_run(stop, damage):
    """Fills, stops with `stop` ("term" or "kill"), damages segment DAMAGED
    with damage(path, batches) -> (lost offsets, expected log text), restarts
    and checks what is served and logged."""
    with Broker() as b:
        offsets = fill(b)
        if stop == "kill":
            b.kill9()
        else:
            assert b.stop() == 0
        part, logs = segments(b)
        assert len(logs) >= 4, "only %d segments" % len(logs)
        before = {path: open(path, "rb").read() for path in logs}
        target = logs[DAMAGED]
        lost, expected = damage(target, batches_of(target))
        mark = b.log_mark()
        b.restart()
        text = b.log_since(mark)
        print("\n".join(line for line in text.splitlines() if " WARN " in line or "Rebuilt" in line or
                        "cleanly" in line))
        # Every other segment file is still there, untouched, byte for byte.
        for path in logs:
            if path != target:
                assert os.path.exists(path), "%s was deleted" % path
                assert open(path, "rb").read() == before[path], "%s changed" % path
        read_back(b, offsets, lost)
        for line in expected:
            assert line in text, "log lacks %r; it has:\n%s" % (line, text)
        if stop == "kill":
            assert "was not cleanly shut down" in text, "no line about the unclean shutdown:\n%s" % text
        if lost:
            next_base = int(os.path.basename(logs[DAMAGED + 1])[:20])
            for off in (min(lost), max(lost)):
                got = first_served_from(b, off)
                assert got == next_base, "a read at %d in the lost range got offset %d, not %d" % (off, got, next_base)
        writes_go_on(b)
        return text


def check_truncated_to_half_after_sigterm():
    truncated_to_half("term")


def check_truncated_to_half_after_sigkill():
    truncated_to_half("kill")


def truncated_to_half(stop):
    def damage(path, batches):
        size = os.path.getsize(path)
        half = size // 2
        kept = [bt for bt in batches if bt[0] + bt[3] <= half]
        cut_at = kept[-1][0] + kept[-1][3]
        if cut_at == half:  # half fell on a batch boundary: cut into the next one
            half += 100
        os.truncate(path, half)
        lost = set(range(kept[-1][2] + 1, batches[-1][2] + 1))
        line = ("WARN Found invalid data in log segment %s at byte position %d: " % (path, cut_at))
        counts = "Truncated %d bytes, kept %d valid bytes" % (half - cut_at, cut_at)
        return lost, [line, counts, "later segment(s) are kept"]
    text = damaged_run(stop, damage)
    assert text.count(" WARN ") == 1, "one WARN line expected:\n%s" % text


def check_flipped_bytes_in_the_middle():
    def damage(path, batches):
        victim = batches[len(batches) // 2]
        with open(path, "r+b") as f:
            f.seek(victim[0] + victim[3] // 2)
            b = f.read(4)
            f.seek(victim[0] + victim[3] // 2)
            f.write(bytes(x ^ 0xA5 for x in b))
        size = os.path.getsize(path)
        lost = set(range(victim[1], batches[-1][2] + 1))
        line = ("WARN Found invalid data in log segment %s at byte position %d: a batch whose CRC-32C does not"
                " match its bytes. Truncated %d bytes, kept %d valid bytes" % (path, victim[0], size - victim[0],
                                                                               victim[0]))
        return lost, [line]
    damaged_run("term", damage)


def check_deleted_index():
    def damage(path, batches):
        os.unlink(path[:-4] + ".index")
        return set(), ["INFO Rebuilt the indexes of log segment %s: the offset index file is missing" % path]
    text = damaged_run("kill", damage)
    assert " WARN " not in text, "nothing was lost, nothing to warn about:\n%s" % text


if __name__ == "__main__":
    harness.run_checks(globals())
