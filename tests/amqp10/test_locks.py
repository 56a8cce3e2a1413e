"""Lock queues (docs/locks.md) taken with python3-qpid-proton, a stock AMQP
1.0 client: a receiving link with credit 1 asks, an unsettled transfer
carrying the x-fencing-token application property is the grant, settling it
(any outcome) or closing the link releases, the x-lock-mode link property
asks for a shared lock, and a send with the token is accepted only while it
is held. The lock is declared with pika (AMQP 1.0 has no declare)."""
import unittest

import pika
from proton import Delivery, Message, symbol
from proton.reactor import AtMostOnce, LinkOption
from proton.utils import LinkDetached, SendException

from amqp10_harness import Amqp10Case


class LockMode(LinkOption):
    def __init__(self, mode):
        self.mode = mode

    def apply(self, link):
        link.properties = {symbol("x-lock-mode"): self.mode}


class LockTest(Amqp10Case):

    def lock(self, **args):
        name = self.qname("lock")
        self.pika_channel().queue_declare(name, arguments={"x-queue-type": "lock", **args})
        return name

    def grant(self, conn, rcv, timeout=5):
        rcv.link.flow(1)
        m = self.take(conn, rcv, 1, timeout)[0]
        return m.properties["x-fencing-token"], rcv.fetcher.unsettled.popleft()

    def test_one_holder_at_a_time_and_settling_releases(self):
        name = self.lock()
        a_conn, b_conn = self.connect(), self.connect()
        a = self.receiver(a_conn, f"/queue/{name}")
        ta, da = self.grant(a_conn, a)
        b = self.receiver(b_conn, f"/queue/{name}")
        b.link.flow(1)
        self.pump(b_conn, 0.3)
        self.assertEqual(b.fetcher.has_message, 0)
        da.update(Delivery.ACCEPTED)
        da.settle()
        self.pump(a_conn, 0.1)
        tb, db = self.grant(b_conn, b)
        self.assertGreater(tb, ta)
        # Closing the link releases too.
        c_conn = self.connect()
        c = self.receiver(c_conn, f"/queue/{name}")
        c.link.flow(1)
        b.close()
        tc, _ = self.grant(c_conn, c)
        self.assertGreater(tc, tb)

    def test_a_send_with_the_token_verifies(self):
        name = self.lock()
        conn = self.connect()
        rcv = self.receiver(conn, f"/queue/{name}")
        token, dlv = self.grant(conn, rcv)
        snd = self.connect().create_sender(f"/queue/{name}")
        snd.send(Message(body="", properties={"x-fencing-token": token}))
        with self.assertRaises(SendException):
            snd.send(Message(body="", properties={"x-fencing-token": token + 1}))
        dlv.update(Delivery.RELEASED)
        dlv.settle()
        self.pump(conn, 0.2)
        with self.assertRaises(SendException):
            snd.send(Message(body="", properties={"x-fencing-token": token}))

    def test_shared_readers_by_link_property(self):
        name = self.lock(**{"x-lock-kind": "rwlock"})
        conns = [self.connect(), self.connect()]
        readers = [self.receiver(c, f"/queue/{name}", options=LockMode("shared")) for c in conns]
        tokens = [self.grant(c, r)[0] for c, r in zip(conns, readers)]
        self.assertEqual(len(set(tokens)), 2)
        w_conn = self.connect()
        w = self.receiver(w_conn, f"/queue/{name}", options=LockMode("exclusive"))
        w.link.flow(1)
        self.pump(w_conn, 0.3)
        self.assertEqual(w.fetcher.has_message, 0)

    def test_a_semaphore_grant_carries_its_permit_slot(self):
        name = self.lock(**{"x-lock-kind": "semaphore", "x-permits": 2})
        conns = [self.connect() for _ in range(3)]
        rcvs = [self.receiver(c, f"/queue/{name}") for c in conns]
        slots = []
        for c, r in zip(conns[:2], rcvs[:2]):
            r.link.flow(1)
            m = self.take(c, r, 1, 5)[0]
            slots.append((m.properties["x-lock-permit"], r.fetcher.unsettled.popleft()))
        self.assertEqual(sorted(p for p, _ in slots), [1, 2])
        # The first holder lets go: the third link gets its slot.
        slots[0][1].update(Delivery.ACCEPTED)
        slots[0][1].settle()
        self.pump(conns[0], 0.1)
        rcvs[2].link.flow(1)
        m = self.take(conns[2], rcvs[2], 1, 5)[0]
        self.assertEqual(m.properties["x-lock-permit"], slots[0][0])

    def test_a_presettled_receiver_is_refused(self):
        name = self.lock()
        conn = self.connect()
        with self.assertRaises(LinkDetached):
            rcv = self.receiver(conn, f"/queue/{name}", options=AtMostOnce())
            rcv.link.flow(1)
            self.pump(conn, 0.5)
            rcv.receive(timeout=1)


if __name__ == "__main__":
    unittest.main()
