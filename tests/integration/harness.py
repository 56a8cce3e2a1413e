"""Shared machinery for the socketlock integration tests (stdlib only).

CTest passes the binaries in WARREN_WARREND, WARREN_SOCKETLOCK and
WARREN_WORKER. Every test gets its own directory from mkdtemp under /tmp, so
tests may run side by side; set WARREN_KEEP_TMP=1 to keep it for inspection.
"""
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest


def binary(var):
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"${var} must name an executable (set by CTest), got {path!r}")
    return path


def now_ns():
    return time.monotonic_ns()  # CLOCK_MONOTONIC, as the worker's <ns>


class Proc:
    """A child process: stdout read line by line on a thread, stderr to a file."""

    def __init__(self, name, argv, workdir, stdin=True, env=None):
        self.name = name
        self.argv = argv
        self.err_path = os.path.join(workdir, f"{name}.stderr")
        self._err = open(self.err_path, "wb")
        self.lines = queue.Queue()
        self.all_lines = []
        self.started_ns = now_ns()
        # A session of its own: cleanup can end its children too (sh, sleep).
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=self._err, env=env,
                                  start_new_session=True)
        self.exit_ns = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.all_lines.append(line)
            self.lines.put((now_ns(), line))
        self.lines.put((now_ns(), None))

    @property
    def pid(self):
        return self.p.pid

    def readline(self, timeout, prefix=None, contains=None):
        """The next stdout line starting with `prefix` and containing
        `contains` (others skipped), as (monotonic ns when read, text);
        raises AssertionError on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                at, line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(f"{self.name}: no {prefix or contains or 'line'} within {timeout}s\n{self.describe()}")
            if line is None:
                self.lines.put((at, None))  # keep EOF visible to later calls
                raise AssertionError(f"{self.name}: stdout closed before {prefix or contains or 'a line'}\n{self.describe()}")
            if (prefix is None or line.startswith(prefix)) and (contains is None or contains in line):
                return at, line

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def close_stdin(self):
        if self.p.stdin and not self.p.stdin.closed:
            try:
                self.p.stdin.close()
            except BrokenPipeError:
                pass

    def wait(self, timeout):
        """Waits for exit, polling so the exit time is known to ~5 ms; returns the status."""
        deadline = time.monotonic() + timeout
        while self.p.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running after {timeout}s\n{self.describe()}")
            time.sleep(0.005)
        if self.exit_ns is None:
            self.exit_ns = now_ns()
        self._reader.join(timeout=2)  # its last lines reach all_lines (unless a child keeps stdout)
        return self.p.returncode

    def signal(self, sig):
        os.kill(self.p.pid, sig)

    def stderr_text(self):
        self._err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def describe(self, tail=3000):
        err = self.stderr_text()
        if len(err) > tail:
            err = "...\n" + err[-tail:]
        out = "\n".join(self.all_lines[-20:])
        return (f"--- {self.name} (pid {self.p.pid}, status {self.p.returncode}): {' '.join(self.argv)}\n"
                f"--- stdout (last lines):\n{out}\n--- stderr:\n{err}")

    def kill_all(self):
        """Ends the process and anything it started (its own session)."""
        if self.p.poll() is None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.killpg(self.p.pid, sig)
                except ProcessLookupError:
                    pass
            self.p.wait(timeout=10)
        else:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)  # orphans left in its session
            except (ProcessLookupError, PermissionError):
                pass
        self.close_stdin()
        self._reader.join(timeout=5)
        if not self._reader.is_alive():
            self.p.stdout.close()
        self._err.close()


class SocketlockCase(unittest.TestCase):
    """Base class: a temp dir, a socket path in it, and process bookkeeping."""

    def setUp(self):
        self.warrend_bin = binary("WARREN_WARREND")
        self.cli_bin = binary("WARREN_SOCKETLOCK")
        self.worker_bin = binary("WARREN_WORKER")
        self.dir = tempfile.mkdtemp(prefix="wsl-", dir="/tmp")
        self.sock = os.path.join(self.dir, "sl.sock")
        assert len(self.sock) < 100
        self.procs = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for p in self.procs:
            p.kill_all()
        if os.environ.get("WARREN_KEEP_TMP"):
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def spawn(self, name, argv, stdin=True, env=None):
        p = Proc(name, argv, self.dir, stdin=stdin, env=env)
        self.procs.append(p)
        return p

    def worker(self, name, mode, *args):
        return self.spawn(name, [self.worker_bin, mode, "--socket", self.sock, *args])

    def cli(self, name, *args, stdin=False, env=None):
        return self.spawn(name, [self.cli_bin, *args], stdin=stdin, env=env)

    def run_cli(self, *args, timeout=15, env=None):
        """Runs the socketlock CLI to completion: (status, stdout, stderr)."""
        r = subprocess.run([self.cli_bin, *args], capture_output=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def start_warrend(self, *extra, name="warrend", sock=None, wait=True):
        sock = sock or self.sock
        p = self.spawn(name, [self.warrend_bin, "--data-dir", os.path.join(self.dir, "data"),
                              "--socketlock-path", sock, "--log-level", "info",
                              # any free port: tests run side by side
                              "--amqp-port", "0", *extra], stdin=False)
        if wait:
            self.wait_listening(sock, p)
        return p

    def wait_listening(self, sock, proc=None, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.p.poll() is not None:
                self.fail(f"{proc.name} exited before listening\n{proc.describe()}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(sock)
                    return
            except OSError:
                time.sleep(0.02)
        self.fail(f"nobody listens on {sock} after {timeout}s\n" + (proc.describe() if proc else ""))

    def show(self):
        """`socketlock status` as a list of its output lines."""
        rc, out, err = self.run_cli("status", "--socket", self.sock)
        self.assertEqual(rc, 0, f"socketlock status failed: {out}\n{err}")
        return out.splitlines()

    def wait_for_waiters(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            lines = self.show()
            if sum(1 for l in lines if l.startswith("waiting")) >= n:
                return lines
            time.sleep(0.05)
        self.fail(f"expected {n} waiters, status says:\n" + "\n".join(lines) + "\n" + self.describe_all())

    def describe_all(self):
        return "\n".join(p.describe() for p in self.procs)
