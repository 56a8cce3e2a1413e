"""Dead-lettering through pika: on reject, on expiry and on overflow, with
the x-death header as RabbitMQ 3.10 writes it."""
import datetime
import decimal
import time
import unittest

import pika

from amqp_harness import BrokerCase

XDEATH_KEYS = {"count", "reason", "queue", "time", "exchange", "routing-keys"}


class DeadLetterTest(BrokerCase):

    def setUp(self):
        super().setUp()
        self.ch = self.channel()
        self.dlx = self.qname("dlx")
        self.ch.exchange_declare(self.dlx, "direct")
        self.dlq = self.declare(self.ch)
        self.ch.queue_bind(self.dlq, self.dlx, routing_key="dead")

    def source(self, **args):
        return self.declare(self.ch, arguments={"x-dead-letter-exchange": self.dlx,
                                                "x-dead-letter-routing-key": "dead", **args})

    def dead_one(self, timeout=5.0):
        """The one message in the dead-letter queue: (method, properties, body)."""
        deadline = time.monotonic() + timeout
        while True:
            m, props, body = self.ch.basic_get(self.dlq, auto_ack=True)
            if m is not None:
                self.assertIsNone(self.ch.basic_get(self.dlq)[0], "more than one message dead-lettered")
                return m, props, body
            if time.monotonic() > deadline:
                self.fail(f"nothing reached the dead-letter queue {self.dlq} within {timeout}s")
            time.sleep(0.02)

    def check_death(self, props, queue, reason, exchange, keys, extra=None):
        h = props.headers or {}
        deaths = h.get("x-death")
        self.assertIsInstance(deaths, list, f"x-death missing or not an array: {h}")
        self.assertEqual(len(deaths), 1, deaths)
        d = deaths[0]
        self.assertEqual(set(d), XDEATH_KEYS | set(extra or {}), f"x-death keys: {d}")
        self.assertEqual((d["count"], d["reason"], d["queue"], d["exchange"], d["routing-keys"]),
                         (1, reason, queue, exchange, keys), d)
        for k, v in (extra or {}).items():
            self.assertEqual(d[k], v, d)
        self.assertIsInstance(d["time"], datetime.datetime, "x-death time is an AMQP timestamp")
        now = datetime.datetime.utcnow()
        self.assertLess(abs((now - d["time"]).total_seconds()), 60, f"x-death time {d['time']} vs now {now}")
        self.assertEqual((h.get("x-first-death-reason"), h.get("x-first-death-queue"),
                          h.get("x-first-death-exchange")), (reason, queue, exchange), h)

    def test_reject_dead_letters(self):
        src = self.source()
        self.ch.basic_publish("", src, "bad", pika.BasicProperties(headers={"app": "kept"}, message_id="id-1"))
        m, _, _ = self.ch.basic_get(src)
        self.ch.basic_reject(m.delivery_tag, requeue=False)
        m, props, body = self.dead_one()
        self.assertEqual((body, m.exchange, m.routing_key, m.redelivered), (b"bad", self.dlx, "dead", False))
        self.assertEqual((props.headers.get("app"), props.message_id), ("kept", "id-1"), "other properties stay")
        self.check_death(props, src, "rejected", "", [src])
        self.assertEqual(self.count(self.ch, src), (0, 0))

    def test_header_types_survive_dead_lettering(self):
        # Dead-lettering rewrites the headers: every field type must come out as it went in.
        headers = {"s": "text", "i": 7, "neg": -5, "big": 2 ** 40, "t": True, "no": False, "bytes": b"\x00\xff",
                   "list": [1, "a", [2], {"in": "list"}], "table": {"k": {"deep": "v"}}, "none": None,
                   "dec": decimal.Decimal("1.25"), "when": datetime.datetime(2024, 1, 2, 3, 4, 5)}
        src = self.source()
        self.ch.basic_publish("", src, "typed", pika.BasicProperties(headers=headers, content_type="x/y",
                                                                     correlation_id="c", priority=4))
        m, _, _ = self.ch.basic_get(src)
        self.ch.basic_reject(m.delivery_tag, requeue=False)
        _m, props, _body = self.dead_one()
        got = {k: v for k, v in props.headers.items() if not k.startswith("x-")}
        self.assertEqual(got, headers)
        self.assertEqual((props.content_type, props.correlation_id, props.priority), ("x/y", "c", 4))

    def test_cc_and_bcc_keys_stay_routing_keys(self):
        # RabbitMQ keeps BCC keys among the message's routing keys though the
        # header goes: x-death lists them and they route the dead letter.
        src = self.declare(self.ch, arguments={"x-dead-letter-exchange": self.dlx})
        self.ch.basic_publish("", src, "sender-selected",
                              pika.BasicProperties(headers={"CC": ["cc-nowhere"], "BCC": ["dead"]}))
        m, props, _ = self.ch.basic_get(src)
        self.assertEqual(props.headers, {"CC": ["cc-nowhere"]})
        self.ch.basic_reject(m.delivery_tag, requeue=False)
        m, props, body = self.dead_one()  # reached dlq only through the BCC key "dead"
        self.assertEqual((body, m.exchange, m.routing_key), (b"sender-selected", self.dlx, src))
        self.check_death(props, src, "rejected", "", [src, "cc-nowhere", "dead"])
        self.assertNotIn("BCC", props.headers)
        self.assertEqual(props.headers.get("CC"), ["cc-nowhere"])

    def test_nack_dead_letters(self):
        src = self.source()
        self.ch.basic_publish("amq.direct", "", "nacked")  # unbound: check it goes nowhere first
        self.ch.queue_bind(src, "amq.direct", routing_key="in")
        self.ch.basic_publish("amq.direct", "in", "nacked")
        m, _, _ = self.ch.basic_get(src)
        self.ch.basic_nack(m.delivery_tag, requeue=False)
        m, props, body = self.dead_one()
        self.assertEqual(body, b"nacked")
        self.check_death(props, src, "rejected", "amq.direct", ["in"])

    def test_queue_ttl_dead_letters_as_expired(self):
        src = self.source(**{"x-message-ttl": 100})
        self.ch.basic_publish("", src, "late")
        m, props, body = self.dead_one()
        self.assertEqual(body, b"late")
        self.check_death(props, src, "expired", "", [src])

    def test_message_expiration_dead_letters_with_original_expiration(self):
        src = self.source()
        self.ch.basic_publish("", src, "late", pika.BasicProperties(expiration="100"))
        m, props, body = self.dead_one()
        self.assertEqual(body, b"late")
        self.assertIsNone(props.expiration, "the dead-lettered copy must not expire again")
        self.check_death(props, src, "expired", "", [src], extra={"original-expiration": "100"})

    def test_overflow_dead_letters_as_maxlen(self):
        src = self.source(**{"x-max-length": 1})
        self.ch.basic_publish("", src, "old")
        self.ch.basic_publish("", src, "new")
        m, props, body = self.dead_one()
        self.assertEqual(body, b"old")
        self.check_death(props, src, "maxlen", "", [src])
        self.assertEqual(self.get_bodies(self.ch, src), ["new"])

    def test_reject_publish_dlx_dead_letters_the_refused(self):
        src = self.source(**{"x-max-length": 1, "x-overflow": "reject-publish-dlx"})
        self.ch.confirm_delivery()
        self.ch.basic_publish("", src, "first")
        with self.assertRaises(pika.exceptions.NackError):
            self.ch.basic_publish("", src, "refused")
        m, props, body = self.dead_one()
        self.assertEqual(body, b"refused")
        self.check_death(props, src, "maxlen", "", [src])

    def test_retry_loop_counts_deaths(self):
        # work -> (rejected) -> retry -> (expired after 50 ms) -> work, twice.
        work, retry = self.qname("work"), self.qname("retry")
        self.ch.queue_declare(work, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": retry})
        self.ch.queue_declare(retry, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": "",
                                                "x-dead-letter-routing-key": work})
        self.ch.basic_publish("", work, "job")
        for attempt in (1, 2):
            deadline = time.monotonic() + 5
            while (got := self.ch.basic_get(work))[0] is None:
                self.assertLess(time.monotonic(), deadline, f"the job did not come back for attempt {attempt}")
                time.sleep(0.02)
            self.ch.basic_reject(got[0].delivery_tag, requeue=False)
        deadline = time.monotonic() + 5
        while (got := self.ch.basic_get(work, auto_ack=True))[0] is None:
            self.assertLess(time.monotonic(), deadline, "the job did not come back a third time")
            time.sleep(0.02)
        m, props, _ = got
        self.assertEqual(m.routing_key, work)
        deaths = props.headers["x-death"]
        summary = [(d["queue"], d["reason"], d["count"], d["exchange"], d["routing-keys"]) for d in deaths]
        # Most recent first; a repeated (queue, reason) counts up and keeps its first exchange and keys.
        self.assertEqual(summary, [(retry, "expired", 2, "", [retry]), (work, "rejected", 2, "", [work])])
        self.assertEqual((props.headers["x-first-death-queue"], props.headers["x-first-death-reason"]),
                         (work, "rejected"))


if __name__ == "__main__":
    unittest.main()
