"""The reader thread (docs/architecture.md#threads): a publisher that
streams moves to it, and every way its connection can end still gives back
what it held. Raw sockets, because the test needs big writes and a reset."""
import socket
import struct
import threading
import time
import unittest

from amqp_harness import BrokerCase
from rawamqp import FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_METHOD, RawClient, shortstr, table

MOVED = "its socket is read on a reader thread"


def frame(ftype, channel, payload):
    return struct.pack("!BHI", ftype, channel, len(payload)) + payload + bytes([FRAME_END])


def publishes(queue, n, body):
    one = (frame(FRAME_METHOD, 1, struct.pack("!HHH", 60, 40, 0) + shortstr("") + shortstr(queue) + b"\0")
           + frame(FRAME_HEADER, 1, struct.pack("!HHQH", 60, 0, len(body), 0))
           + frame(FRAME_BODY, 1, body))
    return one * n


class ReaderThreadTest(BrokerCase):
    # Low enough that the flood below trips it; the blocked publisher is
    # then paused, on the reader thread.
    broker_args = ("--memory-high-watermark", "20000000")

    def consuming_publisher(self, queue):
        """A raw connection that consumes `queue` with manual acks (prefetch 10)."""
        c = RawClient(self.broker.host, self.port)
        self._closers.append(c.close)
        c.handshake()
        c.channel_open(1)
        c.send_method(1, 50, 10, struct.pack("!H", 0) + shortstr(queue) + b"\0" + table({}))
        c.expect(50, 11, 1)
        c.send_method(1, 60, 10, struct.pack("!IHB", 0, 10, 0))
        c.expect(60, 11, 1)
        c.send_method(1, 60, 20, struct.pack("!H", 0) + shortstr(queue) + shortstr("c") + b"\0" + table({}))
        c.expect(60, 21, 1)
        return c

    def flood(self, c, queue, stop):
        """Big writes until the broker stops reading (or `stop` is set)."""
        chunk = publishes(queue, 200, b"x" * 1024)  # ~ 210 KiB per write
        c.sock.settimeout(0.5)
        while not stop.is_set():
            try:
                c.sock.sendall(chunk)
            except (socket.timeout, OSError):
                return

    def test_a_reset_while_blocked_on_the_reader_releases_everything(self):
        ch = self.channel()
        q = self.declare(ch)
        c = self.consuming_publisher(q)
        stop = threading.Event()
        t = threading.Thread(target=self.flood, args=(c, q, stop), daemon=True)
        t.start()
        log = self.broker.stdout_text
        self.wait_for(lambda: MOVED in log(), 30, "the publisher to move to the reader thread", log)
        self.wait_for(lambda: "memory alarm:" in log(), 30, "the memory alarm", log)
        stop.set()
        t.join(timeout=10)
        self.assertEqual(self.count(ch, q)[1], 1, "the raw connection consumes")
        # A reset (unread deliveries in our socket, and SO_LINGER 0) while
        # the broker has the connection paused.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.sock.close()
        # Its consumer and its unacked deliveries go back at once, not when
        # the alarm clears (which, with them held, it would not).
        self.wait_for(lambda: self.count(ch, q)[1] == 0, 10, "the consumer to go", log)
        ready, _ = self.count(ch, q)
        self.assertGreater(ready, 1000)
        ch.queue_purge(q)
        self.wait_for(lambda: "memory alarm cleared" in log(), 10, "the alarm to clear", log)


if __name__ == "__main__":
    unittest.main()
