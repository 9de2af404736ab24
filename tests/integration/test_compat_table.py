"""docs/compatibility.md's API table is what the broker serves.

check_table_equals_api_versions: a raw ApiVersions v0 request to the real
broker; its (api key, min, max) list must equal the table's rows, key for
key (for Produce, the "listed" range, which is what ApiVersions answers).
A row missing from the table, an extra row, or a changed version range in
the dispatch table fails here, so the page cannot drift from the code.
"""
import os
import re
import socket
import struct

import harness
from harness import Broker

DOC = os.path.join(harness.ROOT, "docs", "compatibility.md")
ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*([A-Za-z]+)\s*\|\s*([^|]+)\|")
RANGE = re.compile(r"(\d+)(?:\s*[–-]\s*(\d+))?")


def table_rows(path=DOC):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ROW.match(line)
            if not m:
                continue
            versions = m.group(3)
            listed = re.search(r"listed\s+([^)]+)\)", versions)
            r = RANGE.search(listed.group(1) if listed else versions)
            lo = int(r.group(1))
            hi = int(r.group(2)) if r.group(2) else lo
            key = int(m.group(1))
            assert key not in rows, "api key %d listed twice in %s" % (key, path)
            rows[key] = (m.group(2), lo, hi)
    return rows


def api_versions(b):
    client_id = b"compat-table"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", harness.recv_exact(s, 4))[0]
        data = harness.recv_exact(s, size)
    corr, err, n = struct.unpack(">ihi", data[:10])
    assert corr == 1 and err == 0, (corr, err)
    out = {}
    for i in range(n):
        key, lo, hi = struct.unpack(">hhh", data[10 + 6 * i:16 + 6 * i])
        out[key] = (lo, hi)
    return out


def check_table_equals_api_versions():
    rows = table_rows()
    assert len(rows) >= 20, "parsed only %d rows from %s" % (len(rows), DOC)
    with Broker() as b:
        served = api_versions(b)
    documented = {k: (lo, hi) for k, (_, lo, hi) in rows.items()}
    missing = sorted(set(served) - set(documented))
    extra = sorted(set(documented) - set(served))
    differ = {k: (documented[k], served[k]) for k in set(served) & set(documented) if documented[k] != served[k]}
    assert not missing and not extra and not differ, \
        "docs/compatibility.md vs ApiVersions: not in the table %r, not served %r, (table, served) differ %r" % (
            missing, extra, differ)


def check_table_parser_sees_drift():
    """The comparison above can fail: a table with a row dropped and a range
    changed parses to something else than the real one."""
    import tempfile
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    broken = text.replace("| 12 | Heartbeat | 0–4 |", "| 12 | Heartbeat | 0–3 |")
    broken = re.sub(r"^\| 13 \| LeaveGroup[^\n]*\n", "", broken, flags=re.M)
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as f:
        f.write(broken)
    try:
        real, drifted = table_rows(), table_rows(f.name)
    finally:
        os.unlink(f.name)
    assert real[12][1:] == (0, 4) and drifted[12][1:] == (0, 3), (real.get(12), drifted.get(12))
    assert 13 in real and 13 not in drifted


if __name__ == "__main__":
    harness.run_checks(globals())
