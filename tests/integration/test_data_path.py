"""Two data paths no real client test exercises: incremental fetch sessions
(KIP-227) and the broker recompressing batches for a topic's compression.type.

librdkafka 2.0 never opens a fetch session, so Fetch v7 is driven with the
raw client of test_admin.py, and every response is parsed down to the
records. Batches the broker stored are read back as raw bytes and checked
byte by byte: header, codec bits, CRC-32C, and every record after
decompressing them here, independently of the broker's codec.
"""
import struct
import time
import zlib

import crc32c
import lz4.frame

import harness
from harness import Broker
from test_admin import NONE, OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, R, Raw, W, admin, expect, outcome

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

TIMEOUT_S = 180

FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71

FINAL_EPOCH = -1  # KIP-227: close the session (if any), fetch without one

CODEC_NONE, CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD = 0, 1, 2, 3, 4


# --- record batches (v2), parsed without the broker's codec -------------------

BATCH_HEADER_BYTES = 61  # baseOffset .. recordCount
CRC_FROM = 21            # the CRC covers attributes .. end of the batch


def zigzag(n):
    return (n >> 1) ^ -(n & 1)


def parse_batches(data):
    """Every whole batch in `data` -> [dict], fields named as in the spec."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        batch_length = struct.unpack_from(">i", data, pos + 8)[0]
        if pos + 12 + batch_length > len(data):
            break  # a partial batch at the end of a response (KIP-74)
        raw = data[pos:pos + 12 + batch_length]
        r = R(raw[:BATCH_HEADER_BYTES], False)
        b = dict(base_offset=r.i64(), batch_length=r.i32(), leader_epoch=r.i32(), magic=r.i8(),
                 crc=struct.unpack(">I", r.take(4))[0], attributes=r.i16(), last_offset_delta=r.i32(),
                 base_timestamp=r.i64(), max_timestamp=r.i64(), producer_id=r.i64(), producer_epoch=r.i16(),
                 base_sequence=r.i32(), count=r.i32())
        b["raw"] = raw
        out.append(b)
        pos += 12 + batch_length
    assert pos == len(data), "%d bytes after the last whole batch" % (len(data) - pos)
    return out


def batch_records(b):
    """The records of one batch: [(offset, timestamp, key, value, [(header, value)])]."""
    payload = b["raw"][BATCH_HEADER_BYTES:]
    codec = b["attributes"] & 7
    if codec == CODEC_GZIP:
        payload = zlib.decompress(payload, 16 + zlib.MAX_WBITS)
    elif codec == CODEC_LZ4:
        payload = lz4.frame.decompress(payload)
    else:
        assert codec == CODEC_NONE, "codec %d not decoded here" % codec
    r = R(payload, False)

    def sv():
        return zigzag(r.uvarint())

    def nullable_bytes():
        n = sv()
        return None if n < 0 else r.take(n)
    recs = []
    for _ in range(b["count"]):
        length = sv()
        start = r.pos
        r.i8()  # attributes, unused
        ts_delta, offset_delta = sv(), sv()
        key, value = nullable_bytes(), nullable_bytes()
        headers = [(r.take(sv()).decode(), nullable_bytes()) for _ in range(sv())]
        assert r.pos - start == length, "record length %d, parsed %d" % (length, r.pos - start)
        recs.append((b["base_offset"] + offset_delta, b["base_timestamp"] + ts_delta, key, value, headers))
    r.end()
    return recs


# --- Fetch v7 with sessions ---------------------------------------------------

def fetch_v7_body(session_id, epoch, topics, forgotten, max_wait_ms, min_bytes):
    """topics: [(topic, [(partition, fetch_offset)])]; forgotten: [(topic, [partition])]"""
    def part(w, p):
        w.i32(p[0]).i64(p[1]).i64(-1).i32(1024 * 1024)  # log_start_offset: followers only

    def fill(w):
        w.i32(-1).i32(max_wait_ms).i32(min_bytes).i32(16 * 1024 * 1024).i8(0)
        w.i32(session_id).i32(epoch)
        w.array(list(topics), lambda w, t: w.str(t[0]).array(t[1], part))
        w.array(list(forgotten), lambda w, t: w.str(t[0]).array(t[1], lambda w, p: w.i32(p)))
    return fill


def fetch_v7_parse(r):
    """-> dict(error, session_id, parts={(topic, partition): dict}) with each
    partition's error, high watermark, log start and records."""
    r.i32()  # throttle
    res = dict(error=r.i16(), session_id=r.i32(), parts={})

    def presp(r):
        d = dict(partition=r.i32(), error=r.i16(), hw=r.i64(), lso=r.i64(), log_start=r.i64())
        r.array(lambda r: (r.i64(), r.i64()))  # aborted transactions
        n = r.i32()
        data = r.take(n) if n > 0 else b""
        d["records"] = [(o, v) for b in parse_batches(data) for o, _, _, v, _ in batch_records(b)]
        return d
    for topic, parts in r.array(lambda r: (r.str(), r.array(presp))):
        for d in parts:
            key = (topic, d["partition"])
            assert key not in res["parts"], "partition %r twice in one response" % (key,)
            res["parts"][key] = d
    r.end()
    return res


def fetch_v7(raw, session_id, epoch, topics=(), forgotten=(), max_wait_ms=0, min_bytes=1):
    return fetch_v7_parse(raw.call(1, 7, False, fetch_v7_body(session_id, epoch, topics, forgotten,
                                                             max_wait_ms, min_bytes)))


def fetch_v7_send(raw, session_id, epoch, topics=(), max_wait_ms=0):
    """Sends without waiting; fetch_v7_receive(raw) reads the answer. For a
    fetch that parks while another connection uses the same session."""
    raw.corr += 1
    w = W(False)
    fetch_v7_body(session_id, epoch, topics, (), max_wait_ms, 1)(w)
    hdr = W(False).i16(1).i16(7).i32(raw.corr).str("strata-it-data-path")
    payload = bytes(hdr.buf) + bytes(w.buf)
    raw.sock.sendall(struct.pack(">i", len(payload)) + payload)


def fetch_v7_receive(raw):
    n = struct.unpack(">i", raw._exact(4))[0]
    r = R(raw._exact(n), False)
    assert r.i32() == raw.corr, "correlation id mismatch"
    return fetch_v7_parse(r)


def summary(res, topic):
    """{partition: (error, hw, [(offset, value)])} of one topic, for asserts."""
    return {p: (d["error"], d["hw"], d["records"]) for (t, p), d in res["parts"].items() if t == topic}


def eq(got, want, what="response"):
    assert got == want, "%s: got %r, want %r" % (what, got, want)


def produce_one(p, topic, partition, value):
    """One record, its own batch; returns its offset."""
    got = []
    p.produce(topic, value=value, partition=partition,
              on_delivery=lambda err, msg: got.append(err or msg.offset()))
    assert p.flush(10) == 0 and len(got) == 1 and isinstance(got[0], int), got
    return got[0]


def vals(partition, offsets):
    return [(o, b"p%d-%d" % (partition, o)) for o in offsets]


def check_incremental_fetch_sessions():
    """KIP-227 as Kafka's FetchManager implements it. The session remembers
    each partition's fetch offset from the requests: the client advances it
    by sending the partition again. An incremental response holds only the
    partitions with records, an error, or a high watermark or log start
    offset other than last sent (after an error the cached high watermark
    is -1, so the partition comes back once the error is gone)."""
    T = "sess"
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic(T, 3, 1)]), T), 0)
        prod = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all"})
        for part, n in ((0, 3), (1, 4), (2, 5)):
            for i in range(n):
                assert produce_one(prod, T, part, b"p%d-%d" % (part, i)) == i
        raw = Raw(b.port)
        try:
            everything = [(T, [(0, 0), (1, 0), (2, 0)])]
            at_end = {0: (NONE, 3, []), 1: (NONE, 4, []), 2: (NONE, 5, [])}
            full = {0: (NONE, 3, vals(0, range(3))), 1: (NONE, 4, vals(1, range(4))),
                    2: (NONE, 5, vals(2, range(5)))}

            # A full fetch (0, 0) creates the session; every partition is in it.
            res = fetch_v7(raw, 0, 0, everything)
            sid = res["session_id"]
            assert res["error"] == NONE and sid != 0, res
            assert summary(res, T) == full, res
            assert all(d["log_start"] == 0 and d["lso"] == d["hw"] for d in res["parts"].values()), res

            def inc(epoch, topics=(), forgotten=()):
                res = fetch_v7(raw, sid, epoch, topics, forgotten)
                assert res["error"] == NONE and res["session_id"] == sid, res
                assert all(t == T for t, _ in res["parts"]), res
                return summary(res, T)

            # Nothing sent: the session still fetches from offset 0, so the
            # records come again.
            eq(inc(1), full)
            # Offsets advanced to the end, nothing new: nothing to say.
            eq(inc(2, [(T, [(0, 3), (1, 4), (2, 5)])]), {})
            eq(inc(3), {})
            # A new record in partition 1 only.
            assert produce_one(prod, T, 1, b"p1-4") == 4
            eq(inc(4), {1: (NONE, 5, vals(1, [4]))})
            eq(inc(5), {1: (NONE, 5, vals(1, [4]))}, "the session's offset moves only by request")
            eq(inc(6, [(T, [(1, 5)])]), {}, "offset 5 is the end, hw unchanged")

            # Epoch errors leave the session as it was, at the epoch expected.
            for epoch in (6, 1, 8, -2):
                res = fetch_v7(raw, sid, epoch)
                assert res == dict(error=INVALID_FETCH_SESSION_EPOCH, session_id=0, parts={}), (epoch, res)
            eq(inc(7), {})
            for session_id, epoch in ((sid ^ 1, 1), (-5, 1), (0, 1), (0, 5), (0, -2)):  # sid ^ 1: not a session
                res = fetch_v7(raw, session_id, epoch, everything)
                assert res == dict(error=FETCH_SESSION_ID_NOT_FOUND, session_id=0, parts={}), (session_id, epoch, res)

            # A partition error is sent, and once it is gone the partition is
            # sent again although its high watermark did not move.
            got = inc(8, [(T, [(0, 100)])])
            assert list(got) == [0] and got[0][0] == OFFSET_OUT_OF_RANGE and got[0][2] == [], got
            eq(inc(9, [(T, [(0, 3)])]), {0: at_end[0]})
            eq(inc(10), {})
            # A partition that does not exist is added to the session with its error.
            eq(inc(11, [(T, [(7, 0)])]), {7: (UNKNOWN_TOPIC_OR_PARTITION, -1, [])})
            eq(inc(12, forgotten=[(T, [7])]), {})

            # Forgotten partitions leave the session: partition 2 gets a
            # record and is not sent; partition 0's record is.
            eq(inc(13, forgotten=[(T, [2])]), {})
            assert produce_one(prod, T, 2, b"p2-5") == 5
            assert produce_one(prod, T, 0, b"p0-3") == 3
            eq(inc(14), {0: (NONE, 4, vals(0, [3]))})
            eq(inc(15, [(T, [(0, 4)])]), {})
            # Back in the session, it is new there: sent with its record.
            eq(inc(16, [(T, [(2, 5)])]), {2: (NONE, 6, vals(2, [5]))})
            eq(inc(17, [(T, [(2, 6)])]), {})

            # FINAL_EPOCH closes the session and fetches without one.
            res = fetch_v7(raw, sid, FINAL_EPOCH, [(T, [(0, 1)])])
            assert res["error"] == NONE and res["session_id"] == 0, res
            assert summary(res, T) == {0: (NONE, 4, vals(0, [1, 2, 3]))}, res
            res = fetch_v7(raw, sid, 18)
            assert res == dict(error=FETCH_SESSION_ID_NOT_FOUND, session_id=0, parts={}), res
            # Without an id, FINAL_EPOCH is the sessionless fetch of Fetch v0-6.
            res = fetch_v7(raw, 0, FINAL_EPOCH, [(T, [(2, 5)])])
            assert res["error"] == NONE and res["session_id"] == 0, res
            assert summary(res, T) == {2: (NONE, 6, vals(2, [5]))}, res

            # (id, 0) closes that session and opens a new one with the
            # request's partitions: what the Java client sends after an
            # epoch error or a lost response.
            res = fetch_v7(raw, 0, 0, [(T, [(1, 5)])])
            old = res["session_id"]
            assert res["error"] == NONE and old not in (0, sid) and summary(res, T) == {1: (NONE, 5, [])}, res
            res = fetch_v7(raw, old, 0, [(T, [(2, 6)])])
            new = res["session_id"]
            assert res["error"] == NONE and new not in (0, old), res
            assert summary(res, T) == {2: (NONE, 6, [])}, res
            res = fetch_v7(raw, old, 1)
            assert res == dict(error=FETCH_SESSION_ID_NOT_FOUND, session_id=0, parts={}), res
            assert produce_one(prod, T, 1, b"p1-5") == 5  # partition 1 is in the old session only
            res = fetch_v7(raw, new, 1)
            assert res == dict(error=NONE, session_id=new, parts={}), res

            # Forgetting the last partition ends the session (Kafka: the
            # request is answered without a session).
            res = fetch_v7(raw, new, 2, forgotten=[(T, [2])])
            assert res == dict(error=NONE, session_id=0, parts={}), res
            res = fetch_v7(raw, new, 3)
            assert res == dict(error=FETCH_SESSION_ID_NOT_FOUND, session_id=0, parts={}), res
        finally:
            raw.close()
        assert b.alive()


def check_fetch_session_changed_while_parked():
    """A fetch that waits (MaxWaitMs) while another request moves its
    session on answers INVALID_FETCH_SESSION_EPOCH with the session id, as
    Kafka's IncrementalFetchContext does; while another request closes the
    session, FETCH_SESSION_ID_NOT_FOUND (Kafka answers from the session
    object it still holds; here the session's state is gone). The session
    the later request left stays usable."""
    T = "park"
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic(T, 1, 1)]), T), 0)
        prod = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all"})
        assert produce_one(prod, T, 0, b"p0-0") == 0
        waiting, other = Raw(b.port), Raw(b.port)
        try:
            res = fetch_v7(other, 0, 0, [(T, [(0, 1)])])
            sid = res["session_id"]
            assert res["error"] == NONE and sid != 0 and summary(res, T) == {0: (NONE, 1, [])}, res

            # The parked fetch took epoch 1; the other connection sends the
            # next one and adds partitions (which grows the session's table,
            # so a stale pointer into it would be read).
            t0 = time.time()
            fetch_v7_send(waiting, sid, 1, max_wait_ms=1500)
            time.sleep(0.3)
            res = fetch_v7(other, sid, 2, [(T, [(p, 0) for p in range(1, 20)])])
            assert res["error"] == NONE and res["session_id"] == sid and len(res["parts"]) == 19, res
            res = fetch_v7_receive(waiting)
            assert res == dict(error=INVALID_FETCH_SESSION_EPOCH, session_id=sid, parts={}), res
            assert time.time() - t0 > 1.0, "the fetch did not wait"
            res = fetch_v7(other, sid, 3, forgotten=[(T, list(range(1, 20)))])
            assert res == dict(error=NONE, session_id=sid, parts={}), res

            # A record wakes a parked fetch whose session was moved on.
            fetch_v7_send(waiting, sid, 4, max_wait_ms=5000)
            time.sleep(0.3)
            assert fetch_v7(other, sid, 5) == dict(error=NONE, session_id=sid, parts={})
            t0 = time.time()
            assert produce_one(prod, T, 0, b"p0-1") == 1
            res = fetch_v7_receive(waiting)
            assert res == dict(error=INVALID_FETCH_SESSION_EPOCH, session_id=sid, parts={}), res
            assert time.time() - t0 < 3.0, "the record did not wake the fetch"
            res = fetch_v7(other, sid, 6)
            assert res["session_id"] == sid and summary(res, T) == {0: (NONE, 2, vals(0, [1]))}, res
            # Undisturbed, a parked fetch of the session answers with the record.
            fetch_v7_send(waiting, sid, 7, [(T, [(0, 2)])], max_wait_ms=5000)
            time.sleep(0.3)
            assert produce_one(prod, T, 0, b"p0-2") == 2
            res = fetch_v7_receive(waiting)
            assert res["error"] == NONE and res["session_id"] == sid, res
            assert summary(res, T) == {0: (NONE, 3, vals(0, [2]))}, res

            # The session is closed while the fetch waits.
            fetch_v7_send(waiting, sid, 8, [(T, [(0, 3)])], max_wait_ms=1000)
            time.sleep(0.3)
            res = fetch_v7(other, sid, FINAL_EPOCH, [(T, [(0, 3)])])
            assert res["error"] == NONE and res["session_id"] == 0, res
            assert summary(res, T) == {0: (NONE, 3, [])}, res
            res = fetch_v7_receive(waiting)
            assert res == dict(error=FETCH_SESSION_ID_NOT_FOUND, session_id=0, parts={}), res

        finally:
            waiting.close()
            other.close()
        assert b.alive()


def check_fetch_session_rotation():
    """A response stops taking partitions at 1 MiB of records
    (strata.fetch.response.target.bytes); partitions that sent records
    move to the end of the session, as in Kafka, so the next incremental
    fetch serves the others first instead of draining the first one."""
    T = "rot"
    value = b"r" * 100000
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic(T, 3, 1)]), T), 0)
        prod = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all"})
        for part in range(3):
            for i in range(15):
                assert produce_one(prod, T, part, value) == i
        raw = Raw(b.port)
        try:
            def offsets(res, part):
                d = res["parts"].get((T, part))
                return [o for o, _ in d["records"]] if d else []
            res = fetch_v7(raw, 0, 0, [(T, [(0, 0), (1, 0), (2, 0)])])
            sid = res["session_id"]
            assert res["error"] == NONE and sid != 0, res
            eq([offsets(res, p) for p in range(3)], [list(range(10)), [], []], "full fetch")
            res = fetch_v7(raw, sid, 1, [(T, [(0, 10)])])
            eq([offsets(res, p) for p in range(3)], [[], list(range(10)), []], "incremental 1")
            res = fetch_v7(raw, sid, 2, [(T, [(1, 10)])])
            eq([offsets(res, p) for p in range(3)], [[], [], list(range(10))], "incremental 2")
            res = fetch_v7(raw, sid, 3, [(T, [(2, 10)])])
            eq([offsets(res, p) for p in range(3)], [list(range(10, 15)), list(range(10, 15)), []],
               "incremental 3")
        finally:
            raw.close()


FETCH_SESSION_TOPIC_ID_ERROR = 106


def fetch_flexible(raw, version, session_id, epoch, topic=None, partitions=()):
    """Fetch v12 (topics by name) or v13 (by id: only an empty topic list
    here) -> (error, session_id)."""
    def part(w, p):
        w.i32(p).i32(-1).i64(0).i32(-1).i64(-1).i32(1024 * 1024).tags()

    def body(w):
        w.i32(-1).i32(0).i32(1).i32(16 * 1024 * 1024).i8(0).i32(session_id).i32(epoch)
        topics = [topic] if topic else []
        w.array(topics, lambda w, t: w.str(t).array(list(partitions), part).tags())
        w.array([], None).str("").tags()
    r = raw.call(1, version, True, body)
    r.i32()  # throttle
    return r.i16(), r.i32()


def check_fetch_session_names_or_ids():
    """A session opened with topic names (Fetch v12) cannot be continued
    with topic ids (v13+): FETCH_SESSION_TOPIC_ID_ERROR, as in Kafka; the
    session itself is left as it was."""
    T = "names"
    with Broker() as b:
        a = admin(b)
        expect(outcome(a.create_topics([NewTopic(T, 1, 1)]), T), 0)
        raw = Raw(b.port)
        try:
            err, sid = fetch_flexible(raw, 12, 0, 0, T, [0])
            assert err == NONE and sid != 0, (err, sid)
            eq(fetch_flexible(raw, 13, sid, 1), (FETCH_SESSION_TOPIC_ID_ERROR, 0), "v13 in a v12 session")
            eq(fetch_flexible(raw, 12, sid, 1), (NONE, sid), "v12 again")
        finally:
            raw.close()


# --- recompression ------------------------------------------------------------

def fetch_v4_bytes(raw, topic, partition, offset=0):
    """The record bytes of one partition from `offset` -> (err, hw, bytes)"""
    def body(w):
        w.i32(-1).i32(0).i32(1).i32(64 * 1024 * 1024).i8(0)
        w.array([0], lambda w, _: w.str(topic).array([0], lambda w, _: w.i32(partition).i64(offset).i32(
            32 * 1024 * 1024)))
    r = raw.call(1, 4, False, body)
    r.i32()

    def presp(r):
        p, err, hw = r.i32(), r.i16(), r.i64()
        r.i64()
        r.array(lambda r: (r.i64(), r.i64()))
        n = r.i32()
        return p, err, hw, r.take(n) if n > 0 else b""
    topics = r.array(lambda r: (r.str(), r.array(presp)))
    r.end()
    assert len(topics) == 1 and len(topics[0][1]) == 1, topics
    return topics[0][1][0][1:]


def varint(n):
    """Zigzag varint (varlong too), as records encode their fields."""
    n = (n << 1) ^ (n >> 63)
    return bytes(W(False).uvarint(n).buf)


def encode_batch(records, base_sequence, producer_id, producer_epoch, codec):
    """One v2 batch of records [(key, value, headers, timestamp)], written
    here as a Java or librdkafka producer would, CRC-32C included."""
    base_ts = records[0][3]
    body = bytearray()
    for i, (key, value, headers, ts) in enumerate(records):
        rec = bytearray(b"\0") + varint(ts - base_ts) + varint(i)
        for field in (key, value):
            rec += varint(-1) if field is None else varint(len(field)) + field
        rec += varint(len(headers))
        for name, hv in headers:
            rec += varint(len(name)) + name.encode()
            rec += varint(-1) if hv is None else varint(len(hv)) + hv
        body += varint(len(rec)) + rec
    if codec == CODEC_LZ4:
        # Independent blocks and no content size, like librdkafka and Java.
        body = lz4.frame.compress(bytes(body), block_linked=False, store_size=False)
    else:
        assert codec == CODEC_NONE
    after_crc = struct.pack(">hiqqqhii", codec, len(records) - 1, base_ts, max(r[3] for r in records),
                            producer_id, producer_epoch, base_sequence, len(records)) + bytes(body)
    head = struct.pack(">qiib", 0, 4 + 1 + 4 + len(after_crc), -1, 2)
    return head + struct.pack(">I", crc32c.crc32c(after_crc)) + after_crc


def init_producer_id(raw):
    r = raw.call(22, 0, False, lambda w: w.str(None).i32(60000))
    r.i32()
    err, pid, epoch = r.i16(), r.i64(), r.i16()
    r.end()
    assert err == NONE and pid >= 0 and epoch >= 0, (err, pid, epoch)
    return pid, epoch


def produce_v7(raw, topic, batch):
    """One batch to partition 0 with acks=all -> (error, base_offset)"""
    def body(w):
        w.str(None).i16(-1).i32(10000)
        w.array([0], lambda w, _: w.str(topic).array([0], lambda w, _: w.i32(0).i32(len(batch)).raw(batch)))
    r = raw.call(0, 7, False, body)
    res = r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), r.i16(), r.i64(), r.i64(), r.i64()))))
    r.i32()
    r.end()
    assert len(res) == 1 and len(res[0][1]) == 1, res
    return res[0][1][0][1], res[0][1][0][2]


RECORDS = 200
PER_BATCH = 40


def record_set(prefix, base_ts):
    """200 keyed records with headers: (key, value, headers, timestamp).
    Values vary in size and content (every byte value, an empty one, a null
    one); header names repeat and one header value is empty. (No null header
    values: confluent-kafka 1.7 miscounts references to None on them.)"""
    out = []
    for i in range(RECORDS):
        key = b"%s-%03d" % (prefix, i)
        if i == 17:
            value = None
        elif i == 18:
            value = b""
        else:
            value = bytes((i * 31 + j * 7 + j * j) % 256 for j in range(i * 13 % 700 + 1))
        headers = [("idx", b"%d" % i), ("bin", bytes([i % 256, 0, 255])), ("idx", b"again")]
        if i % 50 == 0:
            headers.append(("empty", b""))
        # Timestamps are not monotonic within a batch: max timestamp is not the last.
        out.append((key, value, headers, base_ts + i * 3 + (500 if i % PER_BATCH == 5 else 0)))
    return out


def produce_raw_lz4(b, topic, records):
    """Idempotent lz4 batches of PER_BATCH records from a raw producer;
    then a retry of the second batch, which must be acknowledged with its
    first offset and not written again (the producer state follows the
    batch as stored, rewritten or not). Returns (producer id, epoch)."""
    raw = Raw(b.port)
    try:
        pid, epoch = init_producer_id(raw)
        batches = [encode_batch(records[i:i + PER_BATCH], i, pid, epoch, CODEC_LZ4)
                   for i in range(0, len(records), PER_BATCH)]
        for i, batch in enumerate(batches):
            assert produce_v7(raw, topic, batch) == (NONE, i * PER_BATCH), (topic, i)
        assert produce_v7(raw, topic, batches[1]) == (NONE, PER_BATCH), "%s: the retry was not a duplicate" % topic
        return pid, epoch
    finally:
        raw.close()


def produce_librdkafka(b, topic, records):
    """The same through confluent-kafka, lz4 and idempotence asked for.
    librdkafka before 2.10 compresses only if the broker lists Produce v0-v2
    in ApiVersions (librdkafka#4956, KAFKA-18659), which Strata does."""
    p = Producer({"bootstrap.servers": b.bootstrap, "compression.type": "lz4", "enable.idempotence": True,
                  "acks": "all", "linger.ms": 20, "batch.num.messages": PER_BATCH})
    offsets = []
    for key, value, headers, ts in records:
        p.produce(topic, key=key, value=value, headers=headers, timestamp=ts, partition=0,
                  on_delivery=lambda err, msg: offsets.append(err or msg.offset()))
        p.poll(0)
    assert p.flush(30) == 0
    return offsets


def consume_all(b, topic, n):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "it-data-path", "enable.auto.commit": False,
                  "enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.time() + 30
        while len(got) < n and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            got.append((m.offset(), m.key(), m.value(), m.headers() or [], m.timestamp()[1]))
        return got
    finally:
        c.close()


def check_recompression():
    """compression.type gzip / uncompressed rewrite lz4 batches into their
    codec, producer keeps lz4. Either way a consumer reads the records back
    byte for byte; the stored batches have magic 2, the topic's codec, a
    valid CRC-32C, the producer's id and sequences (a retried batch is still
    a duplicate), and the same bytes after a restart."""
    cases = [("rc-gzip", "gzip", CODEC_GZIP), ("rc-none", "uncompressed", CODEC_NONE),
             ("rc-producer", "producer", CODEC_LZ4)]
    base_ts = int(time.time() * 1000) - 60000
    raw_records = record_set(b"raw", base_ts)
    lib_records = record_set(b"lib", base_ts + 1000)
    produced = raw_records + lib_records
    expected = [(o, ts, k, v, hs) for o, (k, v, hs, ts) in enumerate(produced)]
    with Broker() as b:
        a = admin(b)
        for topic, ctype, _ in cases:
            expect(outcome(a.create_topics([NewTopic(topic, 1, 1, config={"compression.type": ctype})]), topic), 0)
        stored = {}
        for topic, _, codec in cases:
            raw_pid = produce_raw_lz4(b, topic, raw_records)
            offsets = produce_librdkafka(b, topic, lib_records)
            assert offsets == list(range(RECORDS, 2 * RECORDS)), "%s: %r" % (topic, offsets[:5])

            got = consume_all(b, topic, 2 * RECORDS)
            assert len(got) == 2 * RECORDS, "%s: read %d of %d" % (topic, len(got), 2 * RECORDS)
            for (o, k, v, hs, ts), e in zip(got, expected):
                assert (o, ts, k, v, hs) == e, "%s: read %r, produced %r" % (topic, (o, ts, k, v, hs), e)

            raw = Raw(b.port)
            try:
                err, hw, data = fetch_v4_bytes(raw, topic, 0)
            finally:
                raw.close()
            assert err == NONE and hw == 2 * RECORDS, (topic, err, hw)
            stored[topic] = data
            batches = parse_batches(data)
            assert [bt["base_offset"] for bt in batches[:RECORDS // PER_BATCH]] == list(
                range(0, RECORDS, PER_BATCH)), "%s: the raw producer's batches were split or merged" % topic
            recs = []
            lib_pid = None
            for bt in batches:
                where = "%s batch at %d" % (topic, bt["base_offset"])
                from_raw = bt["base_offset"] < RECORDS
                # librdkafka's batches arrive lz4 too: ApiVersions lists
                # Produce from v0 (produce_librdkafka).
                allowed = (codec,)
                assert bt["magic"] == 2, where
                assert bt["attributes"] & 7 in allowed, "%s: codec %d, want %r" % (where, bt["attributes"] & 7, allowed)
                assert bt["attributes"] & ~7 == 0, "%s: attributes %#x" % (where, bt["attributes"])
                assert crc32c.crc32c(bt["raw"][CRC_FROM:]) == bt["crc"], "%s: CRC-32C mismatch" % where
                pid = (bt["producer_id"], bt["producer_epoch"])
                if from_raw:
                    assert pid == raw_pid, (where, pid, raw_pid)
                    assert bt["base_sequence"] == bt["base_offset"], where
                else:
                    lib_pid = lib_pid or pid
                    assert pid == lib_pid and pid != raw_pid and pid[0] >= 0, (where, pid, raw_pid)
                    assert bt["base_sequence"] == bt["base_offset"] - RECORDS, where
                assert bt["last_offset_delta"] == bt["count"] - 1, where
                batch = batch_records(bt)
                assert [r[0] for r in batch] == list(range(bt["base_offset"], bt["base_offset"] + bt["count"])), where
                assert bt["base_timestamp"] == batch[0][1] and bt["max_timestamp"] == max(r[1] for r in batch), where
                recs += batch
            assert recs == expected, topic

        # Recovery reads the rewritten batches back: same bytes after a restart.
        b.restart()
        raw = Raw(b.port)
        try:
            for topic, _, _ in cases:
                err, hw, data = fetch_v4_bytes(raw, topic, 0)
                assert (err, hw) == (NONE, 2 * RECORDS) and data == stored[topic], topic
        finally:
            raw.close()
        assert b.alive()


if __name__ == "__main__":
    harness.run_checks(globals())
