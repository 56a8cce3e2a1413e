"""The clients test_crash.py runs against a warrend it then SIGKILLs: each
publishes in confirm mode and takes messages from the queues, until the broker
dies under it, and says on stdout, in order, what it did:

  ready                       connected, about to start
  sending ID KEY persistent   about to publish ID with routing KEY (also
  sending ID KEY transient    for non-persistent ones: they must not come back)
  confirmed ID                the broker confirmed (0-9-1 basic.ack) or
                              accepted (AMQP 1.0) ID
  removed QUEUE ID            acked or rejected ID, taken from QUEUE
  gone REASON                 the connection died: the broker was killed

Any other failure (a nack, an unroutable or rejected publish, a damaged
body) is a traceback and exit status 1.

  crash_clients.py pika SEED NAME     pika (0-9-1); broker at $AMQP_HOST:$AMQP_PORT
  crash_clients.py proton SEED NAME   python3-qpid-proton (1.0); broker at $AMQP10_URL

Message bodies are "ID:SHA256:" and then random bytes whose sha256 that is.
"""
import hashlib
import os
import random
import sys

EXCHANGE = "crash.x"          # durable, direct
Q1, Q2 = "crash.q1", "crash.q2"  # durable
# What a routing key reaches: "q2" goes through the default exchange.
ROUTES = {"both": (Q1, Q2), "one": (Q1,), "q2": (Q2,)}
KEYS = ("both", "both", "one", "q2")


def make_body(mid, rng):
    # Mostly small; now and then bigger than a 0-9-1 frame (128 KiB) or 1.0 transfer frame.
    size = rng.randint(150_000, 300_000) if rng.random() < 0.02 else rng.randint(0, 3000)
    payload = rng.randbytes(size)
    return f"{mid}:{hashlib.sha256(payload).hexdigest()}:".encode() + payload


def parse_body(body):
    """(id, None) for an intact body, else (id or None, what is wrong)."""
    parts = body.split(b":", 2)
    if len(parts) != 3:
        return None, f"not ID:SHA256:PAYLOAD ({len(body)} bytes, starting {body[:60]!r})"
    mid = parts[0].decode(errors="replace")
    if hashlib.sha256(parts[2]).hexdigest().encode() != parts[1]:
        return mid, f"checksum mismatch ({len(parts[2])} payload bytes)"
    return mid, None


def check_body(body):
    mid, problem = parse_body(body)
    if problem:
        raise AssertionError(f"damaged message {mid}: {problem}")
    return mid


def say(*words):
    print(*words, flush=True)


def pika_client(rng, name):
    import pika
    from pika import exceptions as px

    gone = (px.AMQPConnectionError, px.ConnectionWrongStateError, px.ChannelWrongStateError, OSError)
    try:
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            host=os.environ.get("AMQP_HOST", "127.0.0.1"), port=int(os.environ["AMQP_PORT"]),
            connection_attempts=1, socket_timeout=10))
        ch = conn.channel()
        ch.confirm_delivery()  # basic_publish now waits for the broker's ack
        say("ready")
        n = 0
        while True:
            if rng.random() < 0.35:
                q = rng.choice((Q1, Q2))
                method, _props, body = ch.basic_get(q, auto_ack=False)
                if method is None:
                    continue
                mid = check_body(body)
                r = rng.random()
                if r < 0.75:
                    ch.basic_ack(method.delivery_tag)
                    say("removed", q, mid)
                elif r < 0.85:
                    ch.basic_reject(method.delivery_tag, requeue=False)  # dropped: no dead-letter exchange
                    say("removed", q, mid)
                # else: left unacked, to go back to the queue when the connection dies
                continue
            n += 1
            mid = f"{name}-{n}"
            key = rng.choice(KEYS)
            persistent = rng.random() < 0.85
            body = make_body(mid, rng)
            say("sending", mid, key, "persistent" if persistent else "transient")
            exchange, routing_key = ("", Q2) if key == "q2" else (EXCHANGE, key)
            # mandatory: a lost binding would make this raise UnroutableError.
            ch.basic_publish(exchange, routing_key, body, mandatory=True,
                             properties=pika.BasicProperties(delivery_mode=2 if persistent else 1))
            say("confirmed", mid)
    except gone as e:
        say("gone", type(e).__name__)


def proton_client(rng, name):
    from proton import ConnectionException, Message, Timeout
    from proton.utils import BlockingConnection

    try:
        conn = BlockingConnection(os.environ["AMQP10_URL"], timeout=10)
        senders = {"both": conn.create_sender(f"/exchanges/{EXCHANGE}/both"),
                   "one": conn.create_sender(f"/exchanges/{EXCHANGE}/one"),
                   "q2": conn.create_sender(f"/queues/{Q2}")}
        # Credit 1 at a time, given by receive(): no prefetched messages in the way.
        receivers = {q: conn.create_receiver(f"/queues/{q}", credit=0) for q in (Q1, Q2)}
        say("ready")
        n = 0
        while True:
            if rng.random() < 0.35:
                q = rng.choice((Q1, Q2))
                rcv = receivers[q]
                try:
                    m = rcv.receive(timeout=0.02)
                except Timeout:
                    continue
                mid = check_body(m.body)
                if rng.random() < 0.85:
                    rcv.accept()
                else:
                    rcv.reject()
                say("removed", q, mid)
                continue
            n += 1
            mid = f"{name}-{n}"
            key = rng.choice(KEYS)
            persistent = rng.random() < 0.85
            m = Message(body=make_body(mid, rng), durable=persistent)
            m.inferred = True  # one data section: the 0-9-1 body
            say("sending", mid, key, "persistent" if persistent else "transient")
            senders[key].send(m)  # unsettled; returns once accepted, raises if rejected or released
            say("confirmed", mid)
    except ConnectionException as e:  # includes ConnectionClosed
        say("gone", type(e).__name__)


if __name__ == "__main__":
    kind, seed, name = sys.argv[1:]
    client = {"pika": pika_client, "proton": proton_client}.get(kind)
    if client is None:
        sys.exit(f"unknown client {kind!r}\n{__doc__}")
    client(random.Random(seed), name)
