"""RabbitMQ extensions and limits through pika (and raw frames where pika
will not send what we test): sender-selected distribution (CC/BCC
headers), x-queue-type, reserved names and channel_max."""
import struct
import unittest

import pika

from amqp_harness import BrokerCase
from rawamqp import PROTOCOL_HEADER, RawClient, longstr, shortstr, table


class CompatTest(BrokerCase):

    # ------------------------------------------------ CC and BCC headers

    def test_cc_and_bcc_headers_add_routing_keys(self):
        ch = self.channel()
        x = self.qname("x")
        ch.exchange_declare(x, "direct")
        qs = {k: self.declare(ch) for k in ("to", "cc", "bcc", "other")}
        for key, q in qs.items():
            ch.queue_bind(q, x, routing_key=key)
        headers = {"CC": ["cc"], "BCC": ["bcc"], "app": "yes"}
        ch.basic_publish(x, "to", "hello", pika.BasicProperties(headers=headers))
        for key in ("to", "cc", "bcc"):
            got = self.collect(ch, qs[key], 1)
            self.assertEqual(len(got), 1, key)
            method, props, body = got[0]
            self.assertEqual((method.routing_key, body), ("to", "hello"), key)
            # BCC never reaches a consumer; CC and the rest do.
            self.assertEqual(props.headers, {"CC": ["cc"], "app": "yes"}, key)
        self.assertEqual(self.count(ch, qs["other"]), (0, 0))

    def test_cc_on_the_default_exchange_and_topics(self):
        ch = self.channel()
        a, b = self.declare(ch), self.declare(ch)
        ch.basic_publish("", a, "both", pika.BasicProperties(headers={"CC": [b]}))
        self.assertEqual(self.get_bodies(ch, a), ["both"])
        self.assertEqual(self.get_bodies(ch, b), ["both"])
        t = self.qname("t")
        ch.exchange_declare(t, "topic")
        ch.queue_bind(a, t, routing_key="audit.#")
        ch.basic_publish(t, "log.info", "t1", pika.BasicProperties(headers={"BCC": ["audit.log.info"]}))
        self.assertEqual(self.get_bodies(ch, a), ["t1"])

    def test_a_cc_key_makes_a_mandatory_publish_routable(self):
        ch = self.channel()
        ch.confirm_delivery()
        q = self.declare(ch)
        ch.queue_bind(q, "amq.direct", routing_key=q)
        # Confirmed and not returned: the CC key routes it.
        ch.basic_publish("amq.direct", "nobody", "m", pika.BasicProperties(headers={"CC": [q]}), mandatory=True)
        self.assertEqual(self.get_bodies(ch, q), ["m"])
        with self.assertRaises(pika.exceptions.UnroutableError):
            ch.basic_publish("amq.direct", "nobody", "m", pika.BasicProperties(headers={"CC": ["nor-this"]}),
                             mandatory=True)

    def test_a_cc_header_that_is_not_an_array_is_refused(self):
        ch = self.channel()
        q = self.declare(ch)
        ch.basic_publish("", q, "m", pika.BasicProperties(headers={"CC": "not-a-list"}))
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            ch.queue_declare(q, passive=True)
        self.assertEqual((cm.exception.reply_code, cm.exception.reply_text),
                         (406, 'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}'))
        self.assertEqual(self.count(self.channel(), q), (0, 0))

    # ------------------------------------------------------ x-queue-type

    def test_quorum_queues_and_streams_are_declared_with_their_rules(self):
        ch = self.channel()
        for qtype in ("quorum", "stream"):
            q = self.qname(qtype)
            ch.queue_declare(q, durable=True, arguments={"x-queue-type": qtype})
            ch.basic_publish("", q, qtype)
            self.assertEqual(self.get_bodies(ch, q), [qtype])
            for flags, prop in (({"durable": False}, "non-durable"),
                                ({"durable": True, "exclusive": True}, "exclusive-owner"),
                                ({"durable": True, "auto_delete": True}, "auto-delete")):
                other = self.qname(qtype + "-bad")
                self.assertChannelClosedBy(
                    406, f"PRECONDITION_FAILED - invalid property '{prop}' for queue '{other}' in vhost '/'",
                    ch.queue_declare, other, arguments={"x-queue-type": qtype}, **flags)
                ch = self.channel()
        q = self.qname("stream-ttl")
        self.assertChannelClosedBy(
            406, f"PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue '{q}' in vhost '/'",
            ch.queue_declare, q, durable=True, arguments={"x-queue-type": "stream", "x-message-ttl": 1000})

    def test_unknown_and_changed_queue_types_are_refused(self):
        ch = self.channel()
        q = self.qname()
        self.assertChannelClosedBy(
            406, f"PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue '{q}' in vhost '/': invalid_queue_type",
            ch.queue_declare, q, durable=True, arguments={"x-queue-type": "mirrored"})
        ch = self.channel()
        ch.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
        self.assertChannelClosedBy(
            406, f"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '{q}' in vhost '/': received the "
            "value 'classic' of type 'longstr' but current is the value 'quorum' of type 'longstr'",
            ch.queue_declare, q, durable=True, arguments={"x-queue-type": "classic"})

    # ------------------------------------------------- names and limits

    def test_reserved_and_default_names_are_refused(self):
        ch = self.channel()
        self.assertChannelClosedBy(403, "ACCESS_REFUSED - operation not permitted on the default exchange",
                                   ch.exchange_declare, "", "direct")
        ch = self.channel()
        self.assertChannelClosedBy(403, "ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'",
                                   ch.exchange_declare, "amq.mine", "direct")
        ch = self.channel()
        self.assertChannelClosedBy(403, "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'",
                                   ch.queue_declare, "amq.mine")
        ch = self.channel()
        self.assertChannelClosedBy(403, "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' "
                                   "not allowed", ch.exchange_delete, "amq.direct")

    def test_a_255_byte_name_in_an_error_text_is_cut_to_fit(self):
        ch = self.channel()
        name = "n" * 255
        e = self.assertChannelClosedBy(404, "NOT_FOUND - no queue 'nnn", ch.queue_declare, name, passive=True)
        self.assertLessEqual(len(e.reply_text.encode()), 255)
        ch = self.channel()
        ch.queue_declare(name)  # the longest name works
        ch.basic_publish("", name, "long")
        self.assertEqual(self.get_bodies(ch, name), ["long"])
        ch.queue_delete(name)

    def test_names_are_bytes_not_necessarily_utf8(self):
        c = RawClient(self.broker.host, self.port)
        self.addCleanup(c.close)
        c.handshake()
        c.channel_open(1)
        name = b"\xff\xfeq"
        c.send_method(1, 50, 10, struct.pack("!H", 0) + bytes([len(name)]) + name + b"\x00" + table({}))
        r = c.expect(50, 11, 1)
        self.assertEqual(r.take(r.u8()), name)
        # The queue works by its byte name: a message published to it is counted.
        c.send_method(1, 60, 40, struct.pack("!H", 0) + shortstr("") + bytes([len(name)]) + name + b"\x00")
        c.send_frame(2, 1, struct.pack("!HHQH", 60, 0, 1, 0))
        c.send_frame(3, 1, b"x")
        c.send_method(1, 50, 10, struct.pack("!H", 0) + bytes([len(name)]) + name + b"\x01" + table({}))
        r = c.expect(50, 11, 1)
        self.assertEqual((r.take(r.u8()), r.u32(), r.u32()), (name, 1, 0))

    def test_cr_and_lf_are_stripped_from_declared_names(self):
        # (Not through pika's queue_declare: it waits for a declare-ok naming
        # the queue exactly as sent, which RabbitMQ does not send either.)
        ch = self.channel()
        q = self.declare(ch)
        x = self.qname("x")
        ch.exchange_declare(x + "\n", "fanout")
        ch.exchange_declare(x, "fanout", passive=True)
        ch.queue_bind(q + "\r\n", x + "\r")
        ch.basic_publish(x, "", "m")
        self.assertEqual(self.get_bodies(ch, q), ["m"])
        ch.exchange_delete("\r" + x)
        self.assertChannelClosedBy(404, f"NOT_FOUND - no exchange '{x}' in vhost '/'",
                                   ch.exchange_declare, x, "fanout", passive=True)

    def test_opening_more_channels_than_channel_max_is_530(self):
        c = RawClient(self.broker.host, self.port)
        self.addCleanup(c.close)
        c.send(PROTOCOL_HEADER)
        c.expect(10, 10)
        c.send_method(0, 10, 11, table({"product": "rawamqp"}) + shortstr("PLAIN") + longstr("\0guest\0guest")
                      + shortstr("en_US"))
        r = c.expect(10, 30)
        _server_channel_max, frame_max = r.u16(), r.u32()
        c.send_method(0, 10, 31, struct.pack("!HIH", 2, frame_max, 0))
        c.send_method(0, 10, 40, shortstr("/") + shortstr("") + b"\0")
        c.expect(10, 41)
        c.channel_open(1)
        c.channel_open(2)
        c.send_method(3, 20, 10, shortstr(""))
        self.assertEqual(c.read_close(),
                         (530, "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)",
                          0, 0))


if __name__ == "__main__":
    unittest.main()
