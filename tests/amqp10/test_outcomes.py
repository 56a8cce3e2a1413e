"""Settlement through python3-qpid-proton: each outcome (accepted, released,
rejected with and without dead-lettering, modified), and unsettled
deliveries released when their link, session or connection ends, or when
the receiving process is SIGKILLed."""
import os
import signal
import unittest

from proton import Delivery, Link, Message
from proton.reactor import AtMostOnce

from amqp10_harness import EXTERNAL_URL, PYTHON, Amqp10Case, differs_on_rabbitmq

HERE = os.path.dirname(os.path.abspath(__file__))
EXISTING_QUEUE_PREFIX_3_10 = "/amq/queue/"
NO_DETACH_ECHO = "3.10 never answers a receiving link's detach"


class OutcomeTest(Amqp10Case):

    def setUp(self):
        super().setUp()
        self.q = self.qname()
        self.addr = f"/queue/{self.q}"

    def one(self, conn, rcv):
        """Grants one credit, returns (message, its unsettled delivery)."""
        rcv.link.flow(1)
        m = self.take(conn, rcv, 1)[0]
        return m, rcv.fetcher.unsettled.popleft()

    def settle(self, conn, dlv, state, failed=False, undeliverable=False):
        dlv.local.failed = failed
        dlv.local.undeliverable = undeliverable
        dlv.update(state)
        dlv.settle()
        self.pump(conn, 0.1)

    def test_accepted_removes(self):
        self.send(self.addr, "a1", "a2")
        conn = self.connect()
        rcv = self.receiver(conn, self.addr)
        m, dlv = self.one(conn, rcv)
        self.settle(conn, dlv, Delivery.ACCEPTED)
        conn.close()
        self.assertEqual(m.body, "a1")
        self.assertEqual(self.pika_count(self.pika_channel(), self.q)[0], 1, "one message left")
        self.assertEqual(self.drain_bodies(self.addr, expect=1), ["a2"])

    def test_released_requeues_unchanged(self):
        self.send(self.addr, "r1", "r2")
        conn = self.connect()
        rcv = self.receiver(conn, self.addr)
        m, dlv = self.one(conn, rcv)
        self.assertEqual((m.body, m.delivery_count), ("r1", 0))
        self.settle(conn, dlv, Delivery.RELEASED)
        again, dlv = self.one(conn, rcv)
        self.assertEqual(again.body, "r1", "a released message goes back to the head of the queue")
        self.assertEqual(again.delivery_count, 0, "released is not a failed delivery attempt (§3.4.4)")
        self.settle(conn, dlv, Delivery.ACCEPTED)
        conn.close()
        self.assertEqual(self.drain_bodies(self.addr, expect=1), ["r2"])

    def test_rejected_without_dead_letter_exchange_drops(self):
        self.send(self.addr, "x1", "x2")
        conn = self.connect()
        rcv = self.receiver(conn, self.addr)
        m, dlv = self.one(conn, rcv)
        self.settle(conn, dlv, Delivery.REJECTED)
        conn.close()
        self.assertEqual(self.drain_bodies(self.addr, timeout=0.5), ["x2"], "the rejected message is gone")

    def test_rejected_dead_letters(self):
        ch = self.pika_channel()
        dlq = self.qname("dlq")
        ch.queue_declare(dlq)
        ch.queue_declare(self.q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
        # An existing queue declared with arguments: /queue/NAME would redeclare it
        # (RabbitMQ 3.x refuses the attach as its arguments differ), so use the
        # address for an existing queue: /queues/NAME (RabbitMQ 3.x: /amq/queue/NAME).
        addr = (EXISTING_QUEUE_PREFIX_3_10 if EXTERNAL_URL else "/queues/") + self.q
        self.send(addr, "dead")
        conn = self.connect()
        rcv = self.receiver(conn, addr)
        m, dlv = self.one(conn, rcv)
        self.settle(conn, dlv, Delivery.REJECTED)
        conn.close()
        self.assertEqual(self.pika_count(ch, self.q)[0], 0, "nothing left in the queue")
        method, props, body = ch.basic_get(dlq, auto_ack=True)
        self.assertIsNotNone(method, "nothing in the dead-letter queue")
        death = props.headers["x-death"][0]
        self.assertEqual((death["queue"], death["reason"]), (self.q, "rejected"))

    def again(self):
        """The next message at the queue, through a new connection (accepted)."""
        conn = self.connect()
        rcv = self.receiver(conn, self.addr)
        m, dlv = self.one(conn, rcv)
        self.settle(conn, dlv, Delivery.ACCEPTED)
        conn.close()
        return m

    @differs_on_rabbitmq("3.10 requeues a modified delivery-failed message but leaves its delivery-count at 0")
    def test_modified_delivery_failed_comes_back_counted(self):
        self.send(self.addr, "f1")
        for count in (0, 1):
            conn = self.connect()
            rcv = self.receiver(conn, self.addr)
            m, dlv = self.one(conn, rcv)
            self.assertEqual((m.body, m.delivery_count), ("f1", count),
                             "delivery-failed increments the header's delivery-count (§3.4.5)")
            self.settle(conn, dlv, Delivery.MODIFIED, failed=True)
            conn.close()
        self.assertEqual((self.again().delivery_count), 2)

    def test_modified_not_failed_comes_back_uncounted(self):
        self.send(self.addr, "n1")
        conn = self.connect()
        rcv = self.receiver(conn, self.addr)
        _, dlv = self.one(conn, rcv)
        self.settle(conn, dlv, Delivery.MODIFIED)
        conn.close()
        m = self.again()
        self.assertEqual((m.body, m.delivery_count), ("n1", 0))

    @differs_on_rabbitmq("3.10 requeues a modified message but never sends it again on the same link")
    def test_modified_comes_back_on_the_same_link(self):
        self.send(self.addr, "s1")
        conn = self.connect()
        rcv = self.receiver(conn, self.addr)
        _, dlv = self.one(conn, rcv)
        self.settle(conn, dlv, Delivery.MODIFIED, failed=True)
        m, dlv = self.one(conn, rcv)
        self.assertEqual((m.body, m.delivery_count), ("s1", 1))
        self.settle(conn, dlv, Delivery.ACCEPTED)

    def test_modified_undeliverable_here_not_redelivered_to_that_link(self):
        self.send(self.addr, "u1")
        conn = self.connect()
        rcv = self.receiver(conn, self.addr)
        m, dlv = self.one(conn, rcv)
        self.settle(conn, dlv, Delivery.MODIFIED, failed=True, undeliverable=True)
        rcv.link.flow(1)
        self.pump(conn, 0.5)
        self.assertEqual(rcv.fetcher.has_message, 0, "undeliverable-here came back to the same link (§3.4.5)")

    def test_modified_undeliverable_here_goes_to_another_link(self):
        # The issue: "undeliverable-here keeps it from that link"; RabbitMQ 4
        # instead rejects it (dead-letters or drops it) for every link.
        self.send(self.addr, "u1")
        conn = self.connect()
        rcv = self.receiver(conn, self.addr)
        m, dlv = self.one(conn, rcv)
        self.settle(conn, dlv, Delivery.MODIFIED, failed=True, undeliverable=True)
        self.assertEqual(self.drain_bodies(self.addr, expect=1), ["u1"], "another link gets it")
        conn.close()


    def test_presettled_sender(self):
        conn = self.connect()
        snd = conn.create_sender(self.addr, options=AtMostOnce())
        self.assertEqual(snd.link.remote_snd_settle_mode, Link.SND_SETTLED, "the broker takes settled transfers")
        for i in range(100):
            snd.send(Message(body=f"p{i}"))
        conn.close()
        self.assertEqual(self.drain_bodies(self.addr, expect=100), [f"p{i}" for i in range(100)])

    def test_presettled_receiver_takes_messages_for_good(self):
        self.send(self.addr, "s0", "s1", "s2")
        conn = self.connect()
        rcv = conn.create_receiver(self.addr, credit=0, options=AtMostOnce())
        self.assertEqual(rcv.link.remote_snd_settle_mode, Link.SND_SETTLED, "the broker sends settled")
        rcv.link.flow(2)
        self.assertEqual([m.body for m in self.take(conn, rcv, 2)], ["s0", "s1"])
        self.assertEqual(len(rcv.fetcher.unsettled), 0, "deliveries arrive settled")
        conn.close()  # nothing to release: s0 and s1 are gone
        self.assertEqual(self.drain_bodies(self.addr, timeout=0.5), ["s2"])


class ReleaseTest(Amqp10Case):
    """The lock-release property: what a receiver holds unsettled goes back
    to the queue, in order, for another receiver, whatever ends it."""

    def hold3(self):
        """A queue of m0..m3 whose first three are held unsettled by a receiver."""
        addr = f"/queue/{self.qname()}"
        self.send(addr, "m0", "m1", "m2", "m3")
        conn = self.connect()
        rcv = self.receiver(conn, addr)
        rcv.link.flow(3)
        self.assertEqual([m.body for m in self.take(conn, rcv, 3)], ["m0", "m1", "m2"])
        return addr, conn, rcv

    def other_gets_all(self, addr):
        self.assertEqual(self.drain_bodies(addr, expect=4), ["m0", "m1", "m2", "m3"])

    @differs_on_rabbitmq(NO_DETACH_ECHO)
    def test_released_on_link_close(self):
        addr, conn, rcv = self.hold3()
        rcv.close()  # waits for the broker's detach; the connection stays open
        self.other_gets_all(addr)

    def test_released_on_session_end(self):
        addr, conn, rcv = self.hold3()
        ssn = rcv.link.session
        ssn.close()
        self.wait(conn, lambda: not (ssn.state & ssn.REMOTE_ACTIVE), 5, "the broker's end")
        self.other_gets_all(addr)

    def test_released_on_connection_close(self):
        addr, conn, rcv = self.hold3()
        conn.close()
        self.other_gets_all(addr)

    def test_released_when_receiver_is_sigkilled(self):
        addr = f"/queue/{self.qname()}"
        self.send(addr, "k0", "k1", "k2", "k3")
        holder = self.spawn([PYTHON, os.path.join(HERE, "proton_clients.py"), "hold", addr, "3"])
        self.wait_for(lambda: holder.has("holding"), 15, "the holder to take 3", holder.describe)
        self.assertEqual(holder.matching("got "), ["got k0", "got k1", "got k2"])
        conn = self.connect()  # attached before the kill: gets only k3 until then
        rcv = self.receiver(conn, addr)
        rcv.link.flow(10)
        self.assertEqual([m.body for m in self.take(conn, rcv, 1)], ["k3"])
        self.pump(conn, 0.3)
        self.assertEqual(rcv.fetcher.has_message, 0, "got a message another receiver holds")
        holder.p.send_signal(signal.SIGKILL)
        holder.wait(10)
        self.assertEqual(sorted(m.body for m in self.take(conn, rcv, 3)), ["k0", "k1", "k2"])


if __name__ == "__main__":
    unittest.main()
