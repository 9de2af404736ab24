"""Connection limits and descriptor exhaustion, against the real broker.

check_fd_exhaustion: the broker's descriptor limit is lowered to 256
(prlimit --pid, after start) and 400 connections are opened. The broker
spends under 5% of a core over a 6 s window (utime+stime from
/proc/<pid>/stat), logs the condition at most once per second and at least
once, answers ApiVersions and Metadata on a connection opened before
throughout, and once 200 of the 400 close, every remaining one (including
those that waited in the accept queue) is answered, and so is a metrics
scrape that waited at the HTTP listener.

check_max_connections: max.connections=3: three connections are served; a
fourth is not closed but waits unanswered (Kafka's Acceptor blocks at the
limit) until one of the three closes, then it is answered.

check_listener_max_connections: the same with
listener.name.plaintext.max.connections=2 and max.connections unlimited.

check_max_connection_creation_rate: max.connection.creation.rate=4: the
20th of 20 connections opened at once is answered no sooner than about
(20 - 4) / 4 s after the first (checked with a wide margin: 2 s), none is
closed, and all are answered.

check_max_connections_per_ip_overrides: max.connections.per.ip=5 with
max.connections.per.ip.overrides=127.0.0.2:1: a second connection from
127.0.0.2 is closed right after accept (as Kafka does), 127.0.0.3 gets five.

check_bad_per_ip_overrides: max.connections.per.ip.overrides that is not
host:count (or names a host that does not resolve) stops the start with a
line naming the key.

check_non_reading_clients_hold_few_fds: 20 clients with tiny receive
buffers each pipeline 100 Fetch requests for a partition holding ~2 MiB and
never read. The broker's open descriptors (/proc/<pid>/fd) grow by at most
two per client (its socket, and slack) rather than one per queued
response; after the topic is deleted under them, by at most
ST_CONN_FILE_RESPONSES_MAX (4) more per client; once they close, the count
is back to where it was.
"""
import os
import socket
import struct
import subprocess
import time

import harness
from harness import Broker

from test_limits import API_API_VERSIONS, Conn, api_versions_ok, closed_by_broker, i16, i32, string, array

TIMEOUT_S = 180

API_FETCH, API_METADATA = 1, 3
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def metadata_ok(conn):
    """Metadata v1 for all topics answered with the one broker."""
    r = conn.call(API_METADATA, 1, i32(-1))
    brokers = r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str()))
    return len(brokers) == 1


def answered_within(conn, seconds):
    """True when an ApiVersions sent now is answered within `seconds`; False
    when nothing arrives (the connection must not be closed)."""
    conn.sock.settimeout(seconds)
    corr = conn.send(API_API_VERSIONS, 0, b"")
    try:
        head = conn.sock.recv(4, socket.MSG_PEEK)
    except socket.timeout:
        conn.pending = corr
        return False
    assert head, "the broker closed a connection it should have kept waiting"
    conn.sock.settimeout(15)
    r = conn.receive(corr)
    return r.i16() == 0


def finish_pending(conn, timeout_s=10):
    """The answer to the ApiVersions answered_within left waiting."""
    conn.sock.settimeout(timeout_s)
    r = conn.receive(conn.pending)
    return r.i16() == 0


def raw_connect(port, source="127.0.0.1", rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


# --- check_fd_exhaustion -----------------------------------------------------

FD_LIMIT = 256
CONNECTIONS = 400
WINDOW_S = 6.0
CPU_SHARE_MAX = 0.05


def check_fd_exhaustion():
    with Broker() as b:
        old = Conn(b.port)
        assert api_versions_ok(old) and metadata_ok(old)
        subprocess.run(["prlimit", "--pid", str(b.pid), "--nofile=%d:%d" % (FD_LIMIT, FD_LIMIT)], check=True)
        mark = b.log_mark()
        socks = []
        for _ in range(CONNECTIONS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", b.port))
            socks.append(s)
        time.sleep(1.0)  # the broker reaches its limit
        print("broker holds %d descriptors (limit %d)" % (open_fds(b.pid), FD_LIMIT))
        # A metrics scrape waits in the HTTP listener's queue meanwhile.
        scrape = socket.create_connection(("127.0.0.1", b.http_port), timeout=30)
        scrape.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")

        cpu0, t0 = cpu_seconds(b.pid), time.monotonic()
        round_trips = 0
        while time.monotonic() - t0 < WINDOW_S:
            assert api_versions_ok(old), "the connection opened before stopped being served"
            assert metadata_ok(old)
            round_trips += 1
            time.sleep(0.25)
        cpu1, t1 = cpu_seconds(b.pid), time.monotonic()
        share = (cpu1 - cpu0) / (t1 - t0)
        log = b.log_since(mark)
        lines = [l for l in log.splitlines() if "accept failed" in l]
        print("broker CPU %.1f%% over %.1f s; %d round trips on the old connection; %d accept-failure lines"
              % (100 * share, t1 - t0, round_trips, len(lines)))
        for l in lines[:3]:
            print("  " + l)
        assert share < CPU_SHARE_MAX, "broker used %.1f%% CPU at its descriptor limit" % (100 * share)
        assert lines, "running out of descriptors was not logged"
        assert "Too many open files" in lines[0], lines[0]
        elapsed_s = (time.monotonic() - t0) + 2.0  # since the flood began, with the settling second
        assert len(lines) <= elapsed_s + 1, "%d accept-failure lines in %.0f s" % (len(lines), elapsed_s)
        if len(lines) >= 2:
            assert "more since the last report" in lines[-1], "repeats were not counted: " + lines[-1]

        # Free half; every connection left is then served, those that
        # waited in the accept queue too.
        for s in socks[:CONNECTIONS // 2]:
            s.close()
        rest = socks[CONNECTIONS // 2:]
        frame = i32(10) + i16(API_API_VERSIONS) + i16(0) + i32(7) + string(None)
        assert len(frame) == 14
        for s in rest:
            s.setblocking(True)
            s.settimeout(20)
            s.sendall(frame)
        deadline = time.monotonic() + 30
        for s in rest:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            head = harness.recv_exact(s, 8)
            assert struct.unpack(">i", head[4:])[0] == 7, "unexpected correlation id"
            n = struct.unpack(">i", head[:4])[0]
            harness.recv_exact(s, n - 4)
        print("all %d remaining connections answered" % len(rest))
        reply = scrape.recv(4096)
        assert reply.startswith(b"HTTP/1."), "the metrics scrape was not answered: %r" % reply[:80]
        scrape.close()
        for s in rest:
            s.close()
        assert api_versions_ok(old)
        old.close()


# --- check_max_connections / check_listener_max_connections -------------------

def limit_blocks_accept(overrides, limit, log_phrase):
    with Broker(overrides) as b:
        # The harness's readiness probe may not have been reaped yet.
        time.sleep(0.3)
        served = [Conn(b.port) for _ in range(limit)]
        for c in served:
            assert api_versions_ok(c)
        waiting = Conn(b.port)
        assert not answered_within(waiting, 1.5), "a connection beyond the limit was served"
        assert log_phrase in b.read_log(), b.read_log()
        served[0].close()
        assert finish_pending(waiting), "the waiting connection was not served after one closed"
        assert api_versions_ok(waiting)
        for c in served[1:] + [waiting]:
            c.close()


def check_max_connections():
    limit_blocks_accept({"max.connections": 3}, 3, "max.connections 3 reached")


def check_listener_max_connections():
    limit_blocks_accept({"listener.name.plaintext.max.connections": 2}, 2,
                        "listener.name.plaintext.max.connections 2 reached")


# --- check_max_connection_creation_rate ---------------------------------------

RATE = 4
RATE_CONNECTIONS = 20


def check_max_connection_creation_rate():
    with Broker({"max.connection.creation.rate": RATE}) as b:
        time.sleep(1.5)  # the readiness probe's token comes back
        t0 = time.monotonic()
        conns = [Conn(b.port) for _ in range(RATE_CONNECTIONS)]
        frame = i32(10) + i16(API_API_VERSIONS) + i16(0) + i32(1) + string(None)
        for c in conns:
            c.sock.sendall(frame)
        answered_at = []
        for c in conns:
            c.sock.settimeout(20)
            head = harness.recv_exact(c.sock, 8)
            harness.recv_exact(c.sock, struct.unpack(">i", head[:4])[0] - 4)
            answered_at.append(time.monotonic() - t0)
        print("answered after %s s" % ", ".join("%.2f" % t for t in answered_at))
        expected = (RATE_CONNECTIONS - RATE) / RATE
        assert answered_at[-1] >= 2.0, "20 connections at %d/s all answered within %.2f s (expected ~%.0f s)" % (
            RATE, answered_at[-1], expected)
        assert answered_at[RATE - 2] < 2.0, "the first connections were throttled too"
        assert "max.connection.creation.rate" in b.read_log()
        for c in conns:
            c.close()


# --- check_max_connections_per_ip_overrides -----------------------------------

def check_max_connections_per_ip_overrides():
    with Broker({"max.connections.per.ip": 5, "max.connections.per.ip.overrides": "127.0.0.2:1"}) as b:
        first = Conn(b.port, "127.0.0.2")
        assert api_versions_ok(first)
        mark = b.log_mark()
        second = Conn(b.port, "127.0.0.2")
        assert closed_by_broker(second), "a second connection from 127.0.0.2 was served"
        second.close()
        assert "max.connections.per.ip 1 reached for 127.0.0.2" in b.log_since(mark), b.log_since(mark)
        others = [Conn(b.port, "127.0.0.3") for _ in range(5)]
        for c in others:
            assert api_versions_ok(c)
        sixth = Conn(b.port, "127.0.0.3")
        assert closed_by_broker(sixth), "a sixth connection from 127.0.0.3 was served"
        for c in others + [first, sixth]:
            c.close()


def check_bad_per_ip_overrides():
    for bad in ("127.0.0.2", "127.0.0.2:many", "no-such-host.invalid:3"):
        b = Broker({"max.connections.per.ip.overrides": bad})
        try:
            try:
                b.start()
            except RuntimeError:
                pass
            else:
                raise AssertionError("started with max.connections.per.ip.overrides=%s" % bad)
            assert "max.connections.per.ip.overrides" in b.read_log(), b.read_log()
        finally:
            b.close()


# --- check_non_reading_clients_hold_few_fds -----------------------------------

TOPIC = "fds"
READERS = 20
FETCHES_EACH = 100
FILE_RESPONSES_MAX = 4  # ST_CONN_FILE_RESPONSES_MAX in net/net.h


def fetch_v4(corr, topic, max_bytes=1 << 20):
    body = (i32(-1) + i32(0) + i32(1) + i32(max_bytes) + struct.pack(">b", 0)
            + array([string(topic) + array([i32(0) + struct.pack(">q", 0) + i32(max_bytes)])]))
    payload = i16(API_FETCH) + i16(4) + i32(corr) + string("strata-it-fds") + body
    return i32(len(payload)) + payload


def check_non_reading_clients_hold_few_fds():
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    # Small segments so the data spans several files.
    with Broker({"log.segment.bytes": 1 << 20, "log.segment.delete.delay.ms": 0}) as b:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        for f in admin.create_topics([NewTopic(TOPIC, 1, 1)]).values():
            f.result(15)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
        value = b"x" * 1000
        for _ in range(2200):
            p.produce(TOPIC, value)
        assert p.flush(30) == 0
        time.sleep(0.5)
        before = open_fds(b.pid)

        readers = []
        for _ in range(READERS):
            s = raw_connect(b.port, rcvbuf=4096)
            s.sendall(b"".join(fetch_v4(k + 1, TOPIC) for k in range(FETCHES_EACH)))
            readers.append(s)
        time.sleep(2.0)  # the broker answers what it can and stops reading
        during = open_fds(b.pid)
        print("descriptors: %d before, %d with %d non-reading clients x %d fetches"
              % (before, during, READERS, FETCHES_EACH))
        assert during - before <= 2 * READERS, \
            "%d non-reading clients hold %d descriptors" % (READERS, during - before)

        # Deleted under them: the files their queued responses read from stay
        # open, at most FILE_RESPONSES_MAX responses' worth per client.
        for f in admin.delete_topics([TOPIC]).values():
            f.result(15)
        time.sleep(1.0)
        deleted = open_fds(b.pid)
        print("descriptors after the topic was deleted: %d" % deleted)
        assert deleted - before <= (2 + FILE_RESPONSES_MAX) * READERS

        for s in readers:
            s.close()
        deadline = time.time() + 10
        while open_fds(b.pid) > before and time.time() < deadline:
            time.sleep(0.2)
        after = open_fds(b.pid)
        print("descriptors after the clients closed: %d" % after)
        assert after <= before, "descriptors leaked: %d before, %d after" % (before, after)


if __name__ == "__main__":
    harness.run_checks(globals())
