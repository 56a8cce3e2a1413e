"""Unacked deliveries go back to their queue, marked redelivered, when their
consumer's connection dies or its channel closes; reject and nack."""
import signal
import unittest

from amqp_harness import BrokerCase


class AckTest(BrokerCase):

    def publish(self, ch, queue, *bodies):
        for b in bodies:
            ch.basic_publish(exchange="", routing_key=queue, body=b)

    def test_sigkilled_consumer_unacked_go_to_another_consumer(self):
        ch = self.channel()
        q = self.declare(ch)
        holder = self.py("clients.py", "hold", q, "10")
        self.wait_for(lambda: holder.has("ready"), 15, "the holder to consume", holder.describe)
        self.publish(ch, q, "m1", "m2", "m3")
        self.wait_for(lambda: len(holder.matching("got ")) == 3, 10, "3 deliveries", holder.describe)
        self.assertEqual(holder.matching("got "), [f"got m{i} redelivered=False" for i in (1, 2, 3)])
        self.assertEqual(self.count(ch, q), (0, 1), "3 unacked: none ready, one consumer")

        other = self.channel()  # consuming before the kill: gets nothing yet
        other.basic_qos(prefetch_count=10)
        seen = []
        other.basic_consume(q, lambda c, m, p, b: seen.append((b.decode(), m.redelivered, m.delivery_tag)))
        self.pump(other.connection, 0.2)
        self.assertEqual(seen, [], "another consumer got messages that are unacked elsewhere")

        holder.p.send_signal(signal.SIGKILL)
        holder.wait(10)
        self.pump_until(other.connection, lambda: len(seen) >= 3, 10, f"3 redeliveries, got {seen}")
        self.assertEqual(seen, [("m1", True, 1), ("m2", True, 2), ("m3", True, 3)],
                         "the killed consumer's unacked messages, in order, redelivered=True")
        for _, _, tag in seen:
            other.basic_ack(tag)
        self.assertEqual(self.count(ch, q), (0, 1))

    def test_channel_closed_without_ack_requeues(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch)
        self.publish(ch, q, "a", "b", "c")
        sub = conn.channel()
        sub.basic_qos(prefetch_count=2)  # c stays in the queue
        got = []
        for method, _props, body in sub.consume(q, inactivity_timeout=2):
            got.append((body.decode(), method.redelivered))
            if len(got) == 2:
                break
        self.assertEqual(got, [("a", False), ("b", False)])
        sub.close()  # a and b unacked
        self.assertEqual(self.count(ch, q), (3, 0))
        got = [(m.redelivered, b.decode()) for m, _, b in
               (ch.basic_get(q, auto_ack=True) for _ in range(3))]
        self.assertEqual(got, [(True, "a"), (True, "b"), (False, "c")], "requeued in their old places")

    def test_reject_and_nack_with_requeue_redeliver(self):
        ch = self.channel()
        q = self.declare(ch)
        self.publish(ch, q, "x", "y", "z")
        m, _, body = ch.basic_get(q)
        self.assertEqual((body, m.redelivered, m.message_count), (b"x", False, 2))
        ch.basic_reject(m.delivery_tag, requeue=True)
        m, _, body = ch.basic_get(q)
        self.assertEqual((body, m.redelivered), (b"x", True))
        m2, _, body2 = ch.basic_get(q)
        self.assertEqual((body2, m2.redelivered), (b"y", False))
        ch.basic_nack(m2.delivery_tag, multiple=True, requeue=True)  # x and y
        got = [(b.decode(), m.redelivered) for m, _, b in (ch.basic_get(q, auto_ack=True) for _ in range(3))]
        self.assertEqual(got, [("x", True), ("y", True), ("z", False)])
        self.assertEqual(ch.basic_get(q), (None, None, None))

    def test_reject_and_nack_without_requeue_drop(self):
        ch = self.channel()
        q = self.declare(ch)
        self.publish(ch, q, "1", "2", "3", "4")
        m, _, _ = ch.basic_get(q)
        ch.basic_reject(m.delivery_tag, requeue=False)
        m1, _, _ = ch.basic_get(q)
        m2, _, _ = ch.basic_get(q)
        ch.basic_nack(m2.delivery_tag, multiple=True, requeue=False)
        self.assertEqual(self.get_bodies(ch, q), ["4"], "rejected/nacked without requeue must be gone")
        ch.close()
        self.assertEqual(self.count(self.channel(), q), (0, 0), "nothing comes back when the channel closes")

    def test_multiple_ack(self):
        ch = self.channel()
        q = self.declare(ch)
        self.publish(ch, q, *[str(i) for i in range(5)])
        tags = [ch.basic_get(q)[0].delivery_tag for _ in range(5)]
        self.assertEqual(tags, [1, 2, 3, 4, 5])
        ch.basic_ack(3, multiple=True)
        ch.close()  # 4 and 5 go back
        ch = self.channel()
        self.assertEqual(self.get_bodies(ch, q), ["3", "4"])


if __name__ == "__main__":
    unittest.main()
