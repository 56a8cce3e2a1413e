"""Link and session flow control through python3-qpid-proton: credit, drain,
many messages in flight, competing receivers, multi-frame messages, and the
idle time-out."""
import unittest

from proton import Delivery, Message
from proton.handlers import MessagingHandler
from proton.reactor import AtMostOnce, Container

from amqp10_harness import Amqp10Case, differs_on_rabbitmq


DRAIN_3_10 = ("3.10 never completes a drain (proton: 2 of 3 messages, credit stays 8; "
              "rhea: amqp:internal-error, function_clause in rabbit_classic_queue:handle_event send_drained)")


class CreditTest(Amqp10Case):

    def test_credit_one_delivers_exactly_one_until_more_credit(self):
        addr = f"/queue/{self.qname()}"
        self.send(addr, *[f"m{i}" for i in range(5)])
        conn = self.connect()
        rcv = self.receiver(conn, addr)
        self.pump(conn, 0.3)
        self.assertEqual(rcv.fetcher.has_message, 0, "a message came without credit")
        got = []
        for i in range(3):
            rcv.link.flow(1)
            got += [m.body for m in self.take(conn, rcv, 1)]
            self.pump(conn, 0.3)
            self.assertEqual(rcv.fetcher.has_message, 0, f"more than one message for credit 1 (round {i})")
            self.assertEqual(rcv.link.credit, 0)
        self.assertEqual(got, ["m0", "m1", "m2"])
        rcv.accept()  # m0 only
        conn.close()  # m1, m2 unsettled: back to the queue
        self.assertEqual(self.drain_bodies(addr, expect=4), ["m1", "m2", "m3", "m4"])

    def test_credit_granted_before_messages_arrive(self):
        addr = f"/queue/{self.qname()}"
        conn = self.connect()
        rcv = self.receiver(conn, addr)
        rcv.link.flow(2)
        self.pump(conn, 0.2)
        self.send(addr, "a", "b", "c")
        self.assertEqual([m.body for m in self.take(conn, rcv, 2)], ["a", "b"])
        self.pump(conn, 0.3)
        self.assertEqual(rcv.fetcher.has_message, 0, "a third message came on credit 2")

    @differs_on_rabbitmq(DRAIN_3_10)
    def test_drain_ten_credit_three_messages(self):
        addr = f"/queue/{self.qname()}"
        self.send(addr, "d1", "d2", "d3")
        conn = self.connect()
        rcv = self.receiver(conn, addr)
        rcv.link.drain(10)
        self.wait(conn, lambda: rcv.fetcher.has_message == 3 and not rcv.link.draining(), 5,
                  "3 messages and the drain's echo")
        self.assertEqual([rcv.fetcher.pop().body for _ in range(3)], ["d1", "d2", "d3"])
        self.assertEqual(rcv.link.credit, 0, "after the drain the sender's credit is used up")
        self.send(addr, "later")
        self.pump(conn, 0.3)
        self.assertEqual(rcv.fetcher.has_message, 0, "a message came after the drain used the credit")

    @differs_on_rabbitmq(DRAIN_3_10)
    def test_drain_on_empty_queue_completes(self):
        addr = f"/queue/{self.qname()}"
        self.send(addr, "x")
        self.drain_bodies(addr, expect=1)  # the queue exists and is empty
        conn = self.connect()
        rcv = self.receiver(conn, addr)
        rcv.link.drain(5)
        self.wait(conn, lambda: not rcv.link.draining(), 5, "the drain's echo")
        self.assertEqual((rcv.fetcher.has_message, rcv.link.credit), (0, 0))


class ManyInFlight(MessagingHandler):
    """One connection sends `total` messages (unsettled, as fast as credit
    allows) while another receives them with a large prefetch."""

    def __init__(self, url, address, total):
        super().__init__(prefetch=0)
        self.url, self.address, self.total = url, address, total
        self.sent = self.accepted = 0
        self.received = []
        self.error = None

    def on_start(self, event):
        c = event.container
        self.rconn = c.connect(self.url)
        self.receiver = c.create_receiver(self.rconn, self.address)
        self.receiver.flow(2000)
        self.sconn = c.connect(self.url)
        self.sender = c.create_sender(self.sconn, self.address)
        self.timer = c.schedule(40, self)

    def on_timer_task(self, event):
        self.error = f"timed out: sent {self.sent}, accepted {self.accepted}, received {len(self.received)}"
        self.rconn.close()
        self.sconn.close()

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.total:
            event.sender.send(Message(body=self.sent))
            self.sent += 1

    def on_accepted(self, event):
        self.accepted += 1
        self.maybe_done()

    def on_message(self, event):
        self.received.append(event.message.body)
        self.accept(event.delivery)
        if self.receiver.credit < 1000:
            self.receiver.flow(1000)
        self.maybe_done()

    def maybe_done(self):
        if self.accepted == self.total and len(self.received) >= self.total:
            self.timer.cancel()
            self.rconn.close()
            self.sconn.close()

    def on_link_error(self, event):
        self.error = f"link error: {event.link.remote_condition}"


class VolumeTest(Amqp10Case):

    def test_10k_in_flight_no_loss_in_order(self):
        addr = f"/queue/{self.qname()}"
        h = ManyInFlight(self.url, addr, 10_000)
        Container(h).run()
        self.assertIsNone(h.error)
        self.assertEqual(h.accepted, 10_000)
        self.assertEqual(len(h.received), 10_000)
        self.assertEqual(h.received, list(range(10_000)), "lost, duplicated or reordered")

    def test_10k_unsettled_at_one_receiver_then_settled_together(self):
        addr = f"/queue/{self.qname()}"
        conn = self.connect()
        snd = conn.create_sender(addr, options=AtMostOnce())  # fast: no waiting per message
        for i in range(10_000):
            snd.send(Message(body=i))
        rcv = self.receiver(conn, addr)
        rcv.link.flow(10_000)  # one flow: every message in flight at once
        got = [m.body for m in self.take(conn, rcv, 10_000, timeout=30)]
        self.assertEqual(got, list(range(10_000)))
        self.assertEqual(len(rcv.fetcher.unsettled), 10_000)
        for dlv in rcv.fetcher.unsettled:  # proton sends these as ranges
            dlv.update(Delivery.ACCEPTED)
            dlv.settle()
        rcv.fetcher.unsettled.clear()
        self.pump(conn, 0.5)
        conn.close()
        self.assertEqual(self.drain_bodies(addr, timeout=0.5), [], "accepted in ranges: nothing comes back")

    def test_two_competing_receivers_share_a_queue(self):
        addr = f"/queue/{self.qname()}"
        c1, c2 = self.connect(), self.connect()
        r1, r2 = self.receiver(c1, addr), self.receiver(c2, addr)
        r1.link.flow(20)
        r2.link.flow(20)
        self.pump(c1, 0.1)
        self.pump(c2, 0.1)
        self.send(addr, *[f"m{i}" for i in range(20)])
        got1, got2 = [], []
        for _ in range(50):
            self.pump(c1, 0.05)
            self.pump(c2, 0.05)
            got1 += [r1.fetcher.pop().body for _ in range(r1.fetcher.has_message)]
            got2 += [r2.fetcher.pop().body for _ in range(r2.fetcher.has_message)]
            if len(got1) + len(got2) >= 20:
                break
        self.assertEqual(sorted(got1 + got2, key=lambda b: int(b[1:])), [f"m{i}" for i in range(20)],
                         "every message exactly once across the two receivers")
        self.assertTrue(got1 and got2, f"one receiver got nothing: {got1} / {got2}")
        for got in (got1, got2):
            self.assertEqual(got, sorted(got, key=lambda b: int(b[1:])), "each receiver sees queue order")

    def test_1mib_messages_both_ways_multi_frame(self):
        addr = f"/queue/{self.qname()}"
        bodies = [bytes([i]) * (1 << 20) for i in range(3)] + [bytes(range(256)) * 4096 + b"tail"]
        # The sender's frames are split to the broker's max-frame-size; the
        # receiver's small max-frame-size makes the broker split its transfers.
        conn = self.connect(max_frame_size=4096)
        snd = conn.create_sender(addr)
        for b in bodies:
            m = Message(body=b)
            m.inferred = True  # a data section, not an amqp-value
            snd.send(m)
        rcv = conn.create_receiver(addr, credit=2)
        for i, want in enumerate(bodies):
            got = rcv.receive(timeout=10).body
            self.assertEqual((len(got), bytes(got) == want), (len(want), True), f"message {i}")
            rcv.accept()
        self.assertEqual(conn.conn.transport.remote_max_frame_size > 0, True)


class IdleTimeoutTest(Amqp10Case):

    def test_broker_keeps_a_2s_idle_timeout_client_alive(self):
        addr = f"/queue/{self.qname()}"
        # heartbeat=2: proton advertises idle-time-out 1000 ms (half, as it
        # sends) and closes the connection after 2 s without a frame.
        conn = self.connect(heartbeat=2)
        rcv = conn.create_receiver(addr, credit=1)
        self.pump(conn, 6)  # raises if proton's idle timer fired
        self.assertTrue(conn.conn.state & conn.conn.REMOTE_ACTIVE, "the connection is not open any more")
        self.send(addr, "still here")
        self.assertEqual(rcv.receive(timeout=5).body, "still here")
        rcv.accept()


if __name__ == "__main__":
    unittest.main()
