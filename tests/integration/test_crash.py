"""Crash safety: SIGKILL the broker under an idempotent acks=all producer.

check_kill9_restart: crash_producer.py writes numbered records continuously;
the broker is SIGKILLed three times at random moments 1-2 s apart and
restarted each time on the same data dir and port. The producer must retry
through every restart (no failed delivery, no fatal idempotence error), keep
writing after the last restart, and afterwards every acknowledged record
must be in the log exactly once, in produce order per partition, at the
offset its delivery report named — and nothing else may be there. The
broker keeps only 64 KiB of each active segment in the page cache on its
account (strata.log.drop.behind.bytes), so that writeback and dropping run
all through the test.
"""
import json
import os
import random
import shutil
import subprocess
import tempfile
import time

import harness
from harness import Broker

import clients

TIMEOUT_S = 300
KILLS = 3


def check_kill9_restart():
    seed = int(os.environ.get("STRATA_IT_SEED", time.time_ns() % 1000000))
    rng = random.Random(seed)
    print("seed %d (set STRATA_IT_SEED to repeat)" % seed)
    work = tempfile.mkdtemp(prefix="strata-it-crash-")
    result_path = os.path.join(work, "result.json")
    stop_path = os.path.join(work, "stop")
    mark_path = os.path.join(work, "mark")
    producer_log = open(os.path.join(work, "producer.log"), "wb")
    topic = "crash"
    with Broker({"strata.log.drop.behind.bytes": 65536}) as b:
        clients.create_topic(b.bootstrap, topic, 2)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crash_producer.py")
        proc = subprocess.Popen(["/usr/bin/python3", script, b.bootstrap, topic, result_path, stop_path, mark_path],
                                stdout=producer_log, stderr=subprocess.STDOUT)
        try:
            for k in range(KILLS):
                time.sleep(rng.uniform(1.0, 2.0))
                assert proc.poll() is None, "producer exited early with %s" % proc.returncode
                b.kill9()
                t = time.time()
                b.restart()
                print("kill %d: restarted in %.2fs" % (k + 1, time.time() - t))
            open(mark_path, "w").close()
            time.sleep(3.0)
            open(stop_path, "w").close()
            rc = proc.wait(200)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            producer_log.close()
        with open(os.path.join(work, "producer.log"), "rb") as f:
            plog = f.read().decode(errors="replace")
        assert rc == 0, "producer exited %d:\n%s" % (rc, plog[-5000:])
        with open(result_path) as f:
            res = json.load(f)
        delivered = {int(i): tuple(v) for i, v in res["delivered"].items()}
        failed = {int(i): e for i, e in res["failed"].items()}
        print("sent %d, acknowledged %d, failed %d, unflushed %d, mark at %r, client errors %d"
              % (res["sent"], len(delivered), len(failed), res["left"], res["mark"], len(res["errors"])))
        fatal = [e for e in res["errors"] if e["fatal"]]
        assert not fatal, "fatal producer errors (idempotence broken?): %r" % fatal[:5]
        assert res["left"] == 0, "%d records never completed" % res["left"]
        assert not failed, "%d deliveries failed despite retries, e.g. %r" % (len(failed), sorted(failed.items())[:5])
        assert len(delivered) == res["sent"], "acknowledged %d of %d sent" % (len(delivered), res["sent"])
        after = [i for i in delivered if i >= res["mark"]]
        assert len(after) >= 1000, "only %d records acknowledged after the last restart" % len(after)

        consumed = clients.consume_all(b.bootstrap, topic, timeout_s=90)
        errors = []
        seen = {}
        last = {}
        for m in consumed:
            i = int(m.value)
            if i in seen:
                errors.append("record %d twice: %r and %d/%d" % (i, seen[i], m.partition, m.offset))
            seen[i] = (m.partition, m.offset)
            if m.key != b"k%d" % (i % 2):
                errors.append("record %d has key %r" % (i, m.key))
            if i <= last.get(m.partition, -1):
                errors.append("partition %d: record %d after %d" % (m.partition, i, last[m.partition]))
            last[m.partition] = i
            if i not in delivered:
                errors.append("record %d in the log but never sent or acknowledged" % i)
            elif delivered[i] != (m.partition, m.offset):
                errors.append("record %d at %d/%d, acknowledged at %r" % (i, m.partition, m.offset, delivered[i]))
            if len(errors) > 20:
                break
        lost = [i for i in sorted(delivered) if i not in seen]
        if lost:
            errors.append("%d acknowledged records lost, first %r" % (len(lost), lost[:10]))
        assert not errors, "after %d crashes:\n  %s" % (KILLS, "\n  ".join(errors[:20]))
        print("%d records read back exactly once, in order" % len(consumed))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    harness.run_checks(globals())
