"""Messages across protocols: published with python3-qpid-proton and
consumed with pika (AMQP 0-9-1), and the reverse, keep their body, content
type, correlation id, reply-to, message id, priority, TTL, durability and
application properties <-> headers."""
import unittest

import pika
from proton import Message

from amqp10_harness import Amqp10Case, differs_on_rabbitmq

APP_PROPS = {"str": "text", "int": 42, "neg": -7, "big": 1 << 40, "bool": True}  # pika cannot send floats
APP_PROPS_3_10 = ("3.10 gives 0-9-1 consumers the application-properties section as encoded bytes "
                  "in one header, x-amqp-1.0-app-properties")


def signed64(v):
    """pika (1.2, Debian 12's) encodes field type 'l' as a signed 64-bit integer, as the
    0-9-1 spec and RabbitMQ have it, but decodes it as unsigned: undo that."""
    return v - (1 << 64) if isinstance(v, int) and not isinstance(v, bool) and v >= 1 << 63 else v


class CrossProtocolTest(Amqp10Case):

    def setUp(self):
        super().setUp()
        self.q = self.qname()
        self.ch = self.pika_channel()
        self.ch.queue_declare(self.q)

    def proton_send(self, *messages):
        conn = self.connect()
        snd = conn.create_sender(f"/queue/{self.q}")
        for m in messages:
            snd.send(m)
        conn.close()

    def pika_get(self):
        method, props, body = self.ch.basic_get(self.q, auto_ack=True)
        self.assertIsNotNone(method, "the 0-9-1 consumer found no message")
        return props, body

    def proton_get(self):
        conn = self.connect()
        rcv = conn.create_receiver(f"/queue/{self.q}", credit=1)
        m = rcv.receive(timeout=5)
        rcv.accept()
        conn.close()
        return m

    def test_proton_to_pika_keeps_properties(self):
        m = Message(body=b'{"answer": 42}', content_type="application/json", correlation_id="corr-1",
                    reply_to="reply-queue", id="msg-1", priority=7, ttl=60, durable=True)
        m.inferred = True  # the body as one data section: 0-9-1's body bytes
        self.proton_send(m)
        props, body = self.pika_get()
        self.assertEqual(body, b'{"answer": 42}')
        self.assertEqual(
            (props.content_type, props.correlation_id, props.reply_to, props.message_id, props.priority,
             props.expiration, props.delivery_mode),
            ("application/json", "corr-1", "reply-queue", "msg-1", 7, "60000", 2))

    @differs_on_rabbitmq(APP_PROPS_3_10)
    def test_proton_to_pika_application_properties_become_headers(self):
        m = Message(body=b"props", properties=dict(APP_PROPS))
        m.inferred = True
        self.proton_send(m)
        props, body = self.pika_get()
        headers = props.headers or {}
        self.assertEqual({k: signed64(headers.get(k)) for k in APP_PROPS}, APP_PROPS, f"all headers: {headers}")

    def test_proton_to_pika_body_bytes(self):
        # The one mapping RabbitMQ 3.10 and Warren share: one data section is the 0-9-1 body.
        m = Message(body=b"\x00raw\xffbytes")
        m.inferred = True
        self.proton_send(m)
        self.assertEqual(self.pika_get()[1], b"\x00raw\xffbytes")

    def test_proton_to_pika_defaults(self):
        m = Message(body=b"plain")
        m.inferred = True
        self.proton_send(m)
        props, body = self.pika_get()
        self.assertEqual(body, b"plain")
        self.assertIn(props.delivery_mode, (None, 1), "durable defaults to false")
        self.assertIsNone(props.expiration)
        self.assertIsNone(props.correlation_id)

    def test_pika_to_proton_keeps_properties(self):
        props = pika.BasicProperties(content_type="text/plain", correlation_id="corr-2", reply_to="replies",
                                     message_id="msg-2", priority=3, expiration="60000", delivery_mode=2)
        self.ch.basic_publish("", self.q, b"from 0-9-1", props)
        m = self.proton_get()
        self.assertEqual(bytes(m.body), b"from 0-9-1")
        self.assertEqual((m.content_type, m.correlation_id, m.id, m.priority, m.durable),
                         ("text/plain", "corr-2", "msg-2", 3, True))
        # RabbitMQ turns a 0-9-1 reply-to queue name into an address for it
        # (3.x: /queue/NAME, 4: /queues/NAME); kept verbatim is as good.
        self.assertIn(m.reply_to, ("replies", "/queue/replies", "/queues/replies"))
        self.assertAlmostEqual(m.ttl, 60.0, msg="expiration 60000 ms -> ttl 60 s")

    @differs_on_rabbitmq("3.10 drops a 0-9-1 message's headers on the way to an AMQP 1.0 consumer")
    def test_pika_to_proton_headers_become_application_properties(self):
        self.ch.basic_publish("", self.q, b"h", pika.BasicProperties(headers=dict(APP_PROPS)))
        m = self.proton_get()
        self.assertEqual({k: (m.properties or {}).get(k) for k in APP_PROPS}, APP_PROPS, f"all: {m.properties}")

    def test_pika_to_proton_transient(self):
        self.ch.basic_publish("", self.q, b"t", pika.BasicProperties(delivery_mode=1))
        m = self.proton_get()
        self.assertEqual((bytes(m.body), m.durable, m.ttl), (b"t", False, 0))

    def test_round_trip_proton_pika_proton(self):
        """1.0 -> 0-9-1 consumer that republishes what it got -> 1.0: nothing lost."""
        m = Message(body=b"there and back", content_type="application/octet-stream", correlation_id="c-3",
                    reply_to="r-3", id="id-3", priority=9, ttl=30, durable=True, properties={"k": "v", "n": 1})
        m.inferred = True
        self.proton_send(m)
        props, body = self.pika_get()
        self.ch.basic_publish("", self.q, body, props)
        back = self.proton_get()
        self.assertEqual((bytes(back.body), back.content_type, back.correlation_id, back.reply_to, back.id,
                          back.priority, back.durable, back.properties),
                         (b"there and back", "application/octet-stream", "c-3", "r-3", "id-3", 9, True,
                          {"k": "v", "n": 1}))
        self.assertAlmostEqual(back.ttl, 30.0)

    def test_pika_to_proton_large_message(self):
        body = bytes(range(256)) * 4096  # 1 MiB from 0-9-1, split into 1.0 frames
        self.ch.basic_publish("", self.q, body)
        conn = self.connect(max_frame_size=16384)
        rcv = conn.create_receiver(f"/queue/{self.q}", credit=1)
        got = rcv.receive(timeout=10)
        rcv.accept()
        self.assertTrue(bytes(got.body) == body, f"{len(got.body)} bytes, not the 1 MiB sent")


if __name__ == "__main__":
    unittest.main()
