"""Shared machinery for the AMQP 0-9-1 interoperability tests.

Each test class starts its own warrend (temp data dir and socketlock path
under /tmp, AMQP on a free port learnt from its log line) and stops it with
SIGTERM at the end: a non-zero exit, a sanitizer report or a crash fails the
class, and its output is printed. Clients are real third-party libraries:
Debian's python3-pika (run with /usr/bin/python3), amqp-tools, kombu, and
amqplib from npm.

CTest passes the daemon in WARREN_WARREND. WARREN_KEEP_TMP=1 keeps the
temp dirs for inspection.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import pika

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, which has pika and kombu
LISTENING = re.compile(r"AMQP 0-9-1 listening on ([0-9.]+):(\d+)")
SANITIZER = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: \w+Sanitizer)")


def binary(var):
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"${var} must name an executable (set by CTest), got {path!r}")
    return path


class Warrend:
    """One warrend process: stdout (its log) and stderr each to a file."""

    def __init__(self, *extra_args):
        self.bin = binary("WARREN_WARREND")
        self.dir = tempfile.mkdtemp(prefix="wamqp-", dir="/tmp")
        self.argv = [self.bin, "--data-dir", os.path.join(self.dir, "data"),
                     "--socketlock-path", os.path.join(self.dir, "sl.sock"),
                     "--amqp-port", "0", *extra_args]
        self.out_path = os.path.join(self.dir, "warrend.stdout")
        self.err_path = os.path.join(self.dir, "warrend.stderr")
        self.p = None
        self.host = "127.0.0.1"
        self.port = None

    def start(self, timeout=20):
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = LISTENING.search(self.stdout_text())
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                return self
            if self.p.poll() is not None:
                raise AssertionError(f"warrend exited before listening\n{self.describe()}")
            time.sleep(0.02)
        raise AssertionError(f"no 'AMQP 0-9-1 listening on' line after {timeout}s\n{self.describe()}")

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def stdout_text(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr_text(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def describe(self, tail=6000):
        def cut(s):
            return s if len(s) <= tail else "...\n" + s[-tail:]
        status = self.p.poll() if self.p else None
        return (f"--- warrend (pid {self.p.pid if self.p else '-'}, exit status {status}): {' '.join(self.argv)}\n"
                f"--- warrend stdout (log):\n{cut(self.stdout_text())}\n"
                f"--- warrend stderr:\n{cut(self.stderr_text())}")

    def stacks(self):
        """Every thread's stack of a warrend that hangs (gdb, when there is one)."""
        gdb = shutil.which("gdb")
        if not gdb:
            return "--- (no gdb: no stacks)"
        try:
            out = subprocess.run([gdb, "-batch", "-p", str(self.p.pid), "-ex", "thread apply all bt"],
                                 capture_output=True, text=True, timeout=60).stdout
        except subprocess.TimeoutExpired:
            out = "(gdb took too long)"
        return f"--- warrend's threads:\n{out[-20000:]}"

    def stop(self, timeout=30, keep_dir=False):
        """SIGTERM, wait; returns a problem description or None when it exited 0
        cleanly. Its temp dir goes then, unless keep_dir (to start it again)."""
        if self.p is None:
            return None
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stacks = self.stacks()
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=10)
                return f"warrend did not exit within {timeout}s of SIGTERM\n{self.describe()}\n{stacks}"
        rc = self.p.returncode
        problem = None
        if rc != 0:
            problem = f"warrend exited with status {rc} after SIGTERM (expected 0)"
        elif SANITIZER.search(self.stderr_text()):
            problem = "warrend's stderr has a sanitizer report"
        if problem:
            return f"{problem}\n{self.describe()}"
        if not keep_dir and not os.environ.get("WARREN_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return None


class WarrendCase(unittest.TestCase):
    """A test class with its own broker, started once for the class and
    checked alive around every test; each test's child processes and
    connections are cleaned up after it (the AMQP 1.0 tests share this)."""

    broker_args = ()

    @classmethod
    def make_broker(cls):
        return Warrend(*cls.broker_args)

    @classmethod
    def setUpClass(cls):
        cls.broker = cls.make_broker().start()
        cls.host, cls.port = cls.broker.host, cls.broker.port
        cls.started = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        problem = cls.broker.stop()
        sys.stderr.write(f"[{cls.__name__}: broker up {time.monotonic() - cls.started:.1f}s]\n")
        if problem:
            raise AssertionError(problem)

    def setUp(self):
        if not self.broker.alive():
            self.fail(f"warrend is not running before {self.id()}\n{self.broker.describe()}")
        self._closers = []  # called in reverse order after the test
        self._procs = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
            p.close()
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # the test may have broken it on purpose
                pass
        if not self.broker.alive():
            self.fail(f"warrend died during {self.id()}\n{self.broker.describe()}")

    def qname(self, what="q"):
        """A name no other test uses."""
        return f"{self.id().rsplit('.', 1)[-1]}.{what}.{uuid.uuid4().hex[:6]}"


class BrokerCase(WarrendCase):
    """A test class with its own warrend, and pika helpers."""

    # ------------------------------------------------------------- pika

    def params(self, **kw):
        kw.setdefault("connection_attempts", 1)
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("blocked_connection_timeout", 30)
        return pika.ConnectionParameters(host=self.broker.host, port=self.port, **kw)

    def connect(self, **kw):
        conn = pika.BlockingConnection(self.params(**kw))
        self._closers.append(lambda: conn.is_open and conn.close())
        return conn

    def channel(self, **kw):
        return self.connect(**kw).channel()

    def declare(self, ch, name=None, **kw):
        return ch.queue_declare(queue=name if name is not None else self.qname(), **kw).method.queue

    def count(self, ch, queue):
        """(message_count, consumer_count) from a passive declare."""
        ok = ch.queue_declare(queue=queue, passive=True).method
        return ok.message_count, ok.consumer_count

    def get_bodies(self, ch, queue, ack=True):
        """Every ready message's body, by basic.get, in order."""
        out = []
        while True:
            method, _props, body = ch.basic_get(queue, auto_ack=ack)
            if method is None:
                return out
            out.append(body.decode())

    def collect(self, ch, queue, n, timeout=5.0, ack=True, **consume_kw):
        """Consumes until n deliveries came (or timeout): [(method, props, body str)]."""
        got = []
        deadline = time.monotonic() + timeout
        for method, props, body in ch.consume(queue, inactivity_timeout=0.05, **consume_kw):
            if method is not None:
                got.append((method, props, body.decode()))
                if ack and not consume_kw.get("auto_ack"):
                    ch.basic_ack(method.delivery_tag)
            if len(got) >= n or time.monotonic() > deadline:
                break
        ch.cancel()
        return got

    def pump(self, conn, seconds):
        """Serves pika's I/O and callbacks for `seconds` (process_data_events
        alone returns as soon as something happened)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            conn.process_data_events(time_limit=left)

    def pump_until(self, conn, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout}s waiting for {what}")
            conn.process_data_events(time_limit=0.02)

    def assertChannelClosedBy(self, code, text_start, fn, *args, **kw):
        """fn(*args) must make the broker close the channel with `code`; returns the exception."""
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            fn(*args, **kw)
        e = cm.exception
        self.assertEqual((e.reply_code, e.reply_text[:len(text_start)]), (code, text_start),
                         f"full reply: {e.reply_code} {e.reply_text!r}")
        return e

    # -------------------------------------------------------- processes

    def spawn(self, argv, env=None):
        """A child process; its stdout lines collect in a list on a thread."""
        full_env = dict(os.environ, PYTHONUNBUFFERED="1", AMQP_PORT=str(self.port), AMQP_HOST=self.broker.host)
        full_env.update(env or {})
        p = Child(argv, full_env)
        self._procs.append(p)
        return p

    def py(self, script, *args, env=None):
        return self.spawn([PYTHON, os.path.join(HERE, script), *args], env=env)

    def run_py(self, script, *args, timeout=30):
        """Runs a client to completion; fails unless it exits 0. Returns its stdout."""
        env = dict(os.environ, PYTHONUNBUFFERED="1", AMQP_PORT=str(self.port), AMQP_HOST=self.broker.host)
        r = subprocess.run([PYTHON, os.path.join(HERE, script), *args], capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=HERE, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, f"{script} {args} failed:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def wait_for(self, predicate, timeout, what, detail=lambda: ""):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout}s waiting for {what}\n{detail()}")
            time.sleep(0.01)


class Child:
    """A client process: stdout lines in .lines (read on a thread), stderr kept."""

    def __init__(self, argv, env):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, text=True, cwd=HERE)
        self.lines = []
        self.err = ""
        self._out = threading.Thread(target=self._read_out, daemon=True)
        self._errt = threading.Thread(target=self._read_err, daemon=True)
        self._out.start()
        self._errt.start()

    def _read_out(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def _read_err(self):
        self.err = self.p.stderr.read()

    @property
    def pid(self):
        return self.p.pid

    def poll(self):
        return self.p.poll()

    def kill(self):
        self.p.kill()

    def wait(self, timeout):
        return self.p.wait(timeout=timeout)

    def has(self, text):
        return any(text in l for l in self.lines)

    def matching(self, prefix):
        return [l for l in self.lines if l.startswith(prefix)]

    def describe(self, last=20):
        shown = self.lines[-last:]
        more = f"({len(self.lines) - last} lines before these) " if len(self.lines) > last else ""
        return (f"--- client {' '.join(self.argv)} (pid {self.p.pid}, status {self.p.poll()})\n"
                f"stdout: {more}{shown}\nstderr: {self.err[-3000:]}")

    def finish(self, sig=signal.SIGINT, timeout=10):
        """Stops it with `sig` (SIGINT: the tutorials' KeyboardInterrupt); returns its status."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise AssertionError(f"client did not stop within {timeout}s\n{self.describe()}")
        self.close()
        return rc

    def close(self):
        self._out.join(timeout=5)
        self._errt.join(timeout=5)
        for f in (self.p.stdout, self.p.stderr):
            if not self._out.is_alive() and not self._errt.is_alive():
                f.close()
