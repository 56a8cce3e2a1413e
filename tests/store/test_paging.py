"""Paging with a real warrend: a durable queue outgrows the memory budget.

warrend runs with --memory-budget 8 MB. warren-perf publishes 150,000
persistent 1 KiB messages (146 MiB of bodies) with confirms into a durable
queue with no consumer, then pika publishes 500 more whose bodies carry
their number and a sha256. Checked:
  - warrend's resident memory grows by far less than the bodies (each
    paged message costs its queue 32 bytes, docs/storage.md#paging);
  - after a SIGKILL and a restart, the recovery reads only the queue's
    window: memory stays small, and every message is there;
  - pika then consumes them all: the 150,000, then the 500 in order and
    intact (read back from the log as the consumer nears).
AddressSanitizer's quarantine of freed memory is capped for warrend, so
that resident memory measures what warrend keeps.
"""
import hashlib
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "amqp091"))
sys.path.insert(0, HERE)

import pika  # noqa: E402
import pika.exceptions  # noqa: E402

from test_crash import RECOVERED, RestartableWarrend  # noqa: E402

BULK = 150_000
TAIL = 500
QUEUE = "paged"
BUDGET = 8_000_000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def body(i):
    payload = (f"tail {i} " * 100).encode()
    return f"{i}:{hashlib.sha256(payload).hexdigest()}:".encode() + payload


class PagingTest(unittest.TestCase):
    def setUp(self):
        self.perf = os.environ["WARREN_PERF"]
        asan = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=4"
        self.broker = RestartableWarrend("--memory-budget", str(BUDGET))
        self.broker.start()
        self.addCleanup(self.broker.stop)

    def uri(self):
        return f"amqp://guest:guest@{self.broker.host}:{self.broker.port}/%2F"

    def perf_run(self, *args, timeout=240):
        r = subprocess.run([self.perf, "-h", self.uri(), "-u", QUEUE, "-ad", "false", "-s", "1024", *args],
                           capture_output=True, text=True, timeout=timeout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def connect(self):
        c = pika.BlockingConnection(pika.ConnectionParameters(self.broker.host, self.broker.port))
        def close():
            try:
                if c.is_open:
                    c.close()
            except pika.exceptions.AMQPError:
                pass  # its broker was killed
        self.addCleanup(close)
        return c.channel()

    def depth(self):
        ch = self.connect()
        return ch.queue_declare(QUEUE, durable=True, passive=True).method.message_count

    def test_a_backlog_larger_than_the_budget_stays_on_disk(self):
        ch = self.connect()
        ch.queue_declare(QUEUE, durable=True)
        before = rss_kib(self.broker.p.pid)
        self.perf_run("-x", "1", "-y", "0", "-f", "persistent", "-c", "256", "-C", str(BULK))
        ch.confirm_delivery()
        for i in range(TAIL):
            ch.basic_publish("", QUEUE, body(i), pika.BasicProperties(delivery_mode=2))
        self.assertEqual(self.depth(), BULK + TAIL)
        grown = rss_kib(self.broker.p.pid) - before
        bodies_kib = BULK * 1024 // 1024
        sys.stderr.write(f"[paging: RSS grew {grown} KiB for {bodies_kib} KiB of bodies]\n")
        self.assertLess(grown, bodies_kib // 3, "the bodies stayed in memory")

        self.broker.kill9()
        self.broker.start(timeout=120)
        m = RECOVERED.search(self.broker.stdout_text())
        self.assertIsNotNone(m, self.broker.describe())
        self.assertEqual(int(m.group(4)), BULK + TAIL)
        recovered = rss_kib(self.broker.p.pid) - before
        sys.stderr.write(f"[paging: RSS after recovering {BULK + TAIL} messages: {recovered} KiB above a fresh one]\n")
        self.assertLess(recovered, bodies_kib // 3, "recovery read every body into memory")

        ch = self.connect()
        ch.basic_qos(prefetch_count=2000)
        bulk, got = 0, []
        for method, props, b in ch.consume(QUEUE, auto_ack=True, inactivity_timeout=10):
            if method is None:
                break
            if bulk < BULK:
                bulk += 1
                self.assertEqual(len(b), 1024)
                continue
            got.append(b)
            if len(got) == TAIL:
                break
        self.assertEqual(bulk, BULK)
        self.assertEqual(len(got), TAIL)
        for i, b in enumerate(got):
            self.assertEqual(b, body(i), f"message {i} of the tail")
        self.assertEqual(self.depth(), 0)
        self.assertNotIn("that message is lost", self.broker.stdout_text())


if __name__ == "__main__":
    unittest.main()
