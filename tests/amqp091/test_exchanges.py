"""Exchanges (headers, exchange-to-exchange bindings, alternate exchanges,
redeclare and delete rules) and the basic class's get, recover and qos."""
import unittest

from amqp_harness import BrokerCase

import pika


class ExchangeTest(BrokerCase):

    def test_headers_exchange_all_and_any(self):
        ch = self.channel()
        x = self.qname("hx")
        ch.exchange_declare(x, "headers")
        q_all, q_any = self.declare(ch), self.declare(ch)
        ch.queue_bind(q_all, x, arguments={"x-match": "all", "format": "pdf", "type": "report"})
        ch.queue_bind(q_any, x, arguments={"x-match": "any", "format": "pdf", "type": "report"})
        for body, headers in [("both", {"format": "pdf", "type": "report", "extra": 1}),
                              ("pdf-log", {"format": "pdf", "type": "log"}),
                              ("zip", {"format": "zip"}),
                              ("none", None)]:
            ch.basic_publish(x, "ignored", body, pika.BasicProperties(headers=headers))
        self.assertEqual(self.get_bodies(ch, q_all), ["both"])
        self.assertEqual(self.get_bodies(ch, q_any), ["both", "pdf-log"])
        # x-match's value is checked as RabbitMQ does.
        self.assertChannelClosedBy(
            406, 'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, '
            "or any-with-x", ch.queue_bind, q_all, x, arguments={"x-match": "some"})

    def test_exchange_to_exchange_binding(self):
        ch = self.channel()
        src, dst = self.qname("src"), self.qname("dst")
        ch.exchange_declare(src, "topic")
        ch.exchange_declare(dst, "fanout")
        ch.exchange_bind(destination=dst, source=src, routing_key="a.*")
        q = self.declare(ch)
        ch.queue_bind(q, dst)
        direct_q = self.declare(ch)
        ch.queue_bind(direct_q, src, routing_key="#")
        for key in ("a.b", "b.c", "a.b.c", "a.z"):
            ch.basic_publish(src, key, key)
        self.assertEqual(self.get_bodies(ch, q), ["a.b", "a.z"])
        self.assertEqual(self.get_bodies(ch, direct_q), ["a.b", "b.c", "a.b.c", "a.z"])
        ch.exchange_unbind(destination=dst, source=src, routing_key="a.*")
        ch.basic_publish(src, "a.b", "after unbind")
        self.assertEqual(self.get_bodies(ch, q), [])

    def test_alternate_exchange(self):
        conn = self.connect()
        ch = conn.channel()
        ae, main = self.qname("ae"), self.qname("main")
        ch.exchange_declare(ae, "fanout")
        ch.exchange_declare(main, "direct", arguments={"alternate-exchange": ae})
        q_main, q_ae = self.declare(ch), self.declare(ch)
        ch.queue_bind(q_main, main, routing_key="k")
        ch.queue_bind(q_ae, ae)
        returned = []
        ch.add_on_return_callback(lambda *a: returned.append(a))
        ch.basic_publish(main, "k", "routed", mandatory=True)
        ch.basic_publish(main, "other", "unrouted", mandatory=True)
        self.assertEqual(self.get_bodies(ch, q_main), ["routed"])
        self.assertEqual(self.get_bodies(ch, q_ae), ["unrouted"])
        self.pump(conn, 0.1)
        self.assertEqual(returned, [], "a message the alternate exchange routed is not returned")

    def test_redeclare_with_other_type_is_406(self):
        conn = self.connect()
        ch = conn.channel()
        x = self.qname("x")
        ch.exchange_declare(x, "direct")
        ch.exchange_declare(x, "direct")  # same: fine
        ch.exchange_declare(x, passive=True)
        self.assertChannelClosedBy(
            406, f"PRECONDITION_FAILED - inequivalent arg 'type' for exchange '{x}' in vhost '/': received "
            "'fanout' but current is 'direct'", ch.exchange_declare, x, "fanout")
        self.assertTrue(conn.is_open)
        self.assertChannelClosedBy(404, "NOT_FOUND - no exchange 'missing-x' in vhost '/'",
                                   conn.channel().exchange_declare, "missing-x", passive=True)

    def test_auto_delete_exchange_goes_with_its_last_binding(self):
        conn = self.connect()
        ch = conn.channel()
        x = self.qname("adx")
        ch.exchange_declare(x, "fanout", auto_delete=True)
        q1, q2 = self.declare(ch), self.declare(ch)
        ch.queue_bind(q1, x)
        ch.queue_bind(q2, x)
        ch.queue_unbind(q1, x)
        ch.exchange_declare(x, passive=True)
        ch.queue_delete(q2)  # its binding goes with it: the exchange's last
        self.assertChannelClosedBy(404, f"NOT_FOUND - no exchange '{x}' in vhost '/'",
                                   ch.exchange_declare, x, passive=True)

    def test_delete_if_unused(self):
        conn = self.connect()
        ch = conn.channel()
        x = self.qname("x")
        ch.exchange_declare(x, "fanout")
        q = self.declare(ch)
        ch.queue_bind(q, x)
        self.assertChannelClosedBy(406, f"PRECONDITION_FAILED - exchange '{x}' in vhost '/' in use",
                                   ch.exchange_delete, x, if_unused=True)
        ch = conn.channel()
        ch.queue_unbind(q, x)
        ch.exchange_delete(x, if_unused=True)
        self.assertChannelClosedBy(404, f"NOT_FOUND - no exchange '{x}' in vhost '/'",
                                   ch.exchange_declare, x, passive=True)


class BasicTest(BrokerCase):

    def test_get_and_get_empty(self):
        ch = self.channel()
        q = self.declare(ch)
        self.assertEqual(ch.basic_get(q), (None, None, None), "basic.get-empty")
        ch.basic_publish("", q, "1", pika.BasicProperties(content_type="text/plain", headers={"n": 1}))
        ch.basic_publish("", q, "2")
        m, props, body = ch.basic_get(q)
        self.assertEqual((m.delivery_tag, m.redelivered, m.exchange, m.routing_key, m.message_count),
                         (1, False, "", q, 1))
        self.assertEqual((body, props.content_type, props.headers), (b"1", "text/plain", {"n": 1}))
        ch.basic_ack(m.delivery_tag)
        m, _, body = ch.basic_get(q, auto_ack=True)
        self.assertEqual((body, m.message_count), (b"2", 0))
        self.assertEqual(ch.basic_get(q), (None, None, None))

    def test_recover_requeues(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch)
        for b in ("a", "b"):
            ch.basic_publish("", q, b)
        tags = [ch.basic_get(q)[0].delivery_tag for _ in range(2)]
        self.assertEqual(self.count(ch, q), (0, 0))
        ch.basic_recover(requeue=True)
        self.assertEqual(self.count(ch, q), (2, 0))
        again = [ch.basic_get(q) for _ in range(2)]
        self.assertEqual([(m.redelivered, b) for m, _, b in again], [(True, b"a"), (True, b"b")])
        self.assertEqual([m.delivery_tag for m, _, _ in again], [tags[-1] + 1, tags[-1] + 2],
                         "delivery tags go on after recover")
        ch.basic_ack(again[-1][0].delivery_tag, multiple=True)
        self.assertEqual(self.count(ch, q), (0, 0))

    def test_qos_global_limits_the_channel(self):
        conn = self.connect()
        ch = conn.channel()
        qa, qb = self.declare(ch), self.declare(ch)
        for i in range(3):
            ch.basic_publish("", qa, f"a{i}")
            ch.basic_publish("", qb, f"b{i}")
        sub = conn.channel()
        sub.basic_qos(prefetch_count=2, global_qos=True)
        got = []
        on_message = lambda c, m, p, b: got.append((b.decode(), m.delivery_tag))
        sub.basic_consume(qa, on_message)
        sub.basic_consume(qb, on_message)
        self.pump_until(conn, lambda: len(got) >= 2, 5, "two deliveries")
        self.pump(conn, 0.2)
        self.assertEqual(len(got), 2, f"2 unacked at most on the whole channel, got {got}")
        sub.basic_ack(got[0][1])
        self.pump_until(conn, lambda: len(got) >= 3, 5, "one more after an ack")
        self.pump(conn, 0.2)
        self.assertEqual(len(got), 3, got)
        sub.basic_ack(0, multiple=True)
        self.pump_until(conn, lambda: len(got) >= 5, 5, "two more after acking all")
        self.pump(conn, 0.2)
        self.assertEqual(len(got), 5, got)

    def test_qos_per_consumer(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch)
        for i in range(5):
            ch.basic_publish("", q, str(i))
        sub = conn.channel()
        sub.basic_qos(prefetch_count=3)
        got = []
        sub.basic_consume(q, lambda c, m, p, b: got.append(m.delivery_tag))
        self.pump_until(conn, lambda: len(got) >= 3, 5, "three deliveries")
        self.pump(conn, 0.2)
        self.assertEqual(got, [1, 2, 3])
        self.assertEqual(self.count(ch, q), (2, 1))

    def test_large_and_empty_bodies_round_trip(self):
        ch = self.channel()
        q = self.declare(ch)
        # frame_max is 131072: bodies around it and far above it are split into body frames.
        sizes = [0, 1, 131064, 131065, 131072, 300000, 4 * 1024 * 1024 + 3]
        bodies = [bytes((i * 7 + n) % 251 for i in range(n)) for n in sizes]
        for b in bodies:
            ch.basic_publish("", q, b)
        for n, b in zip(sizes, bodies):
            m, _, got = ch.basic_get(q, auto_ack=True)
            self.assertEqual((len(got), got == b), (n, True), f"body of {n} bytes")

    def test_all_properties_round_trip(self):
        import datetime
        import decimal
        ch = self.channel()
        q = self.declare(ch)
        ts = 1700000000
        headers = {"s": "text", "i": 7, "neg": -5, "big": 2 ** 40, "t": True, "no": False,
                   "bytes": b"\x00\xff", "list": [1, "a", [2]], "table": {"k": {"deep": "v"}}, "none": None,
                   "dec": decimal.Decimal("1.25"), "when": datetime.datetime(2024, 1, 2, 3, 4, 5)}
        props = pika.BasicProperties(content_type="application/json", content_encoding="gzip", headers=headers,
                                     delivery_mode=2, priority=3, correlation_id="c-1", reply_to="r-q",
                                     expiration="60000", message_id="m-1", timestamp=ts, type="kind",
                                     user_id="guest", app_id="tests", cluster_id="cl")
        ch.basic_publish("", q, "p", props)
        _m, got, _b = ch.basic_get(q, auto_ack=True)
        for field in ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id",
                      "reply_to", "expiration", "message_id", "timestamp", "type", "user_id", "app_id",
                      "cluster_id"):
            self.assertEqual(getattr(got, field), getattr(props, field), field)
        self.assertEqual(got.headers, headers)

    def test_purge_and_conditional_delete(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch)
        for i in range(3):
            ch.basic_publish("", q, str(i))
        self.assertEqual(ch.queue_purge(q).method.message_count, 3)
        ch.basic_publish("", q, "left")
        self.assertChannelClosedBy(406, f"PRECONDITION_FAILED - queue '{q}' in vhost '/' not empty",
                                   ch.queue_delete, q, if_empty=True)
        ch = conn.channel()
        ch.basic_consume(q, lambda *a: None, auto_ack=True)
        self.assertChannelClosedBy(406, f"PRECONDITION_FAILED - queue '{q}' in vhost '/' in use",
                                   conn.channel().queue_delete, q, if_unused=True)
        self.assertEqual(conn.channel().queue_delete(q).method.message_count, 0)

    def test_consumer_cancel_notify_when_queue_deleted(self):
        conn = self.connect()
        ch = conn.channel()
        q = self.declare(ch)
        cancelled = []
        ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
        tag = ch.basic_consume(q, lambda *a: None)
        self.connect().channel().queue_delete(q)
        self.pump_until(conn, lambda: cancelled, 5, "basic.cancel from the server")
        self.assertEqual(cancelled, [tag])
        self.assertTrue(ch.is_open)

    def test_user_id_must_match_the_login(self):
        # As RabbitMQ (rabbit_channel:check_user_id_header): the channel is closed with 406 unless
        # user_id is the authenticated user's name.
        ch = self.channel()
        q = self.declare(ch)
        ch.basic_publish("", q, "x", pika.BasicProperties(user_id="someone-else"))
        self.assertChannelClosedBy(
            406, "PRECONDITION_FAILED - user_id property set to 'someone-else' but authenticated user was 'guest'",
            ch.queue_declare, q, passive=True)


if __name__ == "__main__":
    unittest.main()
