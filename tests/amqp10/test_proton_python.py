"""python3-qpid-proton against the broker: its reactor API (MessagingHandler
on a Container), proton.utils.BlockingConnection, and SASL PLAIN/ANONYMOUS."""
import unittest

from proton import ConnectionException, Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

from amqp10_harness import Amqp10Case, differs_on_rabbitmq


class SendThenReceive(MessagingHandler):
    """Sends `total` messages to an address, then receives them back on the
    same connection, accepting each; stops when all came or after `timeout`."""

    def __init__(self, url, address, total, timeout=20):
        super().__init__()
        self.url, self.address, self.total, self.timeout = url, address, total, timeout
        self.sent = self.accepted = 0
        self.received = []
        self.error = None

    def on_start(self, event):
        self.conn = event.container.connect(self.url)
        self.sender = event.container.create_sender(self.conn, self.address)
        self.timer = event.container.schedule(self.timeout, self)

    def on_timer_task(self, event):
        self.error = f"timed out: sent {self.sent}, accepted {self.accepted}, received {len(self.received)}"
        self.conn.close()

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.total:
            event.sender.send(Message(id=self.sent, body=f"m{self.sent}", properties={"seq": self.sent}))
            self.sent += 1

    def on_accepted(self, event):
        self.accepted += 1
        if self.accepted == self.total:
            event.sender.close()
            event.container.create_receiver(self.conn, self.address)

    def on_message(self, event):
        m = event.message
        self.received.append((m.id, m.body, m.properties["seq"]))
        if len(self.received) == self.total:
            self.timer.cancel()
            event.connection.close()

    def on_transport_error(self, event):
        self.error = f"transport error: {event.transport.condition}"

    def on_link_error(self, event):
        self.error = f"link error: {event.link.remote_condition}"
        event.connection.close()


class ReactorTest(Amqp10Case):

    def test_messaging_handler_sends_and_receives_in_order(self):
        h = SendThenReceive(self.url, f"/queue/{self.qname()}", 200)
        Container(h).run()
        self.assertIsNone(h.error)
        self.assertEqual(h.accepted, 200, "every message accepted by the broker")
        self.assertEqual(h.received, [(i, f"m{i}", i) for i in range(200)])

    def test_container_with_sasl_plain_credentials(self):
        h = SendThenReceive(f"amqp://guest:guest@{self.host}:{self.port}", f"/queue/{self.qname()}", 5)
        Container(h).run()
        self.assertIsNone(h.error)
        self.assertEqual([b for _, b, _ in h.received], [f"m{i}" for i in range(5)])


class BlockingTest(Amqp10Case):

    def test_send_receive_accept(self):
        addr = f"/queue/{self.qname()}"
        conn = self.connect()
        snd = conn.create_sender(addr)
        for i in range(10):
            snd.send(Message(body=f"b{i}", subject="s", content_type="text/plain"))
        rcv = conn.create_receiver(addr, credit=10)
        got = []
        for _ in range(10):
            m = rcv.receive(timeout=5)
            got.append((m.body, m.subject, m.content_type))
            rcv.accept()
        self.assertEqual(got, [(f"b{i}", "s", "text/plain") for i in range(10)])
        self.assertEqual(self.drain_bodies(addr, timeout=0.3), [], "accepted messages are gone")

    def test_body_types_round_trip(self):
        addr = f"/queue/{self.qname()}"
        bodies = ["text", b"\x00\x01binary\xff", 42, -7, 3.5, True,
                  {"k": "v", "n": 1, "nested": {"x": [1, 2]}}, "\u00e9\u4e2d\U0001f600"]
        self.send(addr, *bodies)
        self.assertEqual(self.drain_bodies(addr, expect=len(bodies)), bodies)

    @differs_on_rabbitmq("a list body aborts the connection (framing-error); a null body comes back as b''")
    def test_null_and_list_bodies_round_trip(self):
        # The bare message is kept as received bytes, so any amqp-value comes back.
        addr = f"/queue/{self.qname()}"
        bodies = [None, [1, "two", 3.0], []]
        self.send(addr, *bodies)
        self.assertEqual(self.drain_bodies(addr, expect=len(bodies)), bodies)

    @differs_on_rabbitmq("never answers a receiving link's detach, so rcv.close() times out")
    def test_unsettled_then_receiver_closed_requeues(self):
        addr = f"/queue/{self.qname()}"
        self.send(addr, "x")
        conn = self.connect()
        rcv = conn.create_receiver(addr, credit=1)
        self.assertEqual(rcv.receive(timeout=5).body, "x")
        rcv.close()  # never settled: released at the broker
        conn.close()
        self.assertEqual(self.drain_bodies(addr, expect=1), ["x"])


class SaslTest(Amqp10Case):

    def roundtrip(self, **auth):
        addr = f"/queue/{self.qname()}"
        conn = self.connect(**auth)
        conn.create_sender(addr).send(Message(body="authed"))
        rcv = conn.create_receiver(addr, credit=1)
        body = rcv.receive(timeout=5).body
        rcv.accept()
        conn.close()
        return body

    def test_anonymous(self):
        self.assertEqual(self.roundtrip(allowed_mechs="ANONYMOUS"), "authed")

    def test_plain_guest(self):
        self.assertEqual(self.roundtrip(user="guest", password="guest", allowed_mechs="PLAIN"), "authed")

    def test_plain_wrong_password_refused(self):
        # allowed_mechs: left to itself Proton falls back to ANONYMOUS when
        # the broker offers it, and the wrong password would never be tried.
        with self.assertRaises(ConnectionException) as cm:
            self.connect(user="guest", password="wrong", allowed_mechs="PLAIN")
        self.assertIn("amqp:unauthorized-access", str(cm.exception))

    def test_plain_unknown_user_refused(self):
        with self.assertRaises(ConnectionException) as cm:
            self.connect(user="nobody-such", password="guest", allowed_mechs="PLAIN")
        self.assertIn("amqp:unauthorized-access", str(cm.exception))

    def test_broker_usable_after_refusals(self):
        for _ in range(3):
            with self.assertRaises(ConnectionException):
                self.connect(user="guest", password="nope", allowed_mechs="PLAIN")
        self.assertEqual(self.roundtrip(user="guest", password="guest", allowed_mechs="PLAIN"), "authed")


if __name__ == "__main__":
    unittest.main()
