"""Publishing through pika: mandatory and basic.return, publisher confirms
(blocking and asynchronous, 5,000 messages each), transactions."""
import time
import unittest

import pika

from amqp_harness import BrokerCase

N_CONFIRMS = 5000


class PublishTest(BrokerCase):

    def test_mandatory_unroutable_is_returned(self):
        conn = self.connect()
        ch = conn.channel()
        returned = []
        ch.add_on_return_callback(lambda c, m, p, b: returned.append((m, p, b)))
        ch.basic_publish("amq.direct", "nobody-binds-this", "lost?", pika.BasicProperties(message_id="r1"),
                         mandatory=True)
        ch.basic_publish("amq.direct", "nobody-binds-this", "not mandatory")  # dropped silently
        q = self.declare(ch)
        ch.basic_publish("", q, "routable", mandatory=True)
        self.pump_until(conn, lambda: returned, 5, "basic.return")
        self.pump(conn, 0.1)
        self.assertEqual(len(returned), 1, [r[2] for r in returned])
        m, props, body = returned[0]
        self.assertEqual((m.reply_code, m.reply_text, m.exchange, m.routing_key),
                         (312, "NO_ROUTE", "amq.direct", "nobody-binds-this"))
        self.assertEqual((body, props.message_id), (b"lost?", "r1"))
        self.assertEqual(self.get_bodies(ch, q), ["routable"])

    def test_mandatory_with_confirms_raises_unroutable(self):
        ch = self.channel()
        ch.confirm_delivery()
        with self.assertRaises(pika.exceptions.UnroutableError) as cm:
            ch.basic_publish("amq.topic", "no.such.route", "x", mandatory=True)
        [msg] = cm.exception.messages
        self.assertEqual((msg.method.reply_code, msg.method.routing_key, msg.body), (312, "no.such.route", b"x"))
        ch.basic_publish("amq.topic", "no.such.route", "y")  # not mandatory: confirmed, dropped
        self.assertTrue(ch.is_open)

    def test_blocking_confirms_5000(self):
        ch = self.channel()
        q = self.declare(ch)
        ch.confirm_delivery()
        start = time.monotonic()
        for i in range(N_CONFIRMS):
            # Raises NackError/UnroutableError unless the broker acked this very publish.
            ch.basic_publish("", q, str(i), mandatory=True)
        took = time.monotonic() - start
        self.assertEqual(self.count(ch, q), (N_CONFIRMS, 0))
        print(f"\n  {N_CONFIRMS} blocking confirmed publishes in {took:.2f}s", end=" ")

    def test_async_confirms_5000(self):
        """SelectConnection: publish all at once, count acks as they come."""
        q = self.qname()
        state = {"next": 1, "confirmed": set(), "acks": [], "problems": [], "done": False}

        def on_confirm(frame):
            m = frame.method
            if isinstance(m, pika.spec.Basic.Nack):
                state["problems"].append(f"nack {m.delivery_tag}")
                return
            tag = m.delivery_tag
            if state["acks"] and tag <= state["acks"][-1][0]:
                state["problems"].append(f"ack tag {tag} after {state['acks'][-1][0]}: not monotonic")
            state["acks"].append((tag, m.multiple))
            if m.multiple:
                start = max(state["confirmed"], default=0) + 1
                covered = range(start, tag + 1)
            else:
                covered = [tag]
            for t in covered:
                if t in state["confirmed"]:
                    state["problems"].append(f"tag {t} confirmed twice")
                state["confirmed"].add(t)
            if len(state["confirmed"]) >= N_CONFIRMS:
                state["done"] = True
                conn.close()

        def on_declared(ch):
            for i in range(N_CONFIRMS):
                ch.basic_publish("", q, str(i))

        def on_select_ok(ch):
            ch.queue_declare(q, callback=lambda _f: on_declared(ch))

        def on_channel(ch):
            ch.confirm_delivery(on_confirm, callback=lambda _f: on_select_ok(ch))

        def on_open(c):
            c.channel(on_open_callback=on_channel)

        def on_error(c, err):
            state["problems"].append(f"connection failed: {err!r}")
            c.ioloop.stop()

        conn = pika.SelectConnection(self.params(), on_open_callback=on_open, on_open_error_callback=on_error,
                                     on_close_callback=lambda c, reason: c.ioloop.stop())
        timer = conn.ioloop.call_later(60, lambda: (state["problems"].append("timed out"), conn.ioloop.stop()))
        start = time.monotonic()
        conn.ioloop.start()
        took = time.monotonic() - start
        conn.ioloop.remove_timeout(timer)
        conn.ioloop.close()
        self.assertEqual(state["problems"], [])
        self.assertTrue(state["done"])
        self.assertEqual(state["confirmed"], set(range(1, N_CONFIRMS + 1)))
        self.assertEqual(state["acks"][-1][0], N_CONFIRMS)
        self.assertEqual(self.count(self.channel(), q), (N_CONFIRMS, 0))
        print(f"\n  {N_CONFIRMS} async publishes confirmed in {took:.2f}s by {len(state['acks'])} acks", end=" ")

    def test_tx_rollback_and_commit(self):
        ch = self.channel()
        q = self.declare(ch)
        tx = self.channel()
        tx.tx_select()
        tx.basic_publish("", q, "rolled back")
        self.assertEqual(self.count(ch, q), (0, 0), "a publish inside a transaction is invisible before commit")
        tx.tx_rollback()
        self.assertEqual(self.count(ch, q), (0, 0))
        tx.basic_publish("", q, "one")
        tx.basic_publish("", q, "two")
        self.assertEqual(self.count(ch, q), (0, 0))
        tx.tx_commit()
        self.assertEqual(self.get_bodies(ch, q), ["one", "two"])
        tx.tx_commit()  # an empty transaction commits too
        self.assertEqual(self.count(ch, q), (0, 0))

    def test_tx_acks_take_effect_at_commit(self):
        ch = self.channel()
        q = self.declare(ch)
        ch.basic_publish("", q, "m")
        conn = self.connect()
        tx = conn.channel()
        tx.tx_select()
        m, _, _ = tx.basic_get(q)
        tx.basic_ack(m.delivery_tag)
        tx.tx_rollback()  # the ack is dropped; the message stays unacked
        tx.close()  # ... so it goes back
        m, _, body = ch.basic_get(q, auto_ack=True)
        self.assertEqual((body, m.redelivered), (b"m", True), "a rolled-back ack must not remove the message")

        ch.basic_publish("", q, "n")
        tx = conn.channel()
        tx.tx_select()
        m, _, _ = tx.basic_get(q)
        tx.basic_ack(m.delivery_tag)
        tx.tx_commit()
        tx.close()
        self.assertEqual(self.count(ch, q), (0, 0), "a committed ack removes the message")

    def test_tx_commit_without_select_is_406(self):
        ch = self.channel()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - channel is not transactional", ch.tx_commit)

    def test_tx_and_confirms_exclude_each_other(self):
        ch = self.channel()
        ch.tx_select()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode",
                                   ch.confirm_delivery)
        ch = self.channel()
        ch.confirm_delivery()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - cannot switch from confirm to tx mode", ch.tx_select)


class MemoryAlarmTest(BrokerCase):
    """--memory-high-watermark in bytes: publishers get connection.blocked."""

    broker_args = ("--memory-high-watermark", "200000")

    def test_blocked_then_unblocked(self):
        conn = self.connect()
        events = []
        conn.add_on_connection_blocked_callback(lambda c, frame: events.append(("blocked", frame.method.reason)))
        conn.add_on_connection_unblocked_callback(lambda c, frame: events.append(("unblocked",)))
        ch = conn.channel()
        q = self.declare(ch)
        ch.basic_publish("", q, b"x" * 300000)  # above the watermark
        self.pump_until(conn, lambda: events, 5, "connection.blocked")
        self.assertEqual(events, [("blocked", "low on memory")])
        # Another connection drains the queue: the alarm clears, the publisher is unblocked.
        other = self.channel()
        m, _, body = other.basic_get(q, auto_ack=True)
        self.assertEqual(len(body), 300000, "consumers go on during the alarm")
        self.pump_until(conn, lambda: len(events) == 2, 5, "connection.unblocked")
        self.assertEqual(events[1], ("unblocked",))
        ch.basic_publish("", q, "small")
        # Two connections: nothing orders this publish before the other's get
        # (the publisher's socket is read again only once the alarm clears).
        deadline = time.monotonic() + 5
        bodies = []
        while not bodies and time.monotonic() < deadline:
            bodies = self.get_bodies(other, q)
        self.assertEqual(bodies, ["small"])


class DiskAlarmTest(BrokerCase):
    """--disk-free-limit above what the disk has free: the disk alarm is on
    from the start, publishers are blocked with RabbitMQ's reason, and
    consumers go on."""

    broker_args = ("--disk-free-limit", str(1 << 62))

    def test_publishers_blocked_consumers_not(self):
        conn = self.connect()
        events = []
        conn.add_on_connection_blocked_callback(lambda c, frame: events.append(("blocked", frame.method.reason)))
        ch = conn.channel()
        q = self.declare(ch)
        ch.basic_publish("", q, b"first")  # read before the block, as RabbitMQ does: a connection is blocked once it publishes
        self.pump_until(conn, lambda: events, 5, "connection.blocked")
        self.assertEqual(events, [("blocked", "low on disk")])
        self.assertIn("disk alarm", self.broker.stdout_text())
        other = self.channel()
        self.assertEqual(self.get_bodies(other, q), ["first"], "consumers go on during the alarm")


if __name__ == "__main__":
    unittest.main()
