"""`strata consumer-groups` (kafka-consumer-groups.sh) against the real broker.

Offsets are set up with confluent-kafka (a consumer that assign()s and
commits synchronously, or one that subscribes and joins the group); the CLI
output is compared with tables built here from Kafka 4.x's format strings
("%-Ns" columns at least 15 wide, "-" for missing values, a leading empty
line), and every reset is verified by reading the committed offsets back with
confluent-kafka's committed() (OffsetFetch).

check_describe_committed_only: LOG-END-OFFSET, CURRENT-OFFSET and
LAG = LEO - committed per partition for a group that only committed offsets
(no members): "-" consumer columns, "has no active members" on stderr; an
unknown group is "Error: Consumer group 'x' does not exist." (exit 1);
--state, --members, --list, --list --state, --output json.
check_active_member: a subscribed consumer fills CONSUMER-ID/HOST/CLIENT-ID;
--members --verbose shows its assignment; --state shows Stable and the
assignor; --list --state filters; a reset is refused while the group is
Stable; --delete-offsets and --delete of the live group fail as Kafka's do.
check_reset_offsets: every reset strategy, dry run (default and --dry-run)
against --execute, scoped by --all-topics and --topic t:p; --to-offset and
--shift-by are clamped to [earliest, latest]; --to-datetime/--by-duration use
record timestamps and fall back to the log end offset with Kafka's warning;
a reset of an unknown group creates its offsets; JSON output of a plan.
check_delete: --delete-offsets of chosen partitions (others stay), --delete
of an empty group (then it does not exist) and of an unknown one.
"""
import datetime
import json
import os
import subprocess
import time

import clients
import harness
from harness import Broker

from confluent_kafka import Consumer, Producer, TopicPartition

TIMEOUT_S = 240
STRATA = os.path.join(harness.BUILD, "tools", "strata")
COUNTS = (10, 20, 5)  # records produced per partition


def cg(b, *args, check=None):
    """Runs `strata consumer-groups`; check=0/1 asserts the exit status."""
    cmd = [STRATA, "consumer-groups", "--bootstrap-server", b.bootstrap] + [str(a) for a in args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out, err = r.stdout.decode(), r.stderr.decode()
    if check is not None and r.returncode != check:
        raise AssertionError("%s exited %d (want %d)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(cmd), r.returncode, check, out, err))
    return r.returncode, out, err


def jfmt(spec, values):
    """Java's String.format for the "%-Ns"/"%s" specs used by the tool."""
    out = []
    for width, v in zip(spec, values):
        v = str(v)
        out.append(v if width is None else v.ljust(width))
    return " ".join(out)


def offsets_table(rows):
    """printOffsets: rows of (group, topic, partition, current, leo, lag, consumer, host, client)."""
    head = ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
            "CLIENT-ID")
    gw = max([15] + [len(r[0]) for r in rows])
    tw = max([15] + [len(r[1]) for r in rows])
    cw = max([15] + [len(r[6]) for r in rows])
    hw = max([15] + [len(r[7]) for r in rows])
    spec = (gw, tw, 10, 15, 15, 15, cw, hw, None)
    return "".join("\n" + jfmt(spec, r) for r in [head] + list(rows)) + "\n"


def reset_table(groups, rows):
    """printOffsetsToReset: rows of (group, topic, partition, new offset)."""
    gw = max([15] + [len(g) for g in groups])
    tw = max([15] + [len(r[1]) for r in rows])
    spec = (gw, tw, 10, None)
    lines = [("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")] + list(rows)
    return "".join("\n" + jfmt(spec, r) for r in lines) + "\n"


def produce_counts(b, topic, base_ms=None):
    """COUNTS[p] records into partition p; record j has timestamp base_ms + j minutes."""
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
    for part, n in enumerate(COUNTS):
        for j in range(n):
            kw = {"timestamp": base_ms + j * 60000} if base_ms is not None else {}
            p.produce(topic, value=b"v%d" % j, partition=part, **kw)
    assert p.flush(30) == 0


def plain_consumer(b, group, **extra):
    conf = {"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False,
            "socket.timeout.ms": 10000}
    conf.update(extra)
    return Consumer(conf)


def commit(b, group, topic, offsets):
    """Commits {partition: offset} as a consumer that assign()s (no group membership)."""
    c = plain_consumer(b, group)
    try:
        c.assign([TopicPartition(topic, p) for p in offsets])
        c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        c.close()


def committed(b, group, topic, partitions=range(len(COUNTS))):
    """{partition: committed offset or None} through OffsetFetch."""
    c = plain_consumer(b, group)
    try:
        res = c.committed([TopicPartition(topic, p) for p in partitions], timeout=15)
    finally:
        c.close()
    return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in res}


def wait_assigned(consumer, want, timeout_s=30):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        consumer.poll(0.2)
        if len(consumer.assignment()) == want:
            return
    raise AssertionError("no assignment of %d partitions: %r" % (want, consumer.assignment()))


def check_describe_committed_only():
    with Broker() as b:
        clients.create_topic(b.bootstrap, "orders", 3)
        produce_counts(b, "orders")
        commit(b, "g1", "orders", {0: 4, 1: 20, 2: 0})

        rc, out, err = cg(b, "--describe", "--group", "g1", check=0)
        want = offsets_table([
            ("g1", "orders", 0, 4, 10, 6, "-", "-", "-"),
            ("g1", "orders", 1, 20, 20, 0, "-", "-", "-"),
            ("g1", "orders", 2, 0, 5, 5, "-", "-", "-"),
        ])
        assert out == want, "got:\n%r\nwant:\n%r" % (out, want)
        assert err == "\nConsumer group 'g1' has no active members.\n", err
        # --offsets is the explicit default.
        assert cg(b, "--describe", "--group", "g1", "--offsets", check=0)[1] == want

        # A long group id widens the GROUP column for its own table only.
        long_group = "a-rather-long-group-name"
        commit(b, long_group, "orders", {1: 7})
        rc, out, err = cg(b, "--describe", "--group", long_group, "--group", "g1", check=0)
        assert out == offsets_table([(long_group, "orders", 1, 7, 20, 13, "-", "-", "-")]) + want, out

        rc, out, err = cg(b, "--describe", "--group", "nope", check=1)
        assert out == "\nError: Consumer group 'nope' does not exist.\n", out

        rc, out, err = cg(b, "--describe", "--group", "g1", "--state", check=0)
        coord = "127.0.0.1:%d  (1)" % b.port
        spec = (15, max(25, len(coord)), 20, 20, None)
        assert out == "\n" + jfmt(spec, ("GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")) + \
            "\n" + jfmt(spec, ("g1", coord, "-", "Empty", 0)) + "\n", out

        # --members of a group without members: the message and the bare header.
        rc, out, err = cg(b, "--describe", "--group", "g1", "--members", check=0)
        assert out == "\n" + jfmt((15, 15, 15, 15, 15), ("GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS")) \
            + " \n", repr(out)
        assert "has no active members" in err

        rc, out, err = cg(b, "--list", check=0)
        assert sorted(out.splitlines()) == sorted(["g1", long_group]), out
        rc, out, err = cg(b, "--list", "--state", check=0)
        width = max(15, len(long_group)) + 10
        lines = out.splitlines()
        assert lines[0] == "GROUP".ljust(width) + " " + "STATE".ljust(20), lines
        assert sorted(lines[1:]) == sorted(g.ljust(width) + " " + "Empty".ljust(20) for g in ("g1", long_group))
        rc, out, err = cg(b, "--list", "--state", "stable", check=0)
        assert out == "GROUP".ljust(15 + 10) + " " + "STATE".ljust(20) + "\n", repr(out)
        rc, out, err = cg(b, "--list", "--state", "Bogus", check=1)
        assert "Invalid state list 'Bogus'" in err, err

        rc, out, err = cg(b, "--describe", "--group", "g1", "--output", "json", check=0)
        assert json.loads(out) == [
            {"group": "g1", "topic": "orders", "partition": p, "current_offset": c, "log_end_offset": COUNTS[p],
             "lag": COUNTS[p] - c, "consumer_id": None, "host": None, "client_id": None}
            for p, c in ((0, 4), (1, 20), (2, 0))], out
        rc, out, err = cg(b, "--list", "--state", "--output", "json", check=0)
        assert sorted(json.loads(out), key=lambda g: g["group"]) == [
            {"group": long_group, "state": "Empty"}, {"group": "g1", "state": "Empty"}], out
        rc, out, err = cg(b, "--describe", "--group", "g1", "--state", "--output", "json", check=0)
        assert json.loads(out) == [{"group": "g1", "coordinator": {"id": 1, "host": "127.0.0.1", "port": b.port},
                                    "assignment_strategy": None, "state": "Empty", "members": 0}], out

        # Argument errors are Kafka's usage errors (stderr, exit 1).
        assert "exactly one action" in cg(b, "--describe", "--list", check=1)[2]
        assert "takes one of these options" in cg(b, "--describe", check=1)[2]
        assert "One of the reset scopes" in cg(b, "--reset-offsets", "--group", "g1", "--to-latest", check=1)[2]


def check_active_member():
    with Broker() as b:
        clients.create_topic(b.bootstrap, "orders", 3)
        produce_counts(b, "orders")
        live = plain_consumer(b, "live", **{"client.id": "cli-live", "session.timeout.ms": 10000})
        try:
            live.subscribe(["orders"])
            wait_assigned(live, 3)
            live.commit(offsets=[TopicPartition("orders", 1, 12)], asynchronous=False)

            # DescribeGroups may still be settling right after the join.
            # (confluent-kafka 1.7 has no memberid(): librdkafka's member ids are
            # "<client.id>-<uuid>", checked below.)
            deadline = time.time() + 20
            while True:
                rc, out, err = cg(b, "--describe", "--group", "live", check=0)
                if "cli-live-" in out or time.time() > deadline:
                    break
                time.sleep(0.3)
            lines = out.split("\n")
            assert lines[0] == "" and lines[1].split() == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET",
                                                          "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
                                                          "CLIENT-ID"], out
            rows = [l.split() for l in lines[2:] if l]
            assert len(rows) == 3, out
            member_id = rows[0][6]
            assert member_id.startswith("cli-live-") and len(member_id) > len("cli-live-"), out
            for p, row in enumerate(rows):
                cur, lag = ("12", str(COUNTS[1] - 12)) if p == 1 else ("-", "-")
                assert row[:6] == ["live", "orders", str(p), cur, str(COUNTS[p]), lag], row
                assert row[6] == member_id and row[8] == "cli-live", row
                assert row[7].endswith("127.0.0.1"), row
            host = rows[0][7]
            assert out == offsets_table([("live", "orders", p, r[3], r[4], r[5], member_id, host, "cli-live")
                                         for p, r in enumerate(rows)]), out
            assert err == "", err

            rc, out, err = cg(b, "--describe", "--group", "live", "--members", "--verbose", check=0)
            cw, hw = max(15, len(member_id)), max(15, len(host))
            spec = (15, cw, hw, 15, 15)
            assert out == "\n" + jfmt(spec, ("GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS")) + \
                " ASSIGNMENT\n" + jfmt(spec, ("live", member_id, host, "cli-live", 3)) + " orders(0,1,2)\n", out
            rc, out, err = cg(b, "--describe", "--group", "live", "--members", check=0)
            assert out.endswith(jfmt(spec, ("live", member_id, host, "cli-live", 3)) + " \n"), repr(out)
            rc, out, err = cg(b, "--describe", "--group", "live", "--members", "--output", "json", check=0)
            assert json.loads(out) == [{"group": "live", "consumer_id": member_id, "group_instance_id": None,
                                        "host": host, "client_id": "cli-live", "partitions": 3,
                                        "assignment": [{"topic": "orders", "partition": p} for p in range(3)]}], out

            rc, out, err = cg(b, "--describe", "--group", "live", "--state", check=0)
            assert out.split("\n")[2].split() == ["live", "127.0.0.1:%d" % b.port, "(1)", "range", "Stable", "1"], out

            commit(b, "idle", "orders", {0: 1})
            rc, out, err = cg(b, "--list", "--state", "Stable", check=0)
            assert [l.split() for l in out.splitlines()] == [["GROUP", "STATE"], ["live", "Stable"]], out
            rc, out, err = cg(b, "--list", "--state", "empty,STABLE", check=0)
            assert sorted(l.split()[0] for l in out.splitlines()[1:]) == ["idle", "live"], out

            # Resets need an inactive group; nothing is committed.
            rc, out, err = cg(b, "--reset-offsets", "--group", "live", "--all-topics", "--to-earliest", "--execute",
                              check=1)
            assert out == "\nError: Assignments can only be reset if the group 'live' is inactive, but the current " \
                "state is Stable.\n" + reset_table(["live"], []), repr(out)
            assert committed(b, "live", "orders") == {0: None, 1: 12, 2: None}

            rc, out, err = cg(b, "--delete-offsets", "--group", "live", "--topic", "orders:1", check=1)
            assert out.startswith("\nError: Encountered some partition-level error, see the follow-up details.\n"), out
            assert "orders          1          Error: org.apache.kafka.common.errors.GroupSubscribedToTopicException" \
                in out, out
            assert committed(b, "live", "orders")[1] == 12

            rc, out, err = cg(b, "--delete", "--group", "live", check=1)
            assert out == "\nError: Deletion of some consumer groups failed:\n* Group 'live' could not be deleted " \
                "due to: org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.\n", out
        finally:
            live.close()


def check_reset_offsets():
    with Broker() as b:
        clients.create_topic(b.bootstrap, "reset", 3)
        base_ms = int(time.time() * 1000) - 3600 * 1000  # record j of each partition: base + j minutes
        produce_counts(b, "reset", base_ms)
        baseline = {0: 4, 1: 15, 2: 2}

        def case(args, want, scope=("--all-topics",), group="rg"):
            """Dry run (implicit and explicit) changes nothing; --execute commits `want`."""
            commit(b, group, "reset", baseline)
            table = reset_table([group], [(group, "reset", p, o) for p, o in sorted(want.items())])
            for mode in ((), ("--dry-run",)):
                rc, out, err = cg(b, "--reset-offsets", "--group", group, *scope, *args, *mode, check=0)
                assert out.endswith(table), "%s:\n%s\nwant:\n%s" % (args, out, table)
                assert ("WARN: No action will be performed" in err) == (mode == ()), err
                assert committed(b, group, "reset") == baseline, args
            rc, out, err = cg(b, "--reset-offsets", "--group", group, *scope, *args, "--execute", check=0)
            assert out.endswith(table), "%s:\n%s" % (args, out)
            expect = dict(baseline)
            expect.update(want)
            got = committed(b, group, "reset")
            assert got == expect, "%s: committed %r, want %r" % (args, got, expect)
            return out

        case(["--to-earliest"], {0: 0, 1: 0, 2: 0})
        case(["--to-latest"], {0: 10, 1: 20, 2: 5})
        case(["--to-current"], baseline)
        case(["--to-offset", 7], {0: 7, 1: 7, 2: 5})             # 7 > LEO 5: clamped
        # ... with Kafka's warning for the clamped partition only.
        rc, out, err = cg(b, "--reset-offsets", "--group", "rg", "--all-topics", "--to-offset", 7, "--dry-run", check=0)
        assert "New offset (7) is higher than latest offset for topic partition reset-2. Value will be set to 5" in err, err
        assert "reset-0" not in err and "reset-1" not in err, err
        case(["--shift-by", -3], {0: 1, 1: 12, 2: 0})            # 2 - 3 < 0: clamped to earliest
        case(["--shift-by", 100], {0: 10, 1: 20, 2: 5})          # clamped to the log end
        case(["--to-offset", 3], {1: 3}, scope=("--topic", "reset:1"))
        case(["--to-offset", 3], {0: 3, 2: 3}, scope=("--topic", "reset:0,2"))
        case(["--to-latest"], {0: 10, 1: 20, 2: 5}, scope=("--topic", "reset"))

        # Record j has timestamp base + j min: 7.5 min in is offset 8; partition 2
        # (5 records) has none that late and falls back to its log end.
        at = datetime.datetime.fromtimestamp((base_ms + 450000) / 1000, tz=datetime.timezone.utc)
        text = at.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (at.microsecond // 1000)
        out = case(["--to-datetime", text], {0: 8, 1: 8, 2: 5})
        assert "\nWarn: Partition 2 from topic reset is empty. Falling back to latest known offset.\n" in out, out
        case(["--to-datetime", text + "Z"], {0: 8, 1: 8, 2: 5})
        plus_one = (at + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.") + \
            "%03d+01:00" % (at.microsecond // 1000)
        case(["--to-datetime", plus_one], {0: 8, 1: 8, 2: 5})
        # now - 55.5 min = base + 4.5 min: offset 5 in partitions 0 and 1.
        out = case(["--by-duration", "PT55M30S"], {0: 5, 1: 5, 2: 5})
        assert "Warn: Partition 2 from topic reset is empty" in out, out
        case(["--by-duration", "P0DT0H55M30S"], {0: 5, 1: 5, 2: 5})

        # An unknown group is "Dead": its offsets are created.
        rc, out, err = cg(b, "--reset-offsets", "--group", "fresh", "--topic", "reset", "--to-earliest", "--execute",
                          check=0)
        assert out == reset_table(["fresh"], [("fresh", "reset", p, 0) for p in range(3)]), out
        assert committed(b, "fresh", "reset") == {0: 0, 1: 0, 2: 0}

        rc, out, err = cg(b, "--reset-offsets", "--group", "rg", "--all-topics", "--to-latest", "--dry-run",
                          "--output", "json", check=0)
        assert json.loads(out) == [{"group": "rg", "topic": "reset", "partition": p, "new_offset": COUNTS[p]}
                                   for p in range(3)], out

        rc, out, err = cg(b, "--reset-offsets", "--group", "rg", "--topic", "reset:9", "--to-earliest", check=1)
        assert out == "\nError: Executing consumer group command failed due to The partitions \"reset-9\" do not " \
            "exist\n", out
        rc, out, err = cg(b, "--reset-offsets", "--group", "empty-g", "--all-topics", "--shift-by", 1, check=0)
        assert out == reset_table(["empty-g"], []), repr(out)
        rc, out, err = cg(b, "--reset-offsets", "--group", "rg", "--topic", "reset", "--by-duration", "PXT", check=1)
        assert "Text cannot be parsed to a Duration" in out, out


def check_delete():
    with Broker() as b:
        clients.create_topic(b.bootstrap, "orders", 3)
        produce_counts(b, "orders")
        commit(b, "gone", "orders", {0: 1, 1: 2, 2: 3})

        rc, out, err = cg(b, "--delete-offsets", "--group", "gone", "--topic", "orders:0,2", check=0)
        assert out == "Request succeeded for deleting offsets from group gone.\n" + \
            "\n" + jfmt((15, 10, 15), ("TOPIC", "PARTITION", "STATUS")) + \
            "\n" + jfmt((15, 10, 15), ("orders", 0, "Successful")) + \
            "\n" + jfmt((15, 10, 15), ("orders", 2, "Successful")) + "\n", repr(out)
        assert committed(b, "gone", "orders") == {0: None, 1: 2, 2: None}

        rc, out, err = cg(b, "--delete-offsets", "--group", "gone", "--topic", "missing", "--output", "json", check=1)
        assert json.loads(out) == [{"group": "gone", "topic": "missing", "partition": None,
                                    "error": "This server does not host this topic-partition."}], out

        rc, out, err = cg(b, "--delete", "--group", "gone", check=0)
        assert out == "Deletion of requested consumer groups ('gone') was successful.\n", out
        assert committed(b, "gone", "orders") == {0: None, 1: None, 2: None}
        rc, out, err = cg(b, "--describe", "--group", "gone", check=1)
        assert out == "\nError: Consumer group 'gone' does not exist.\n", out

        rc, out, err = cg(b, "--delete", "--group", "never", check=1)
        assert out == "\nError: Deletion of some consumer groups failed:\n* Group 'never' could not be deleted due " \
            "to: org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist.\n", out
        rc, out, err = cg(b, "--delete", "--group", "never", "--output", "json", check=1)
        assert json.loads(out) == [{"group": "never", "error": "The group id does not exist."}], out


if __name__ == "__main__":
    harness.run_checks(globals())
