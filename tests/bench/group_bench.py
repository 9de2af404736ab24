#!/usr/bin/python3
"""Consumer-group benchmark: rebalance times and many groups committing.

A benchmark, not a test: it is not registered with meson's test() and never
decides pass/fail. See "Consumer groups" in docs/performance.md.

    tests/bench/group_bench.py [--rounds R] [--only rebalance|commit]
                               [--heartbeat-ms MS] [--groups N] [--no-mock]
                               [--raw FILE] [--build DIR] [--server BINARY]

GROUP_BENCH_DEBUG in the environment sets the consumers' librdkafka debug
contexts (e.g. cgrp), logged to stderr.

1. Rebalance, 10 members / 100 partitions (confluent_kafka consumers, one
   thread each, in this process; eager "range,roundrobin" assignment, the
   librdkafka default; session.timeout.ms 10000, heartbeat.interval.ms
   --heartbeat-ms, default 3000 as in librdkafka). Strata runs with
   group.initial.rebalance.delay.ms=0. A round, on a fresh broker:
     join   10 consumers subscribe at once; from the first subscribe() until
            the members' assignments are disjoint and cover all 100
            partitions and every member has one;
     grow   an 11th consumer subscribes; from its subscribe() until the same
            holds for all 11, each having been assigned again after the
            subscribe (eager: every member is revoked and reassigned);
     leave  the 11th closes (close(): revoke, LeaveGroup); from the close()
            call until the 10 survivors, each reassigned after it, hold all
            100 partitions.
   Each time ends at the on_assign callback that completes the assignment.
   For Strata, broker_ms is the time to the last "generation N with M
   member(s)" line in the broker log (millisecond wall clock), i.e. when
   the coordinator answered the JoinGroups; the rest is the clients'
   SyncGroup and callback.

2. Commits from many groups (raw Kafka protocol over a few connections,
   pipelined): OffsetCommit v2, simple commits (generation -1, empty member
   id), one partition each, for N distinct group ids (default 10,000);
   then a second pass committing again to every group. Each pass is timed
   from the first byte sent to the last response read; every response is
   checked for error 0. Broker RSS (VmRSS) is read before the first pass
   (after __consumer_offsets exists), after the first pass and after the
   second; a sample of groups is read back with OffsetFetch v1 after each
   pass and must hold the offsets just committed. Broker and client CPU
   seconds are recorded per pass, to tell which side is the bottleneck.

Every round uses a fresh broker; Strata and librdkafka's mock cluster
(tests/bench/mock_cluster) alternate which goes first. The tables hold
medians over rounds. Every child is started here, stopped by its PID and
bounded by a timeout; the broker binary is copied first (as run_bench.py).
"""
import argparse
import calendar
import hashlib
import os
import random
import re
import resource
import selectors
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench  # noqa: E402  (same directory: broker control shared with it)
from run_bench import Mock, Strata, log  # noqa: E402

try:
    from confluent_kafka import Consumer
except ImportError:  # only the rebalance part needs it
    Consumer = None

ROOT = run_bench.ROOT

PARTITIONS = 100
MEMBERS = 10
SESSION_TIMEOUT_MS = 10000
PHASE_TIMEOUT_S = 60         # one join/grow/leave phase until assignments settle
QUIESCE_S = 1.0              # pause between phases once a group is stable, plus
                             # a random part of one heartbeat interval (below)
POLL_S = 0.02                # consumer poll() slice in each member thread
SETTLE_CHECK_S = 0.002       # how often the main thread checks assignments
CLOSE_TIMEOUT_S = 20         # joining a member thread after close()
TOPIC_TIMEOUT_S = 60         # bench topic (topic creation)

COMMIT_GROUPS = 10000
COMMIT_CONNECTIONS = 4
COMMIT_WINDOW = 64           # requests in flight per connection (Strata reads
                             # at most 100: strata.max.inflight...)
COMMIT_PASS_TIMEOUT_S = 120
OFFSETS_PARTITIONS = 50      # offsets.topic.num.partitions, Strata's default
VERIFY_SAMPLE = 500
RSS_SETTLE_S = 0.5
SOCKET_TIMEOUT_S = 10

API_OFFSET_COMMIT = 8
API_OFFSET_FETCH = 9
API_FIND_COORDINATOR = 10
CLIENT_ID = b"group-bench"


# ---- Kafka protocol, just the three requests needed --------------------------

def kstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">h", len(b)) + b


def frame(api_key, version, correlation_id, body):
    msg = struct.pack(">hhi", api_key, version, correlation_id) + kstr(CLIENT_ID) + body
    return struct.pack(">i", len(msg)) + msg


def offset_commit_v2(correlation_id, group, topic, partition, offset):
    body = (kstr(group) + struct.pack(">i", -1) + kstr("") + struct.pack(">q", -1)
            + struct.pack(">i", 1) + kstr(topic)
            + struct.pack(">i", 1) + struct.pack(">iq", partition, offset) + kstr(""))
    return frame(API_OFFSET_COMMIT, 2, correlation_id, body)


def offset_fetch_v1(correlation_id, group, topic, partition):
    body = kstr(group) + struct.pack(">i", 1) + kstr(topic) + struct.pack(">ii", 1, partition)
    return frame(API_OFFSET_FETCH, 1, correlation_id, body)


def find_coordinator_v0(correlation_id, group):
    return frame(API_FIND_COORDINATOR, 0, correlation_id, kstr(group))


class Reader:
    """Cursor over one response body; raises ValueError when short."""

    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError("short response")
        v = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        if self.pos + n > len(self.data):
            raise ValueError("short string")
        s = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return s.decode("utf-8", "replace")


def commit_errors(body):
    """OffsetCommit v2 response (after the correlation id): the error codes."""
    r = Reader(body)
    errors = []
    for _ in range(r.take(">i")):
        r.string()
        for _ in range(r.take(">i")):
            _, err = r.take(">ih")
            errors.append(err)
    return errors


def fetched_offset(body):
    """OffsetFetch v1 response: (offset, error) of the one partition asked."""
    r = Reader(body)
    for _ in range(r.take(">i")):
        r.string()
        for _ in range(r.take(">i")):
            _, offset = r.take(">iq")
            r.string()
            return offset, r.take(">h")
    raise ValueError("no partition in OffsetFetch response")


def connect(bootstrap):
    host, port = bootstrap.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def call(sock, request):
    """Sends one request and returns its response body (after the
    correlation id)."""
    sock.sendall(request)
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("broker closed the connection")
        buf += chunk
    return buf[8:4 + struct.unpack_from(">i", buf)[0]]


def pipelined(bootstrap, requests, connections, window, timeout_s):
    """Sends requests (correlation id i is requests[i]) spread round-robin
    over `connections` sockets, at most `window` unanswered per socket.
    Returns (seconds from first send to last response, {id: body})."""
    socks = [connect(bootstrap) for _ in range(connections)]
    sel = selectors.DefaultSelector()
    state = []
    for k, s in enumerate(socks):
        s.setblocking(False)
        queue = list(range(k, len(requests), connections))
        st = {"sock": s, "queue": queue, "next": 0, "inflight": 0, "out": bytearray(),
              "in": bytearray()}
        state.append(st)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    bodies = {}
    total = len(requests)
    t0 = time.monotonic()
    deadline = t0 + timeout_s
    try:
        while len(bodies) < total:
            if time.monotonic() > deadline:
                raise RuntimeError("pipelined: %d of %d responses after %.0f s"
                                   % (len(bodies), total, timeout_s))
            for key, mask in sel.select(timeout=1.0):
                st = key.data
                s = st["sock"]
                if mask & selectors.EVENT_WRITE:
                    while st["inflight"] < window and st["next"] < len(st["queue"]):
                        st["out"] += requests[st["queue"][st["next"]]]
                        st["next"] += 1
                        st["inflight"] += 1
                    if st["out"]:
                        try:
                            n = s.send(st["out"])
                            del st["out"][:n]
                        except BlockingIOError:
                            pass
                if mask & selectors.EVENT_READ:
                    try:
                        chunk = s.recv(1 << 20)
                    except BlockingIOError:
                        chunk = None
                    if chunk == b"":
                        raise RuntimeError("broker closed a connection")
                    if chunk:
                        buf = st["in"]
                        buf += chunk
                        pos = 0
                        while len(buf) - pos >= 4:
                            size = struct.unpack_from(">i", buf, pos)[0]
                            if len(buf) - pos - 4 < size:
                                break
                            cid = struct.unpack_from(">i", buf, pos + 4)[0]
                            bodies[cid] = bytes(buf[pos + 8:pos + 4 + size])
                            pos += 4 + size
                            st["inflight"] -= 1
                        del buf[:pos]
                want = selectors.EVENT_READ
                if st["out"] or (st["inflight"] < window and st["next"] < len(st["queue"])):
                    want |= selectors.EVENT_WRITE
                sel.modify(s, want, st)
        return time.monotonic() - t0, bodies
    finally:
        sel.close()
        for s in socks:
            s.close()


# ---- process measurements ------------------------------------------------------

def rss_kib(pid, field="VmRSS"):
    """VmRSS (or RssAnon, RssFile) of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for pid %d" % (field, pid))


def cpu_s(pid):
    """utime + stime of a process (all threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# ---- brokers -------------------------------------------------------------------

def start_broker(which, args, topics):
    """A fresh broker with `topics` [(name, partitions)] existing."""
    if which == "mock":
        return Mock(args.build, topics).start()
    broker = Strata(args.server, {"group.initial.rebalance.delay.ms": 0})
    broker.start()
    bench = os.path.join(args.build, "tests", "bench", "bench")
    for name, parts in topics:
        res = subprocess.run([bench, "topic", "-b", broker.bootstrap, "-t", name,
                              "-p", str(parts), "-T", str(TOPIC_TIMEOUT_S - 5)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, timeout=TOPIC_TIMEOUT_S)
        if res.returncode != 0:
            broker.close()
            raise RuntimeError("bench topic %s failed: %s" % (
                name, res.stderr.decode("utf-8", "replace").strip()[-300:]))
    return broker


def broker_pid(broker):
    return broker.proc.pid


def warm_coordinator(bootstrap):
    """FindCoordinator once, outside any timing: on a fresh Strata it
    creates __consumer_offsets (~200 ms on the loop thread, see Findings)."""
    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + SOCKET_TIMEOUT_S
    with connect(bootstrap) as s:
        while True:
            r = Reader(call(s, find_coordinator_v0(1, "group-bench-warmup")))
            err, node, chost, cport = r.take(">h"), r.take(">i"), r.string(), r.take(">i")
            if err == 0:
                if int(cport) != int(port):
                    raise RuntimeError("coordinator is %s:%d, not %s" % (chost, cport, bootstrap))
                return
            if time.monotonic() > deadline:
                raise RuntimeError("FindCoordinator error %d" % err)
            time.sleep(0.1)


# ---- 1. rebalance ----------------------------------------------------------------

class Member(threading.Thread):
    """One consumer polling in its own thread; its on_assign/on_revoke record
    what it owns and when (time.monotonic())."""

    def __init__(self, index, bootstrap, group, topic, heartbeat_ms, on_change):
        super().__init__(name="member-%d" % index, daemon=True)
        self.index = index
        self.topic = topic
        self.on_change = on_change
        self.assigned = set()
        self.assigned_at = None
        self.assign_count = 0
        self.subscribed_at = None
        self.close_requested = threading.Event()
        self.close_started_at = None
        self.error = None
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": "group-bench-%d" % index,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": heartbeat_ms,
            "enable.auto.commit": False,
            "log_level": 7 if os.environ.get("GROUP_BENCH_DEBUG") else 3,
            **({"debug": os.environ["GROUP_BENCH_DEBUG"]}
               if os.environ.get("GROUP_BENCH_DEBUG") else {}),
        })

    def _on_assign(self, consumer, partitions):
        now = time.monotonic()
        self.assigned = {p.partition for p in partitions}
        self.assigned_at = now
        self.assign_count += 1
        self.on_change()

    def _on_revoke(self, consumer, partitions):
        self.assigned = set()
        self.on_change()

    def run(self):
        try:
            self.subscribed_at = time.monotonic()
            self.consumer.subscribe([self.topic], on_assign=self._on_assign,
                                    on_revoke=self._on_revoke)
            while not self.close_requested.is_set():
                self.consumer.poll(POLL_S)
            self.close_started_at = time.monotonic()
            self.consumer.close()
        except Exception as e:  # reported by the phase that waits on us
            self.error = e
            self.on_change()


def parse_generation_lines(log_path, group):
    """[(wall seconds, generation, members)] from Strata's log for group."""
    pat = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z\] INFO group %s: "
                     r"generation (\d+) with (\d+) member" % re.escape(group))
    out = []
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                m = pat.match(line)
                if m:
                    t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
                    out.append((t + int(m.group(2)) / 1000.0, int(m.group(3)), int(m.group(4))))
    except OSError:
        pass
    return out


class RebalanceRound:
    def __init__(self, bootstrap, group, topic, heartbeat_ms, rng):
        self.bootstrap, self.group, self.topic = bootstrap, group, topic
        self.heartbeat_ms = heartbeat_ms
        self.rng = rng
        self.changed = threading.Condition()
        self.members = []

    def _notify(self):
        with self.changed:
            self.changed.notify_all()

    def _new_member(self):
        m = Member(len(self.members), self.bootstrap, self.group, self.topic,
                   self.heartbeat_ms, self._notify)
        self.members.append(m)
        return m

    def _settled_at(self, live, since):
        """Time of the assignment that completed a disjoint cover of all
        partitions by every live member (each assigned at or after since),
        or None."""
        total, union, last = 0, set(), since
        for m in live:
            if m.error:
                raise RuntimeError("member %d: %s" % (m.index, m.error))
            owned, at = m.assigned, m.assigned_at
            if not owned or at is None or at < since:
                return None
            total += len(owned)
            union |= owned
            last = max(last, at)
        if total == PARTITIONS and len(union) == PARTITIONS:
            return last
        return None

    def _wait_settled(self, live, since):
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        with self.changed:
            while True:
                at = self._settled_at(live, since)
                if at is not None:
                    return at
                if time.monotonic() > deadline:
                    owned = sorted(len(m.assigned) for m in live)
                    raise RuntimeError("assignments not settled after %d s (sizes %s)"
                                       % (PHASE_TIMEOUT_S, owned))
                self.changed.wait(SETTLE_CHECK_S * 10)

    def run(self, log_path):
        """Returns {phase: {"ms":..., "assigns":..., "broker_ms":...}}."""
        out = {}
        wall_offset = time.time() - time.monotonic()
        try:
            first = [self._new_member() for _ in range(MEMBERS)]
            counts0 = {m.index: 0 for m in first}
            for m in first:
                m.start()
            while any(m.subscribed_at is None and m.error is None for m in first):
                time.sleep(0.001)
            t0 = min(m.subscribed_at for m in first if m.subscribed_at is not None)
            done = self._wait_settled(first, t0)
            out["join"] = self._phase(first, t0, done, counts0, log_path, wall_offset, MEMBERS)
            self._quiesce()

            counts = {m.index: m.assign_count for m in first}
            extra = self._new_member()
            extra.start()
            while extra.subscribed_at is None and extra.error is None:
                time.sleep(0.001)
            live = first + [extra]
            t0 = extra.subscribed_at or time.monotonic()
            counts[extra.index] = 0
            done = self._wait_settled(live, t0)
            out["grow"] = self._phase(live, t0, done, counts, log_path, wall_offset, MEMBERS + 1)
            self._quiesce()

            counts = {m.index: m.assign_count for m in first}
            extra.close_requested.set()
            while extra.close_started_at is None and extra.is_alive():
                time.sleep(0.001)
            t0 = extra.close_started_at or time.monotonic()
            done = self._wait_settled(first, t0)
            out["leave"] = self._phase(first, t0, done, counts, log_path, wall_offset, MEMBERS)
            return out
        finally:
            for m in self.members:
                m.close_requested.set()
            for m in self.members:
                m.join(CLOSE_TIMEOUT_S)
                if m.is_alive():
                    log("  member %d did not close within %d s" % (m.index, CLOSE_TIMEOUT_S))

    def _quiesce(self):
        """Members learn of a rebalance from their next heartbeat, and their
        heartbeats run in step (all restart after the same SyncGroup): a
        fixed pause would always hit the same phase of the heartbeat cycle
        (with 1.0 s and 3,000 ms heartbeats every grow and leave took 2.0 s).
        A uniformly random extra part of an interval samples all phases."""
        time.sleep(QUIESCE_S + self.rng.uniform(0, self.heartbeat_ms / 1000.0))

    def _phase(self, live, t0, done, counts, log_path, wall_offset, expect_members):
        res = {"ms": (done - t0) * 1000.0,
               "assigns": max(m.assign_count - counts.get(m.index, 0) for m in live)}
        if log_path:
            t0_wall, done_wall = t0 + wall_offset, done + wall_offset
            gens = [g for g in parse_generation_lines(log_path, self.group)
                    if t0_wall - 0.001 <= g[0] <= done_wall + 0.001 and g[2] == expect_members]
            if gens:
                res["broker_ms"] = max(0.0, (gens[-1][0] - t0_wall) * 1000.0)
        return res


def rebalance_once(which, args, seq, rng):
    topic = "group-bench-%d-%d" % (os.getpid(), seq)
    group = "group-bench-%d-%d" % (os.getpid(), seq)
    broker = None
    try:
        broker = start_broker(which, args, [(topic, PARTITIONS)])
        warm_coordinator(broker.bootstrap)
        log_path = (os.path.join(broker.data_dir, "server.log") if which == "strata" else None)
        return RebalanceRound(broker.bootstrap, group, topic, args.heartbeat_ms,
                              rng).run(log_path)
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
        log("  %s: %s" % (which, e))
        if broker is not None and broker.tail_log():
            log("  broker log tail:\n" + broker.tail_log())
        return None
    finally:
        if broker is not None:
            broker.close()


# ---- 2. many groups committing ----------------------------------------------------

def offsets_partition_for(group, partitions):
    """Kafka's partition of __consumer_offsets for a group: Java's
    String.hashCode (ASCII ids here) through Utils.abs, modulo the count."""
    h = 0
    for ch in group:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    return (0 if h == -(1 << 31) else abs(h)) % partitions


class CommitRound:
    def __init__(self, bootstrap, pid, groups, topic, connections, window):
        self.bootstrap, self.pid = bootstrap, pid
        self.groups = ["gb-%06d" % i for i in range(groups)]
        self.topic = topic
        self.connections, self.window = connections, window

    def warm_up(self):
        """One commit to one group in each __consumer_offsets partition.
        The first append to a partition of a fresh Strata writes its
        leader-epoch checkpoint (create, fsync, rename, fsync the directory)
        and faults in the first pages of its mmapped index files: ~2.5 ms
        per partition, a cost per partition and not per group, so it is
        timed here on its own. Returns its milliseconds."""
        want, groups, i = OFFSETS_PARTITIONS, {}, 0
        while len(groups) < want:
            g = "gb-warm-%d" % i
            groups.setdefault(offsets_partition_for(g, want), g)
            i += 1
        _, elapsed, _, _ = self.commit_pass(sorted(groups.values()), 0)
        return elapsed * 1000.0

    def commit_pass(self, groups, offset_base):
        """One OffsetCommit per group (offset offset_base + index); returns
        (commits/s, seconds, broker CPU s, client CPU s). Raises if any
        commit failed."""
        reqs = [offset_commit_v2(i, g, self.topic, 0, offset_base + i)
                for i, g in enumerate(groups)]
        b0, c0 = cpu_s(self.pid), self_cpu_s()
        elapsed, bodies = pipelined(self.bootstrap, reqs, self.connections, self.window,
                                    COMMIT_PASS_TIMEOUT_S)
        b1, c1 = cpu_s(self.pid), self_cpu_s()
        bad = {}
        for cid in range(len(reqs)):
            errs = commit_errors(bodies[cid])
            if len(errs) != 1 or errs[0] != 0:
                bad[cid] = errs
        if bad:
            cid = min(bad)
            raise RuntimeError("%d of %d commits failed (e.g. %s: errors %s)"
                               % (len(bad), len(reqs), groups[cid], bad[cid]))
        return len(reqs) / elapsed, elapsed, b1 - b0, c1 - c0

    def verify(self, offset_base, rng):
        """OffsetFetch a sample (first, last and random groups)."""
        idx = sorted(set([0, len(self.groups) - 1]
                         + rng.sample(range(len(self.groups)),
                                      min(VERIFY_SAMPLE, len(self.groups)))))
        # pipelined() wants correlation id k for the k-th request.
        reqs = [offset_fetch_v1(k, self.groups[i], self.topic, 0) for k, i in enumerate(idx)]
        _, bodies = pipelined(self.bootstrap, reqs, 1, self.window, COMMIT_PASS_TIMEOUT_S)
        wrong = []
        for k, i in enumerate(idx):
            offset, err = fetched_offset(bodies[k])
            if err != 0 or offset != offset_base + i:
                wrong.append((self.groups[i], offset, err))
        if wrong:
            raise RuntimeError("OffsetFetch: %d of %d sampled groups wrong, e.g. %s"
                               % (len(wrong), len(idx), wrong[:3]))
        return len(idx)

    def _rss(self, out, when):
        time.sleep(RSS_SETTLE_S)
        for field, key in (("VmRSS", "rss"), ("RssAnon", "anon"), ("RssFile", "file")):
            out["%s_%s_kib" % (key, when)] = rss_kib(self.pid, field)

    def run(self, rng):
        out = {"warmup_ms": self.warm_up()}
        self._rss(out, "before")
        for name, base in (("pass1", 1000000), ("pass2", 2000000)):
            rate, _, bcpu, ccpu = self.commit_pass(self.groups, base)
            self._rss(out, "after_" + name)
            out["%s_per_s" % name] = rate
            out["%s_broker_cpu_s" % name] = bcpu
            out["%s_client_cpu_s" % name] = ccpu
            out["%s_verified" % name] = self.verify(base, rng)
        return out


def commit_once(which, args, seq, rng):
    topic = "group-bench-commits"
    broker = None
    try:
        broker = start_broker(which, args, [(topic, 1)])
        warm_coordinator(broker.bootstrap)
        return CommitRound(broker.bootstrap, broker_pid(broker), args.groups, topic,
                           COMMIT_CONNECTIONS, COMMIT_WINDOW).run(rng)
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        log("  %s: %s" % (which, e))
        if broker is not None and broker.tail_log():
            log("  broker log tail:\n" + broker.tail_log())
        return None
    finally:
        if broker is not None:
            broker.close()


# ---- driver and tables ---------------------------------------------------------------

def alternate(args, label, fn):
    """Runs fn(which, round) for each broker, R rounds, order alternating."""
    brokers = ["strata"] + ([] if args.no_mock else ["mock"])
    results = {w: [] for w in brokers}
    for r in range(args.rounds):
        order = brokers if r % 2 == 0 else list(reversed(brokers))
        for which in order:
            log("round %d/%d  %s  %s" % (r + 1, args.rounds, label, which))
            res = fn(which, r)
            log("    %s" % res)
            if args.raw_file:
                args.raw_file.write("%s %s round=%d %r\n" % (label, which, r + 1, res))
                args.raw_file.flush()
            results[which].append(res)
    return results


def med(results, *path):
    vals = []
    for r in results:
        v = r
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if v is not None:
            vals.append(float(v))
    return (statistics.median(vals), vals) if vals else (None, [])


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_rebalance(results, args):
    print("Rebalance, %d members / %d partitions, heartbeat.interval.ms %d "
          "(medians of %d rounds; ms)\n" % (MEMBERS, PARTITIONS, args.heartbeat_ms, args.rounds))
    print("| phase | Strata ms | Strata broker_ms | mock ms | Strata runs (ms) | "
          "mock runs (ms) | on_assign per member (S/M) | ok (S/M) |")
    print("|---|---:|---:|---:|---|---|---|---|")
    names = {"join": "initial join, %d members" % MEMBERS,
             "grow": "member %d joins" % (MEMBERS + 1),
             "leave": "1 of %d leaves (close)" % (MEMBERS + 1)}
    s_res = [r for r in results.get("strata", []) if r]
    m_res = [r for r in results.get("mock", []) if r]
    for phase in ("join", "grow", "leave"):
        s, s_all = med(s_res, phase, "ms")
        b, _ = med(s_res, phase, "broker_ms")
        m, m_all = med(m_res, phase, "ms")
        sa, _ = med(s_res, phase, "assigns")
        ma, _ = med(m_res, phase, "assigns")
        print("| %s | %s | %s | %s | %s | %s | %s/%s | %d/%d |" % (
            names[phase], fmt(s, ",.0f"), fmt(b, ",.0f"), fmt(m, ",.0f"),
            ", ".join("%.0f" % v for v in s_all), ", ".join("%.0f" % v for v in m_all),
            fmt(sa, ".0f"), fmt(ma, ".0f"),
            len(s_res), len(m_res) if "mock" in results else 0))
    print()


def print_commit(results, args):
    print("%s groups committing: OffsetCommit v2, 1 partition each, %d connections x %d "
          "in flight (medians of %d rounds)\n" % ("{:,}".format(args.groups),
                                                  COMMIT_CONNECTIONS, COMMIT_WINDOW, args.rounds))
    print("| measurement | Strata | mock | Strata runs |")
    print("|---|---:|---:|---|")
    s_res = [r for r in results.get("strata", []) if r]
    m_res = [r for r in results.get("mock", []) if r]
    rows = [("commits/s, pass 1 (new groups)", "pass1_per_s", ",.0f", 1),
            ("commits/s, pass 2 (existing groups)", "pass2_per_s", ",.0f", 1),
            ("broker CPU s, pass 1", "pass1_broker_cpu_s", ".2f", 1),
            ("broker CPU s, pass 2", "pass2_broker_cpu_s", ".2f", 1),
            ("client CPU s, pass 1", "pass1_client_cpu_s", ".2f", 1),
            ("warm-up: 1st commit to each of %d offsets partitions (ms)"
             % OFFSETS_PARTITIONS, "warmup_ms", ".0f", 1)]
    for when, label in (("before", "before pass 1"), ("after_pass1", "after pass 1"),
                        ("after_pass2", "after pass 2")):
        rows.append(("VmRSS %s (MiB)" % label, "rss_%s_kib" % when, ".1f", 1024))
        rows.append(("  of which RssAnon / RssFile (MiB)", ("anon_%s_kib" % when,
                                                          "file_%s_kib" % when), ".1f", 1024))
    for label, key, spec, div in rows:
        if isinstance(key, tuple):
            cells = []
            for res in (s_res, m_res):
                a, _ = med(res, key[0])
                f, _ = med(res, key[1])
                cells.append("-" if a is None else "%s / %s" % (format(a / div, spec),
                                                                format(f / div, spec)))
            print("| %s | %s | %s |  |" % (label, cells[0], cells[1]))
            continue
        s, s_all = med(s_res, key)
        m, _ = med(m_res, key)
        print("| %s | %s | %s | %s |" % (
            label, fmt(None if s is None else s / div, spec),
            fmt(None if m is None else m / div, spec),
            ", ".join(format(v / div, spec) for v in s_all)))
    for res, name in ((s_res, "Strata"), (m_res, "mock")):
        for key, label in (("rss", "VmRSS"), ("anon", "RssAnon")):
            growth = [(r["%s_after_pass1_kib" % key] - r["%s_before_kib" % key]) * 1024
                      / args.groups for r in res]
            if growth:
                print("| %s %s growth per group, pass 1 (bytes) | %.0f |  |  |"
                      % (name, label, statistics.median(growth)))
    verified = ["%s %d/%d rounds (%d-%d sampled groups per pass)" % (
        name, sum(1 for r in res if r.get("pass1_verified") and r.get("pass2_verified")),
        args.rounds, min(r["pass2_verified"] for r in res), max(r["pass2_verified"] for r in res))
        for res, name in ((s_res, "Strata"), (m_res, "mock")) if res]
    print("\nOffsetFetch read-back after each pass matched: %s\n" % "; ".join(verified))


def cpu_model():
    return run_bench.cpu_model()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds per broker (default 5)")
    ap.add_argument("--only", choices=("rebalance", "commit"), default=None)
    ap.add_argument("--heartbeat-ms", type=int, default=3000,
                    help="consumers' heartbeat.interval.ms (default 3000, librdkafka's)")
    ap.add_argument("--groups", type=int, default=COMMIT_GROUPS)
    ap.add_argument("--seed", type=int, default=1, help="for pauses and OffsetFetch samples")
    ap.add_argument("--no-mock", action="store_true", help="Strata only")
    ap.add_argument("--raw", default=None, help="append every round's result to FILE")
    ap.add_argument("--build", default=os.environ.get("STRATA_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--server", default=None,
                    help="strata-server binary (default: BUILD/server/strata-server)")
    args = ap.parse_args()
    if args.only != "commit" and Consumer is None:
        sys.exit("confluent_kafka is missing (run with /usr/bin/python3)")
    server = args.server or os.path.join(args.build, "server", "strata-server")
    needed = [server, os.path.join(args.build, "tests", "bench", "bench")]
    if not args.no_mock:
        needed.append(os.path.join(args.build, "tests", "bench", "mock_cluster"))
    for path in needed:
        if not os.access(path, os.X_OK):
            sys.exit("missing %s: build with ninja -C %s" % (path, args.build))
    args.raw_file = open(args.raw, "a") if args.raw else None
    snapshot_dir = tempfile.mkdtemp(prefix="group-bench-bin-")
    try:
        args.server = os.path.join(snapshot_dir, "strata-server")
        shutil.copy2(server, args.server)
        with open(args.server, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        print("Machine: %d CPUs, %s; load average %s" % (
            os.cpu_count(), cpu_model(), " ".join("%.2f" % x for x in os.getloadavg())))
        print("Broker: %s (sha256 %s, built %s)" % (
            server, digest,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(args.server)))))
        if Consumer is not None:
            import confluent_kafka
            print("Client: confluent_kafka %s, librdkafka %s\n" % (
                confluent_kafka.version()[0], confluent_kafka.libversion()[0]))
        seq = [0]

        def next_seq():
            seq[0] += 1
            return seq[0]

        if args.only in (None, "rebalance"):
            rng = random.Random(args.seed)
            res = alternate(args, "rebalance",
                            lambda w, r: rebalance_once(w, args, next_seq(), rng))
            print_rebalance(res, args)
            sys.stdout.flush()
        if args.only in (None, "commit"):
            rng = random.Random(args.seed)
            res = alternate(args, "commit", lambda w, r: commit_once(w, args, next_seq(), rng))
            print_commit(res, args)
        print("Load average at the end: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    finally:
        shutil.rmtree(snapshot_dir, ignore_errors=True)
        if args.raw_file:
            args.raw_file.close()


if __name__ == "__main__":
    main()
