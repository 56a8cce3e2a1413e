"""Q2: a queue that a client consumes (holding one token, prefetch 1, no ack)
is deleted by another connection. What does the consuming client see, with
and without heartbeats, and with and without the consumer_cancel_notify
capability? Then the same for a Warren lock queue deleted while held.

Every frame the holder receives after the delete is listed (heartbeats are
counted apart).
"""
import pika
import pika.exceptions

from common import (Consumer, Report, arg_parser, close_quietly, connect, exc_name, fill_tokens, main_guard, ms, now,
                    unique)


def classic(r, host, port, heartbeat, cancel_notify):
    label = f"hb={heartbeat}, cancel-notify {'on' if cancel_notify else 'off'}"
    q = unique("q2")
    admin, _ = connect(host, port, heartbeat=0, name="deleter")
    fill_tokens(admin, q, 1)
    conn, log = connect(host, port, heartbeat=heartbeat, cancel_notify=cancel_notify, name="holder")
    try:
        c = Consumer(conn, q)
        if not c.wait(1):
            raise RuntimeError("no token")
        tag = c.last()[1].delivery_tag
        mark = log.mark()
        hb0 = log.heartbeats
        ok = admin.channel().queue_delete(q)
        t_deleted = now()
        # read whatever comes for a while: 2.5 heartbeats, or 2 s without heartbeats
        watch = 2.5 * heartbeat if heartbeat else 2.0
        end = now() + watch
        while now() < end:
            conn.process_data_events(time_limit=0.05)
        frames = log.names(mark)
        r.add(f"{label}: delete-ok message_count", ok.method.message_count)
        r.add(f"{label}: frames the holder receives in {watch:.0f} s after the delete",
              ", ".join(frames) if frames else "none")
        if c.cancelled_at:
            r.add(f"{label}: basic.cancel read after the delete-ok", ms(c.cancelled_at - t_deleted))
        r.add(f"{label}: heartbeats received meanwhile", log.heartbeats - hb0)
        r.add(f"{label}: connection and channel still open", f"{conn.is_open} / {c.ch.is_open}")
        # without a cancel, the client library still believes it is consuming: it would wait for ever
        r.add(f"{label}: pika still lists the consumer", c.tag in c.ch.consumer_tags)
        try:
            c.ch.basic_ack(tag)
            conn.process_data_events(time_limit=0.3)
            res = "accepted silently" if c.ch.is_open else "channel closed"
        except Exception as e:  # noqa: BLE001
            res = exc_name(e)
        r.add(f"{label}: ack of the held token afterwards", res)
        try:
            c.ch.queue_declare(q, passive=True)
            res = "exists"
        except Exception as e:  # noqa: BLE001
            res = exc_name(e)
        r.add(f"{label}: passive declare on the holder's channel", res)
    finally:
        close_quietly(conn)
        close_quietly(admin)


def lock_queue(r, host, port, warren):
    q = unique("q2-lock")
    admin, _ = connect(host, port, heartbeat=0, name="deleter")
    try:
        admin.channel().queue_declare(q, arguments={"x-queue-type": "lock"})
    except Exception as e:  # noqa: BLE001
        r.add("lock: declare with x-queue-type lock", f"{e.reply_code} {e.reply_text}" if hasattr(e, "reply_text") else exc_name(e))
        close_quietly(admin)
        return
    if not warren:
        r.add("lock: declare with x-queue-type lock", "accepted (unexpected)")
    conn, log = connect(host, port, heartbeat=0, name="holder")
    try:
        c = Consumer(conn, q)
        if not c.wait(1):
            raise RuntimeError("no grant")
        _, m, props, _ = c.last()
        token = props.headers["x-fencing-token"]
        vch = conn.channel()
        vch.confirm_delivery()

        def verify(tok, mandatory):
            try:
                vch.basic_publish("", q, b"", pika.BasicProperties(headers={"x-fencing-token": tok}),
                                  mandatory=mandatory)
                return "ack"
            except pika.exceptions.NackError:
                return "nack"
            except pika.exceptions.UnroutableError as e:
                rm = e.messages[0].method
                return f"returned {rm.reply_code} {rm.reply_text}, then ack"

        r.add("lock: verify while held (publish x-fencing-token, confirms)", verify(token, False))
        mark = log.mark()
        admin.channel().queue_delete(q)
        t_deleted = now()
        c.wait(2, timeout=1.0)
        r.add("lock: frames the holder receives after the delete", ", ".join(log.names(mark)) or "none")
        if c.cancelled_at:
            r.add("lock: basic.cancel read after the delete-ok", ms(c.cancelled_at - t_deleted))
        r.add("lock: verify after the delete, mandatory=false", verify(token, False))
        r.add("lock: verify after the delete, mandatory=true", verify(token, True))
        try:
            c.ch.basic_ack(m.delivery_tag)
            conn.process_data_events(time_limit=0.3)
            res = "accepted silently" if c.ch.is_open else "channel closed"
        except Exception as e:  # noqa: BLE001
            res = exc_name(e)
        r.add("lock: ack of the old grant afterwards", res)
        # someone declares the lock again and takes it
        admin.channel().queue_declare(q, arguments={"x-queue-type": "lock"})
        conn3, _ = connect(host, port, heartbeat=0, name="new-holder")
        c3 = Consumer(conn3, q)
        c3.wait(1)
        new_token = c3.last()[2].headers["x-fencing-token"]
        r.add("lock: new holder's token is higher", new_token > token)
        r.add("lock: old holder's verify against the new lock (mandatory=true)", verify(token, True))
        close_quietly(conn3)
        admin.channel().queue_delete(q)
    finally:
        close_quietly(conn)
        close_quietly(admin)


def main():
    a = arg_parser(__doc__).parse_args()
    r = Report(2, "a consumed queue is deleted by another connection", a.broker)
    for hb, notify in ((0, True), (2, True), (0, False)):
        classic(r, a.host, a.port, hb, notify)
    lock_queue(r, a.host, a.port, a.broker.lower().startswith("warren"))
    r.write(a.json)


if __name__ == "__main__":
    main_guard(main)
