"""Addresses through python3-qpid-proton: /queue/NAME and /exchange/NAME/KEY
(RabbitMQ 3.x's plugin), /queues/NAME and /exchanges/NAME/KEY (RabbitMQ 4),
bare names, dynamic nodes and the anonymous relay."""
import unittest

from proton import Endpoint, Message, symbol
from proton.utils import LinkDetached

from amqp10_harness import Amqp10Case, differs_on_rabbitmq

NO_V2 = "3.10 has no /queues/ or /exchanges/ addresses (RabbitMQ 4's)"


class AddressTest(Amqp10Case):

    def attach(self, conn, address, sender=False):
        """Attaches a link without Proton's blocking checks; waits for the
        broker's attach (or its refusal) and returns the link."""
        c, pc = conn.container, conn.conn
        link = c.create_sender(pc, address) if sender else c.create_receiver(pc, address)
        try:
            self.wait(conn, lambda: not (link.state & Endpoint.REMOTE_UNINIT), 5, f"the broker's attach for {address}")
        except LinkDetached:  # BlockingConnection's way of saying that the attach was refused
            pass
        return link

    def assertRefusedNotFound(self, conn, link):
        try:
            self.wait(conn, lambda: link.state & Endpoint.REMOTE_CLOSED, 5, "the broker's detach")
        except LinkDetached:
            pass
        terminus = link.remote_target if link.is_sender else link.remote_source
        self.assertIsNone(terminus.address, "a refused attach answers with a null terminus")
        self.assertEqual(link.remote_condition.name if link.remote_condition else None, "amqp:not-found")

    def test_queue_address_creates_missing_queue(self):
        q = self.qname()
        conn = self.connect()
        rcv = self.attach(conn, f"/queue/{q}")
        self.assertTrue(rcv.state & Endpoint.REMOTE_ACTIVE)
        self.assertEqual(rcv.remote_source.address, f"/queue/{q}")
        self.assertEqual(self.pika_count(self.pika_channel(), q), (0, 1), "declared, with our link consuming")

    @differs_on_rabbitmq(NO_V2)
    def test_queues_address_of_missing_queue_is_refused_not_found(self):
        conn = self.connect()
        self.assertRefusedNotFound(conn, self.attach(conn, f"/queues/{self.qname()}"))
        self.assertRefusedNotFound(conn, self.attach(conn, f"/queues/{self.qname()}", sender=True))
        # the connection survives a refused attach
        q = f"/queue/{self.qname()}"
        self.send(q, "ok")
        self.assertEqual(self.drain_bodies(q, expect=1), ["ok"])

    @differs_on_rabbitmq(NO_V2)
    def test_queues_address_of_existing_queue(self):
        q = self.qname()
        ch = self.pika_channel()
        ch.queue_declare(q, arguments={"x-max-length": 100})
        self.send(f"/queues/{q}", "v2")
        self.assertEqual(self.pika_count(ch, q), (1, 0))
        self.assertEqual(self.drain_bodies(f"/queues/{q}", expect=1), ["v2"])

    def test_exchange_address_as_target(self):
        ch = self.pika_channel()
        ex, q = self.qname("ex"), self.qname()
        ch.exchange_declare(ex, "direct")
        ch.queue_declare(q)
        ch.queue_bind(q, ex, "the.key")
        self.send(f"/exchange/{ex}/the.key", b"routed")
        self.send(f"/exchange/{ex}/other.key", b"unroutable")
        method, _, body = ch.basic_get(q, auto_ack=True)
        self.assertEqual(body, b"routed")
        self.assertEqual(self.pika_count(ch, q), (0, 0))

    @differs_on_rabbitmq(NO_V2)
    def test_exchanges_address_as_target(self):
        ch = self.pika_channel()
        ex, q = self.qname("ex"), self.qname()
        ch.exchange_declare(ex, "direct")
        ch.queue_declare(q)
        ch.queue_bind(q, ex, "k")
        self.send(f"/exchanges/{ex}/k", b"routed")
        self.assertEqual(ch.basic_get(q, auto_ack=True)[2], b"routed")

    def test_exchange_address_as_source_binds_a_temporary_queue(self):
        conn = self.connect()
        rcv = self.receiver(conn, "/exchange/amq.topic/weather.*")
        rcv.link.flow(10)
        self.pump(conn, 0.2)
        ch = self.pika_channel()
        for key in ("weather.rain", "news.today", "weather.sun"):
            ch.basic_publish("amq.topic", key, key.encode())
        got = [bytes(m.body).decode() if isinstance(m.body, (bytes, memoryview)) else m.body
               for m in self.take(conn, rcv, 2)]
        self.assertEqual(got, ["weather.rain", "weather.sun"])

    def test_bare_name_is_a_queue(self):
        q = self.qname()
        self.send(q, "bare")
        self.assertEqual(self.pika_count(self.pika_channel(), q), (1, 0), "a queue 0-9-1 clients see")
        self.assertEqual(self.drain_bodies(q, expect=1), ["bare"])

    @differs_on_rabbitmq("3.10 refuses dynamic sources (amqp:not-implemented)")
    def test_dynamic_receiver_address_usable_from_other_connections(self):
        conn = self.connect()
        rcv = conn.create_receiver(None, dynamic=True, credit=0)
        address = rcv.link.remote_source.address
        self.assertTrue(address, "the broker names the dynamic node")
        rcv.link.flow(2)
        self.send(address, "to the dynamic node")  # another connection
        self.assertEqual([m.body for m in self.take(conn, rcv, 1)], ["to the dynamic node"])
        ch = self.pika_channel()  # 0-9-1 can publish to it too, by its queue name
        ch.basic_publish("", address.rsplit("/", 1)[-1], b"from 0-9-1")
        self.assertEqual([bytes(m.body) for m in self.take(conn, rcv, 1)], [b"from 0-9-1"])
        conn.close()  # delete-on-close: the node goes with its link
        if address.startswith("/queues/"):  # an address that does not create queues
            other = self.connect()
            self.assertRefusedNotFound(other, self.attach(other, address, sender=True))

    @differs_on_rabbitmq("3.10 offers no anonymous relay (a sender without a target is refused)")
    def test_anonymous_relay(self):
        conn = self.connect()
        self.assertIn(symbol("ANONYMOUS-RELAY"), conn.conn.remote_offered_capabilities or [])
        q1, q2 = self.qname("a"), self.qname("b")
        self.send(f"/queue/{q1}", "create")
        self.send(f"/queue/{q2}", "create")
        snd = conn.create_sender(None)
        snd.send(Message(address=f"/queue/{q1}", body="one"))
        snd.send(Message(address=f"/queue/{q2}", body="two"))
        self.assertEqual(self.drain_bodies(f"/queue/{q1}", expect=2), ["create", "one"])
        self.assertEqual(self.drain_bodies(f"/queue/{q2}", expect=2), ["create", "two"])


if __name__ == "__main__":
    unittest.main()
