"""Start and stop the real strata-server for integration tests.

Each Broker gets free loopback ports and its own temp data dir, and is
stopped (by PID) when the test ends. Tests use /usr/bin/python3 so Debian's
python3-confluent-kafka and python3-kafka are importable.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("STRATA_BUILD", os.path.join(ROOT, "build"))
SERVER = os.path.join(BUILD, "server", "strata-server")


def recv_exact(sock, n):
    """n bytes from a blocking socket; fails the check if the broker closes."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, "broker closed the connection"
        buf += chunk
    return bytes(buf)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A strata-server process. overrides: dict of server.properties keys."""

    def __init__(self, overrides=None, data_dir=None):
        self.port = free_port()
        self.http_port = free_port()
        # Chosen once so that a restart() sees the same quorum configuration.
        self.controller_port = free_port()
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="strata-it-")
        self.overrides = dict(overrides or {})
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        props = os.path.join(self.data_dir, "server.properties")
        with open(props, "w") as f:
            f.write("node.id=1\n")
            f.write("process.roles=broker,controller\n")
            f.write("controller.quorum.voters=1@127.0.0.1:%d\n" % self.controller_port)
            f.write("controller.listener.names=CONTROLLER\n")
            f.write("listeners=PLAINTEXT://127.0.0.1:%d\n" % self.port)
            f.write("log.dirs=%s\n" % os.path.join(self.data_dir, "logs"))
            f.write("http.listeners=http://127.0.0.1:%d\n" % self.http_port)
        cmd = [SERVER, props]
        for k, v in self.overrides.items():
            cmd += ["--override", "%s=%s" % (k, v)]
        if getattr(self, "log", None):
            self.log.close()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("strata-server exited with %s; log:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("strata-server did not listen within %.0fs" % timeout)

    def restart(self, timeout=30.0):
        """Start again on the same port and data dir (after kill9() or stop()).

        Recovery after a crash may take longer than a cold start, hence the
        larger default timeout."""
        if self.alive():
            self.stop()
        self.proc = None
        return self.start(timeout=timeout)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def log_mark(self):
        """An opaque position in the server log; see log_since()."""
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, mark):
        """Log text written after log_mark() returned mark."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def rss_kib(self):
        """Resident set size of the server process, from /proc."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill9(self):
        """SIGKILL, as a crash: no flush, no clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        self.proc = None
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        self.stop()
        if getattr(self, "log", None):
            self.log.close()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            # The test failed: the broker's side of the story helps most.
            self.print_log_tail()
            self.close()
            return
        # Every test ends with a clean SIGTERM shutdown: exit 0, which under
        # the sanitizers also means no leak and no error at exit.
        rc = self.stop()  # None when the test already stopped or killed it
        if rc not in (None, 0):
            self.print_log_tail()
            self.close()
            raise AssertionError("strata-server exited with %s after SIGTERM" % rc)
        self.close()

    def print_log_tail(self, n=40):
        lines = self.read_log().splitlines()
        print("--- last %d lines of %s ---" % (min(len(lines), n), self.log_path))
        print("\n".join(lines[-n:]))
        print("--- end of server log ---")


# ---------------------------------------------------------------------------
# In-file check runner. Each test_*.py ends with
#     if __name__ == "__main__": harness.run_checks(globals())
# and run.py starts it as a subprocess with the names of the checks to run.
# Markers on stdout let run.py attribute output and results to each check.

CHECK_START = "@@strata-check-start"
CHECK_END = "@@strata-check-end"


def run_checks(namespace, argv=None):
    import sys
    import traceback
    argv = sys.argv[1:] if argv is None else argv
    names = [n for n in namespace if n.startswith("check_") and callable(namespace[n])]
    if argv:
        names = [n for n in names if n in argv]
    failed = 0
    for name in names:
        print("%s %s" % (CHECK_START, name), flush=True)
        t0 = time.time()
        ok = True
        try:
            namespace[name]()
        except BaseException:  # report KeyboardInterrupt/SystemExit too
            ok = False
            traceback.print_exc(file=sys.stdout)
        failed += not ok
        sys.stdout.flush()
        sys.stderr.flush()
        print("%s %s %s %.1f" % (CHECK_END, name, "PASS" if ok else "FAIL", time.time() - t0), flush=True)
    sys.exit(1 if failed else 0)
