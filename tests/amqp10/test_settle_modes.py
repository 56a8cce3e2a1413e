"""rcv-settle-mode second through Proton, in both directions.

A receiver (broker sends) asking for `second`: its unsettled accepted
disposition is answered by a settled one from the broker, after which the
client settles; the message is gone. A sender (broker receives) asking for
`second`: the broker echoes the mode in its attach and leaves its accepted
disposition unsettled for the client to settle (session.cpp / link.cpp).
"""
import unittest

from proton import Delivery, Link, Message
from proton.reactor import LinkOption

from amqp10_harness import Amqp10Case


class RcvSecond(LinkOption):
    """Asks for rcv-settle-mode second in the attach."""

    def apply(self, link):
        link.rcv_settle_mode = Link.RCV_SECOND


class RcvSettleSecondTest(Amqp10Case):

    def test_receiver_accepts_unsettled_and_the_broker_settles(self):
        q = self.qname()
        addr = f"/queue/{q}"
        self.send(addr, b"one")
        conn = self.connect()
        rcv = self.receiver(conn, addr, options=RcvSecond())
        self.assertEqual(rcv.link.remote_rcv_settle_mode, Link.RCV_SECOND, "broker did not echo rcv-settle-mode")
        rcv.flow(1)
        [m] = self.take(conn, rcv, 1)
        self.assertEqual(m.body, b"one")
        dlv = rcv.fetcher.unsettled.popleft()
        self.assertFalse(dlv.settled, "the broker sent the message settled")
        dlv.update(Delivery.ACCEPTED)  # accepted, not settled: the broker settles first
        self.wait(conn, lambda: dlv.settled, 5, "the broker's settled disposition")
        self.assertEqual(dlv.remote_state, Delivery.ACCEPTED)
        dlv.settle()
        self.pump(conn, 0.3)
        self.assertTrue(conn.conn.state & conn.conn.REMOTE_ACTIVE, "the broker closed the connection")
        ch = self.pika_channel()
        self.assertEqual(self.pika_count(ch, q)[0], 0, "the accepted message is still queued")
        conn.close()
        # Nothing comes back once the link is gone (an unsettled one would be released).
        self.assertEqual(self.drain_bodies(addr, timeout=0.5), [])

    def test_receiver_second_released_message_comes_back(self):
        q = self.qname()
        addr = f"/queue/{q}"
        self.send(addr, b"two")
        conn = self.connect()
        rcv = self.receiver(conn, addr, options=RcvSecond())
        rcv.flow(1)
        self.take(conn, rcv, 1)
        dlv = rcv.fetcher.unsettled.popleft()
        dlv.update(Delivery.RELEASED)
        self.wait(conn, lambda: dlv.settled, 5, "the broker's settled disposition")
        self.assertEqual(dlv.remote_state, Delivery.RELEASED)
        dlv.settle()
        conn.close()
        self.assertEqual(self.drain_bodies(addr, expect=1), [b"two"])

    def test_sender_second_broker_leaves_its_outcome_unsettled(self):
        q = self.qname()
        addr = f"/queue/{q}"
        conn = self.connect()
        snd = conn.create_sender(addr, options=RcvSecond())
        self.assertEqual(snd.link.remote_rcv_settle_mode, Link.RCV_SECOND, "broker did not echo rcv-settle-mode")
        self.wait(conn, lambda: snd.link.credit > 0, 5, "credit")
        m = Message(body=b"three")
        m.inferred = True
        dlv = snd.link.send(m)
        self.wait(conn, lambda: dlv.remote_state == Delivery.ACCEPTED, 5, "the broker's accepted disposition")
        self.pump(conn, 0.2)
        self.assertFalse(dlv.settled, "in mode second the broker must leave its disposition unsettled")
        dlv.settle()
        self.pump(conn, 0.2)
        self.assertTrue(conn.conn.state & conn.conn.REMOTE_ACTIVE, "the broker closed the connection")
        conn.close()
        self.assertEqual(self.drain_bodies(addr, expect=1), [b"three"])


if __name__ == "__main__":
    unittest.main()
