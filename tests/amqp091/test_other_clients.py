"""Clients other than pika: librabbitmq's amqp-tools (C) and kombu (over
py-amqp, which logs in with AMQPLAIN)."""
import shutil
import subprocess
import time
import unittest

import pika

from amqp_harness import BrokerCase


class AmqpToolsTest(BrokerCase):

    def setUp(self):
        super().setUp()
        if not shutil.which("amqp-publish"):
            self.fail("amqp-tools are not installed (scripts/install-deps.sh installs them)")
        self.url = f"amqp://guest:guest@{self.broker.host}:{self.port}/%2f"

    def tool(self, *args, stdin=None, timeout=20, ok=True):
        r = subprocess.run(list(args[:1]) + ["-u", self.url] + list(args[1:]), input=stdin, capture_output=True,
                           text=True, timeout=timeout)
        if ok:
            self.assertEqual(r.returncode, 0, f"{args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def test_round_trip(self):
        q = self.qname()
        self.assertEqual(self.tool("amqp-declare-queue", "-q", q, "-d").stdout.strip(), q)
        for i in range(3):
            self.tool("amqp-publish", "-r", q, "-b", f"tool message {i}", "-C", "text/plain", "-H", "k: v")
        ch = self.channel()
        self.assertEqual(self.count(ch, q), (3, 0))
        ch.close()
        self.assertEqual(self.tool("amqp-get", "-q", q).stdout, "tool message 0")
        # -c 2: two messages, each piped to the command, then exit 0.
        r = self.tool("amqp-consume", "-q", q, "-c", "2", "cat")
        self.assertEqual(r.stdout, "tool message 1tool message 2")
        r = self.tool("amqp-get", "-q", q, ok=False)
        self.assertNotEqual(r.returncode, 0, "amqp-get on an empty queue must fail")
        # Persistent publish, read back through pika with its properties.
        self.tool("amqp-publish", "-r", q, "-b", "durable", "-p", "-H", "k: v")
        m, props, body = self.channel().basic_get(q, auto_ack=True)
        self.assertEqual((body, props.delivery_mode, props.headers), (b"durable", 2, {"k": "v"}))
        self.assertEqual(self.tool("amqp-delete-queue", "-q", q).returncode, 0)
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker):
            self.channel().queue_declare(q, passive=True)

    def test_consume_with_exchange_binding(self):
        proc = subprocess.Popen(["amqp-consume", "-u", self.url, "-e", "amq.topic", "-r", "logs.#", "-x",
                                 "-c", "3", "cat"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ch = self.channel()
            ch.confirm_delivery()
            # Its exclusive server-named queue is bound once a mandatory publish is no longer returned;
            # that first message is one of the 3 it waits for.
            deadline = time.monotonic() + 15
            while True:
                try:
                    ch.basic_publish("amq.topic", "logs.warm-up", "warm-up;", mandatory=True)
                    break
                except pika.exceptions.UnroutableError:
                    self.assertLess(time.monotonic(), deadline, "amqp-consume never bound its queue")
                    time.sleep(0.05)
            for key in ("logs.a", "other.b", "logs.c.d"):
                ch.basic_publish("amq.topic", key, key + ";")
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out, "warm-up;logs.a;logs.c.d;")


class KombuTest(BrokerCase):

    def url(self):
        return f"amqp://guest:guest@{self.broker.host}:{self.port}//"

    def test_simple_queue_put_get_ack(self):
        import kombu
        with kombu.Connection(self.url()) as conn:
            q = conn.SimpleQueue(self.qname())
            q.put({"hello": "kombu", "n": 1})
            q.put("second")
            m = q.get(block=True, timeout=5)
            self.assertEqual(m.payload, {"hello": "kombu", "n": 1})
            m.ack()
            m = q.get(block=True, timeout=5)
            self.assertEqual(m.payload, "second")
            m.requeue()
            m = q.get(block=True, timeout=5)
            self.assertEqual(m.payload, "second")
            self.assertTrue(m.delivery_info["redelivered"])
            m.ack()
            with self.assertRaises(q.Empty):
                q.get(block=True, timeout=0.3)
            self.assertEqual(q.qsize(), 0)
            q.close()

    def test_producer_consumer_topic_exchange(self):
        import kombu
        exchange = kombu.Exchange(self.qname("events"), type="topic", durable=False)
        queue = kombu.Queue(self.qname("orders"), exchange=exchange, routing_key="order.*", durable=False)
        received = []
        with kombu.Connection(self.url()) as conn:
            with conn.Consumer(queue, accept=["json"],
                               callbacks=[lambda body, msg: (received.append((msg.delivery_info["routing_key"],
                                                                              body)), msg.ack())]):
                producer = conn.Producer(serializer="json")
                for key, body in [("order.created", {"id": 1}), ("user.created", {"id": 2}),
                                  ("order.paid", {"id": 3}), ("order.paid.late", {"id": 4})]:
                    producer.publish(body, exchange=exchange, routing_key=key, declare=[queue])
                deadline = time.monotonic() + 5
                while len(received) < 2 and time.monotonic() < deadline:
                    try:
                        conn.drain_events(timeout=0.1)
                    except TimeoutError:
                        pass
                try:
                    conn.drain_events(timeout=0.3)  # anything that should not have come
                except TimeoutError:
                    pass
        self.assertEqual(received, [("order.created", {"id": 1}), ("order.paid", {"id": 3})])


if __name__ == "__main__":
    unittest.main()
