"""Shared machinery for the AMQP 1.0 interoperability tests.

Each test class starts its own warrend through the AMQP 0-9-1 tests' Warrend
class (AMQP 1.0 is served on the same port as 0-9-1), or, when
WARREN_AMQP10_URL is set (e.g. amqp://127.0.0.1:5699), uses that broker
instead: that is how these tests were developed against RabbitMQ 3.10 with
its rabbitmq_amqp1_0 plugin before Warren's engine existed.

Where the issue asks of Warren what RabbitMQ 3.10 does not do (drain,
dynamic nodes, the anonymous relay, /queues/ addresses, ...), the test is
written to the issue and marked @differs_on_rabbitmq: against an external
broker it is skipped with the reason, unless WARREN_AMQP10_STRICT=1.

Clients are real: python3-qpid-proton (under Debian's /usr/bin/python3),
the Proton C, C++ and Python examples from libqpid-proton11-dev-examples,
rhea from npm, and pika for the 0-9-1 side of cross-protocol checks.
"""
import functools
import os
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "amqp091"))

import pika  # noqa: E402
from proton import Message, Timeout  # noqa: E402
from proton.utils import BlockingConnection  # noqa: E402

from amqp_harness import Child, Warrend, WarrendCase  # noqa: E402

PYTHON = "/usr/bin/python3"  # Debian's, which has proton and pika
EXTERNAL_URL = os.environ.get("WARREN_AMQP10_URL")
STRICT = os.environ.get("WARREN_AMQP10_STRICT") == "1"


def differs_on_rabbitmq(reason):
    """Marks a test of something the issue asks of Warren that RabbitMQ 3.10
    does not do; skipped against an external broker unless strict."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(self, *a, **kw):
            if EXTERNAL_URL and not STRICT:
                self.skipTest(f"RabbitMQ 3.10 differs: {reason}")
            return fn(self, *a, **kw)
        return run
    return wrap


class ExternalBroker:
    """A broker we did not start (WARREN_AMQP10_URL): nothing to stop."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 5672

    def start(self):
        return self

    def alive(self):
        return True

    def describe(self):
        return f"--- external broker {EXTERNAL_URL}"

    def stop(self):
        return None


class Amqp10Case(WarrendCase):
    """A test class with its own broker, and Proton and pika helpers."""

    @classmethod
    def make_broker(cls):
        return ExternalBroker(EXTERNAL_URL) if EXTERNAL_URL else Warrend(*cls.broker_args)

    # ---------------------------------------------------------- names

    @property
    def url(self):
        return f"amqp://{self.host}:{self.port}"

    # ---------------------------------------------------------- proton

    def connect(self, timeout=10, **kw):
        """A proton.utils.BlockingConnection (SASL ANONYMOUS unless user/password are given)."""
        conn = BlockingConnection(self.url, timeout=timeout, **kw)
        self._closers.append(conn.close)
        return conn

    def receiver(self, conn, address, credit=0, **kw):
        """A blocking receiver whose credit the test grants itself (link.flow):
        with credit=0 the client adds none on its own."""
        return conn.create_receiver(address, credit=credit, **kw)

    def pump(self, conn, seconds):
        """Serves the connection's I/O for about `seconds`."""
        try:
            conn.wait(lambda: False, timeout=seconds)
        except Timeout:
            pass

    def wait(self, conn, predicate, timeout, what):
        try:
            conn.wait(predicate, timeout=timeout)
        except Timeout:
            self.fail(f"timed out after {timeout}s waiting for {what}")

    def take(self, conn, rcv, n, timeout=10):
        """Waits until n messages arrived on a blocking receiver; returns them
        (their deliveries stay unsettled, in rcv.fetcher.unsettled)."""
        self.wait(conn, lambda: rcv.fetcher.has_message >= n, timeout,
                  f"{n} messages (have {rcv.fetcher.has_message})")
        return [rcv.fetcher.pop() for _ in range(n)]

    def send(self, address, *bodies, **props):
        """Sends each body to `address` over a new connection, waiting for
        each to be settled (accepted) by the broker. A bytes body goes as a
        data section (what a 0-9-1 consumer sees as its body), anything else
        as an amqp-value."""
        conn = self.connect()
        snd = conn.create_sender(address)
        for b in bodies:
            m = Message(body=b, **props)
            m.inferred = isinstance(b, bytes)
            snd.send(m)
        conn.close()

    def drain_bodies(self, address, expect=None, timeout=1.0):
        """Receives (and accepts) every message at `address` until none comes
        for `timeout` seconds, or until `expect` came; returns their bodies."""
        conn = self.connect()
        rcv = conn.create_receiver(address, credit=100)
        out = []
        while expect is None or len(out) < expect:
            try:
                m = rcv.receive(timeout=timeout)
            except Timeout:
                break
            out.append(m.body)
            rcv.accept()
        conn.close()
        return out

    # ------------------------------------------------------------ pika

    def pika_channel(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            host=self.host, port=self.port, connection_attempts=1, socket_timeout=10))
        self._closers.append(lambda: conn.is_open and conn.close())
        return conn.channel()

    def pika_count(self, ch, queue):
        """(message_count, consumer_count) of a queue, by passive declare."""
        ok = ch.queue_declare(queue=queue, passive=True).method
        return ok.message_count, ok.consumer_count

    # ------------------------------------------------------- processes

    def spawn(self, argv, env=None, cwd=HERE):
        """A client process whose stdout lines collect in .lines."""
        full = dict(os.environ, PYTHONUNBUFFERED="1", AMQP10_URL=self.url)
        full.update(env or {})
        p = Child(argv, full)
        self._procs.append(p)
        return p

    def run_client(self, argv, timeout=30, cwd=HERE, expect_rc=0):
        """Runs a client to completion; fails unless it exits expect_rc. Returns its stdout."""
        env = dict(os.environ, PYTHONUNBUFFERED="1", AMQP10_URL=self.url)
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail(f"{argv} did not finish within {timeout}s:\n{e.stdout}\n{e.stderr}")
        self.assertEqual(r.returncode, expect_rc, f"{argv} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        self.last_stderr = r.stderr
        return r.stdout

    def wait_for(self, predicate, timeout, what, detail=lambda: ""):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout}s waiting for {what}\n{detail()}")
            time.sleep(0.01)
