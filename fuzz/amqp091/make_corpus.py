#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_amqp091_frames: realistic AMQP 0-9-1
conversations, encoded here by hand (independently of the C++ codec).

    fuzz/amqp091/make_corpus.py    # rewrites fuzz/corpus/fuzz_amqp091_frames/

Each seed is <frame_max selector> <split point> <stream>; see the fuzzer.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "corpus", "fuzz_amqp091_frames")
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">B", len(b)) + b


def longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def value(v):
    """(letter, payload) pairs or Python values with an obvious type."""
    if isinstance(v, tuple):
        letter, raw = v
        return letter.encode() + raw
    if isinstance(v, bool):
        return b"t" + bytes([v])
    if isinstance(v, int):
        return b"l" + struct.pack(">q", v)
    if isinstance(v, str):
        return b"S" + longstr(v)
    if isinstance(v, dict):
        return b"F" + table(v)
    if isinstance(v, list):
        items = b"".join(value(x) for x in v)
        return b"A" + struct.pack(">I", len(items)) + items
    raise TypeError(v)


def table(d):
    body = b"".join(shortstr(k) + value(v) for k, v in d.items())
    return struct.pack(">I", len(body)) + body


def frame(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def method(channel, class_id, method_id, args=b""):
    return frame(1, channel, struct.pack(">HH", class_id, method_id) + args)


def header(channel, body_size, flags, props=b""):
    return frame(2, channel, struct.pack(">HHQH", 60, 0, body_size, flags) + props)


def body(channel, data):
    return frame(3, channel, data)


HEARTBEAT = frame(8, 0, b"")

SERVER_PROPERTIES = {
    "product": "Warren",
    "version": "0.1.0",
    "capabilities": {"publisher_confirms": True, "basic.nack": True, "consumer_cancel_notify": True,
                     "connection.blocked": True, "authentication_failure_close": True},
    "cluster_name": "warren@localhost",
}
CLIENT_PROPERTIES = {
    "product": "pika", "platform": "Python 3.11",
    "capabilities": {"publisher_confirms": True, "basic.nack": True},
    "connection_name": "worker-1",
}
EVERY_TYPE = {
    "t": ("t", b"\x01"), "b": ("b", b"\xfe"), "B": ("B", b"\xc8"), "s": ("s", b"\xff\xfe"),
    "u": ("u", b"\xfd\xe8"), "I": ("I", struct.pack(">i", -100000)), "i": ("i", struct.pack(">I", 4000000000)),
    "l": ("l", struct.pack(">q", -1)), "f": ("f", struct.pack(">f", 1.5)), "d": ("d", struct.pack(">d", -2.5)),
    "D": ("D", b"\x02" + struct.pack(">I", 12345)), "S": "hi", "A": [1, "x", [True]],
    "T": ("T", struct.pack(">Q", 1700000000)), "F": {"k": ("V", b"")}, "V": ("V", b""),
    "x": ("x", longstr(b"\x00\xff")),
}


def seeds():
    s = {}
    s["server-handshake"] = (
        method(0, 10, 10, b"\x00\x09" + table(SERVER_PROPERTIES) + longstr("PLAIN AMQPLAIN") + longstr("en_US"))
        + method(0, 10, 30, struct.pack(">HIH", 2047, 131072, 60))
        + method(0, 10, 41, shortstr(""))
        + method(1, 20, 11, longstr(""))
    )
    s["client-handshake"] = PROTOCOL_HEADER + (
        method(0, 10, 11, table(CLIENT_PROPERTIES) + shortstr("PLAIN") + longstr(b"\x00guest\x00guest")
               + shortstr("en_US"))
        + method(0, 10, 31, struct.pack(">HIH", 2047, 131072, 60))
        + method(0, 10, 40, shortstr("/") + shortstr("") + b"\x00")
        + method(1, 20, 10, shortstr(""))
    )
    s["declare-bind-consume"] = (
        method(1, 40, 10, b"\x00\x00" + shortstr("logs") + shortstr("topic") + b"\x02" + table({}))
        + method(1, 50, 10, b"\x00\x00" + shortstr("jobs") + b"\x02"
                 + table({"x-queue-type": "quorum", "x-max-length": 1000, "x-dead-letter-exchange": "dlx"}))
        + method(1, 50, 20, b"\x00\x00" + shortstr("jobs") + shortstr("logs") + shortstr("*.error") + b"\x00"
                 + table({}))
        + method(1, 60, 10, struct.pack(">IH", 0, 50) + b"\x00")
        + method(1, 60, 20, b"\x00\x00" + shortstr("jobs") + shortstr("") + b"\x00" + table({"x-priority": 5}))
        + method(1, 50, 10, b"\x00\x00" + shortstr("every-type") + b"\x00" + table(EVERY_TYPE))
    )
    props = (shortstr("application/json") + shortstr("gzip")
             + table({"x-trace": "abc", "retries": 3, "x-death": [{"count": 1, "reason": "expired"}]})
             + b"\x02\x05" + shortstr("corr-1") + shortstr("amq.rabbitmq.reply-to") + shortstr("60000")
             + shortstr("msg-1") + struct.pack(">Q", 1700000000) + shortstr("order.created") + shortstr("guest")
             + shortstr("shop") + shortstr(""))
    payload = b'{"order": 42, "items": [1, 2, 3]}' * 4
    s["publish-all-properties"] = (
        method(1, 60, 40, b"\x00\x00" + shortstr("amq.topic") + shortstr("orders.created") + b"\x01")
        + header(1, len(payload), 0xFFFC, props)
        + body(1, payload[:60]) + body(1, payload[60:])
    )
    s["deliver-and-ack"] = (
        method(1, 60, 21, shortstr("ctag-1"))
        + method(1, 60, 60, shortstr("ctag-1") + struct.pack(">Q", 1) + b"\x00" + shortstr("") + shortstr("jobs"))
        + header(1, 5, 0x1900, b"\x02\x09" + shortstr("5000"))
        + body(1, b"hello")
        + method(1, 60, 80, struct.pack(">Q", 1) + b"\x00")
        + method(1, 60, 120, struct.pack(">Q", 2) + b"\x03")
        + method(1, 60, 90, struct.pack(">Q", 3) + b"\x01")
        + HEARTBEAT
    )
    s["confirms-tx-get"] = (
        method(1, 85, 10, b"\x00") + method(1, 85, 11)
        + method(2, 90, 10) + method(2, 90, 20) + method(2, 90, 31)
        + method(1, 60, 70, b"\x00\x00" + shortstr("jobs") + b"\x01")
        + method(1, 60, 71, struct.pack(">Q", 9) + b"\x01" + shortstr("") + shortstr("jobs") + struct.pack(">I", 3))
        + header(1, 0, 0x0000)
        + method(1, 60, 72, shortstr(""))
    )
    s["close"] = (
        method(1, 20, 40, struct.pack(">H", 404) + shortstr("NOT_FOUND - no queue 'q' in vhost '/'")
               + struct.pack(">HH", 50, 10))
        + method(1, 20, 41)
        + method(0, 10, 60, shortstr("low on memory")) + method(0, 10, 61)
        + method(0, 10, 50, struct.pack(">H", 320) + shortstr("CONNECTION_FORCED - shutdown")
                 + struct.pack(">HH", 0, 0))
        + method(0, 10, 51)
    )
    # Errors a peer can make.
    s["bad-frame-end"] = HEARTBEAT + frame(3, 1, b"abc")[:-1] + b"\x00"
    s["frame-too-large"] = struct.pack(">BHI", 3, 1, 200000) + b"x" * 32
    s["unknown-frame-type"] = frame(4, 0, b"") + HEARTBEAT
    s["unknown-method"] = method(1, 60, 99) + method(1, 99, 10) + method(1, 60, 40, b"\x00")
    s["partial-tail"] = HEARTBEAT + method(1, 60, 80, struct.pack(">Q", 1) + b"\x00")[:9]
    # Selector and split: frame_max 131072, split at the middle; others vary.
    control = {"frame-too-large": b"\x01\x10", "partial-tail": b"\x02\xff", "server-handshake": b"\x00\x30"}
    return {name: control.get(name, b"\x00\x80") + data for name, data in s.items()}


def write_seeds(out, named):
    """Each seed to out/<name>, replacing what was there."""
    os.makedirs(out, exist_ok=True)
    for name, data in named.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(named), out))


def main():
    write_seeds(OUT, seeds())


if __name__ == "__main__":
    main()
