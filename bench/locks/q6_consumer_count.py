"""Q6: does a consumer whose QoS is full (prefetch 1, one delivery unacked)
drop out of the consumer_count that queue.declare(passive) reports?

amqp-locks says it does ("Hard to Measure"). Measured here:

  1. one consumer, prefetch 1, holding the only token: consumer_count read
     right after the delivery arrives, --trials times (a new queue each);
  2. the same consumer while a second token is ready (it is blocked by its
     QoS with work waiting);
  3. a second consumer that waits (QoS not full) beside the full one;
  4. after the holder acks (QoS free again);
  5. Warren only: a lock queue with one holder and one waiter.
"""
from common import Consumer, Report, arg_parser, close_quietly, connect, fill_tokens, is_warren, main_guard, passive
from common import unique


def main():
    p = arg_parser(__doc__)
    p.add_argument("--trials", type=int, default=200)
    a = p.parse_args()
    r = Report(6, "consumer_count of a consumer whose QoS is full", a.broker)
    obs, _ = connect(a.host, a.port, name="observer")
    conn, _ = connect(a.host, a.port, name="holder")
    conn2, _ = connect(a.host, a.port, name="waiter")
    try:
        seen = {}
        for _ in range(a.trials):
            q = unique("q6")
            fill_tokens(obs, q, 1)
            c = Consumer(conn, q)
            if not c.wait(1):
                raise RuntimeError("no token")
            m, n = passive(obs, q)
            seen[(m, n)] = seen.get((m, n), 0) + 1
            c.ch.close()
            obs.channel().queue_delete(q)
        r.add(f"1. holder full (prefetch 1, 1 unacked), read just after the delivery, {a.trials} trials",
              "; ".join(f"consumer_count {n}, message_count {m}: {k} times" for (m, n), k in sorted(seen.items())))

        q = unique("q6")
        fill_tokens(obs, q, 2)
        c = Consumer(conn, q)
        c.wait(1)
        conn.process_data_events(time_limit=0.2)
        m, n = passive(obs, q)
        r.add("2. holder full, a second token ready", f"consumer_count {n}, message_count {m}")
        # take the second token away so the waiter has to wait
        g = obs.channel().basic_get(q, auto_ack=False)
        w = Consumer(conn2, q)
        conn2.process_data_events(time_limit=0.2)
        m, n = passive(obs, q)
        r.add("3. holder full + a waiting consumer (QoS not full)", f"consumer_count {n}, message_count {m}")
        del g
        c.ch.basic_ack(c.last()[1].delivery_tag)
        conn.process_data_events(time_limit=0.2)
        m, n = passive(obs, q)
        r.add("4. after the holder acks (QoS free again, queue empty)", f"consumer_count {n}, message_count {m}")
        c.ch.close()
        w.ch.close()
        obs.channel().queue_delete(q)

        if is_warren(a.broker):
            lq = unique("q6-lock")
            obs.channel().queue_declare(lq, arguments={"x-queue-type": "lock"})
            h = Consumer(conn, lq)
            h.wait(1)
            m, n = passive(obs, lq)
            r.add("5. lock queue, one holder", f"consumer_count {n}, message_count (free permits) {m}")
            w = Consumer(conn2, lq)
            conn2.process_data_events(time_limit=0.2)
            m, n = passive(obs, lq)
            r.add("5. lock queue, one holder + one waiter", f"consumer_count {n}, message_count (free permits) {m}")
            obs.channel().queue_delete(lq)
    finally:
        close_quietly(conn)
        close_quietly(conn2)
        close_quietly(obs)
    r.write(a.json)


if __name__ == "__main__":
    main_guard(main)
