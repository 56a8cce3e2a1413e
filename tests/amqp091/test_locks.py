"""Lock queues (docs/locks.md) taken with pika, a stock client: grants
carry increasing fencing tokens, every way of letting go releases (ack,
cancel, channel close, a dead socket), publish-with-confirms verifies, a
lease not renewed cancels its holder, and tokens keep increasing across a
restart of the broker."""
import time

import pika

from amqp_harness import BrokerCase

LOCK = {"x-queue-type": "lock"}


class Holder:
    """One connection consuming a lock with prefetch 1: the grants it got."""

    def __init__(self, case, queue, mode=None, **conn_kw):
        self.conn = case.connect(**conn_kw)
        self.ch = self.conn.channel()
        self.ch.basic_qos(prefetch_count=1)
        self.grants = []  # (delivery_tag, token)
        self.permits = []  # x-lock-permit of each grant (None: a mutex's, an rwlock's)
        self.cancelled = False
        self.ch.add_on_cancel_callback(lambda _frame: setattr(self, "cancelled", True))
        args = {"x-lock-mode": mode} if mode else None
        self.tag = self.ch.basic_consume(queue, self.on_grant, arguments=args)

    def on_grant(self, ch, method, props, body):
        token = props.headers["x-fencing-token"]
        assert body.decode() == str(token), (body, token)
        self.grants.append((method.delivery_tag, token))
        self.permits.append(props.headers.get("x-lock-permit"))

    def pump(self, seconds=0.05):
        self.conn.process_data_events(time_limit=seconds)

    def release(self):
        self.ch.basic_ack(self.grants[-1][0])


class LockTest(BrokerCase):

    def lock(self, ch, **args):
        name = self.qname("lock")
        ch.queue_declare(name, arguments={**LOCK, **args})
        return name

    def pump_all(self, holders, seconds=0.2):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for h in holders:
                h.pump(0.01)

    def wait_grant(self, holder, n, others=(), timeout=5):
        deadline = time.monotonic() + timeout
        while len(holder.grants) < n:
            if time.monotonic() > deadline:
                self.fail(f"no grant number {n} after {timeout}s")
            for h in (holder, *others):
                h.pump(0.01)

    def test_a_mutex_goes_to_one_holder_at_a_time_with_increasing_tokens(self):
        name = self.lock(self.channel())
        a, b, c = Holder(self, name), Holder(self, name), Holder(self, name)
        self.wait_grant(a, 1, (b, c))
        self.pump_all([a, b, c])
        self.assertEqual((len(b.grants), len(c.grants)), (0, 0))
        ok = self.channel().queue_declare(name, passive=True).method
        self.assertEqual((ok.message_count, ok.consumer_count), (0, 3))
        a.release()
        self.wait_grant(b, 1, (a, c))
        b.release()
        self.wait_grant(c, 1, (a, b))
        c.release()
        self.wait_grant(a, 2, (b, c))  # a asked again when it released: after b and c
        tokens = [a.grants[0][1], b.grants[0][1], c.grants[0][1], a.grants[1][1]]
        self.assertEqual(tokens, sorted(tokens))
        self.assertEqual(len(set(tokens)), 4)

    def test_cancel_channel_close_and_a_dead_socket_each_release(self):
        name = self.lock(self.channel())
        a, b = Holder(self, name), Holder(self, name)
        self.wait_grant(a, 1, (b,))
        a.ch.basic_cancel(a.tag)
        self.wait_grant(b, 1, (a,))
        c = self.py("lock_holder.py", name)  # a holder in another process...
        b.ch.close()
        self.wait_for(lambda: c.lines, 5, "the holder process's grant", lambda: c.err)
        d = Holder(self, name)
        self.pump_all([d], 0.3)
        self.assertEqual(d.grants, [])
        c.kill()  # ...killed with SIGKILL: its socket goes, no close handshake
        self.wait_grant(d, 1)
        self.assertGreater(d.grants[0][1], int(c.lines[0].split()[1]))

    def test_verify_with_confirms_acks_a_held_token_and_nacks_any_other(self):
        name = self.lock(self.channel())
        a = Holder(self, name)
        self.wait_grant(a, 1)
        token = a.grants[0][1]
        ch = self.channel()
        ch.confirm_delivery()
        ch.basic_publish("", name, b"", pika.BasicProperties(headers={"x-fencing-token": token}))
        for stale in (token - 1, token + 1):
            with self.assertRaises(pika.exceptions.NackError):
                ch.basic_publish("", name, b"", pika.BasicProperties(headers={"x-fencing-token": stale}))
        a.release()
        a.pump()
        with self.assertRaises(pika.exceptions.NackError):
            ch.basic_publish("", name, b"", pika.BasicProperties(headers={"x-fencing-token": token}))
        self.assertTrue(ch.is_open)  # a failed verification costs nothing but the nack
        # A deleted lock: without mandatory the verify would be acked (unroutable
        # messages are); with it, it comes back.
        self.channel().queue_delete(name)
        with self.assertRaises(pika.exceptions.UnroutableError):
            ch.basic_publish("", name, b"", pika.BasicProperties(headers={"x-fencing-token": token}), mandatory=True)

    def test_basic_get_is_a_try_lock(self):
        name = self.lock(self.channel())
        ch = self.channel()
        method, props, body = ch.basic_get(name)
        self.assertIsNotNone(method)
        token = props.headers["x-fencing-token"]
        other = self.channel()
        self.assertEqual(other.basic_get(name), (None, None, None))
        ch.basic_ack(method.delivery_tag)
        method2, props2, _ = other.basic_get(name)
        self.assertIsNotNone(method2)
        self.assertGreater(props2.headers["x-fencing-token"], token)
        other.close()  # released by the close
        self.assertIsNotNone(ch.basic_get(name)[0])

    def test_no_ack_is_refused(self):
        name = self.lock(self.channel())
        ch = self.channel()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED", lambda: ch.basic_consume(name, lambda *a: None, auto_ack=True))
        ch = self.channel()
        self.assertChannelClosedBy(406, "PRECONDITION_FAILED", ch.basic_get, name, auto_ack=True)

    def test_a_semaphore_and_an_rwlock(self):
        ch = self.channel()
        sem = self.lock(ch, **{"x-lock-kind": "semaphore", "x-permits": 2})
        hs = [Holder(self, sem) for _ in range(3)]
        self.pump_all(hs, 0.5)
        self.assertEqual(sorted(len(h.grants) for h in hs), [0, 1, 1])
        self.assertEqual(ch.queue_declare(sem, passive=True).method.message_count, 0)
        # Each grant names its permit slot; the waiter takes the slot freed.
        held = [h for h in hs if h.grants]
        self.assertEqual(sorted(h.permits[0] for h in held), [1, 2])
        waiter = next(h for h in hs if not h.grants)
        freed = held[0].permits[0]
        held[0].release()
        self.wait_grant(waiter, 1, hs)
        self.assertEqual(waiter.permits, [freed])

        rw = self.lock(ch, **{"x-lock-kind": "rwlock"})
        r1, r2 = Holder(self, rw, "shared"), Holder(self, rw, "read")
        w = Holder(self, rw, "exclusive")
        self.pump_all([r1, r2, w], 0.5)
        self.assertEqual((len(r1.grants), len(r2.grants), len(w.grants)), (1, 1, 0))
        self.assertEqual(r1.permits + r2.permits, [None, None])
        r1.release()
        r2.release()
        self.wait_grant(w, 1, (r1, r2))

    def test_a_lease_not_renewed_ends_and_cancels_the_holder(self):
        name = self.lock(self.channel(), **{"x-lock-ttl": 600})
        a, b = Holder(self, name), Holder(self, name)
        self.wait_grant(a, 1, (b,))
        ch = self.channel()
        ch.confirm_delivery()
        for _ in range(3):  # renewing keeps it past the lease
            self.pump_all([a, b], 0.3)
            ch.basic_publish("", name, b"", pika.BasicProperties(headers={"x-fencing-token": a.grants[0][1]}))
        self.assertEqual(len(b.grants), 0)
        self.wait_grant(b, 1, (a,), timeout=3)
        self.pump_all([a], 0.1)
        self.assertTrue(a.cancelled)
        a.release()  # a late ack of an ended grant: ignored, the channel lives
        self.pump_all([a, b], 0.2)
        self.assertTrue(a.ch.is_open)
        self.assertEqual(len(b.grants), 1)


class LockRestartTest(BrokerCase):
    """A durable lock is still there after a restart, and its tokens are
    higher than every token of the run before."""

    def test_tokens_increase_across_a_restart(self):
        ch = self.channel()
        ch.queue_declare("restart-lock", durable=True, arguments=LOCK)
        method, props, _ = ch.basic_get("restart-lock")
        before = props.headers["x-fencing-token"]
        ch.connection.close()
        problem = self.broker.stop(keep_dir=True)
        self.assertIsNone(problem, problem)
        self.broker.start()
        type(self).port = self.broker.port
        ch = self.channel()
        ok = ch.queue_declare("restart-lock", passive=True).method
        self.assertEqual(ok.message_count, 1)  # free: the holder's connection ended with the broker
        method, props, _ = ch.basic_get("restart-lock")
        self.assertGreater(props.headers["x-fencing-token"], before)
        self.assertGreaterEqual(props.headers["x-fencing-token"] >> 32, (before >> 32) + 1)
