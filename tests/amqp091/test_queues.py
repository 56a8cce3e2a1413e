"""Queue properties and arguments through pika: exclusive, auto-delete,
passive declare, x-expires, TTLs, length limits, priorities, single active
consumer and consumer priorities."""
import signal
import time
import unittest

import pika

from amqp_harness import BrokerCase

LOCKED = ("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{}' in vhost '/'. It could be "
          "originally declared on another connection or the exclusive property value does not match that of the "
          "original declaration.")


class QueueTest(BrokerCase):

    def test_exclusive_queue(self):
        owner = self.connect()
        och = owner.channel()
        q = self.declare(och, exclusive=True)
        other = self.connect()
        self.assertChannelClosedBy(405, LOCKED.format(q), other.channel().queue_declare, q, passive=True)
        self.assertChannelClosedBy(405, LOCKED.format(q), other.channel().queue_declare, q, exclusive=True)
        self.assertChannelClosedBy(405, LOCKED.format(q), other.channel().basic_consume, q, lambda *a: None)
        self.assertChannelClosedBy(405, LOCKED.format(q), other.channel().basic_get, q)
        self.assertChannelClosedBy(405, LOCKED.format(q), other.channel().queue_purge, q)
        self.assertChannelClosedBy(405, LOCKED.format(q), other.channel().queue_delete, q)
        # Publishing into it from elsewhere is allowed, as in RabbitMQ.
        other.channel().basic_publish("", q, b"from another connection")
        self.assertEqual(self.get_bodies(och, q), ["from another connection"])
        self.assertTrue(other.is_open, "channel errors must not close the connection")
        owner.close()
        self.assertChannelClosedBy(404, f"NOT_FOUND - no queue '{q}' in vhost '/'",
                                   other.channel().queue_declare, q, passive=True)
        # Now another connection may have it.
        self.assertEqual(self.declare(other.channel(), q, exclusive=True), q)

    def test_exclusive_queue_goes_when_its_owner_is_killed(self):
        q = "killed-owner." + self.qname()[-6:]  # short: the 405 text must fit in 255 bytes
        owner = self.py("clients.py", "exclusive", q)
        self.wait_for(lambda: owner.has("ready"), 15, "the owner to declare", owner.describe)
        self.assertChannelClosedBy(405, LOCKED.format(q), self.channel().queue_declare, q, passive=True)
        owner.p.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 5
        while True:
            try:
                self.channel().queue_declare(q, passive=True)
            except pika.exceptions.ChannelClosedByBroker as e:
                self.assertEqual(e.reply_code, 404, e.reply_text)
                break
            self.assertLess(time.monotonic(), deadline, "the exclusive queue outlived its killed owner")
            time.sleep(0.05)

    def test_redeclare_with_other_arguments_is_406(self):
        conn = self.connect()
        q = self.declare(conn.channel(), arguments={"x-max-length": 2})
        self.declare(conn.channel(), q, arguments={"x-max-length": 2})
        self.declare(conn.channel(), q, passive=True)  # passive ignores arguments
        self.assertChannelClosedBy(
            406, f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '{q}' in vhost '/': received "
            "the value '5' of type 'signedint' but current is the value '2' of type 'signedint'",
            conn.channel().queue_declare, q, arguments={"x-max-length": 5})
        self.assertChannelClosedBy(
            406, f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '{q}' in vhost '/': received "
            "none but current is the value '2' of type 'signedint'", conn.channel().queue_declare, q)
        self.assertChannelClosedBy(
            406, "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'bad-arg' in vhost '/': "
            "{unacceptable_type,longstr}", conn.channel().queue_declare, "bad-arg", arguments={"x-max-length": "2"})

    def test_auto_delete_on_last_consumer_cancel(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch, auto_delete=True)
        self.assertEqual(self.count(ch, q), (0, 0), "no consumer yet: an auto-delete queue stays")
        c1, c2 = conn.channel(), conn.channel()
        t1 = c1.basic_consume(q, lambda *a: None)
        t2 = c2.basic_consume(q, lambda *a: None)
        self.assertEqual(self.count(ch, q), (0, 2))
        c1.basic_cancel(t1)
        self.assertEqual(self.count(ch, q), (0, 1))
        c2.basic_cancel(t2)
        self.assertChannelClosedBy(404, f"NOT_FOUND - no queue '{q}' in vhost '/'", ch.queue_declare, q, passive=True)

    def test_passive_declare_counts(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch)
        for i in range(3):
            ch.basic_publish("", q, str(i))
        ok = ch.queue_declare(q, passive=True).method
        self.assertEqual((ok.queue, ok.message_count, ok.consumer_count), (q, 3, 0))
        sub = conn.channel()
        sub.basic_qos(prefetch_count=1)
        sub.basic_consume(q, lambda *a: None)
        self.pump(conn, 0.1)
        self.assertEqual(self.count(ch, q), (2, 1), "message_count counts ready messages only")

    def test_passive_declare_missing_queue(self):
        conn = self.connect()
        ch = conn.channel()
        self.assertChannelClosedBy(404, "NOT_FOUND - no queue 'no-such-queue' in vhost '/'",
                                   ch.queue_declare, "no-such-queue", passive=True)
        self.assertTrue(ch.is_closed)
        self.assertTrue(conn.is_open)
        self.assertEqual(self.count(conn.channel(), self.declare(conn.channel())), (0, 0), "a new channel works")

    def test_x_expires(self):
        ch = self.channel()
        unused = self.declare(ch, arguments={"x-expires": 300})
        used = self.declare(ch, arguments={"x-expires": 300})
        ch.basic_consume(used, lambda *a: None)
        self.assertEqual(self.count(ch, unused), (0, 0))
        time.sleep(0.3)  # the passive declare above counts as use: wait past 300 ms after it
        self.pump(ch.connection, 0.6)
        self.assertEqual(self.count(ch, used), (0, 1), "a queue with a consumer is in use")
        self.assertChannelClosedBy(404, f"NOT_FOUND - no queue '{unused}' in vhost '/'",
                                   ch.queue_declare, unused, passive=True)

    def test_x_message_ttl(self):
        ch = self.channel()
        q = self.declare(ch, arguments={"x-message-ttl": 500})
        ch.basic_publish("", q, "soon gone")
        ch.basic_publish("", q, "also gone")
        self.assertEqual(self.count(ch, q), (2, 0))
        time.sleep(0.8)
        self.assertEqual(self.count(ch, q), (0, 0), "expired by x-message-ttl")
        self.assertEqual(ch.basic_get(q), (None, None, None))

    def test_per_message_expiration(self):
        ch = self.channel()
        q = self.declare(ch)
        ch.basic_publish("", q, "short", pika.BasicProperties(expiration="200"))
        ch.basic_publish("", q, "forever")
        ch.basic_publish("", q, "long", pika.BasicProperties(expiration="60000"))
        time.sleep(0.5)
        self.assertEqual(self.count(ch, q), (2, 0))
        m, props, body = ch.basic_get(q, auto_ack=True)
        self.assertEqual((body, props.expiration), (b"forever", None))
        m, props, body = ch.basic_get(q, auto_ack=True)
        self.assertEqual((body, props.expiration), (b"long", "60000"), "expiration is delivered as published")
        # A malformed expiration is refused as RabbitMQ does.
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - invalid expiration 'soon'",
                                   lambda: (ch.basic_publish("", q, "x", pika.BasicProperties(expiration="soon")),
                                            ch.queue_declare(q, passive=True)))

    def test_max_length_drop_head(self):
        ch = self.channel()
        q = self.declare(ch, arguments={"x-max-length": 2})
        for i in range(1, 5):
            ch.basic_publish("", q, str(i))
        self.assertEqual(self.get_bodies(ch, q), ["3", "4"], "the oldest make room")

    def test_max_length_bytes(self):
        ch = self.channel()
        q = self.declare(ch, arguments={"x-max-length-bytes": 10})
        for body in ("12345", "67890", "abc"):
            ch.basic_publish("", q, body)
        self.assertEqual(self.get_bodies(ch, q), ["67890", "abc"], "bodies count, oldest dropped")

    def test_exclusive_consumer(self):
        conn = self.connect()
        q = self.declare(conn.channel())
        conn.channel().basic_consume(q, lambda *a: None, exclusive=True)
        self.assertChannelClosedBy(403, f"ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use",
                                   conn.channel().basic_consume, q, lambda *a: None)

    def test_max_length_reject_publish_nacks(self):
        ch = self.channel()
        q = self.declare(ch, arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
        ch.confirm_delivery()
        ch.basic_publish("", q, "1")
        ch.basic_publish("", q, "2")
        with self.assertRaises(pika.exceptions.NackError):
            ch.basic_publish("", q, "3")
        self.assertEqual(self.get_bodies(ch, q), ["1", "2"])
        ch.basic_publish("", q, "4")  # room again
        self.assertEqual(self.get_bodies(ch, q), ["4"])

    def test_max_priority(self):
        ch = self.channel()
        q = self.declare(ch, arguments={"x-max-priority": 10})
        for body, prio in [("a", 1), ("b", 5), ("c", 9), ("d", None), ("e", 5), ("f", 200)]:
            ch.basic_publish("", q, body, pika.BasicProperties(priority=prio))
        # Above the maximum counts as the maximum; none counts as 0; FIFO among equals.
        self.assertEqual(self.get_bodies(ch, q), ["f", "c", "b", "e", "a", "d"])

    def test_single_active_consumer(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch, arguments={"x-single-active-consumer": True})
        got = {"c1": [], "c2": []}

        def consumer(name, chan):
            def on_message(c, m, p, b):
                got[name].append(b.decode())
                c.basic_ack(m.delivery_tag)
            return chan.basic_consume(q, on_message, consumer_tag=name)

        ch1, ch2 = conn.channel(), conn.channel()
        consumer("c1", ch1)
        consumer("c2", ch2)
        for i in range(4):
            ch.basic_publish("", q, f"m{i}")
        self.pump_until(conn, lambda: len(got["c1"]) + len(got["c2"]) == 4, 5, f"4 deliveries: {got}")
        self.pump(conn, 0.1)
        self.assertEqual(got, {"c1": ["m0", "m1", "m2", "m3"], "c2": []}, "only the first consumer is active")
        ch1.basic_cancel("c1")
        for i in range(4, 6):
            ch.basic_publish("", q, f"m{i}")
        self.pump_until(conn, lambda: len(got["c1"]) + len(got["c2"]) == 6, 5, f"6 deliveries: {got}")
        self.pump(conn, 0.1)
        self.assertEqual(got, {"c1": ["m0", "m1", "m2", "m3"], "c2": ["m4", "m5"]},
                         "the next consumer takes over after the active one cancels")

    def test_consumer_priorities(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch)
        got = {"high": [], "low": []}
        high, low = conn.channel(), conn.channel()
        high.basic_qos(prefetch_count=2)
        high.basic_consume(q, lambda c, m, p, b: got["high"].append(b.decode()), arguments={"x-priority": 10})
        low.basic_consume(q, lambda c, m, p, b: got["low"].append(b.decode()))
        for i in range(5):
            ch.basic_publish("", q, str(i))
        self.pump_until(conn, lambda: len(got["high"]) + len(got["low"]) == 5, 5, f"5 deliveries: {got}")
        self.pump(conn, 0.1)
        self.assertEqual(got, {"high": ["0", "1"], "low": ["2", "3", "4"]},
                         "the high-priority consumer gets all it can take, the other the rest")


if __name__ == "__main__":
    unittest.main()
