"""Heartbeats: both directions with pika, and a raw client that negotiates
heartbeat 1 then goes silent."""
import time
import unittest

from amqp_harness import BrokerCase
from rawamqp import Closed, RawClient


class HeartbeatTest(BrokerCase):

    def test_pika_heartbeat_1_idle_5s(self):
        conn = self.connect(heartbeat=1)
        ch = conn.channel()
        q = self.declare(ch)
        self.assertEqual(conn._impl.params.heartbeat, 1)
        conn.sleep(5)  # serves I/O: pika sends its heartbeats every 0.5 s
        self.assertTrue(conn.is_open, "the server dropped a client that sent heartbeats")
        # The server beats every interval even when the client beats more often (pika: every interval/2).
        checker = conn._impl._heartbeat_checker
        self.assertIsNotNone(checker, "pika did not enable heartbeats")
        # The server sends one per second when it has nothing else to send.
        self.assertGreaterEqual(checker._heartbeat_frames_received, 3,
                                f"server heartbeats received in 5 s idle: {checker._heartbeat_frames_received}")
        ch.basic_publish("", q, "alive")
        self.assertEqual(self.get_bodies(ch, q), ["alive"])

    def test_raw_client_with_heartbeats_stays(self):
        c = RawClient(self.broker.host, self.port)
        self.addCleanup(c.close)
        c.handshake(heartbeat=1)
        end = time.monotonic() + 3
        while time.monotonic() < end:  # we beat every 0.5 s and read what comes
            c.send_heartbeat()
            try:
                c.read_frame(timeout=0.5)
            except AssertionError:
                pass  # nothing within 0.5 s
        self.assertGreaterEqual(c.heartbeats_received, 2, "the server should beat about once a second")
        c.channel_open(1)  # still served

    def test_silent_raw_client_is_dropped_and_its_unacked_requeued(self):
        ch = self.channel()
        q = self.declare(ch)
        ch.basic_publish("", q, "held by a silent client")
        c = RawClient(self.broker.host, self.port)
        self.addCleanup(c.close)
        c.handshake(heartbeat=1)
        c.channel_open(1)
        tag, redelivered, body = c.basic_get(q)
        self.assertEqual((tag, redelivered, body), (1, False, b"held by a silent client"))
        self.assertEqual(self.count(ch, q), (0, 0))
        silent_since = time.monotonic()
        with self.assertRaises(Closed):
            while True:  # read (and count) the server's heartbeats, never answer
                c.read_frame(timeout=10)
        dropped_after = time.monotonic() - silent_since
        # RabbitMQ closes after two missed heartbeat intervals.
        self.assertGreater(dropped_after, 1.5, "dropped too early")
        self.assertLess(dropped_after, 3.5, "not dropped within ~2-3 s of silence")
        # The first server heartbeat is due 1 s after open-ok, before the 2 s drop.
        self.assertGreaterEqual(c.heartbeats_received, 1, "the server sent no heartbeat before dropping us")
        m, _, body = ch.basic_get(q, auto_ack=True)
        self.assertIsNotNone(m, "the silent client's unacked message was not requeued")
        self.assertEqual((body, m.redelivered), (b"held by a silent client", True))
        print(f"\n  silent client dropped after {dropped_after:.2f}s", end=" ")


if __name__ == "__main__":
    unittest.main()
