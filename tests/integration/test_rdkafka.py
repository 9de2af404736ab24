"""librdkafka's C API against the real broker: runs rdkafka_roundtrip (built
by meson from rdkafka_roundtrip.c), which round-trips 20,000 keyed records
with headers per codec (none, gzip, snappy, lz4, zstd) and checks each comes
back exactly once, in order, intact, at its delivery-reported offset."""
import os
import subprocess

import harness
from harness import Broker

TIMEOUT_S = 400


def check_rdkafka_roundtrip():
    exe = os.path.join(harness.BUILD, "tests", "integration", "rdkafka_roundtrip")
    assert os.access(exe, os.X_OK), "%s is not built (meson: tests/integration/meson.build)" % exe
    with Broker() as b:
        r = subprocess.run([exe, b.bootstrap], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=360)
        out = r.stdout.decode(errors="replace")
        print(out[-20000:])
        assert r.returncode == 0, "rdkafka_roundtrip exited %d" % r.returncode
        assert "rdkafka_roundtrip: 5/5 codecs OK" in out


if __name__ == "__main__":
    harness.run_checks(globals())
