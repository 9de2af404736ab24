"""The classic group coordinator against real clients (nothing mocked).

check_rebalance_<client>: three consumer processes (group_member.py or
js/group_member.js) in one group on a 6-partition topic while the test
produces numbered records continuously. Each member processes one record at
a time and commits it synchronously before the next (commit-after-process),
and reports its assignment and every record it processed/committed on
stdout. Proves: (a) once stable, every partition is owned by exactly one
member and the split is balanced; (b) after one member is SIGKILLed, its
partitions move to the survivors only once its session timeout has run out
(not before, and not much later); (c) a member that joins later gets a
share; (d) at the end every produced record was processed (no loss), no
record was processed twice where the first processing had been committed,
and every duplicate is a record the killed member processed without a
commit acknowledgement. Clients: confluent-kafka with range and with
cooperative-sticky (incremental rebalancing), kafka-python, kafkajs.

check_static_membership: members with group.instance.id (KIP-345). One is
SIGKILLed and restarted with the same instance id within its session
timeout: it gets the same partitions back, the other members see no
rebalance (no callback), not even after the dead member id's session
timeout would have run out, and DescribeGroups shows the same group with
the others' member ids unchanged. Done for a follower and for the leader.

check_offsets_survive_restart: committed offsets (and their metadata) read
back by OffsetFetch after SIGTERM + restart and after SIGKILL + restart, and
a new consumer in the group starts exactly at the committed offset (offset 0
where nothing was committed).

check_consumer_offsets_decode: __consumer_offsets read with a plain consumer
from all 50 partitions and decoded by an independent decoder written here
from Kafka's JSON schemas (OffsetCommitKey v1, OffsetCommitValue v3,
GroupMetadataKey v2, GroupMetadataValue v3, ConsumerProtocol
Subscription/Assignment). Every record decodes; commits equal what was
committed; group metadata names the member DescribeGroups showed; each
group's records sit in partition Utils.abs(hashCode) % 50 (Java's UTF-16
hash; group ids include a non-ASCII one with a surrogate pair and
"polygenelubricants", whose hashCode is Integer.MIN_VALUE).

check_admin_groups: ListGroups/DescribeGroups through confluent_kafka's
AdminClient.list_groups and kafka-python's KafkaAdminClient (states,
members, protocol, assignments); DeleteGroups: NON_EMPTY_GROUP (68) for a
group with members, GROUP_ID_NOT_FOUND (69) for an unknown one, success for
an empty one, whose offsets are then gone (OffsetFetch and tombstones in
__consumer_offsets), also after a restart.

Every client process is started here and killed by PID at the end.
"""
import json
import os
import signal
import struct
import subprocess
import threading
import time

import harness
from harness import Broker

from confluent_kafka import Consumer, TopicPartition, OFFSET_INVALID

import clients

TIMEOUT_S = 420
HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")
SESSION_MS = 6000  # the broker's group.min.session.timeout.ms
HEARTBEAT_MS = 1000
MAX_POLL_MS = 15000  # also the rebalance timeout of the Java-protocol clients
FAST = {"group.initial.rebalance.delay.ms": 0}
OFFSETS_PARTITIONS = 50

NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69


# ---------------------------------------------------------------------------
# Member processes


class Member:
    """A group member process and what it reported (see group_member.py)."""

    def __init__(self, name, cfg, workdir):
        self.name = name
        self.cfg = cfg
        self.lock = threading.Lock()
        self.assignment = set()
        self.assign_changed = time.time()
        self.events = []          # (time, kind, partitions)
        self.log = []             # ("P", p, o, value) / ("C", p, o) / ("F", p, o, err), in order
        self.errors = []
        self.ready = threading.Event()
        self.bye = False
        self.lines = []           # (time, raw line), for diagnosis
        self.stderr_path = os.path.join(workdir, "%s.stderr" % name)
        self.stderr = open(self.stderr_path, "wb")
        if cfg["client"] == "kafkajs":
            cmd = ["node", os.path.join(JS, "group_member.js"), json.dumps(cfg)]
        else:
            cmd = ["/usr/bin/python3", os.path.join(HERE, "group_member.py"), json.dumps(cfg)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.killed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            parts = raw.decode("utf-8", "replace").rstrip("\n").split(" ", 3)
            kind = parts[0]
            with self.lock:
                self.lines.append((time.time(), raw.decode("utf-8", "replace").rstrip("\n")))
                if kind == "READY":
                    self.ready.set()
                elif kind == "EV":
                    got = {int(x) for x in parts[2].split(",")} if len(parts) > 2 and parts[2] else set()
                    self.events.append((time.time(), parts[1], got))
                    self.log.append(("EV", parts[1], got))
                elif kind == "A":
                    self.assignment = {int(x) for x in parts[1].split(",")} if len(parts) > 1 and parts[1] else set()
                    self.assign_changed = time.time()
                elif kind == "P":
                    self.log.append(("P", int(parts[1]), int(parts[2]), int(parts[3])))
                elif kind in ("C", "F"):
                    self.log.append((kind, int(parts[1]), int(parts[2])) + tuple(parts[3:]))
                elif kind == "ERR":
                    self.errors.append(" ".join(parts[1:]))
                elif kind == "BYE":
                    self.bye = True

    def alive(self):
        return not self.killed and self.proc.poll() is None

    def snapshot(self):
        with self.lock:
            return set(self.assignment), self.assign_changed, list(self.events)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.killed = True

    def stop(self, timeout_s=20):
        """SIGTERM (clean close), SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                print("%s did not exit on SIGTERM; SIGKILL" % self.name)
                self.proc.kill()
                self.proc.wait(5)
        self.reader.join(5)
        self.stderr.close()

    def stderr_tail(self, n=30):
        try:
            with open(self.stderr_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Members:
    """Every member process of a check; all killed by PID on exit."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.all = []

    def start(self, name, cfg, timeout_s=30):
        m = Member(name, cfg, self.workdir)
        self.all.append(m)
        if not m.ready.wait(timeout_s):
            raise AssertionError("%s not ready in %ds:\n%s" % (name, timeout_s, m.stderr_tail()))
        return m

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        for m in self.all:
            if m.proc.poll() is None:
                m.proc.kill()
                m.proc.wait(5)
            if not m.stderr.closed:
                m.stderr.close()
        if exc_type is not None:
            for m in self.all:
                print("--- %s stderr (tail) ---\n%s" % (m.name, m.stderr_tail(15)))


def member_cfg(client, bootstrap, topic, group, client_id, **extra):
    cfg = {"client": client, "bootstrap": bootstrap, "topic": topic, "group": group, "client_id": client_id,
           "session_timeout_ms": SESSION_MS, "heartbeat_ms": HEARTBEAT_MS, "max_poll_interval_ms": MAX_POLL_MS}
    cfg.update(extra)
    return cfg


def wait_split(members, partitions, timeout_s, hold_s=1.5, what=""):
    """Wait until the live members' reported assignments split range(partitions)
    exactly (disjoint, complete, each member non-empty, sizes within 1) and
    stay so for hold_s. Returns (time the split was first seen, {name: set})."""
    deadline = time.time() + timeout_s
    since = None
    while time.time() < deadline:
        snaps = {m.name: m.snapshot()[0] for m in members}
        sets = list(snaps.values())
        union = set().union(*sets)
        ok = (sum(len(s) for s in sets) == partitions and union == set(range(partitions)) and
              all(sets) and max(map(len, sets)) - min(map(len, sets)) <= 1)
        if ok:
            since = since or (time.time(), snaps)
            if since[1] != snaps:
                since = (time.time(), snaps)
            elif time.time() - since[0] >= hold_s:
                return since
        else:
            since = None
        for m in members:
            assert m.alive(), "%s exited (%s):\n%s" % (m.name, m.proc.returncode, m.stderr_tail())
        time.sleep(0.05)
    raise AssertionError("%s: no exact split of %d partitions within %ds; last %r"
                         % (what, partitions, timeout_s, {m.name: sorted(m.snapshot()[0]) for m in members}))


class NumberedProducer:
    """Produces value str(i) to partition i % partitions, rate_per_s records a
    second, from a thread; remembers where each record was acknowledged."""

    def __init__(self, bootstrap, topic, partitions, rate_per_s):
        self.p = clients.producer(bootstrap, linger_ms=2)
        self.topic, self.partitions, self.rate = topic, partitions, rate_per_s
        self.delivered = {}   # (partition, offset) -> i
        self.failed = {}
        self.sent = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _cb(self, i):
        def cb(err, msg):
            if err is not None:
                self.failed[i] = err
            else:
                self.delivered[(msg.partition(), msg.offset())] = i
        return cb

    def _run(self):
        t0 = time.time()
        while not self.stop_flag.is_set():
            due = int((time.time() - t0) * self.rate) + 1
            while self.sent < due:
                i = self.sent
                self.p.produce(self.topic, value=str(i).encode(), partition=i % self.partitions, on_delivery=self._cb(i))
                self.sent += 1
            self.p.poll(0.01)
        self.left = self.p.flush(30)

    def finish(self):
        self.stop_flag.set()
        self.thread.join(60)
        assert self.left == 0, "%d records not acknowledged" % self.left
        assert not self.failed, "deliveries failed: %r" % list(self.failed.items())[:5]
        assert len(self.delivered) == self.sent


def dump_around(members, records):
    """Prints each member's lines near the first of records (diagnosis)."""
    p, o = sorted(records)[0]
    for m in members:
        with m.lock:
            lines = list(m.lines)
        hits = [k for k, (_, line) in enumerate(lines) if line.startswith(("P %d %d " % (p, o), "EV"))]
        if not any(lines[k][1].startswith("P") for k in hits):
            continue
        print("--- %s around %d/%d ---" % (m.name, p, o))
        shown = set()
        for k in hits:
            for j in range(max(0, k - 6), min(len(lines), k + 7)):
                if j not in shown:
                    shown.add(j)
                    print("%.3f %s" % lines[j])


def account(members, killed, delivered, cooperative):
    """Checks no loss and bounded duplicates; returns a summary string.

    A member's processing of (p, o) is covered when the member reports a
    successful commit beyond it in p before p's position can be reset by a
    rebalance (eager protocols: any rebalance event; cooperative: a revoke or
    loss of p). A covered record cannot be handed out again, so: every record
    is processed at least once, at most once covered, and each extra
    processing of a duplicate is an uncovered one. Uncovered processings are
    allowed for the killed member (the record in hand) and, with the
    cooperative protocol only, for a survivor whose commit the coordinator
    refused during a rebalance: librdkafka keeps consuming and committing
    while it rejoins, so a commit can carry the generation just replaced
    (ILLEGAL_GENERATION, as Kafka answers) and the partitions are then treated
    as lost and re-read from the last commit."""
    processings = {}      # (p, o) -> [(member, covered)]
    uncovered = {}        # member -> [(p, o, refused-commit error or None)]
    fails = {}
    for m in members:
        with m.lock:
            log = list(m.log)
        open_ = {}        # p -> [[o, value, refusal]]

        def cover(p, upto):
            keep = []
            for o, v, refused in open_.pop(p, []):
                if o <= upto:
                    processings.setdefault((p, o), []).append((m.name, True))
                else:
                    keep.append([o, v, refused])
            if keep:
                open_[p] = keep

        def end_span(p):
            for o, v, refused in open_.pop(p, []):
                processings.setdefault((p, o), []).append((m.name, False))
                uncovered.setdefault(m.name, []).append((p, o, refused))

        for e in log:
            if e[0] == "P":
                _, p, o, v = e
                want = delivered.get((p, o))
                assert want == v, "%s processed value %r at %d/%d, produced there: %r" % (m.name, v, p, o, want)
                open_.setdefault(p, []).append([o, v, None])
            elif e[0] == "C":
                cover(e[1], e[2])
            elif e[0] == "F":
                fails.setdefault(m.name, []).append(e)
                for rec in open_.get(e[1], []):
                    if rec[0] <= e[2]:
                        rec[2] = e[3] if len(e) > 3 else "?"
            elif e[0] == "EV":
                broken = e[2] if cooperative and e[1] in ("revoke", "lost") else (set() if cooperative else set(open_))
                for p in list(broken):
                    end_span(p)
        for p in list(open_):
            end_span(p)

    lost = sorted(set(delivered) - set(processings))
    assert not lost, "%d produced records never processed, e.g. %r" % (len(lost), lost[:10])
    twice_covered = {k: v for k, v in processings.items() if sum(c for _, c in v) > 1}
    if twice_covered:
        dump_around(members, twice_covered)
    assert not twice_covered, "records processed and committed more than once: %r" % list(twice_covered.items())[:5]
    dups = {k: v for k, v in processings.items() if len(v) > 1}
    unexplained = {k: v for k, v in dups.items() if sum(1 for _, c in v if not c) < len(v) - 1}
    assert not unexplained, "duplicates beyond uncommitted processings: %r" % list(unexplained.items())[:5]
    for m in killed:
        n = len(uncovered.get(m.name, []))
        # The record in hand, plus any whose commit was refused.
        assert n <= 1 + len(fails.get(m.name, [])), "%s left %d uncommitted records" % (m.name, n)
    refusals = ("ILLEGAL_GENERATION", "REBALANCE_IN_PROGRESS")
    for m in members:
        if m in killed or not uncovered.get(m.name):
            continue
        bad = [u for u in uncovered[m.name] if not cooperative or not u[2] or not any(r in u[2] for r in refusals)]
        if bad:
            dump_around(members, {(p, o) for p, o, _ in bad})
        assert not bad, "survivor %s processed without a commit before losing the partition: %r (failed commits %r)" \
            % (m.name, bad[:5], fails.get(m.name))
    return "%d produced, %d processings, %d duplicates %r, uncommitted processings %r, failed commits %r" % (
        len(delivered), sum(len(v) for v in processings.values()), len(dups), sorted(dups), uncovered, fails)


def committed_offsets(bootstrap, group, topic, partitions):
    """OffsetFetch through a consumer that does not join the group."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        res = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=15)
        for tp in res:
            assert tp.error is None, "committed(): %s" % tp.error
        return {tp.partition: tp.offset for tp in res}
    finally:
        c.close()


def rebalance_scenario(client, strategy=None, rate_per_s=100):
    """Check (1) for one client; see the module docstring."""
    partitions = 6
    topic, group = "rb", "rb-%s" % (strategy or client)
    extra = {"strategy": strategy} if strategy else {}
    workdir = os.environ.get("TMPDIR", "/tmp")
    with Broker(FAST) as b, Members(workdir) as ms:
        clients.create_topic(b.bootstrap, topic, partitions)
        prod = NumberedProducer(b.bootstrap, topic, partitions, rate_per_s)
        try:
            m = [ms.start("m%d" % k, member_cfg(client, b.bootstrap, topic, group, "m%d" % k, **extra))
                 for k in range(3)]
            t, split = wait_split(m, partitions, 60, what="three members")
            print("stable with 3 members: %r" % {k: sorted(v) for k, v in split.items()})

            victim = m[1]
            victim_parts = set(split[victim.name])
            t_kill = time.time()
            victim.kill9()
            survivors = [m[0], m[2]]
            t_moved, split2 = wait_split(survivors, partitions, 40, hold_s=1.0, what="after SIGKILL")
            moved_s = t_moved - t_kill
            print("after SIGKILL of %s (owned %r): %r, %.1fs after the kill" %
                  (victim.name, sorted(victim_parts), {k: sorted(v) for k, v in split2.items()}, moved_s))
            # Kafka expires a member session_timeout after its last heartbeat,
            # which was at most one heartbeat interval before the kill.
            floor_s = (SESSION_MS - HEARTBEAT_MS) / 1000.0 - 0.5
            assert moved_s >= floor_s, "partitions moved %.1fs after the kill, before the session timeout" % moved_s
            assert moved_s <= SESSION_MS / 1000.0 + 15, "partitions moved only %.1fs after the kill" % moved_s
            assert victim_parts <= set().union(*split2.values())

            newcomer = ms.start("m3", member_cfg(client, b.bootstrap, topic, group, "m3", **extra))
            _, split3 = wait_split(survivors + [newcomer], partitions, 60, what="after a new member joined")
            print("after m3 joined: %r" % {k: sorted(v) for k, v in split3.items()})
            time.sleep(1.0)  # keep producing into the new split
        finally:
            prod.finish()
        print("produced %d records" % prod.sent)

        live = survivors + [newcomer]
        highs = {}
        for (p, o) in prod.delivered:
            highs[p] = max(highs.get(p, 0), o + 1)
        # Drained: every record processed by someone and the group's committed
        # offsets at the end of every partition.
        deadline = time.time() + 60
        while True:
            seen = set()
            for x in m + [newcomer]:
                with x.lock:
                    seen.update((e[1], e[2]) for e in x.log if e[0] == "P")
            missing = set(prod.delivered) - seen
            got = committed_offsets(b.bootstrap, group, topic, partitions) if not missing else None
            if got == highs:
                break
            if time.time() > deadline:
                for x in m + [newcomer]:
                    print("%s assignment %r, events %r" % (x.name, sorted(x.snapshot()[0]), x.snapshot()[2][-6:]))
                    for p, o in sorted(missing)[:5]:
                        print("  near %d/%d: %r" % (p, o, [e for e in x.log if e[1] == p and abs(e[2] - o) <= 2]))
                raise AssertionError("not drained: %d records never processed, e.g. %r; committed %r, ends %r"
                                     % (len(missing), sorted(missing)[:10], got, highs))
            for x in live:
                assert x.alive(), "%s exited:\n%s" % (x.name, x.stderr_tail())
            time.sleep(0.2)
        for x in live:
            x.stop()
            assert x.bye, "%s did not close cleanly:\n%s" % (x.name, x.stderr_tail())
        errors = {x.name: x.errors for x in m + [newcomer] if x.errors}
        print("consumer errors: %r" % errors)
        print(account(m + [newcomer], [victim], prod.delivered, strategy == "cooperative-sticky"))

        got = committed_offsets(b.bootstrap, group, topic, partitions)
        assert got == highs, "after close: committed %r, ends %r" % (got, highs)


def check_rebalance_confluent():
    rebalance_scenario("confluent", "range")


def check_rebalance_confluent_cooperative():
    rebalance_scenario("confluent", "cooperative-sticky")


def check_rebalance_kafka_python():
    rebalance_scenario("kafka-python", rate_per_s=50)


def check_rebalance_kafkajs():
    import test_kafkajs
    test_kafkajs.npm_ci()
    rebalance_scenario("kafkajs")



# ---------------------------------------------------------------------------
# An independent decoder for __consumer_offsets, written from Kafka's JSON
# schemas (group-coordinator/.../common/message/*.json and, for the
# subscription and assignment bytes, clients/.../ConsumerProtocol*.json).
# Non-flexible versions only: int16/int32/int64 big-endian, string = int16
# length (-1: null), bytes = int32 length (-1: null), array = int32 count.


class Cursor:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("short read: %d bytes at %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int16(self):
        return struct.unpack(">h", self.take(2))[0]

    def int32(self):
        return struct.unpack(">i", self.take(4))[0]

    def int64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self, nullable=False):
        n = self.int16()
        if n == -1 and nullable:
            return None
        return self.take(n).decode("utf-8")

    def bytes_(self, nullable=False):
        n = self.int32()
        if n == -1 and nullable:
            return None
        return self.take(n)

    def array(self, item):
        n = self.int32()
        if n < 0 or n > len(self.data) - self.pos:
            raise ValueError("array count %d at %d" % (n, self.pos))
        return [item() for _ in range(n)]

    def done(self):
        if self.pos != len(self.data):
            raise ValueError("%d trailing bytes" % (len(self.data) - self.pos))


def decode_key(data):
    """("offset", version, group, topic, partition) or ("group", version, group)."""
    c = Cursor(data)
    v = c.int16()
    if v in (0, 1):  # OffsetCommitKey
        k = ("offset", v, c.string(), c.string(), c.int32())
    elif v == 2:  # GroupMetadataKey
        k = ("group", v, c.string())
    else:
        raise ValueError("unknown key version %d" % v)
    c.done()
    return k


def decode_offset_value(data):
    """OffsetCommitValue v0-v3 as a dict (None for a tombstone)."""
    if data is None:
        return None
    c = Cursor(data)
    v = c.int16()
    if not 0 <= v <= 3:
        raise ValueError("OffsetCommitValue version %d" % v)
    r = {"version": v, "offset": c.int64()}
    r["leaderEpoch"] = c.int32() if v >= 3 else -1
    r["metadata"] = c.string()
    r["commitTimestamp"] = c.int64()
    if v == 1:
        r["expireTimestamp"] = c.int64()
    c.done()
    return r


def decode_group_value(data):
    """GroupMetadataValue v0-v3 as a dict (None for a tombstone)."""
    if data is None:
        return None
    c = Cursor(data)
    v = c.int16()
    if not 0 <= v <= 3:
        raise ValueError("GroupMetadataValue version %d" % v)
    r = {"version": v, "protocolType": c.string(), "generation": c.int32(),
         "protocol": c.string(nullable=True), "leader": c.string(nullable=True)}
    r["currentStateTimestamp"] = c.int64() if v >= 2 else -1

    def member():
        m = {"memberId": c.string()}
        m["groupInstanceId"] = c.string(nullable=True) if v >= 3 else None
        m["clientId"] = c.string()
        m["clientHost"] = c.string()
        m["rebalanceTimeout"] = c.int32() if v >= 1 else -1
        m["sessionTimeout"] = c.int32()
        m["subscription"] = c.bytes_()
        m["assignment"] = c.bytes_()
        return m
    r["members"] = c.array(member)
    c.done()
    return r


def decode_subscription(data):
    """ConsumerProtocolSubscription v0-v3: (topics, owned {topic: [p]})."""
    c = Cursor(data)
    v = c.int16()
    topics = c.array(c.string)
    c.bytes_(nullable=True)  # UserData
    owned = {}
    if v >= 1:
        for t, ps in c.array(lambda: (c.string(), c.array(c.int32))):
            owned[t] = ps
    if v >= 2:
        c.int32()  # GenerationId
    if v >= 3:
        c.string(nullable=True)  # RackId
    if v <= 3:  # newer versions only append fields
        c.done()
    return topics, owned


def decode_assignment(data):
    """ConsumerProtocolAssignment: {topic: [partitions]}."""
    c = Cursor(data)
    v = c.int16()
    parts = {t: ps for t, ps in c.array(lambda: (c.string(), c.array(c.int32)))}
    c.bytes_(nullable=True)  # UserData
    if v <= 3:
        c.done()
    return parts


def java_hash(s):
    """Java's String.hashCode: over UTF-16 code units, 32-bit wrapping."""
    units = s.encode("utf-16-be")
    h = 0
    for k in range(0, len(units), 2):
        h = (31 * h + ((units[k] << 8) | units[k + 1])) & 0xffffffff
    return h - (1 << 32) if h >= 1 << 31 else h


def group_partition(group):
    """Kafka's partitionFor: Utils.abs(hashCode) % partitions, where
    Utils.abs(Integer.MIN_VALUE) is 0."""
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % OFFSETS_PARTITIONS


def read_offsets_topic(bootstrap):
    """Every record of __consumer_offsets, decoded: [(partition, offset, key, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    try:
        md = c.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
        assert md.error is None and len(md.partitions) == OFFSETS_PARTITIONS, \
            "__consumer_offsets: %s, %d partitions" % (md.error, len(md.partitions))
    finally:
        c.close()
    out = []
    for r in clients.consume_all(bootstrap, "__consumer_offsets"):
        key = decode_key(r.key)
        value = decode_offset_value(r.value) if key[0] == "offset" else decode_group_value(r.value)
        out.append((r.partition, r.offset, key, value))
    return out


def latest_by_key(records):
    """The last value of each key (what compaction would keep)."""
    last = {}
    for _, _, key, value in records:
        last[key[2:] if key[0] == "offset" else ("group",) + key[2:]] = value
    return last


# ---------------------------------------------------------------------------
# Offsets and static membership


def kp_admin(bootstrap):
    from kafka import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="strata-it-admin", request_timeout_ms=15000)


def describe(bootstrap, group):
    a = kp_admin(bootstrap)
    try:
        return a.describe_consumer_groups([group])[0]
    finally:
        a.close()


def first_offsets(bootstrap, group, topic, partitions, timeout_s=30):
    """Joins group and returns the offset of the first record it gets on each
    partition (commits nothing)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": SESSION_MS})
    first = {}
    try:
        c.subscribe([topic])
        deadline = time.time() + timeout_s
        while len(first) < partitions:
            assert time.time() < deadline, "first records after %ds: %r" % (timeout_s, first)
            m = c.poll(0.2)
            if m is None or m.error() is not None:
                continue
            first.setdefault(m.partition(), m.offset())
    finally:
        c.close()
    return first


def check_offsets_survive_restart():
    from kafka import KafkaConsumer, TopicPartition as KTP
    from kafka.structs import OffsetAndMetadata
    topic, group, partitions = "off", "g-off", 4
    with Broker(FAST) as b:
        clients.create_topic(b.bootstrap, topic, partitions)
        p = clients.producer(b.bootstrap)
        clients.produce_all(p, topic, ((i, dict(value=b"%d" % i, partition=i % partitions)) for i in range(160)))

        # Round 1: a kafka-python member commits with metadata; partition 3
        # gets no commit.
        first = {0: 7, 1: 19, 2: 1}
        kc = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=group, enable_auto_commit=False,
                           session_timeout_ms=SESSION_MS, heartbeat_interval_ms=HEARTBEAT_MS)
        kc.subscribe([topic])
        deadline = time.time() + 30
        while len(kc.assignment()) < partitions:
            assert time.time() < deadline, "kafka-python consumer got no assignment"
            kc.poll(timeout_ms=200, max_records=1)
        kc.commit({KTP(topic, q): OffsetAndMetadata(o, "round1-p%d" % q) for q, o in first.items()})
        kc.close()
        want = dict(first)
        want[3] = OFFSET_INVALID

        def admin_offsets():
            a = kp_admin(b.bootstrap)
            try:
                return {tp.partition: (om.offset, om.metadata) for tp, om in a.list_consumer_group_offsets(group).items()}
            finally:
                a.close()
        want_meta = {q: (o, "round1-p%d" % q) for q, o in first.items()}
        assert committed_offsets(b.bootstrap, group, topic, partitions) == want
        assert admin_offsets() == want_meta, admin_offsets()

        rc = b.stop()
        assert rc == 0, "broker exited %s on SIGTERM" % rc
        b.restart()
        got = committed_offsets(b.bootstrap, group, topic, partitions)
        print("after SIGTERM + restart: committed %r" % got)
        assert got == want, "after SIGTERM restart: committed %r, want %r" % (got, want)
        assert admin_offsets() == want_meta, "metadata after restart: %r" % admin_offsets()
        resumed = first_offsets(b.bootstrap, group, topic, partitions)
        print("new member resumed at %r" % resumed)
        assert resumed == {0: 7, 1: 19, 2: 1, 3: 0}, resumed

        # Round 2: a confluent-kafka member commits, then the broker is SIGKILLed.
        second = {0: 23, 1: 39, 2: 2, 3: 5}
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False,
                      "session.timeout.ms": SESSION_MS})
        c.subscribe([topic])
        deadline = time.time() + 30
        while len(c.assignment()) < partitions:
            assert time.time() < deadline, "confluent consumer got no assignment"
            c.poll(0.2)
        res = c.commit(offsets=[TopicPartition(topic, q, o) for q, o in second.items()], asynchronous=False)
        assert all(tp.error is None for tp in res), res
        b.kill9()
        c.close()
        b.restart()
        got = committed_offsets(b.bootstrap, group, topic, partitions)
        print("after SIGKILL + restart: committed %r" % got)
        assert got == second, "after SIGKILL restart: committed %r, want %r" % (got, second)
        # A commit without metadata stores "" (Kafka's OffsetAndMetadata.NoMetadata).
        assert admin_offsets() == {q: (o, "") for q, o in second.items()}, admin_offsets()
        # The member the SIGKILL orphaned is still in the group until its
        # session times out; the new one joins alongside and waits for that.
        resumed = first_offsets(b.bootstrap, group, topic, partitions, timeout_s=40)
        print("new member resumed at %r" % resumed)
        assert resumed == second, resumed


STATIC_SESSION_MS = 10000


def check_static_membership():
    topic, group, partitions = "st", "g-static", 6
    workdir = os.environ.get("TMPDIR", "/tmp")
    with Broker(FAST) as b, Members(workdir) as ms:
        clients.create_topic(b.bootstrap, topic, partitions)

        def cfg(k):
            return member_cfg("confluent", b.bootstrap, topic, group, "s%d" % k, instance_id="instance-%d" % k,
                              session_timeout_ms=STATIC_SESSION_MS)
        m = [ms.start("s%d" % k, cfg(k)) for k in range(3)]
        _, split = wait_split(m, partitions, 60, what="three static members")
        print("stable: %r" % {k: sorted(v) for k, v in split.items()})

        # The leader, from the group's record in __consumer_offsets.
        last = latest_by_key(read_offsets_topic(b.bootstrap))
        meta = last[("group", group)]
        leader_client = [x["clientId"] for x in meta["members"] if x["memberId"] == meta["leader"]]
        assert len(leader_client) == 1, meta
        leader = next(x for x in m if x.name == leader_client[0])
        follower = next(x for x in m if x is not leader)
        print("leader %s, follower restarted first: %s" % (leader.name, follower.name))

        for role, victim in (("follower", follower), ("leader", leader)):
            k = m.index(victim)
            others = [x for x in m if x is not victim]
            before = {x.name: x.snapshot() for x in m}
            desc = describe(b.bootstrap, group)
            ids = {x.client_id: x.member_id for x in desc.members}
            assert desc.state == "Stable" and len(ids) == 3, desc
            t_kill = time.time()
            victim.kill9()
            time.sleep(0.5)
            back = ms.start(victim.name + "'", cfg(k))
            deadline = t_kill + STATIC_SESSION_MS / 1000.0
            while not back.snapshot()[0]:
                assert time.time() < deadline, "restarted %s got nothing within its session timeout" % role
                time.sleep(0.05)
            took = time.time() - t_kill
            assert back.snapshot()[0] == before[victim.name][0], \
                "restarted %s got %r, had %r" % (role, back.snapshot()[0], before[victim.name][0])
            # Past the point where the old member id's session would have expired.
            time.sleep(max(0.0, t_kill + STATIC_SESSION_MS / 1000.0 + 3 - time.time()))
            for x in others:
                assignment, _, events = x.snapshot()
                assert events == before[x.name][2], "%s saw a rebalance when the %s restarted: %r" \
                    % (x.name, role, events[len(before[x.name][2]):])
                assert assignment == before[x.name][0]
            kinds = [e[1] for e in back.snapshot()[2]]
            assert kinds == ["assign"], "restarted %s saw %r" % (role, kinds)
            desc2 = describe(b.bootstrap, group)
            ids2 = {x.client_id: x.member_id for x in desc2.members}
            assert desc2.state == "Stable" and set(ids2) == set(ids), desc2
            for x in others:
                assert ids2[x.name] == ids[x.name], "%s's member id changed: %r -> %r" % (x.name, ids, ids2)
            assert ids2[victim.name] != ids[victim.name], "restarted member kept member id %s" % ids[victim.name]
            assignments = {x.client_id: set(x.member_assignment.assignment[0][1]) for x in desc2.members}
            assert assignments[victim.name] == before[victim.name][0], assignments
            print("%s %s restarted: same partitions %r after %.1fs, others saw no rebalance, member id %s -> %s"
                  % (role, victim.name, sorted(before[victim.name][0]), took, ids[victim.name], ids2[victim.name]))
            m[k] = back
            back.name = victim.name
        for x in m:
            x.stop()


# ---------------------------------------------------------------------------
# __consumer_offsets contents


def check_consumer_offsets_decode():
    from kafka import KafkaConsumer, TopicPartition as KTP
    from kafka.structs import OffsetAndMetadata
    topic, partitions = "dec", 3
    # "polygenelubricants".hashCode() == Integer.MIN_VALUE; the third id has a
    # character outside the BMP (two UTF-16 code units).
    groups = ["strata-decode", "polygenelubricants", "grp-\u00fc-\U0001F600"]
    assert java_hash("polygenelubricants") == -(1 << 31)
    with Broker(FAST) as b:
        clients.create_topic(b.bootstrap, topic, partitions)
        want = {}
        seen = {}
        for n, group in enumerate(groups):
            kc = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=group, client_id="dec-%d" % n,
                               enable_auto_commit=False, session_timeout_ms=SESSION_MS,
                               heartbeat_interval_ms=HEARTBEAT_MS, max_poll_interval_ms=MAX_POLL_MS)
            kc.subscribe([topic])
            deadline = time.time() + 30
            while len(kc.assignment()) < partitions:
                assert time.time() < deadline, "no assignment for %s" % group
                kc.poll(timeout_ms=200)
            offs = {q: 100 * n + 10 * q + 1 for q in range(partitions)}
            t0 = int(time.time() * 1000)
            kc.commit({KTP(topic, q): OffsetAndMetadata(o, "m%d/%d" % (n, q)) for q, o in offs.items()})
            t1 = int(time.time() * 1000)
            for q, o in offs.items():
                want[(group, topic, q)] = (o, "m%d/%d" % (n, q), t0, t1)
            d = describe(b.bootstrap, group)
            assert d.state == "Stable" and len(d.members) == 1, d
            seen[group] = d.members[0]
            kc.close()

        records = read_offsets_topic(b.bootstrap)
        print("__consumer_offsets: %d records, all decoded" % len(records))
        for part, off, key, value in records:
            assert key[1] == (1 if key[0] == "offset" else 2), "key version %r" % (key,)
            assert value is None or value["version"] == 3, "value version %r for %r" % (value, key)
            assert part == group_partition(key[2]), \
                "group %r in partition %d, Kafka puts it in %d" % (key[2], part, group_partition(key[2]))
        last = latest_by_key(records)
        for (group, t, q), (o, meta, t0, t1) in want.items():
            v = last.get((group, t, q))
            assert v is not None, "no commit record for %r" % ((group, t, q),)
            assert (v["offset"], v["metadata"], v["leaderEpoch"]) == (o, meta, -1), (group, t, q, v)
            assert t0 - 1000 <= v["commitTimestamp"] <= t1 + 1000, (v, t0, t1)
        for group in groups:
            print("group %r -> partition %d (hashCode %d)" % (group, group_partition(group), java_hash(group)))
            metas = [v for _, _, k, v in records if k[0] == "group" and k[2] == group]
            withm = [v for v in metas if v and v["members"]]
            assert withm, "no group metadata with members for %r: %r" % (group, metas)
            g = withm[-1]
            info = seen[group]
            assert (g["protocolType"], g["protocol"], g["leader"]) == ("consumer", "range", info.member_id), g
            assert len(g["members"]) == 1 and g["generation"] >= 1, g
            mm = g["members"][0]
            assert (mm["memberId"], mm["clientId"], mm["clientHost"], mm["groupInstanceId"]) == \
                (info.member_id, info.client_id, info.client_host, None), (mm, info)
            assert (mm["sessionTimeout"], mm["rebalanceTimeout"]) == (SESSION_MS, MAX_POLL_MS), mm
            topics, _ = decode_subscription(mm["subscription"])
            assert topics == [topic], topics
            assert decode_assignment(mm["assignment"]) == {topic: list(range(partitions))}, \
                decode_assignment(mm["assignment"])
            assert g["currentStateTimestamp"] > 0, g
            # After the only member left: Kafka stores the Empty group with
            # the next generation, no protocol, no leader, no members.
            final = metas[-1]
            assert final is not None and final["members"] == [] and final["generation"] == g["generation"] + 1, final
            assert (final["protocolType"], final["protocol"], final["leader"]) == ("consumer", None, None), final


# ---------------------------------------------------------------------------
# Admin APIs


def check_admin_groups():
    from confluent_kafka.admin import AdminClient
    topic, partitions = "adm", 4
    active, empty, missing = "adm-active", "adm-empty", "adm-missing"
    workdir = os.environ.get("TMPDIR", "/tmp")
    with Broker(FAST) as b, Members(workdir) as ms:
        clients.create_topic(b.bootstrap, topic, partitions)
        p = clients.producer(b.bootstrap)
        clients.produce_all(p, topic, ((i, dict(value=b"%d" % i, partition=i % partitions)) for i in range(40)))
        m = [ms.start("a%d" % k, member_cfg("confluent", b.bootstrap, topic, active, "a%d" % k)) for k in range(2)]
        # The empty group: a consumer that commits and leaves.
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": empty, "enable.auto.commit": False,
                      "session.timeout.ms": SESSION_MS})
        c.subscribe([topic])
        deadline = time.time() + 30
        while len(c.assignment()) < partitions:
            assert time.time() < deadline
            c.poll(0.2)
        res = c.commit(offsets=[TopicPartition(topic, q, 3) for q in range(partitions)], asynchronous=False)
        assert all(tp.error is None for tp in res), res
        c.close()
        wait_split(m, partitions, 60, what="two members")
        # Wait for the two members to have processed and committed everything.
        deadline = time.time() + 30
        while committed_offsets(b.bootstrap, active, topic, partitions) != {q: 10 for q in range(partitions)}:
            assert time.time() < deadline, committed_offsets(b.bootstrap, active, topic, partitions)
            time.sleep(0.2)

        # confluent-kafka: ListGroups + DescribeGroups.
        ca = AdminClient({"bootstrap.servers": b.bootstrap})
        listed = {g.id: g for g in ca.list_groups(timeout=15)}
        print("list_groups: %r" % {k: (g.state, g.protocol_type, g.protocol, len(g.members)) for k, g in listed.items()})
        assert {active, empty} <= set(listed), listed
        ga, ge = listed[active], listed[empty]
        assert ga.error is None and (ga.state, ga.protocol_type, ga.protocol) == ("Stable", "consumer", "range"), ga
        assert sorted(x.client_id for x in ga.members) == ["a0", "a1"], ga.members
        split = {x.client_id: decode_assignment(x.assignment)[topic] for x in ga.members}
        assert sorted(split["a0"] + split["a1"]) == list(range(partitions)), split
        for x in ga.members:
            assert decode_subscription(x.metadata)[0] == [topic]
            assert set(split[x.client_id]) == m[int(x.client_id[1])].snapshot()[0], (split, x.client_id)
        assert ge.error is None and (ge.state, ge.protocol_type, len(ge.members)) == ("Empty", "consumer", 0), ge
        one = ca.list_groups(active, timeout=15)
        assert [g.id for g in one] == [active], one

        # kafka-python: ListGroups, DescribeGroups, DeleteGroups.
        a = kp_admin(b.bootstrap)
        try:
            lg = dict(a.list_consumer_groups())
            assert lg.get(active) == "consumer" and lg.get(empty) == "consumer", lg
            da, de = a.describe_consumer_groups([active, empty])
            assert (da.state, da.protocol_type, da.protocol, len(da.members)) == ("Stable", "consumer", "range", 2), da
            assert (de.state, len(de.members)) == ("Empty", 0), de
            dm = a.describe_consumer_groups([missing])[0]
            assert dm.state == "Dead" and not dm.members, dm
            result = {g: e for g, e in a.delete_consumer_groups([active, empty, missing])}
            print("DeleteGroups: %r" % {g: e.__name__ for g, e in result.items()})
            assert result[active].errno == NON_EMPTY_GROUP, result
            assert result[empty].errno == 0, result
            assert result[missing].errno == GROUP_ID_NOT_FOUND, result
            lg = dict(a.list_consumer_groups())
            assert empty not in lg and active in lg, lg
            assert a.describe_consumer_groups([empty])[0].state == "Dead"
            assert a.list_consumer_group_offsets(empty) == {}, a.list_consumer_group_offsets(empty)
        finally:
            a.close()
        assert committed_offsets(b.bootstrap, empty, topic, partitions) == {q: OFFSET_INVALID for q in range(partitions)}
        assert committed_offsets(b.bootstrap, active, topic, partitions) == {q: 10 for q in range(partitions)}

        # Deleting wrote tombstones for the group and each of its offsets.
        last = latest_by_key(read_offsets_topic(b.bootstrap))
        for q in range(partitions):
            assert (empty, topic, q) in last and last[(empty, topic, q)] is None, last.get((empty, topic, q))
        assert ("group", empty) in last and last[("group", empty)] is None, last.get(("group", empty))

        # Once its members leave, the other group can be deleted too.
        for x in m:
            x.stop()
        deadline = time.time() + 20
        while describe(b.bootstrap, active).state != "Empty":
            assert time.time() < deadline, describe(b.bootstrap, active)
            time.sleep(0.2)
        a = kp_admin(b.bootstrap)
        try:
            result = dict(a.delete_consumer_groups([active]))
            assert result[active].errno == 0, result
        finally:
            a.close()

        # Deletions survive a restart (the tombstones are honoured on load).
        rc = b.stop()
        assert rc == 0
        b.restart()
        for g in (active, empty):
            assert committed_offsets(b.bootstrap, g, topic, partitions) == {q: OFFSET_INVALID for q in range(partitions)}, g
        listed = {g.id for g in AdminClient({"bootstrap.servers": b.bootstrap}).list_groups(timeout=15)}
        assert not {active, empty} & listed, listed



# ---------------------------------------------------------------------------
# Raw JoinGroup: what the leader is told when it rejoins mid-rebalance


class RawClient:
    """A bare Kafka connection: request header v1, response header v0."""

    def __init__(self, bootstrap):
        import socket
        host, port = bootstrap.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=15)
        self.corr = 0

    def send(self, api_key, version, body):
        self.corr += 1
        client = b"raw-it"
        hdr = struct.pack(">hhih", api_key, version, self.corr, len(client)) + client
        msg = hdr + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        return self.corr

    def recv(self):
        def exact(n):
            buf = b""
            while len(buf) < n:
                chunk = self.sock.recv(n - len(buf))
                if not chunk:
                    raise EOFError("connection closed")
                buf += chunk
            return buf
        n = struct.unpack(">i", exact(4))[0]
        data = exact(n)
        return struct.unpack(">i", data[:4])[0], data[4:]

    def close(self):
        self.sock.close()


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def join_v2(group, member_id, metadata):
    """JoinGroup v2 body (session 6000 ms, rebalance 10000 ms, one "range" protocol)."""
    return (kstr(group) + struct.pack(">ii", SESSION_MS, 10000) + kstr(member_id) + kstr("consumer") +
            struct.pack(">i", 1) + kstr("range") + struct.pack(">i", len(metadata)) + metadata)


def parse_join_v2(data):
    c = Cursor(data)
    r = {"throttle": c.int32(), "error": c.int16(), "generation": c.int32(), "protocol": c.string(),
         "leader": c.string(), "member_id": c.string()}
    r["members"] = c.array(lambda: (c.string(), c.bytes_()))
    c.done()
    return r


def check_join_leader_rejoins_completing_rebalance():
    """JoinGroup from the leader, with unchanged metadata, while the group is
    CompletingRebalance (it lost the first response): Kafka answers with the
    current generation and, because it is the leader, the full member list
    (GroupCoordinator, CompletingRebalance case: members = if
    (group.isLeader(memberId)) group.currentMemberMetadata else empty), so the
    leader can still compute the assignment. An empty list makes the leader
    assign nothing (librdkafka 2.0.2's cooperative-sticky assignor crashes in
    rdk:main on it)."""
    group = "g-raw-join"
    meta = struct.pack(">h", 0) + struct.pack(">i", 1) + kstr("t") + struct.pack(">i", -1)  # Subscription v0
    with Broker(FAST) as b:
        a, bb = RawClient(b.bootstrap), RawClient(b.bootstrap)
        try:
            a.send(11, 2, join_v2(group, "", meta))
            r1 = parse_join_v2(a.recv()[1])
            assert r1["error"] == 0 and r1["leader"] == r1["member_id"], r1
            leader = r1["member_id"]
            # Second member joins: the group prepares a rebalance and waits for the leader.
            bb.send(11, 2, join_v2(group, "", meta))
            time.sleep(0.3)
            a.send(11, 2, join_v2(group, leader, meta))
            r2 = parse_join_v2(a.recv()[1])
            rb = parse_join_v2(bb.recv()[1])
            assert r2["error"] == 0 and r2["generation"] == r1["generation"] + 1 and len(r2["members"]) == 2, r2
            assert rb["error"] == 0 and rb["generation"] == r2["generation"] and rb["members"] == [], rb
            # Now CompletingRebalance; the leader joins again with the same metadata.
            a.send(11, 2, join_v2(group, leader, meta))
            r3 = parse_join_v2(a.recv()[1])
            print("leader's JoinGroup in CompletingRebalance: error %d generation %d leader %s members %r"
                  % (r3["error"], r3["generation"], r3["leader"] == leader, [m for m, _ in r3["members"]]))
            assert r3["error"] == 0 and r3["generation"] == r2["generation"] and r3["leader"] == leader, r3
            assert sorted(m for m, _ in r3["members"]) == sorted(m for m, _ in r2["members"]), \
                "leader rejoining in CompletingRebalance got members %r, Kafka sends the full list %r" \
                % ([m for m, _ in r3["members"]], [m for m, _ in r2["members"]])
        finally:
            a.close()
            bb.close()


if __name__ == "__main__":
    harness.run_checks(globals())
