"""The keyed-records round trip shared by the client tests.

Record i of a run is a pure function of (i, base_ts_ms) so that producer and
checker agree without storing what was sent; rdkafka_roundtrip.c and
js/roundtrip.js implement the same function. What a record carries:

  key      b"key-<i % 101>"              (same key -> same partition)
  value    None for i == 7, b"" for i == 8 (null and empty must stay distinct),
           else b"v<i>:" + 0..299 bytes of a pattern that covers all 256 byte values
  headers  ("idx", b"<i>"), ("bin", i as 4 big-endian bytes)
           + ("dup", b"a"), ("dup", b"b") when i % 10 == 0 (repeated keys, order kept)
           + ("null", None) when i % 13 == 0 (null header value)
           (dup=False / null=False leave those out, for clients that
           represent headers as a map or cannot send a null value)
  timestamp base_ts_ms + i, CreateTime
"""
import struct
import time

N_RECORDS = 20000
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
TIMESTAMP_CREATE_TIME = 1

# P[k] = 7k mod 256; value byte j of record i is (31 i + 7 j) mod 256, which is
# P[(j + 31*183*i) mod 256] because 183 is the inverse of 7 mod 256.
_PATTERN = bytes((7 * k) & 0xFF for k in range(256)) * 3


def base_timestamp_ms():
    """An hour ago, whole seconds: inside any sane timestamp window."""
    return (int(time.time()) - 3600) * 1000


def key(i):
    return b"key-%d" % (i % 101)


def value(i):
    if i == 7:
        return None
    if i == 8:
        return b""
    start = (i * 31 * 183) % 256
    return b"v%d:" % i + _PATTERN[start:start + (i * 37) % 300]


def headers(i, dup=True, null=True):
    h = [("idx", b"%d" % i), ("bin", struct.pack(">I", i))]
    if dup and i % 10 == 0:
        h += [("dup", b"a"), ("dup", b"b")]
    if null and i % 13 == 0:
        h.append(("null", None))
    return h


def timestamp(i, base_ts_ms):
    return base_ts_ms + i


def _norm_headers(hs):
    out = []
    for k, v in hs or []:
        if isinstance(k, bytes):
            k = k.decode("utf-8", "replace")
        if isinstance(v, str):
            v = v.encode()
        out.append((k, v))
    return out


class Consumed:
    """One record as read back."""
    __slots__ = ("partition", "offset", "key", "value", "headers", "timestamp", "timestamp_type")

    def __init__(self, partition, offset, key, value, headers, timestamp, timestamp_type):
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = _norm_headers(headers)
        self.timestamp = timestamp
        self.timestamp_type = timestamp_type


def verify(n, base_ts_ms, delivered, consumed, headers_of=headers, max_errors=20):
    """Raise AssertionError unless consumed is exactly records 0..n-1, once each.

    delivered: {i: (partition, offset)} from the producer's delivery reports.
    consumed: [Consumed] in the order the consumer returned them (per
    partition that is offset order).
    headers_of: i -> the headers record i was produced with.
    """
    errors = []

    def err(msg):
        errors.append(msg)

    seen = {}
    last_by_partition = {}
    partition_of_key = {}
    for c in consumed:
        idx = [v for k, v in c.headers if k == "idx"]
        if len(idx) != 1 or not idx[0] or not idx[0].isdigit():
            err("record at %d/%d has no usable idx header: %r" % (c.partition, c.offset, c.headers))
            continue
        i = int(idx[0])
        where = "record %d (partition %d offset %d)" % (i, c.partition, c.offset)
        if i in seen:
            err("%s read twice (first at %d/%d)" % ((where,) + seen[i]))
            continue
        seen[i] = (c.partition, c.offset)
        if not 0 <= i < n:
            err("%s: index out of range" % where)
            continue
        if c.key != key(i):
            err("%s: key %r, expected %r" % (where, c.key, key(i)))
        if c.value != value(i):
            err("%s: value %r..., expected %r..." % (where, (c.value or b"")[:40] if c.value is not None else None,
                                                     (value(i) or b"")[:40] if value(i) is not None else None))
        if c.headers != headers_of(i):
            err("%s: headers %r, expected %r" % (where, c.headers, headers_of(i)))
        if c.timestamp != timestamp(i, base_ts_ms):
            err("%s: timestamp %r, expected %r" % (where, c.timestamp, timestamp(i, base_ts_ms)))
        if c.timestamp_type != TIMESTAMP_CREATE_TIME:
            err("%s: timestamp type %r, expected CreateTime" % (where, c.timestamp_type))
        prev = last_by_partition.get(c.partition)
        if prev is not None:
            if c.offset <= prev[1]:
                err("%s: offset not after previous offset %d" % (where, prev[1]))
            if i <= prev[0]:
                err("%s: read after record %d on the same partition (produce order broken)" % (where, prev[0]))
        last_by_partition[c.partition] = (i, c.offset)
        k = key(i)
        if partition_of_key.setdefault(k, c.partition) != c.partition:
            err("%s: key %r also on partition %d" % (where, k, partition_of_key[k]))
        if i in delivered and delivered[i] != (c.partition, c.offset):
            err("%s: delivery report said partition %d offset %d" % ((where,) + tuple(delivered[i])))
        if len(errors) > max_errors:
            break
    missing = [i for i in range(n) if i not in seen]
    if missing:
        err("%d of %d records never read back, first: %r" % (len(missing), n, missing[:10]))
    undelivered = [i for i in range(n) if i not in delivered]
    if undelivered:
        err("%d records had no successful delivery report, first: %r" % (len(undelivered), undelivered[:10]))
    if errors:
        more = "" if len(errors) <= max_errors else "\n  ... and more"
        raise AssertionError("round trip failed (%d consumed of %d):\n  %s%s"
                             % (len(consumed), n, "\n  ".join(errors[:max_errors]), more))
