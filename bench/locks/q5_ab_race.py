"""Q5: the delete-reacquire-resume race on slot 1 of amqp-locks' A/B
semaphore (A = "N-1-A", a plain queue that exists while the slot does;
B = "N-1-B", exclusive: it exists while a client holds the slot).

Holder 1 reaches the broker through a TCP proxy, with heartbeats (--heartbeat,
default 2 s). It takes the slot (declares B exclusive). Then its path goes
silent (black hole) and it stops running (a pause): the broker misses its
heartbeats, closes the connection and deletes B. Holder 2 takes the slot.
The path comes back and holder 1 goes on: what does it see when it publishes
to B, and what do the existence checks say from a new connection?

Also: the same silence shorter than the heartbeat timeout, and with
heartbeats off (the broker never deletes B).
"""
import uuid

import pika
import pika.exceptions

from common import Proxy, Report, arg_parser, close_quietly, connect, exc_name, main_guard, ms, now, passive


def publish_check(conn, queue, mandatory=True):
    """amqp-locks' existence check: publish (mandatory) with confirms."""
    ch = conn.channel()
    ch.confirm_delivery()
    try:
        ch.basic_publish("", queue, b"probe", mandatory=mandatory)
        res = "ack (routed)" if mandatory else "ack"
    except pika.exceptions.UnroutableError as e:
        m = e.messages[0].method
        res = f"returned {m.reply_code} {m.reply_text}, then ack"
    except pika.exceptions.NackError:
        res = "nack"
    try:
        ch.close()
    except Exception:  # noqa: BLE001
        pass
    return res


def passive_text(conn, queue):
    r = passive(conn, queue)
    return "exists" if isinstance(r, tuple) else r


def take(conn, b, uid=None):
    ch = conn.channel()
    ch.queue_declare(b, exclusive=True)
    if uid:
        ch.queue_declare(uid, exclusive=True)
    return ch


def run(r, host, port, heartbeat, silence, label):
    name = f"q5-{uuid.uuid4().hex[:6]}"
    a_q, b_q = f"{name}-1-A", f"{name}-1-B"
    uid_q = f"{b_q}.{uuid.uuid4().hex[:8]}"  # a per-acquisition name beside B
    obs, _ = connect(host, port, heartbeat=0, name="observer")
    obs.channel().queue_declare(a_q)
    proxy = Proxy(host, port)
    h1, log1 = connect("127.0.0.1", proxy.port, heartbeat=heartbeat, name="holder-1")
    h2 = None
    try:
        bch = take(h1, b_q, uid_q)
        h1.process_data_events(time_limit=1.0)  # healthy: heartbeats flow
        r.add(f"{label}: B seen from another connection while held", passive_text(obs, b_q))
        proxy.blackhole()  # and holder 1 stops running
        t0 = now()
        t_gone = None
        while now() - t0 < silence:
            if t_gone is None and passive_text(obs, b_q).startswith("404"):
                t_gone = now() - t0
            obs.sleep(0.1)
        r.add(f"{label}: broker deleted B after the silence began",
              ms(t_gone) if t_gone is not None else f"no, not in {silence:.0f} s")
        if t_gone is not None:
            r.add(f"{label}: publish to deleted B, mandatory, confirms", publish_check(obs, b_q))
            r.add(f"{label}: publish to deleted B, not mandatory, confirms", publish_check(obs, b_q, mandatory=False))
        h2, _ = connect(host, port, heartbeat=0, name="holder-2")
        try:
            take(h2, b_q)
            r.add(f"{label}: holder 2 declares B (takes the slot)", "ok")
        except pika.exceptions.ChannelClosedByBroker as e:
            r.add(f"{label}: holder 2 declares B (takes the slot)", exc_name(e))
        proxy.resume()
        # holder 1 wakes up and goes on: publish to B on its old connection, with confirms
        mark = log1.mark()
        try:
            pch = h1.channel()
            pch.confirm_delivery()
            pch.basic_publish("", b_q, b"holder 1 still here", mandatory=True)
            res = "ack (routed)"
        except pika.exceptions.UnroutableError as e:
            res = f"returned {e.messages[0].method.reply_code}"
        except Exception as e:  # noqa: BLE001
            res = exc_name(e)
        r.add(f"{label}: holder 1, when the path is back, publishes to B on its old connection", res)
        r.add(f"{label}: frames holder 1 received after the path came back", ", ".join(log1.names(mark)) or "none")
        if h1.is_open:
            try:
                bch.queue_declare(b_q, passive=True)
                res = "exists (still its own)"
            except Exception as e:  # noqa: BLE001
                res = exc_name(e)
            r.add(f"{label}: holder 1's passive declare of B on its old channel", res)
        else:
            # a client that reconnects and checks again
            h1b, _ = connect(host, port, heartbeat=0, name="holder-1-again")
            r.add(f"{label}: holder 1 reconnected: publish to B, mandatory", publish_check(h1b, b_q))
            r.add(f"{label}: holder 1 reconnected: passive declare of B", passive_text(h1b, b_q))
            r.add(f"{label}: holder 1 reconnected: publish to A (amqp-locks' verify)", publish_check(h1b, a_q))
            r.add(f"{label}: holder 1 reconnected: publish to its per-acquisition queue B.<uid>",
                  publish_check(h1b, uid_q))
            close_quietly(h1b)
    finally:
        close_quietly(h1)
        close_quietly(h2)
        proxy.close()
        try:
            obs.channel().queue_delete(a_q)
        except Exception:  # noqa: BLE001
            pass
        close_quietly(obs)


def main():
    p = arg_parser(__doc__)
    p.add_argument("--heartbeat", type=int, default=2)
    p.add_argument("--silence", type=float, default=10.0, help="long black hole, seconds (default 10)")
    a = p.parse_args()
    hb = a.heartbeat
    r = Report(5, "A/B semaphore: delete, reacquire, resume", a.broker)
    run(r, a.host, a.port, hb, a.silence, f"hb={hb}, {a.silence:.0f} s silence")
    run(r, a.host, a.port, hb, max(0.5, hb * 0.5), f"hb={hb}, {hb * 0.5:.0f} s silence")
    run(r, a.host, a.port, 0, a.silence, f"hb=0, {a.silence:.0f} s silence")
    r.write(a.json)


if __name__ == "__main__":
    main_guard(main)
