"""Q1: a receive-based semaphore (a queue of N token messages, held by
consumers with prefetch 1 and no ack) whose holder's connection is dropped,
with heartbeats off (heartbeat=0).

  a) the connection is closed abruptly (RST, then FIN): the broker sees it at
     once. How long until the token is free again? What does the holder see,
     and what does it get when it reconnects?
  b) the path goes silent (black hole: no FIN, no RST) for --silence seconds.
     Does the broker ever free the token? What does the holder see when the
     path comes back? And if the holder gives up and reconnects on another
     path meanwhile, how many tokens is it holding?

  c) the holder acks its token (a permanent decrement: the token is gone)
     and its connection dies right after, once the ack has reached the
     broker's host: with RST (a process killed with unread input), and with
     FIN (a clean exit). Does the ack count? (--trials times each; a race.)

The free tokens are read with queue.declare(passive) (message_count: the
tokens that are ready) from an observer connection.
"""

from common import (Consumer, Proxy, Report, arg_parser, close_quietly, connect, exc_name, fill_tokens, main_guard,
                    ms, now, passive, unique)

N = 2


def free(obs, q):
    r = passive(obs, q)
    return r[0] if isinstance(r, tuple) else r


def wait_free(obs, q, want, timeout):
    """Polls every 10 ms until `want` tokens are free; the time it took or None."""
    t0 = now()
    while now() - t0 < timeout:
        if free(obs, q) == want:
            return now() - t0
        obs.sleep(0.01)
    return None


def holder_via(proxy, q, name):
    conn, log = connect("127.0.0.1", proxy.port, heartbeat=0, name=name)
    c = Consumer(conn, q)
    if not c.wait(1):
        raise RuntimeError("holder got no token")
    return conn, log, c


def case_abrupt(r, host, port, rst, trials=5):
    how = "RST" if rst else "FIN"
    q = unique("q1-sem")
    obs, _ = connect(host, port, heartbeat=0, name="observer")
    fill_tokens(obs, q, N)
    try:
        times = []
        for trial in range(trials):
            proxy = Proxy(host, port)
            conn, log, c = holder_via(proxy, q, "holder")
            token = c.last()[3].decode()
            if trial == 0:
                r.add(f"a/{how}: free tokens while held", free(obs, q))
            proxy.cut(rst=rst)
            released = wait_free(obs, q, N, 10)
            times.append(released)
            if trial < trials - 1:
                close_quietly(conn)
                proxy.close()
                continue
            # the holder, unaware, tries to give its token back
            try:
                c.ch.basic_reject(c.last()[1].delivery_tag, requeue=True)
                conn.process_data_events(time_limit=0.5)
                seen = "nothing (the reject went nowhere)"
            except Exception as e:  # noqa: BLE001
                seen = exc_name(e)
            close_quietly(conn)
            proxy.close()
        if None in times:
            r.add(f"a/{how}: token free again after the cut", f"not within 10 s in {times.count(None)} of {trials}")
        else:
            times.sort()
            r.add(f"a/{how}: token free again after the cut ({trials} trials, polled every 10 ms)",
                  f"median {ms(times[len(times) // 2])}, max {ms(times[-1])}")
        r.add(f"a/{how}: holder's next operation (reject, requeue) raises", seen)
        conn2, _ = connect(host, port, heartbeat=0, name="holder-again")
        c2 = Consumer(conn2, q)
        got = c2.wait(1)
        if got:
            _, m, _, body = c2.last()
            r.add(f"a/{how}: after reconnecting, the holder gets",
                  f"a token at once ({'redelivered' if m.redelivered else 'not redelivered'}; "
                  f"{'the same token' if body.decode() == token else 'another token'})")
        else:
            r.add(f"a/{how}: after reconnecting, the holder gets", "nothing within 5 s")
        close_quietly(conn2)
    finally:
        ch = obs.channel()
        ch.queue_delete(q)
        close_quietly(obs)


def case_silence(r, host, port, silence):
    q = unique("q1-sem")
    obs, _ = connect(host, port, heartbeat=0, name="observer")
    fill_tokens(obs, q, N)
    proxy = Proxy(host, port)
    try:
        # b1: idle holder, path silent, then back
        conn, log, c = holder_via(proxy, q, "holder")
        tag = c.last()[1].delivery_tag
        proxy.blackhole()
        t0 = now()
        samples = []
        while now() - t0 < silence:
            samples.append(free(obs, q))
            obs.sleep(0.5)
        r.add(f"b1: free tokens during {silence:.0f} s of silence (sampled every 0.5 s)",
              "always " + str(samples[0]) if len(set(samples)) == 1 else str(sorted(set(samples))))
        proxy.resume()
        mark = log.mark()
        try:
            ok = c.ch.queue_declare(q, passive=True)
            seen = f"passive declare works (message_count {ok.method.message_count}); no frame but its reply: " \
                   f"{log.names(mark)}"
        except Exception as e:  # noqa: BLE001
            seen = exc_name(e)
        r.add("b1: holder's first operation when the path is back", seen)
        try:
            c.ch.basic_cancel(c.tag)  # else the requeued token comes straight back to this consumer
            c.ch.basic_reject(tag, requeue=True)
            released = wait_free(obs, q, N, 5)
            r.add("b1: holder gives its token back (reject, requeue) after the silence",
                  "token free again" if released is not None else "not free within 5 s")
        except Exception as e:  # noqa: BLE001
            r.add("b1: holder gives its token back (reject, requeue) after the silence", exc_name(e))
        close_quietly(conn)
        proxy.close()

        # b2: silence, the holder gives up on its connection and reconnects directly
        proxy = Proxy(host, port)
        wait_free(obs, q, N, 5)
        conn, log, c = holder_via(proxy, q, "holder")
        proxy.blackhole()
        proxy.drop_client(rst=True)  # the client sees its socket fail; the broker's side stays silent
        try:
            conn.process_data_events(time_limit=0.5)
            r.add("b2: holder's connection after the local drop", "still open?")
        except Exception as e:  # noqa: BLE001
            r.add("b2: holder's connection after the local drop", exc_name(e))
        conn2, _ = connect(host, port, heartbeat=0, name="holder-again")
        c2 = Consumer(conn2, q)
        got = c2.wait(1, timeout=3)
        r.add("b2: reconnected holder gets a token", "yes, the other one" if got else "no (none free)")
        r.add("b2: free tokens now (old connection is a ghost holding one)", free(obs, q))
        t0 = now()
        samples = []
        while now() - t0 < silence:
            samples.append(free(obs, q))
            obs.sleep(0.5)
        r.add(f"b2: free tokens during {silence:.0f} s more of silence",
              "always " + str(samples[0]) if len(set(samples)) == 1 else str(sorted(set(samples))))
        if got:
            c2.ch.basic_reject(c2.last()[1].delivery_tag, requeue=True)
        c2.ch.basic_cancel(c2.tag)
        proxy.resume()  # the client's close now reaches the broker
        released = wait_free(obs, q, N, 10)
        r.add("b2: ghost's token freed after the path is back", ms(released) if released is not None else "no, 10 s")
        close_quietly(conn2)
    finally:
        proxy.close()
        ch = obs.channel()
        ch.queue_delete(q)
        close_quietly(obs)


def case_ack_then_die(r, host, port, rst, trials):
    how = "RST" if rst else "FIN"
    q = unique("q1-sem")
    obs, _ = connect(host, port, heartbeat=0, name="observer")
    fill_tokens(obs, q, N)
    pub = obs.channel()
    pub.confirm_delivery()
    applied = lost = 0
    try:
        for _ in range(trials):
            proxy = Proxy(host, port)
            conn, _, c = holder_via(proxy, q, "holder")
            before = proxy.up_bytes()
            c.ch.basic_ack(c.last()[1].delivery_tag)  # pika writes it before returning
            t0 = now()
            while proxy.up_bytes() == before and now() - t0 < 2:
                pass
            proxy.cut(rst=rst)
            obs.sleep(0.05)
            wait_free(obs, q, N - 1, 2)  # settle
            n = free(obs, q)
            if n == N:
                lost += 1
            else:
                applied += 1
                pub.basic_publish("", q, b"token (refill)")
            close_quietly(conn)
            proxy.close()
        r.add(f"c/{how}: ack, then the connection dies ({trials} trials)",
              f"ack applied (token gone) {applied}, ack lost (token back) {lost}")
    finally:
        obs.channel().queue_delete(q)
        close_quietly(obs)


def main():
    p = arg_parser(__doc__)
    p.add_argument("--silence", type=float, default=20.0, help="seconds of black hole (default 20)")
    p.add_argument("--trials", type=int, default=300, help="trials of case c (default 300)")
    a = p.parse_args()
    r = Report(1, "receive-based semaphore, holder's connection dropped, heartbeat=0", a.broker)
    r.note(f"N={N} tokens; holder consumes with prefetch 1 through a TCP proxy; heartbeat 0 on every connection")
    case_abrupt(r, a.host, a.port, rst=True)
    case_abrupt(r, a.host, a.port, rst=False)
    case_silence(r, a.host, a.port, a.silence)
    case_ack_then_die(r, a.host, a.port, rst=True, trials=a.trials)
    case_ack_then_die(r, a.host, a.port, rst=False, trials=a.trials)
    r.write(a.json)


if __name__ == "__main__":
    main_guard(main)
