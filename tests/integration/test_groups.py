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
                if kind == "READY":
                    self.ready.set()
                elif kind == "EV":
                    got = {int(x) for x in parts[2].split(",")} if len(parts) > 2 and parts[2] else set()
                    self.events.append((time.time(), parts[1], got))
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


def account(members, killed, delivered):
    """Checks no loss and bounded duplicates; returns a summary string.

    A processing of (p, o) by a member is covered when that member later
    reported a successful commit of an offset beyond it in p. A covered record
    cannot be handed to anyone else again, so: every record is processed at
    least once, at most once covered, and each duplicate is a record whose
    extra processings were uncovered ones of the killed member."""
    processings = {}      # (p, o) -> [(member, covered)]
    uncovered = {}
    fails = {}
    for m in members:
        best = {}
        flags = []
        for entry in reversed(m.log):
            if entry[0] == "C":
                best[entry[1]] = max(best.get(entry[1], -1), entry[2])
            elif entry[0] == "P":
                _, p, o, v = entry
                flags.append((p, o, v, best.get(p, -1) >= o))
            else:
                fails.setdefault(m.name, []).append(entry)
        for p, o, v, covered in flags:
            want = delivered.get((p, o))
            assert want == v, "%s processed value %r at %d/%d, produced there: %r" % (m.name, v, p, o, want)
            processings.setdefault((p, o), []).append((m.name, covered))
            if not covered:
                uncovered.setdefault(m.name, []).append((p, o))
    lost = sorted(set(delivered) - set(processings))
    assert not lost, "%d produced records never processed, e.g. %r" % (len(lost), lost[:10])
    twice_covered = {k: v for k, v in processings.items() if sum(c for _, c in v) > 1}
    assert not twice_covered, "records processed and committed more than once: %r" % list(twice_covered.items())[:5]
    dups = {k: v for k, v in processings.items() if len(v) > 1}
    killed_names = {m.name for m in killed}
    unexplained = {k: v for k, v in dups.items()
                   if sum(1 for name, c in v if not c and name in killed_names) < len(v) - 1}
    assert not unexplained, ("duplicates not explained by the killed member's uncommitted records: %r; "
                             "uncovered processings %r, failed commits %r"
                             % (list(unexplained.items())[:5], uncovered, fails))
    for m in killed:
        n = len(uncovered.get(m.name, []))
        # One record in hand, plus any whose commit failed.
        assert n <= 1 + len(fails.get(m.name, [])), "%s left %d uncommitted records" % (m.name, n)
    for m in members:
        if m not in killed:
            assert not uncovered.get(m.name), "survivor %s has uncommitted processings %r (failed commits %r)" \
                % (m.name, uncovered[m.name][:5], fails.get(m.name))
    return "%d produced, %d processings, %d duplicates %r, failed commits %r" % (
        len(delivered), sum(len(v) for v in processings.values()), len(dups), sorted(dups), fails)


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
        print(account(m + [newcomer], [victim], prod.delivered))

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


if __name__ == "__main__":
    harness.run_checks(globals())
