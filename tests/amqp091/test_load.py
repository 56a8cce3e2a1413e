"""Many clients at once: concurrent publishers and consumers, a consumer
SIGKILLed mid-stream, a wide fanout, and a consumer that receives more than
the server buffers for one connection (output backpressure)."""
import signal
import threading
import time
import unittest

import pika

from amqp_harness import BrokerCase


class LoadTest(BrokerCase):

    def test_concurrent_publishers_and_consumers(self):
        ch = self.channel()
        q = self.declare(ch)
        n_pub, per_pub, n_con = 4, 1500, 3
        total = n_pub * per_pub
        received, lock, errors = [], threading.Lock(), []
        done = threading.Event()

        def publisher(i):
            try:
                conn = pika.BlockingConnection(self.params())
                c = conn.channel()
                c.confirm_delivery()
                for k in range(per_pub):
                    c.basic_publish("", q, f"{i}:{k}")
                conn.close()
            except Exception as e:  # reported below
                errors.append(f"publisher {i}: {e!r}")

        def consumer(i):
            try:
                conn = pika.BlockingConnection(self.params())
                c = conn.channel()
                c.basic_qos(prefetch_count=50)

                def on_message(cc, m, p, b):
                    cc.basic_ack(m.delivery_tag)
                    with lock:
                        received.append((b.decode(), m.redelivered))
                        if len(received) >= total:
                            done.set()

                c.basic_consume(q, on_message)
                while not done.is_set():
                    conn.process_data_events(time_limit=0.05)
                conn.close()
            except Exception as e:
                errors.append(f"consumer {i}: {e!r}")
                done.set()

        threads = [threading.Thread(target=consumer, args=(i,)) for i in range(n_con)]
        threads += [threading.Thread(target=publisher, args=(i,)) for i in range(n_pub)]
        start = time.monotonic()
        for t in threads:
            t.start()
        done.wait(90)
        done.set()
        for t in threads:
            t.join(30)
        took = time.monotonic() - start
        self.assertEqual(errors, [])
        bodies = [b for b, _ in received]
        self.assertEqual(len(bodies), total, f"received {len(bodies)} of {total}")
        self.assertEqual(len(set(bodies)), total, "duplicates")
        # Each publisher's messages arrive in its order on the one queue... per consumer they interleave,
        # so check the set and that nothing was redelivered.
        self.assertFalse(any(r for _, r in received), "redeliveries without any failure")
        self.assertEqual(self.count(ch, q), (0, 0))
        print(f"\n  {total} messages, {n_pub} publishers (confirms), {n_con} consumers: {took:.2f}s", end=" ")

    def test_consumer_killed_mid_stream_loses_nothing(self):
        ch = self.channel()
        q = self.declare(ch)
        total = 3000
        w1 = self.py("clients.py", "work", q, "20")
        w2 = self.py("clients.py", "work", q, "20")
        for w in (w1, w2):
            self.wait_for(lambda: w.has("ready"), 15, "a worker to consume", w.describe)
        for k in range(total):
            ch.basic_publish("", q, str(k))
        self.wait_for(lambda: len(w1.matching("got ")) >= 300, 30, "w1 to make progress", w1.describe)
        w1.p.send_signal(signal.SIGKILL)
        w1.wait(10)
        got = lambda: w1.matching("got ") + w2.matching("got ")
        missing = lambda: sorted(set(range(total)) - {int(l.split()[1]) for l in got()})
        self.wait_for(lambda: not missing(), 60, "every message to be consumed",
                      lambda: f"never delivered: {missing()[:50]}\n{w2.describe()}")
        self.assertEqual(w2.finish(signal.SIGTERM), -signal.SIGTERM)
        seen = {}
        for line in got():
            _, body, red = line.split()
            if body in seen:  # w1 was killed between saying it and its ack reaching the server
                self.assertEqual(red, "redelivered=True", f"message {body} delivered twice, not as a redelivery")
            seen[body] = red
        self.assertEqual(set(seen), {str(k) for k in range(total)})
        self.assertEqual(self.count(ch, q), (0, 0))

    def test_wide_fanout(self):
        ch = self.channel()
        x = self.qname("fan")
        ch.exchange_declare(x, "fanout")
        queues = [self.declare(ch, self.qname(f"f{i}")) for i in range(50)]
        for q in queues:
            ch.queue_bind(q, x)
        ch.confirm_delivery()
        for k in range(200):
            ch.basic_publish(x, "", str(k))
        for q in queues:
            self.assertEqual(self.count(ch, q), (200, 0), q)
        self.assertEqual(self.get_bodies(ch, queues[-1]), [str(k) for k in range(200)])

    def test_consumer_of_more_than_the_output_buffer(self):
        ch = self.channel()
        q = self.declare(ch)
        size, n = 256 * 1024, 100  # 25 MiB: more than warrend queues for one connection (16 MiB)
        ch.confirm_delivery()
        for k in range(n):
            ch.basic_publish("", q, str(k).encode().ljust(size, b"."))
        sub = self.channel()
        got = []
        start = time.monotonic()
        for m, _p, body in sub.consume(q, auto_ack=True, inactivity_timeout=10):
            if m is None:
                break
            got.append((len(body), body[:8].rstrip(b".").decode()))
            if len(got) == n:
                break
        sub.cancel()
        self.assertEqual(got, [(size, str(k)) for k in range(n)])
        print(f"\n  {n * size >> 20} MiB to one consumer in {time.monotonic() - start:.2f}s", end=" ")


if __name__ == "__main__":
    unittest.main()
