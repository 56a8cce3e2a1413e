"""Errors as RabbitMQ 3.10 reports them: protocol header, login, vhost,
channel-level errors that leave the connection usable, frame-level errors
that close it."""
import struct
import unittest

import pika

from amqp_harness import BrokerCase
from rawamqp import PROTOCOL_HEADER, Closed, RawClient, longstr, shortstr, table


class ProtocolErrorTest(BrokerCase):

    def raw(self):
        c = RawClient(self.broker.host, self.port)
        self.addCleanup(c.close)
        return c

    def test_wrong_protocol_header_gets_ours_and_a_close(self):
        for header in (b"AMQP\x00\x00\x08\x00", b"AMQP\x01\x01\x00\x0a", b"GET / HTTP/1.1\r\n\r\n"):
            c = self.raw()
            c.send(header)
            self.assertEqual(c.read_all_until_eof(5), PROTOCOL_HEADER, f"answer to {header!r}")

    def test_bad_password_is_403_access_refused(self):
        with self.assertRaises((pika.exceptions.ProbableAuthenticationError,
                                pika.exceptions.AuthenticationError)) as cm:
            self.connect(credentials=pika.PlainCredentials("guest", "wrong"))
        self.assertIn("403", repr(cm.exception))
        self.assertIn("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN", repr(cm.exception))
        # The same on the wire: connection.close 403, then the socket closes.
        c = self.raw()
        c.send(PROTOCOL_HEADER)
        c.expect(10, 10)
        c.send_method(0, 10, 11, table({"capabilities": {"authentication_failure_close": True}})
                      + shortstr("PLAIN") + longstr("\0nobody\0x") + shortstr("en_US"))
        code, text, _, _ = c.read_close()
        self.assertEqual((code, text), (403, "ACCESS_REFUSED - Login was refused using authentication mechanism "
                                             "PLAIN. For details see the broker logfile."))
        with self.assertRaises(Closed):
            c.read_frame(timeout=5)

    def test_guest_from_loopback(self):
        conn = self.connect(credentials=pika.PlainCredentials("guest", "guest"))
        props = conn._impl.server_properties
        self.assertIn("capabilities", props)
        for cap in ("publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
                    "authentication_failure_close", "per_consumer_qos", "connection.blocked",
                    "consumer_priorities"):
            self.assertIs(props["capabilities"].get(cap), True, cap)
        self.assertTrue(conn.channel().is_open)

    def test_unknown_vhost_is_530_not_allowed(self):
        with self.assertRaises(pika.exceptions.ProbableAccessDeniedError) as cm:
            self.connect(virtual_host="no-such-vhost")
        self.assertIn("530", repr(cm.exception))
        # RabbitMQ 3.10's exact text: the name unquoted (rabbit_access_control's "vhost ~s not found").
        c = self.raw()
        c.handshake(open_vhost=False)
        c.send_method(0, 10, 40, shortstr("no-such-vhost") + shortstr("") + b"\0")
        self.assertEqual(c.read_close(), (530, "NOT_ALLOWED - vhost no-such-vhost not found", 10, 40))

    def test_method_on_unopened_channel_is_504(self):
        c = self.raw()
        c.handshake()
        c.send_method(3, 60, 70, struct.pack("!H", 0) + shortstr("q") + b"\0")
        code, text, _, _ = c.read_close()
        self.assertEqual((code, text), (504, "CHANNEL_ERROR - expected 'channel.open'"))

    def test_consumer_tag_reuse_is_530(self):
        # pika refuses a duplicate tag itself: the raw client sends it twice.
        q = self.qname()
        self.channel().queue_declare(q)
        c = self.raw()
        c.handshake()
        c.channel_open(1)
        consume = struct.pack("!H", 0) + shortstr(q) + shortstr("mine") + b"\0" + struct.pack("!I", 0)
        c.send_method(1, 60, 20, consume)
        self.assertEqual(c.expect(60, 21, 1).shortstr(), "mine")
        c.send_method(1, 60, 20, consume)
        self.assertEqual(c.read_close(), (530, "NOT_ALLOWED - attempt to reuse consumer tag 'mine'", 60, 20))

    def test_body_without_header_is_505(self):
        c = self.raw()
        c.handshake()
        c.channel_open(1)
        c.send_frame(3, 1, b"stray body")
        code, _text, _, _ = c.read_close()
        self.assertEqual(code, 505)

    def test_bad_frame_end_is_501(self):
        c = self.raw()
        c.handshake()
        c.send(struct.pack("!BHI", 1, 0, 4) + struct.pack("!HH", 20, 10) + b"\x00")
        code, _text, _, _ = c.read_close()
        self.assertEqual(code, 501)


class ChannelErrorTest(BrokerCase):

    def test_ack_of_unknown_delivery_tag_is_406(self):
        conn = self.connect()
        ch = conn.channel()
        ch.basic_ack(99)
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - unknown delivery tag 99", ch.queue_declare, "")
        self.assertTrue(conn.is_open)

    def test_double_ack_is_406(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch)
        ch.basic_publish("", q, "x")
        m, _, _ = ch.basic_get(q)
        ch.basic_ack(m.delivery_tag)
        ch.basic_ack(m.delivery_tag)
        self.assertChannelClosedBy(406, f"PRECONDITION_FAILED - unknown delivery tag {m.delivery_tag}",
                                   ch.queue_declare, "")
        self.assertEqual(self.count(conn.channel(), q), (0, 0))

    def test_publish_to_missing_exchange_is_404_and_connection_survives(self):
        conn = self.connect()
        ch = conn.channel()
        ch.basic_publish("no-such-exchange", "k", "x")
        self.assertChannelClosedBy(404, "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'",
                                   ch.queue_declare, "")
        self.assertTrue(ch.is_closed)
        self.assertTrue(conn.is_open)
        ch2 = conn.channel()
        q = self.declare(ch2)
        ch2.basic_publish("", q, "still works")
        self.assertEqual(self.get_bodies(ch2, q), ["still works"])

    def test_reserved_names_are_403(self):
        ch = self.channel()
        self.assertChannelClosedBy(403, "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'",
                                   ch.queue_declare, "amq.mine")
        self.assertChannelClosedBy(403, "ACCESS_REFUSED - operation not permitted on the default exchange",
                                   self.channel().queue_bind, "q", "")

    def test_consume_from_missing_queue_is_404(self):
        conn = self.connect()
        self.assertChannelClosedBy(404, "NOT_FOUND - no queue 'nope' in vhost '/'",
                                   conn.channel().basic_consume, "nope", lambda *a: None)
        self.assertTrue(conn.is_open)


if __name__ == "__main__":
    unittest.main()
