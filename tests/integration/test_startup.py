"""Start-up against the real binary: the log-dir lock, failed starts that
change nothing, listeners, the command line, internal topics.

A "tree" below is every name under a log dir with its type, size, mtime (ns)
and, for files, a SHA-256 of the contents; two trees are compared whole.

check_second_broker_on_live_dir: broker A runs with a topic written to (so
its partitions carry no clean-shutdown marker) and a committed group. A
second strata-server on A's log dir, with A's very config file (same ports)
and with ports of its own, exits non-zero with Kafka's "Failed to acquire
lock on file .lock in <dir>. A Kafka instance in another process or thread
is using this directory." and A's tree is unchanged. A still serves, is
killed -9, and restarts with every acknowledged record, once, in order; after
A stops, the lock is free again: a broker with the second config starts there.
check_failed_start_changes_nothing: with the client port taken, a start on a
log dir left by a clean stop, on one left by kill -9, and on a log dir that
does not exist yet fails (exit 1, the port named) and changes nothing: the
tree is identical, the missing dir is still missing. A start that fails
later, on a partition that cannot be opened (the last of __consumer_offsets,
its directory replaced by a file), leaves a cleanly stopped tree identical
too: the partitions opened before it, most never written, are closed again
without a write.
check_internal_topics_not_auto_created: with auto.create.topics.enable=true
and no group yet, Metadata naming __consumer_offsets (kafka-python's
producer, Metadata v1; confluent-kafka's list_topics; a raw Metadata v4 with
allow_auto_topic_creation=true also naming __transaction_state,
__share_group_state and __cluster_metadata) answers
UNKNOWN_TOPIC_OR_PARTITION (is_internal set) and creates nothing, while an
ordinary topic named the same ways is auto-created (so the requests did ask
for creation). The first committed offset then creates __consumer_offsets
through the group coordinator: offsets.topic.num.partitions partitions,
cleanup.policy=compact.
check_command_line: no argument prints the usage and exits non-zero without
starting; --version prints the version of meson.build's project() and exits
0; the start banner names that version.
check_unimplemented_security_protocols: an SSL, SASL_PLAINTEXT or SASL_SSL
listener (alone, listed after a PLAINTEXT one, as the controller listener,
or through a name mapped by listener.security.protocol.map) stops the start:
exit 1, exactly one ERROR line naming the listener and its protocol, nothing
listening, the log dir not created.
check_listener_config: Kafka's errors for duplicate listener names and
ports and an unmapped name; a second PLAINTEXT client listener and a missing
node.id are refused with one line each; a PLAINTEXT listener next to a
CONTROLLER listener (not opened) still serves, lower-case names included.
"""
import hashlib
import os
import re
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import time

import harness
from harness import Broker

import clients

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import ConfigResource

TIMEOUT_S = 240
LOCK_MESSAGE = ("Failed to acquire lock on file .lock in %s. A Kafka instance in another process or thread is "
                "using this directory.")
UNKNOWN_TOPIC_OR_PARTITION = 3
INTERNAL_TOPICS = ["__consumer_offsets", "__transaction_state", "__share_group_state", "__cluster_metadata"]


# --- helpers ----------------------------------------------------------------

def tree(root):
    """{relative path: (type, size, mtime_ns, sha256 or None)} of root and
    everything under it; {} when root does not exist."""
    out = {}
    if not os.path.lexists(root):
        return out
    paths = [root]
    for dirpath, dirnames, filenames in os.walk(root):
        paths += [os.path.join(dirpath, n) for n in dirnames + filenames]
    for p in paths:
        st = os.lstat(p)
        digest = None
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, digest)
    return out


def assert_same_tree(before, after, what):
    if before == after:
        return
    lines = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            lines.append("  %s: %r -> %r" % (name, before.get(name), after.get(name)))
    raise AssertionError("%s changed the log dir:\n%s" % (what, "\n".join(lines[:40])))


def write_props(path, port, log_dir, http_port=None, extra=()):
    with open(path, "w") as f:
        f.write("node.id=1\nprocess.roles=broker,controller\n")
        f.write("controller.quorum.voters=1@127.0.0.1:%d\n" % harness.free_port())
        f.write("controller.listener.names=CONTROLLER\n")
        f.write("listeners=PLAINTEXT://127.0.0.1:%d\n" % port)
        f.write("log.dirs=%s\n" % log_dir)
        f.write("http.listeners=http://127.0.0.1:%d\n" % (http_port or harness.free_port()))
        for line in extra:
            f.write(line + "\n")
    return path


def run_to_exit(args, timeout=20):
    """Runs strata-server, which must exit by itself: (exit code, output)."""
    try:
        r = subprocess.run([harness.SERVER] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("strata-server %s kept running instead of exiting; output:\n%s"
                             % (" ".join(args), (e.output or b"").decode("utf-8", "replace")))
    return r.returncode, r.stdout.decode("utf-8", "replace")


def error_lines(output):
    return [line for line in output.splitlines() if "] ERROR " in line]


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def produce_numbered(bootstrap, topic, start, count, partitions=2):
    p = clients.producer(bootstrap)
    items = [(i, {"key": b"k%d" % i, "value": b"v%d" % i, "partition": i % partitions})
             for i in range(start, start + count)]
    delivered, failed = clients.produce_all(p, topic, items)
    assert not failed, "failed deliveries: %r" % failed
    return delivered


def assert_all_records(bootstrap, topic, delivered):
    """Every acknowledged record exactly once, at its offset, in order."""
    got = clients.consume_all(bootstrap, topic)
    by_pos = {(r.partition, r.offset): r.value for r in got}
    assert len(by_pos) == len(got) == len(delivered), "%d records read, %d acknowledged" % (len(got), len(delivered))
    for i, pos in delivered.items():
        assert by_pos.get(pos) == b"v%d" % i, "record %d at %r: %r" % (i, pos, by_pos.get(pos))


def commit_offset(bootstrap, group, topic, offset):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        c.close()


def project_version():
    src = open(os.path.join(harness.ROOT, "meson.build")).read()
    m = re.search(r"project\([^)]*?version\s*:\s*'([^']+)'", src, re.S)
    assert m, "no version in meson.build's project()"
    return m.group(1)


# --- raw Metadata v4 (independent of the broker's codec) ---------------------

def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)


def string(s):
    b = s.encode()
    return i16(len(b)) + b


def metadata_v4(port, topics, allow_auto_create):
    """{topic: (error_code, is_internal)} from one Metadata v4 request."""
    body = i32(len(topics)) + b"".join(string(t) for t in topics) + (b"\x01" if allow_auto_create else b"\x00")
    frame = i16(3) + i16(4) + i32(7) + string("strata-it-startup") + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(i32(len(frame)) + frame)
        size = struct.unpack(">i", harness.recv_exact(s, 4))[0]
        data = harness.recv_exact(s, size)
    pos = [0]

    def take(n):
        assert pos[0] + n <= len(data), "Metadata response truncated"
        b = data[pos[0]:pos[0] + n]
        pos[0] += n
        return b

    def r16(): return struct.unpack(">h", take(2))[0]
    def r32(): return struct.unpack(">i", take(4))[0]

    def rstr():
        n = r16()
        return None if n < 0 else take(n).decode()

    assert r32() == 7, "correlation id"
    r32()  # throttle_time_ms
    for _ in range(r32()):  # brokers
        r32(), rstr(), r32(), rstr()
    rstr()  # cluster_id
    r32()  # controller_id
    out = {}
    for _ in range(r32()):
        error, name, internal = r16(), rstr(), take(1) != b"\x00"
        for _ in range(r32()):  # partitions: error, index, leader, replicas, isr
            r16(), r32(), r32()
            take(4 * r32())
            take(4 * r32())
        out[name] = (error, internal)
    return out


def partition_dirs(log_dir, topic):
    return sorted(n for n in os.listdir(log_dir) if n.rsplit("-", 1)[0] == topic)


# --- checks -------------------------------------------------------------------

def check_second_broker_on_live_dir():
    with Broker() as a:
        logs = os.path.join(a.data_dir, "logs")
        clients.create_topic(a.bootstrap, "shared", 2)
        delivered = produce_numbered(a.bootstrap, "shared", 0, 200)
        commit_offset(a.bootstrap, "g1", "shared", 5)
        # A itself leaves the tree alone while idle (else the comparison
        # below would prove nothing).
        before = tree(logs)
        time.sleep(0.5)
        assert_same_tree(before, tree(logs), "broker A, idle,")
        assert ".lock" in before, "no .lock in %r" % sorted(before)
        # What the second start of the issue wrote into a live broker's dir.
        assert not any(n.startswith("shared-") and n.endswith(".clean-shutdown") for n in before), sorted(before)

        same_config = os.path.join(a.data_dir, "server.properties")
        own_ports = write_props(os.path.join(a.data_dir, "second.properties"), harness.free_port(), logs)
        for props in (same_config, own_ports):
            rc, out = run_to_exit([props])
            assert rc != 0, "second broker exited %d; output:\n%s" % (rc, out)
            assert LOCK_MESSAGE % logs in out, "no lock message in:\n%s" % out
            assert len(error_lines(out)) == 1, "expected one ERROR line:\n%s" % out
            assert_same_tree(before, tree(logs), "a second broker on the live dir (%s)" % os.path.basename(props))

        # A is unharmed: it still serves, and a crash right now (the case
        # the stray clean-shutdown markers broke) loses nothing.
        delivered.update(produce_numbered(a.bootstrap, "shared", 200, 100))
        a.kill9()
        a.restart()
        assert_all_records(a.bootstrap, "shared", delivered)
        a.stop()
        # The lock went with the process: a broker with the second config
        # starts on the directory and serves what A wrote.
        b = Broker(data_dir=a.data_dir)
        b.log_path = os.path.join(a.data_dir, "second.log")
        with b:
            assert_all_records(b.bootstrap, "shared", delivered)


def check_failed_start_changes_nothing():
    work = tempfile.mkdtemp(prefix="strata-it-failed-start-")
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        a = Broker({"offsets.topic.num.partitions": 5})
        logs = os.path.join(a.data_dir, "logs")
        props = write_props(os.path.join(work, "taken.properties"), port, logs)

        def start_with_port_taken(how):
            before = tree(logs)
            rc, out = run_to_exit([props])
            assert rc == 1, "exit %d with the port taken; output:\n%s" % (rc, out)
            assert "cannot listen on 127.0.0.1:%d" % port in out, out
            assert len(error_lines(out)) == 1, "expected one ERROR line:\n%s" % out
            assert_same_tree(before, tree(logs), "a start with the port taken after a %s" % how)

        with a:
            clients.create_topic(a.bootstrap, "kept", 2)
            delivered = produce_numbered(a.bootstrap, "kept", 0, 100)
            commit_offset(a.bootstrap, "g1", "kept", 3)
            a.stop()
            start_with_port_taken("clean stop")

            # A failure after the logs are open: a partition that cannot be
            # opened (its directory is a file now), the last of its topic.
            # Those opened before it, cleanly stopped and most of them never
            # written, are closed again unchanged.
            damaged = os.path.join(logs, "__consumer_offsets-4")
            shutil.rmtree(damaged)
            open(damaged, "w").close()
            before = tree(logs)
            late = write_props(os.path.join(work, "late.properties"), harness.free_port(), logs)
            rc, out = run_to_exit([late])
            assert rc == 1, "exit %d with a partition that cannot open; output:\n%s" % (rc, out)
            # Storage names the failing call and its errno, the broker the
            # partition that could not open: both about that partition.
            errors = error_lines(out)
            assert errors and all("__consumer_offsets-4" in e for e in errors), out
            assert any("File exists" in e for e in errors), out
            assert_same_tree(before, tree(logs), "a start failing on a partition")
            os.unlink(damaged)

            a.restart()
            delivered.update(produce_numbered(a.bootstrap, "kept", 100, 50))
            a.kill9()
            start_with_port_taken("kill -9")
            a.restart()
            assert_all_records(a.bootstrap, "kept", delivered)

        # A log dir that does not exist yet stays that way.
        fresh = os.path.join(work, "fresh", "logs")
        rc, out = run_to_exit([write_props(os.path.join(work, "fresh.properties"), port, fresh)])
        assert rc == 1, "exit %d; output:\n%s" % (rc, out)
        assert not os.path.lexists(os.path.join(work, "fresh")), "a failed start created %s" % fresh
    finally:
        taken.close()
        shutil.rmtree(work, ignore_errors=True)


def check_internal_topics_not_auto_created():
    from kafka import KafkaProducer
    from kafka.errors import KafkaTimeoutError

    with Broker({"auto.create.topics.enable": "true", "offsets.topic.num.partitions": 7}) as b:
        logs = os.path.join(b.data_dir, "logs")
        # kafka-python asks with Metadata v1, which always allows creation.
        kp = KafkaProducer(bootstrap_servers=b.bootstrap, max_block_ms=3000, api_version=(2, 5))
        try:
            try:
                parts = kp.partitions_for("__consumer_offsets")
                raise AssertionError("kafka-python sees __consumer_offsets partitions %r" % (parts,))
            except KafkaTimeoutError:
                pass
            assert kp.partitions_for("plain-kafka-python") == {0}, "the control topic was not auto-created"
        finally:
            kp.close(timeout=5)
        # confluent-kafka's list_topics(topic=...), from a producer: a
        # consumer's group.id would make the coordinator create the topic.
        c = clients.producer(b.bootstrap)
        try:
            md = c.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
            assert md.error is not None and md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, md.error
            deadline = time.time() + 10
            while True:
                t = c.list_topics("plain-confluent", timeout=10).topics["plain-confluent"]
                if t.error is None:
                    break
                assert time.time() < deadline, "the control topic was not auto-created: %s" % t.error
                time.sleep(0.2)
        finally:
            c.flush(5)
            del c
        # A raw Metadata v4 that asks for creation of all of them at once.
        got = metadata_v4(b.port, INTERNAL_TOPICS + ["plain-raw"], True)
        for name in INTERNAL_TOPICS:
            assert got[name] == (UNKNOWN_TOPIC_OR_PARTITION, True), "%s: %r" % (name, got[name])
        assert got["plain-raw"][0] == 0, "plain-raw: %r" % (got["plain-raw"],)
        topics = clients.admin(b.bootstrap).list_topics(timeout=10).topics
        assert not set(INTERNAL_TOPICS) & set(topics), "created: %r" % sorted(topics)
        assert {"plain-kafka-python", "plain-confluent", "plain-raw"} <= set(topics), sorted(topics)
        for name in INTERNAL_TOPICS:
            # __cluster_metadata-0 is the metadata log itself, never a topic.
            want = ["__cluster_metadata-0"] if name == "__cluster_metadata" else []
            assert partition_dirs(logs, name) == want, "%s has directories %r" % (name, partition_dirs(logs, name))

        # The group coordinator creates __consumer_offsets its own way.
        commit_offset(b.bootstrap, "g1", "plain-raw", 1)
        a = clients.admin(b.bootstrap)
        md = a.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
        assert md.error is None and len(md.partitions) == 7, "%s, %d partitions" % (md.error, len(md.partitions))
        res = ConfigResource(ConfigResource.Type.TOPIC, "__consumer_offsets")
        configs = a.describe_configs([res])[res].result(10)
        assert configs["cleanup.policy"].value == "compact", configs["cleanup.policy"].value


def check_command_line():
    version = project_version()
    for args in ([], ["--override", "node.id=1"]):
        rc, out = run_to_exit(args, timeout=10)
        assert rc != 0, "strata-server %r exited 0:\n%s" % (args, out)
        assert "usage: strata-server <server.properties>" in out, out
        assert "listening" not in out and not error_lines(out), out
    rc, out = run_to_exit(["--version"], timeout=10)
    assert rc == 0 and out == "strata-server %s\n" % version, "rc %d, %r" % (rc, out)
    with Broker() as b:
        # The port accepts (into the kernel's backlog) before the logs are
        # open, as Kafka's does; the banner follows once they are.
        deadline = time.time() + 10
        while True:
            banner = [line for line in b.read_log().splitlines() if "listening on" in line]
            if banner or time.time() > deadline:
                break
            time.sleep(0.05)
        assert banner and ("strata-server %s:" % version) in banner[-1], banner
        assert "PLAINTEXT://127.0.0.1:%d" % b.port in banner[-1], banner


def refused(extra, want, work):
    """Starts with `extra` properties lines on a log dir that does not exist;
    the start must fail with one ERROR line containing every `want`."""
    port, port2 = harness.free_port(), harness.free_port()
    logs = os.path.join(work, "logs-%d" % port)
    lines = [line.replace("{port}", str(port)).replace("{port2}", str(port2)) for line in extra]
    props = write_props(os.path.join(work, "p-%d.properties" % port), port, logs, extra=lines)
    rc, out = run_to_exit([props])
    errors = error_lines(out)
    assert rc == 1, "exit %d for %r; output:\n%s" % (rc, lines, out)
    assert len(errors) == 1, "expected one ERROR line for %r:\n%s" % (lines, out)
    for w in want:
        assert w in errors[0], "%r not in %r" % (w, errors[0])
    assert not listening(port) and not listening(port2), "something listens after a refused start"
    assert not os.path.lexists(logs), "a refused start created %s" % logs
    return errors[0]


def check_unimplemented_security_protocols():
    work = tempfile.mkdtemp(prefix="strata-it-listeners-")
    try:
        for protocol in ("SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            refused(["listeners=%s://127.0.0.1:{port}" % protocol],
                    ["listener %s://127.0.0.1:" % protocol, "security protocol %s" % protocol, "PLAINTEXT"], work)
            # Listed after a PLAINTEXT listener it is not silently skipped.
            refused(["listeners=PLAINTEXT://127.0.0.1:{port},%s://127.0.0.1:{port2}" % protocol],
                    ["listener %s://127.0.0.1:" % protocol, "security protocol %s" % protocol], work)
        # A name mapped to SASL_SSL, and a controller listener mapped to SSL.
        refused(["listeners=PLAINTEXT://127.0.0.1:{port},EXTERNAL://127.0.0.1:{port2}",
                 "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:SASL_SSL"],
                ["listener EXTERNAL://127.0.0.1:", "security protocol SASL_SSL", "listener.security.protocol.map"],
                work)
        refused(["listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port2}",
                 "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:SSL"],
                ["listener CONTROLLER://127.0.0.1:", "security protocol SSL"], work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_listener_config():
    work = tempfile.mkdtemp(prefix="strata-it-listeners-")
    try:
        refused(["listeners=PLAINTEXT://127.0.0.1:{port},plaintext://127.0.0.1:{port2}"],
                ["Each listener must have a different name"], work)
        refused(["listeners=PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{port}"],
                ["If you have two listeners on the same port then one needs to be IPv4 and the other IPv6"], work)
        refused(["listeners=CLIENT://127.0.0.1:{port}"], ["No security protocol defined for listener CLIENT"], work)
        refused(["listeners=A://127.0.0.1:{port},B://127.0.0.1:{port2}",
                 "listener.security.protocol.map=A:PLAINTEXT,B:PLAINTEXT"],
                ["2 client listeners", "A://127.0.0.1:", "B://127.0.0.1:", "one"], work)
        refused(["listeners=CONTROLLER://127.0.0.1:{port}"], ["There must be at least one broker advertised listener"],
                work)
        refused(["advertised.listeners=PLAINTEXT://0.0.0.0:{port}"], ["nonroutable meta-address 0.0.0.0"], work)
        # node.id is required (the file's line comes first; this one wins).
        port = harness.free_port()
        props = write_props(os.path.join(work, "no-node-id.properties"), port, os.path.join(work, "n"))
        with open(props) as f:
            text = f.read().replace("node.id=1\n", "")
        with open(props, "w") as f:
            f.write(text)
        rc, out = run_to_exit([props])
        assert rc == 1 and len(error_lines(out)) == 1, "rc %d:\n%s" % (rc, out)
        assert 'Missing required configuration "node.id" which has no default value.' in out, out
        assert not os.path.lexists(os.path.join(work, "n")) and not listening(port), out
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # PLAINTEXT keeps working, next to a controller listener that is not
    # opened, and with a lower-case name.
    controller_port = harness.free_port()
    b = Broker({"listeners": "plaintext://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (0, controller_port)})
    b.overrides["listeners"] = "plaintext://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (b.port, controller_port)
    with b:
        clients.create_topic(b.bootstrap, "plain", 1)
        assert_all_records(b.bootstrap, "plain", produce_numbered(b.bootstrap, "plain", 0, 10, partitions=1))
        assert not listening(controller_port), "the controller listener was opened"


if __name__ == "__main__":
    harness.run_checks(globals())
