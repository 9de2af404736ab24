"""kafkajs (a pure-JavaScript client) against the real broker: runs
js/roundtrip.js, which creates 3-partition topics with the admin client,
produces 20,000 keyed records with headers per codec (none, gzip, snappy,
lz4; zstd skipped) with an idempotent producer and reads them back.

check_kafkajs_direct reads with kafkajs's Cluster/Broker Fetch (no group);
check_kafkajs_group reads with a consumer group, so it needs the group
coordinator APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
OffsetFetch/OffsetCommit) and fails until those exist.
node_modules is installed from the committed package-lock.json with `npm ci`.
"""
import os
import subprocess

import harness
from harness import Broker

TIMEOUT_S = 420
JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")


def npm_ci():
    stamp = os.path.join(JS, "node_modules", ".package-lock.json")
    lock = os.path.join(JS, "package-lock.json")
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(lock):
        return
    # --ignore-scripts: kafkajs-lz4's lz4 would try a native build; its pure-JS
    # fallback is what we use.
    r = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=JS,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    assert r.returncode == 0, "npm ci failed:\n%s" % r.stdout.decode(errors="replace")[-3000:]


def run(mode):
    npm_ci()
    with Broker() as b:
        r = subprocess.run(["node", "roundtrip.js", b.bootstrap, mode], cwd=JS,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        out = r.stdout.decode(errors="replace")
        print(out[-20000:])
        assert r.returncode == 0, "roundtrip.js %s exited %d" % (mode, r.returncode)
        assert "kafkajs %s: 4/4 codecs OK" % mode in out


def check_kafkajs_direct():
    run("direct")


def check_kafkajs_group():
    run("group")


if __name__ == "__main__":
    harness.run_checks(globals())
