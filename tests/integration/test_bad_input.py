"""Hostile bytes on raw sockets against the real broker.

Each case sends one kind of bad input on its own connection and checks the
broker's answer the way Kafka gives it (connection closed, or an error code
with the connection kept). After every case: the broker process is alive, a
fresh connection's ApiVersions works, a GOOD client running all along on
other connections (confluent-kafka producing, raw ApiVersions pinging) has
had no failure, and the server log gained a line about the case (naming the
peer's port, or the topic for produce errors). At the end the victim topic
holds exactly the good records: nothing of a rejected request is visible.

The encoders (request headers v1/v2, ApiVersions, Metadata v1, Produce v9
with hand-built v2 record batches and CRC-32C) are written out here on
purpose: they must be independent of the broker's own codec.
"""
import gzip
import os
import random
import re
import socket
import struct
import threading
import time

import harness
from harness import Broker

import clients

TIMEOUT_S = 240
REQUEST_MAX_BYTES = 102400
TOPIC = "victim"

API_PRODUCE, API_METADATA, API_API_VERSIONS = 0, 3, 18
NONE, CORRUPT_MESSAGE, UNSUPPORTED_VERSION, INVALID_RECORD = 0, 2, 35, 87
COMPRESSION = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


# --- encoders --------------------------------------------------------------

def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def u32(v): return struct.pack(">I", v)


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n):
    return uvarint((n << 1) ^ (n >> 63))


def string(s):
    if s is None:
        return i16(-1)
    s = s.encode() if isinstance(s, str) else s
    return i16(len(s)) + s


def compact_string(s):
    if s is None:
        return uvarint(0)
    s = s.encode() if isinstance(s, str) else s
    return uvarint(len(s) + 1) + s


def varbytes(b):
    return varint(-1) if b is None else varint(len(b)) + b


def header_v1(api, version, correlation_id, client_id="strata-it-bad"):
    return i16(api) + i16(version) + i32(correlation_id) + string(client_id)


def header_v2(api, version, correlation_id, client_id="strata-it-bad"):
    return header_v1(api, version, correlation_id, client_id) + uvarint(0)


def frame(payload):
    return i32(len(payload)) + payload


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value


def record(offset_delta, value, key=None):
    body = i8(0) + varint(0) + varint(offset_delta) + varbytes(key) + varbytes(value) + varint(0)
    return varint(len(body)) + body


def snappy_xerial(raw):
    import snappy
    block = snappy.compress(raw)
    return b"\x82SNAPPY\x00" + i32(1) + i32(1) + i32(len(block)) + block


def compress(codec, raw):
    if codec == "none":
        return raw
    if codec == "gzip":
        return gzip.compress(raw)
    if codec == "snappy":
        return snappy_xerial(raw)
    if codec == "lz4":
        import lz4.frame
        return lz4.frame.compress(raw)
    if codec == "zstd":
        import zstandard
        return zstandard.ZstdCompressor().compress(raw)
    raise ValueError(codec)


def record_batch(values, codec="none", payload=None, bad_crc=False, count=None, length_delta=0,
                 consistent_count=False):
    """A magic-2 record batch; payload replaces the (compressed) records.

    count overrides the record count field; with consistent_count the last
    offset delta agrees with it, so only the records themselves disagree."""
    ts = int(time.time() * 1000)
    records = b"".join(record(k, v) for k, v in enumerate(values))
    if payload is None:
        payload = compress(codec, records)
    last_offset_delta = (count if consistent_count else len(values)) - 1
    after_crc = (i16(COMPRESSION[codec]) + i32(last_offset_delta) + i64(ts) + i64(ts) + i64(-1) + i16(-1) + i32(-1)
                 + i32(len(values) if count is None else count) + payload)
    crc = crc32c(after_crc)
    if bad_crc:
        crc ^= 0x5A5A5A5A
    batch_length = 4 + 1 + 4 + len(after_crc) + length_delta
    return i64(0) + i32(batch_length) + i32(-1) + i8(2) + u32(crc) + after_crc


def produce_v9(correlation_id, topic, partition, records, acks=-1):
    body = (uvarint(0) + i16(acks) + i32(10000)
            + uvarint(2) + compact_string(topic)
            + uvarint(2) + i32(partition) + uvarint(len(records) + 1) + records + uvarint(0)
            + uvarint(0) + uvarint(0))
    return frame(header_v2(API_PRODUCE, 9, correlation_id) + body)


def api_versions_v0(correlation_id):
    return frame(header_v1(API_API_VERSIONS, 0, correlation_id))


# --- decoders --------------------------------------------------------------

class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise AssertionError("response truncated at %d (+%d) of %d: %r" % (self.pos, n, len(self.data), self.data[:200]))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        n = shift = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode("utf-8", "replace")

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def parse_api_versions_v0(payload):
    """-> (correlation_id, error_code, {api: (min, max)}); the frame must be consumed exactly."""
    r = Reader(payload)
    corr, err = r.i32(), r.i16()
    apis = {}
    for _ in range(r.i32()):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        apis[k] = (lo, hi)
    assert r.pos == len(payload), "ApiVersions v0 response has %d trailing bytes" % (len(payload) - r.pos)
    return corr, err, apis


def parse_produce_v9(payload):
    """-> (correlation_id, [(topic, partition, error_code, base_offset, error_message)])."""
    r = Reader(payload)
    corr = r.i32()
    r.tags()
    out = []
    for _ in range(r.uvarint() - 1):
        name = r.compact_string()
        for _ in range(r.uvarint() - 1):
            index, err, base = r.i32(), r.i16(), r.i64()
            r.i64()  # log_append_time_ms
            r.i64()  # log_start_offset
            for _ in range(r.uvarint() - 1):
                r.i32()
                r.compact_string()
                r.tags()
            msg = r.compact_string()
            r.tags()
            out.append((name, index, err, base, msg))
        r.tags()
    r.i32()  # throttle_time_ms
    r.tags()
    assert r.pos == len(payload), "Produce v9 response has %d trailing bytes" % (len(payload) - r.pos)
    return corr, out


# --- connections -------------------------------------------------------------

class Conn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.local_port = self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise AssertionError("connection closed by the broker after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def recv_frame(self):
        n = struct.unpack(">i", self.recv_exact(4))[0]
        assert 0 <= n < 64 << 20, "response frame length %d" % n
        return self.recv_exact(n)

    def expect_closed(self, timeout=5.0):
        """The broker must close this connection without answering."""
        self.sock.settimeout(timeout)
        got = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        except socket.timeout:
            raise AssertionError("connection still open %.0fs later (received %r)" % (timeout, got[:100]))
        assert not got, "expected the connection closed without a response, received %r" % got[:200]

    def api_versions(self, correlation_id=7):
        self.send(api_versions_v0(correlation_id))
        corr, err, apis = parse_api_versions_v0(self.recv_frame())
        assert corr == correlation_id, "correlation id %d, sent %d" % (corr, correlation_id)
        assert err == NONE, "ApiVersions v0 error %d" % err
        return apis

    def produce(self, records, correlation_id=11):
        self.send(produce_v9(correlation_id, TOPIC, 0, records))
        corr, parts = parse_produce_v9(self.recv_frame())
        assert corr == correlation_id, "correlation id %d, sent %d" % (corr, correlation_id)
        assert len(parts) == 1 and parts[0][:2] == (TOPIC, 0), "produce response %r" % parts
        return parts[0]

    def close(self):
        self.sock.close()


# --- the rig: broker, good client, after-case checks ------------------------

class GoodClient(threading.Thread):
    """Keeps producing and pinging on its own connections; records failures."""

    def __init__(self, broker):
        super().__init__(daemon=True)
        self.broker = broker
        self.stop_event = threading.Event()
        self.failures = []
        self.produced = []
        self.pings = 0

    def run(self):
        p = clients.producer(self.broker.bootstrap, linger_ms=0, message_timeout_ms=10000)
        ping = Conn(self.broker.port)
        n = 0
        while not self.stop_event.is_set():
            try:
                ping.api_versions(correlation_id=1000 + self.pings)
                self.pings += 1
                value = b"good-client-%d" % n
                n += 1
                done = []
                p.produce(TOPIC, value=value, partition=0, on_delivery=lambda err, msg: done.append(err))
                p.flush(10)
                if done != [None]:
                    self.failures.append("produce %r: %r" % (value, done))
                else:
                    self.produced.append(value)
            except Exception as e:  # any failure of the good client is the finding
                self.failures.append("%s: %s" % (type(e).__name__, e))
                try:
                    ping.close()
                    ping = Conn(self.broker.port)
                except OSError:
                    pass
            self.stop_event.wait(0.1)
        ping.close()
        p.flush(10)


class Rig:
    def __init__(self):
        self.broker = Broker({"socket.request.max.bytes": REQUEST_MAX_BYTES})
        self.good_values = []  # values the broker accepted from our own produces
        self.failures = []

    def __enter__(self):
        self.broker.start()
        clients.create_topic(self.broker.bootstrap, TOPIC, 1)
        self.good = GoodClient(self.broker)
        self.good.start()
        time.sleep(0.5)
        assert self.good.pings > 0 and not self.good.failures, "good client not working before any case: %r" % self.good.failures
        return self

    def __exit__(self, *exc):
        self.good.stop_event.set()
        self.good.join(30)
        self.broker.close()

    def case(self, name, fn, log_also=()):
        """Run fn(conn) on a fresh connection, then the after-case checks."""
        print("case %s" % name, flush=True)
        mark = self.broker.log_mark()
        pings = self.good.pings
        conn = Conn(self.broker.port)
        port = conn.local_port
        try:
            fn(conn)
        except Exception as e:
            self.failures.append("%s: %s: %s" % (name, type(e).__name__, e))
        finally:
            conn.close()
        problems = []
        if not self.broker.alive():
            problems.append("broker died")
        else:
            try:
                c = Conn(self.broker.port)
                c.api_versions()
                c.close()
            except Exception as e:
                problems.append("fresh ApiVersions failed afterwards: %s" % e)
        # The good client must make progress and see no failure.
        deadline = time.time() + 5
        while self.good.pings <= pings + 1 and time.time() < deadline:
            time.sleep(0.05)
        if self.good.pings <= pings + 1:
            problems.append("good client stalled (%d pings during the case)" % (self.good.pings - pings))
        if self.good.failures:
            problems.append("good client failed: %r" % self.good.failures[:3])
            del self.good.failures[:]
        # A line about it in the server log: one naming our port (not just a
        # connection-accepted line), or the topic for produce errors.
        needles = [r"\b%d\b" % port] + [re.escape(x) for x in log_also]
        deadline = time.time() + 3
        while True:
            new = self.broker.log_since(mark)
            lines = [l for l in new.splitlines()
                     if any(re.search(n, l) for n in needles) and not re.search(r"accepted|new connection", l, re.I)]
            if lines or time.time() > deadline:
                break
            time.sleep(0.1)
        if lines:
            print("  log: %s" % lines[0][:300])
        else:
            problems.append("no server log line about it (peer port %d); new log:\n%s" % (port, new[-1500:]))
        if problems:
            self.failures.append("%s: %s" % (name, "; ".join(problems)))

    def accept(self, conn, values, codec="none"):
        """A control produce that must succeed; the values must be in the topic."""
        _, _, err, base, msg = conn.produce(record_batch(values, codec))
        assert err == NONE and base >= 0, "good %s batch refused: error %d %r" % (codec, err, msg)
        self.good_values.extend(values)

    def refuse(self, conn, records, allowed=(CORRUPT_MESSAGE,)):
        """A produce that must fail with one of allowed, connection kept."""
        _, _, err, base, msg = conn.produce(records)
        print("  refused with error %d (%r)" % (err, msg))
        assert err in allowed, "got error %d (%r), expected one of %r" % (err, msg, allowed)
        conn.api_versions()  # still usable

    def finish(self):
        self.good.stop_event.set()
        self.good.join(30)
        assert not self.good.is_alive(), "good client hung"
        records = clients.consume_all(self.broker.bootstrap, TOPIC, timeout_s=30)
        values = [r.value for r in records]
        bad = [v for v in values if b"BAD" in (v or b"")]
        if bad:
            self.failures.append("refused data is visible in the topic: %r" % bad[:5])
        expected = sorted(self.good_values + self.good.produced)
        if sorted(values) != expected:
            self.failures.append("topic holds %d records, expected %d good ones (extra %r, missing %r)" % (
                len(values), len(expected), sorted(set(values) - set(expected))[:5],
                sorted(set(expected) - set(values))[:5]))
        offsets = [r.offset for r in records]
        if offsets != list(range(len(offsets))):
            self.failures.append("offsets not dense from 0: %r..." % offsets[:20])
        print("topic holds %d good records, %d good-client pings" % (len(values), self.good.pings))
        assert not self.failures, "\n  ".join(["%d failures:" % len(self.failures)] + self.failures)


# --- the cases ------------------------------------------------------------

def check_framing():
    with Rig() as rig:
        rig.case("negative length", lambda c: (c.send(i32(-1)), c.expect_closed()))
        rig.case("INT32_MIN length", lambda c: (c.send(i32(-2 ** 31) + b"\0" * 16), c.expect_closed()))
        rig.case("zero length", lambda c: (c.send(i32(0)), c.expect_closed()))
        # Refused from the length alone: the body is never sent.
        rig.case("oversized length", lambda c: (c.send(i32(REQUEST_MAX_BYTES + 1)), c.expect_closed()))
        rig.case("2 GiB length", lambda c: (c.send(i32(2 ** 31 - 1)), c.expect_closed()))

        def longer_then_close(c):
            c.send(i32(1000) + header_v1(API_API_VERSIONS, 0, 1))
            time.sleep(1.0)  # the broker waits for the rest; others are served meanwhile
        rig.case("length longer than sent, then close", longer_then_close)

        def shorter(c):
            good = header_v1(API_API_VERSIONS, 0, 1)
            c.send(i32(5) + good)  # api key, version, 1 byte of correlation id
            c.expect_closed()
        rig.case("length shorter than the request", shorter)
        rig.case("truncated request header", lambda c: (c.send(frame(i16(API_METADATA) + b"\0")), c.expect_closed()))

        def garbage(c):
            data = random.Random(1234).randbytes(1 << 20)
            try:
                c.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed before all of it arrived: fine
            c.expect_closed()
        rig.case("1 MiB of random bytes", garbage)

        def garbage_frames(c):
            rng = random.Random(99)
            try:
                for _ in range(64):
                    c.send(frame(rng.randbytes(1000)))
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.expect_closed()
        rig.case("framed random bytes", garbage_frames)
        rig.finish()


def check_versions():
    with Rig() as rig:
        def api_versions_v127(c):
            body = compact_string("strata-it") + compact_string("1.0") + uvarint(0)
            c.send(frame(header_v2(API_API_VERSIONS, 127, 42) + body))
            corr, err, apis = parse_api_versions_v0(c.recv_frame())
            assert corr == 42, "correlation id %d" % corr
            assert err == UNSUPPORTED_VERSION, "error %d, expected UNSUPPORTED_VERSION (35)" % err
            assert API_API_VERSIONS in apis and apis[API_API_VERSIONS][0] == 0 and apis[API_API_VERSIONS][1] >= 3, \
                "ApiVersions range %r" % (apis.get(API_API_VERSIONS),)
            assert apis.get(API_PRODUCE, (0, -1))[1] >= 9, "Produce range %r" % (apis.get(API_PRODUCE),)
            # Listed from v0 for librdkafka's compression check (KAFKA-18659).
            assert apis[API_PRODUCE][0] == 0, "Produce range %r" % (apis.get(API_PRODUCE),)
            assert API_METADATA in apis, "no Metadata in %r" % apis
            c.api_versions(correlation_id=43)  # connection kept
        rig.case("ApiVersions v127", api_versions_v127)
        rig.case("unknown API key 9999",
                 lambda c: (c.send(frame(header_v1(9999, 0, 1))), c.expect_closed()))
        rig.case("Metadata v99",
                 lambda c: (c.send(frame(header_v2(API_METADATA, 99, 1) + uvarint(1) + b"\0\0\0")), c.expect_closed()))
        rig.case("Produce v-1",
                 lambda c: (c.send(frame(header_v1(API_PRODUCE, -1, 1) + b"\0" * 12)), c.expect_closed()))
        # Served (strata.legacy.api.versions.enable defaults to true), so a
        # body cut inside its timeout field is what closes the connection.
        # test_go_clients checks that v2 is refused with old versions off.
        rig.case("Produce v2 truncated",
                 lambda c: (c.send(frame(header_v1(API_PRODUCE, 2, 1) + b"\0\x01\0\0")), c.expect_closed()))

        def requests_after_bad_one(c):
            # A good request answered, then a bad one closes: nothing else is answered.
            c.api_versions(correlation_id=1)
            c.send(frame(header_v1(9999, 0, 2)) + api_versions_v0(3))
            c.expect_closed()
        rig.case("pipelined request after an unknown API", requests_after_bad_one)
        rig.finish()


def check_bodies():
    with Rig() as rig:
        rss_before = rig.broker.rss_kib()

        def metadata_truncated(c):
            body = i32(2) + string(TOPIC)  # says 2 topics, has 1
            c.send(frame(header_v1(API_METADATA, 1, 1) + body))
            c.expect_closed()
        rig.case("Metadata v1 truncated topics array", metadata_truncated)

        def metadata_huge_array(c):
            c.send(frame(header_v1(API_METADATA, 1, 1) + i32(0x7FFFFFFF)))
            c.expect_closed()
        rig.case("Metadata v1 with 0x7fffffff topics", metadata_huge_array)

        def metadata_huge_string(c):
            c.send(frame(header_v1(API_METADATA, 1, 1) + i32(1) + i16(0x7FFF) + b"abc"))
            c.expect_closed()
        rig.case("Metadata v1 topic name longer than the frame", metadata_huge_string)

        def produce_huge_array(c):
            body = uvarint(0) + i16(-1) + i32(1000) + uvarint(0xFFFFFFF0)
            c.send(frame(header_v2(API_PRODUCE, 9, 1) + body))
            c.expect_closed()
        rig.case("Produce v9 with 2^32 topics", produce_huge_array)

        def produce_truncated(c):
            full = produce_v9(1, TOPIC, 0, record_batch([b"BAD-truncated-%d" % k for k in range(3)]))
            payload = full[4:-30]
            c.send(frame(payload))
            c.expect_closed()
        rig.case("Produce v9 truncated inside the records", produce_truncated)

        def produce_records_past_frame(c):
            body = (uvarint(0) + i16(-1) + i32(1000) + uvarint(2) + compact_string(TOPIC) + uvarint(2) + i32(0)
                    + uvarint(1 << 30) + b"BAD-short")
            c.send(frame(header_v2(API_PRODUCE, 9, 1) + body))
            c.expect_closed()
        rig.case("Produce v9 records length past the frame", produce_records_past_frame)

        grown = rig.broker.rss_kib() - rss_before
        print("broker RSS grew %d KiB over the body cases" % grown)
        if grown > 256 * 1024:
            rig.failures.append("broker RSS grew %d MiB: absurd lengths were allocated" % (grown // 1024))
        rig.finish()


def check_produce_corrupt():
    with Rig() as rig:
        payload = b"".join(record(k, b"BAD-codec-%d" % k + b"x" * 200) for k in range(5))

        def crc(c):
            rig.accept(c, [b"control-plain-%d" % k for k in range(3)])
            rig.refuse(c, record_batch([b"BAD-crc-%d" % k for k in range(3)], bad_crc=True))
            rig.accept(c, [b"control-after-crc"])
        rig.case("record batch with a wrong CRC", crc, log_also=[TOPIC])

        for codec in ("gzip", "snappy", "lz4", "zstd"):
            good = compress(codec, payload)

            def corrupt(c, codec=codec, good=good):
                rig.accept(c, [b"control-%s-%d" % (codec.encode(), k) for k in range(3)], codec)
                # Checksums are right; the compressed bytes are not.
                vals = [b"BAD-%s-%d" % (codec.encode(), k) for k in range(5)]
                rig.refuse(c, record_batch(vals, codec, payload=good[:len(good) // 2]))
                rig.refuse(c, record_batch(vals, codec, payload=random.Random(7).randbytes(300)))
            rig.case("corrupt %s payload" % codec, corrupt, log_also=[TOPIC])

        def counts_lie(c):
            vals = [b"BAD-count-%d" % k for k in range(3)]
            rig.refuse(c, record_batch(vals, count=5), allowed=(CORRUPT_MESSAGE, INVALID_RECORD))
            rig.refuse(c, record_batch(vals, count=2), allowed=(CORRUPT_MESSAGE, INVALID_RECORD))
            rig.refuse(c, record_batch(vals, codec="zstd", count=9), allowed=(CORRUPT_MESSAGE, INVALID_RECORD))
            # Header self-consistent; the records are fewer / more than it says.
            for codec in ("none", "lz4"):
                for n in (5, 2):
                    rig.refuse(c, record_batch(vals, codec, count=n, consistent_count=True),
                               allowed=(CORRUPT_MESSAGE, INVALID_RECORD))
        rig.case("record count disagrees with the records", counts_lie, log_also=[TOPIC])

        def batch_length_lies(c):
            vals = [b"BAD-length-%d" % k for k in range(3)]
            rig.refuse(c, record_batch(vals, length_delta=40), allowed=(CORRUPT_MESSAGE, INVALID_RECORD))
            rig.refuse(c, record_batch(vals, length_delta=-7), allowed=(CORRUPT_MESSAGE, INVALID_RECORD))
        rig.case("batch length disagrees with the bytes", batch_length_lies, log_also=[TOPIC])

        def zstd_bomb(c):
            # 256 MiB of zeros as the records: a few KiB compressed; streamed,
            # so the frame does not announce its decompressed size.
            import zstandard
            z = zstandard.ZstdCompressor().compressobj()
            zeros = b"\0" * (1 << 20)
            bomb = b"".join(z.compress(zeros) for _ in range(256)) + z.flush()
            vals = [b"BAD-bomb"]
            _, _, err, _, msg = c.produce(record_batch(vals, "zstd", payload=bomb))
            print("  refused with error %d (%r)" % (err, msg))
            assert err != NONE, "a 256 MiB decompression bomb was accepted"
            c.api_versions()
        rss_before = rig.broker.rss_kib()
        rig.case("zstd decompression bomb", zstd_bomb, log_also=[TOPIC])
        grown = rig.broker.rss_kib() - rss_before
        print("broker RSS grew %d KiB over the bomb" % grown)
        if grown > 200 * 1024:
            rig.failures.append("zstd bomb: broker RSS grew %d MiB" % (grown // 1024))
        rig.finish()


if __name__ == "__main__":
    harness.run_checks(globals())
