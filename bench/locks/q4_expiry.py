"""Q4: can an expiration tell the broker that a lock is no longer held?

  ttl      a token held unacked in a queue with x-message-ttl, and a token
           published with a per-message expiration: does it expire while it is
           held? (Expired messages are dead-lettered to a side queue, so an
           expiry is visible.) And when the holder gives it back after the TTL,
           does a waiting consumer get it?
  expires  a token queue with x-expires: does it expire while a consumer holds
           a token? While a token is unacked but nobody consumes?
  lease    Warren only: a lock queue with x-lock-ttl. Renewed by verify, it
           stays held; not renewed, the grant ends, the holder gets
           basic.cancel, the next waiter is granted.
  consumer-timeout
           RabbitMQ only, and only when the broker was set up for it (run_all.py
           sets rabbit's consumer_timeout at runtime): what a holder sees when
           its delivery is not acked in time. Pass the value with
           --consumer-timeout-ms.
"""
import pika
import pika.exceptions

from common import (Consumer, Report, arg_parser, close_quietly, connect, exc_name, is_warren, main_guard, ms, now,
                    passive, unique)

TTL = 1000


def counts(obs, q):
    r = passive(obs, q)
    return r[0] if isinstance(r, tuple) else r


def pump(conn, seconds):
    end = now() + seconds
    while now() < end:
        conn.process_data_events(time_limit=0.05)


def ttl_case(r, host, port, per_message):
    label = "per-message expiration" if per_message else "x-message-ttl"
    q, dead = unique("q4-sem"), unique("q4-dead")
    obs, _ = connect(host, port, name="observer")
    ch = obs.channel()
    ch.queue_declare(dead)
    args = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead}
    if not per_message:
        args["x-message-ttl"] = TTL
    ch.queue_declare(q, arguments=args)
    ch.confirm_delivery()
    props = pika.BasicProperties(expiration=str(TTL)) if per_message else None
    ch.basic_publish("", q, b"token", props)
    conn, _ = connect(host, port, name="holder")
    waiter_conn, _ = connect(host, port, name="waiter")
    try:
        c = Consumer(conn, q)
        if not c.wait(1):
            r.add(f"{label}: holder gets the token", "no")
            return
        w = Consumer(waiter_conn, q)  # waits behind the holder
        pump(conn, 3 * TTL / 1000)
        r.add(f"{label} {TTL} ms: after {3 * TTL} ms held, dead-lettered copies", counts(obs, dead))
        r.add(f"{label}: after {3 * TTL} ms held, waiter got it", bool(w.deliveries))
        # the holder gives it back (cancel, then reject with requeue), as a semaphore release
        c.ch.basic_cancel(c.tag)
        c.ch.basic_reject(c.last()[1].delivery_tag, requeue=True)
        w.wait(1, timeout=1.0)
        r.add(f"{label}: on release after the TTL, the waiter gets the token", bool(w.deliveries))
        r.add(f"{label}: on release after the TTL, dead-lettered copies", counts(obs, dead))
        r.add(f"{label}: tokens left in the queue", counts(obs, q))
    finally:
        close_quietly(conn)
        close_quietly(waiter_conn)
        ch = obs.channel()
        ch.queue_delete(q)
        ch.queue_delete(dead)
        close_quietly(obs)


def expires_case(r, host, port):
    exp = 1500
    obs, _ = connect(host, port, name="observer")
    # 1: a consumer holds a token
    q = unique("q4-exp")
    ch = obs.channel()
    ch.queue_declare(q, arguments={"x-expires": exp})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"token")
    conn, _ = connect(host, port, name="holder")
    try:
        c = Consumer(conn, q)
        c.wait(1)
        pump(conn, 3 * exp / 1000)
        r.add(f"x-expires {exp} ms: queue after {3 * exp} ms with a consumer holding a token",
              "exists" if isinstance(passive(obs, q), tuple) else "gone")
        # 2: the consumer cancels but keeps the token unacked
        c.ch.basic_cancel(c.tag)
        pump(conn, 3 * exp / 1000)
        gone = not isinstance(passive(obs, q), tuple)
        r.add(f"x-expires: queue after {3 * exp} ms with the token unacked and no consumer",
              "gone (expired)" if gone else "exists")
        try:
            c.ch.basic_ack(c.last()[1].delivery_tag)
            pump(conn, 0.3)
            res = "accepted silently" if c.ch.is_open else "channel closed"
        except Exception as e:  # noqa: BLE001
            res = exc_name(e)
        r.add("x-expires: the holder's ack afterwards", res)
        close_quietly(conn)
        # 3: a holder's connection dies: the queue (all its tokens) expires once nobody consumes
        q2 = unique("q4-exp")
        ch = obs.channel()
        ch.queue_declare(q2, arguments={"x-expires": exp})
        ch.confirm_delivery()
        ch.basic_publish("", q2, b"token 1")
        ch.basic_publish("", q2, b"token 2")
        conn, _ = connect(host, port, name="holder")
        c = Consumer(conn, q2)
        c.wait(1)
        close_quietly(conn)
        obs.sleep(3 * exp / 1000)
        r.add("x-expires: queue after its only consumer's connection closed",
              "gone, with its tokens" if not isinstance(passive(obs, q2), tuple) else "exists")
    finally:
        close_quietly(conn)
        for name in (q,):
            try:
                obs.channel().queue_delete(name)
            except Exception:  # noqa: BLE001
                pass
        close_quietly(obs)


def lease_case(r, host, port):
    lease = 1000
    q = unique("q4-lock")
    obs, _ = connect(host, port, name="admin")
    obs.channel().queue_declare(q, arguments={"x-queue-type": "lock", "x-lock-ttl": lease})
    conn, log = connect(host, port, name="holder")
    wconn, _ = connect(host, port, name="waiter")
    try:
        c = Consumer(conn, q)
        c.wait(1)
        token = c.last()[2].headers["x-fencing-token"]
        w = Consumer(wconn, q)
        vch = conn.channel()
        vch.confirm_delivery()

        def verify():
            try:
                vch.basic_publish("", q, b"", pika.BasicProperties(headers={"x-fencing-token": token}),
                                  mandatory=True)
                return "ack"
            except pika.exceptions.NackError:
                return "nack"
            except pika.exceptions.UnroutableError:
                return "returned"

        verdicts = []
        end = now() + 3 * lease / 1000
        while now() < end:
            verdicts.append(verify())
            t_last = now()
            pump(conn, 0.3 * lease / 1000)
            wconn.process_data_events(time_limit=0)
        r.add(f"x-lock-ttl {lease} ms: renewed by verify every {0.3 * lease:.0f} ms for {3 * lease} ms",
              f"verdicts {sorted(set(verdicts))}, cancelled: {c.cancelled_at is not None}, "
              f"waiter granted: {bool(w.deliveries)}")
        while c.cancelled_at is None and now() - t_last < 5:
            conn.process_data_events(time_limit=0.01)
        if c.cancelled_at is None:
            r.add("x-lock-ttl: not renewed", "no basic.cancel within 5 s")
        else:
            r.add("x-lock-ttl: not renewed, the holder gets basic.cancel, after the last renewal's confirm",
                  ms(c.cancelled_at - t_last))
        w.wait(1, timeout=2)
        if w.deliveries:
            r.add("x-lock-ttl: the waiter is granted, after the last renewal's confirm",
                  f"{ms(w.deliveries[0][0] - t_last)}, token higher: "
                  f"{w.deliveries[0][2].headers['x-fencing-token'] > token}")
        r.add("x-lock-ttl: the old holder's verify afterwards", verify())
        try:
            c.ch.basic_ack(c.last()[1].delivery_tag)
            pump(conn, 0.3)
            res = "accepted silently" if c.ch.is_open else "channel closed"
        except Exception as e:  # noqa: BLE001
            res = exc_name(e)
        r.add("x-lock-ttl: the old holder's ack of its grant afterwards", res)
    finally:
        close_quietly(conn)
        close_quietly(wconn)
        obs.channel().queue_delete(q)
        close_quietly(obs)


def consumer_timeout_case(r, host, port, timeout_ms):
    q = unique("q4-ct")
    obs, _ = connect(host, port, name="observer")
    ch = obs.channel()
    ch.queue_declare(q)
    ch.confirm_delivery()
    ch.basic_publish("", q, b"token")
    conn, log = connect(host, port, name="holder")
    try:
        c = Consumer(conn, q)
        c.wait(1)
        t0 = c.last()[0]
        mark = log.mark()
        while c.ch.is_open and now() - t0 < timeout_ms / 1000 + 120:
            conn.process_data_events(time_limit=0.05)
        if c.ch.is_open:
            r.add(f"consumer_timeout {timeout_ms} ms: holder's channel", "still open after the timeout + 120 s")
        else:
            r.add(f"consumer_timeout {timeout_ms} ms: holder's channel closed after the delivery",
                  f"{ms(now() - t0)}: {', '.join(log.names(mark))}")
        r.add("consumer_timeout: token free again", counts(obs, q) == 1)
        r.add("consumer_timeout: connection still open", conn.is_open)
    finally:
        close_quietly(conn)
        obs.channel().queue_delete(q)
        close_quietly(obs)


def main():
    p = arg_parser(__doc__)
    p.add_argument("--part", action="append", choices=["ttl", "expires", "lease", "consumer-timeout"])
    p.add_argument("--consumer-timeout-ms", type=int, default=0)
    a = p.parse_args()
    parts = a.part or ["ttl", "expires", "lease"]
    r = Report(4, "expirations as a signal that a lock is no longer held", a.broker)
    if "ttl" in parts:
        ttl_case(r, a.host, a.port, per_message=False)
        ttl_case(r, a.host, a.port, per_message=True)
    if "expires" in parts:
        expires_case(r, a.host, a.port)
    if "lease" in parts:
        if is_warren(a.broker):
            lease_case(r, a.host, a.port)
        else:
            r.add("x-lock-ttl", "no such thing (no lock queues)")
    if "consumer-timeout" in parts and a.consumer_timeout_ms:
        consumer_timeout_case(r, a.host, a.port, a.consumer_timeout_ms)
    r.write(a.json)


if __name__ == "__main__":
    main_guard(main)
