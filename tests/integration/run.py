#!/usr/bin/python3
"""Run Strata's integration tests against the real strata-server binary.

    /usr/bin/python3 tests/integration/run.py [-k SUBSTRING]...

Every tests/integration/test_*.py is run as its own process (Debian's
/usr/bin/python3, so the distribution's Kafka client libraries import), in
its own process group and with its own TMPDIR. A file declares its hard limit
as a top-level `TIMEOUT_S = <seconds>`; past it the whole process group (the
test and every broker and client it started) is killed and the checks that
had not finished fail. Each `check_*` function is one test, named
`file::check`. -k keeps the tests whose name contains SUBSTRING (repeatable).

Prints `PASS name (secs)` / `FAIL name (secs)` plus the failure's output, then
`N passed, M failed` alone on a line; exits 1 if anything failed.
STRATA_BUILD selects the build directory (default: build/ at the repo root).
"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_TIMEOUT_S = 300
START = "@@strata-check-start"
END = "@@strata-check-end"


def python():
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def discover(filters):
    """[(path, timeout_s, [check names])] for the files with selected checks."""
    plan = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        src = open(path).read()
        m = re.search(r"^TIMEOUT_S\s*=\s*(\d+)", src, re.M)
        timeout_s = int(m.group(1)) if m else DEFAULT_TIMEOUT_S
        base = os.path.basename(path)[:-3]
        checks = re.findall(r"^def (check_\w+)\(", src, re.M)
        if filters:
            checks = [c for c in checks if any(f in "%s::%s" % (base, c) for f in filters)]
        if checks:
            plan.append((path, timeout_s, checks))
    return plan


def run_file(path, timeout_s, checks, env, report):
    """Run one file; calls report(name, ok, secs, output) for each check."""
    base = os.path.basename(path)[:-3]
    proc = subprocess.Popen([python(), "-u", path] + checks, cwd=HERE, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    state = {"current": None, "lines": [], "started": time.time(), "preamble": []}
    done = set()

    def reader():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            if line.startswith(START):
                state["current"] = line.split()[1]
                state["lines"] = []
                state["started"] = time.time()
            elif line.startswith(END):
                _, name, verdict, secs = line.split()
                report("%s::%s" % (base, name), verdict == "PASS", float(secs), "".join(state["lines"]))
                done.add(name)
                state["current"] = None
            elif state["current"]:
                state["lines"].append(line)
            else:
                state["preamble"].append(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    timed_out = False
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        # The test and everything it started share this process group.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    t.join(10)
    for name in checks:
        if name in done:
            continue
        if timed_out:
            why = "timed out: file %s exceeded TIMEOUT_S=%d\n" % (base, timeout_s)
        else:
            why = "did not report a result (exit code %s)\n" % proc.returncode
        out = "".join(state["preamble"])
        secs = 0.0
        if state["current"] == name:
            out += "".join(state["lines"])
            secs = time.time() - state["started"]
        report("%s::%s" % (base, name), False, secs, why + out)
    # A test that timed out may have left brokers in another session; those
    # were killed with the group. Anything in its TMPDIR is removed by main().


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("-k", action="append", default=[], help="run tests whose name contains this")
    args = ap.parse_args()

    build = os.path.abspath(os.environ.get("STRATA_BUILD", os.path.join(ROOT, "build")))
    server = os.path.join(build, "server", "strata-server")
    if not os.access(server, os.X_OK):
        print("note: %s is missing; every test will fail" % server, flush=True)

    plan = discover(args.k)
    results = []

    def report(name, ok, secs, output):
        results.append((name, ok))
        print("%s %s (%.1fs)" % ("PASS" if ok else "FAIL", name, secs), flush=True)
        if not ok:
            for line in output.rstrip("\n").split("\n"):
                print("    " + line)
            sys.stdout.flush()

    for path, timeout_s, checks in plan:
        tmp = tempfile.mkdtemp(prefix="strata-it-run-")
        env = dict(os.environ, STRATA_BUILD=build, TMPDIR=tmp, PYTHONDONTWRITEBYTECODE="1")
        try:
            run_file(path, timeout_s, checks, env, report)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not results else 0)


if __name__ == "__main__":
    main()
