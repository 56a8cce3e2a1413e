"""RabbitMQ's direct reply-to with pika: an RPC round trip through the
pseudo-queue amq.rabbitmq.reply-to (no reply queue declared), the 406s
RabbitMQ 3.10 sends, and mandatory replies returned once the requester is
gone."""
import unittest

import pika

from amqp_harness import BrokerCase

REPLY_TO = "amq.rabbitmq.reply-to"


class DirectReplyTest(BrokerCase):

    def requester(self):
        """A channel consuming its replies, and the list they land in."""
        conn = self.connect()
        ch = conn.channel()
        replies = []
        tag = ch.basic_consume(REPLY_TO, lambda c, m, p, b: replies.append((m, p, b)), auto_ack=True)
        return conn, ch, tag, replies

    def serve_one(self, server_ch, queue, mandatory=False):
        """Takes one request with basic.get and replies to it, echoing its
        correlation id; returns the request's reply_to."""
        method, props, body = server_ch.basic_get(queue, auto_ack=True)
        self.assertIsNotNone(method, "no request arrived")
        reply = pika.BasicProperties(correlation_id=props.correlation_id, content_type="application/json",
                                     message_id="reply-" + props.correlation_id,
                                     headers={"status": 200, "nested": {"ok": True}})
        server_ch.basic_publish("", props.reply_to, b'{"echo": "' + body + b'"}', reply, mandatory=mandatory)
        return props.reply_to

    def test_rpc_round_trip(self):
        server = self.channel()
        queue = self.declare(server)
        conn, ch, tag, replies = self.requester()
        for i in range(10):
            ch.basic_publish("", queue, f"req{i}", pika.BasicProperties(reply_to=REPLY_TO, correlation_id=str(i)))
        names = set()
        for i in range(10):
            self.wait_for(lambda: server.queue_declare(queue, passive=True).method.message_count > 0, 5, "a request")
            names.add(self.serve_one(server, queue))
        self.assertEqual(len(names), 1, names)  # one name per channel
        name = names.pop()
        self.assertTrue(name.startswith(REPLY_TO + "."), name)
        self.pump_until(conn, lambda: len(replies) == 10, 5, "10 replies")
        for i, (m, p, b) in enumerate(replies):
            self.assertEqual((m.consumer_tag, m.exchange, m.routing_key, m.redelivered), (tag, "", name, False))
            self.assertEqual(p.correlation_id, str(i))
            self.assertEqual((p.content_type, p.message_id), ("application/json", f"reply-{i}"))
            self.assertEqual(p.headers, {"status": 200, "nested": {"ok": True}})
            self.assertEqual(b, f'{{"echo": "req{i}"}}'.encode())

    def test_pseudo_queue_declares_as_existing_with_one_consumer(self):
        ch = self.channel()
        for passive in (True, False):
            ok = ch.queue_declare(REPLY_TO, passive=passive).method
            self.assertEqual((ok.queue, ok.message_count, ok.consumer_count), (REPLY_TO, 0, 1))
        self.assertChannelClosedBy(404, "NOT_FOUND - no queue 'amq.rabbitmq.reply-to.nobody' in vhost '/'",
                                   ch.queue_declare, REPLY_TO + ".nobody", passive=True)

    def test_consuming_with_acks_is_406(self):
        ch = self.channel()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - reply consumer cannot acknowledge",
                                   ch.basic_consume, REPLY_TO, lambda *a: None, auto_ack=False)

    def test_a_second_reply_consumer_is_406(self):
        _conn, ch, _tag, _replies = self.requester()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - reply consumer already set",
                                   ch.basic_consume, REPLY_TO, lambda *a: None, auto_ack=True)

    def test_request_without_reply_consumer_is_406(self):
        ch = self.channel()
        queue = self.declare(ch)
        ch.confirm_delivery()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - fast reply consumer does not exist",
                                   ch.basic_publish, "", queue, "req", pika.BasicProperties(reply_to=REPLY_TO))
        # Another channel of the requester's connection has no consumer either.
        conn, _ch, _tag, _replies = self.requester()
        other = conn.channel()
        other.confirm_delivery()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - fast reply consumer does not exist",
                                   other.basic_publish, "", queue, "req", pika.BasicProperties(reply_to=REPLY_TO))

    def test_cancel_ends_the_reply_consumer(self):
        server = self.channel()
        queue = self.declare(server)
        conn, ch, tag, replies = self.requester()
        ch.basic_publish("", queue, "req", pika.BasicProperties(reply_to=REPLY_TO, correlation_id="1"))
        self.wait_for(lambda: server.queue_declare(queue, passive=True).method.message_count > 0, 5, "a request")
        ch.basic_cancel(tag)
        self.serve_one(server, queue)
        self.pump(conn, 0.2)
        self.assertEqual(replies, [])
        ch.confirm_delivery()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED - fast reply consumer does not exist",
                                   ch.basic_publish, "", queue, "req", pika.BasicProperties(reply_to=REPLY_TO))

    def test_mandatory_reply_is_returned_once_the_requester_closed(self):
        server = self.channel()
        queue = self.declare(server)
        server.confirm_delivery()
        conn, ch, _tag, replies = self.requester()
        for i in range(2):
            ch.basic_publish("", queue, f"req{i}", pika.BasicProperties(reply_to=REPLY_TO, correlation_id=str(i)))
        self.wait_for(lambda: server.queue_declare(queue, passive=True).method.message_count == 2, 5,
                      "two requests")
        # While the requester is there: delivered, confirmed, not returned.
        self.serve_one(server, queue, mandatory=True)
        self.pump_until(conn, lambda: replies, 5, "the first reply")
        conn.close()
        with self.assertRaises(pika.exceptions.UnroutableError) as cm:
            self.serve_one(server, queue, mandatory=True)
        [returned] = cm.exception.messages
        self.assertEqual((returned.method.reply_code, returned.method.reply_text), (312, "NO_ROUTE"))
        self.assertTrue(returned.method.routing_key.startswith(REPLY_TO + "."))
        self.assertEqual(returned.properties.correlation_id, "1")
        self.assertTrue(server.is_open)


if __name__ == "__main__":
    unittest.main()
