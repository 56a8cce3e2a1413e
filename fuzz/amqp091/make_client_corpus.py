#!/usr/bin/env python3
"""Writes fuzz/corpus/fuzz_amqp091_client: broker output for a consumer on
channel 1 (deliveries and a return whose bodies come in frames over the
client's 16 KiB streaming threshold, one with a bad end octet), each
preceded by the cut sizes the fuzzer feeds it in (fuzz_amqp091_client.cpp)."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "fuzz_amqp091_client")


def shortstr(s):
    return bytes([len(s)]) + s


def frame(t, ch, payload, end=0xCE):
    return struct.pack(">BHI", t, ch, len(payload)) + payload + bytes([end])


def content(method, body, frame_payload=20000, bad_end_at=None):
    f = frame(1, 1, method)
    f += frame(2, 1, struct.pack(">HHQH", 60, 0, len(body), 0))
    for i, at in enumerate(range(0, len(body), frame_payload)):
        f += frame(3, 1, body[at:at + frame_payload], 0x78 if i == bad_end_at else 0xCE)
    return f


def deliver(tag, body, **kw):
    m = struct.pack(">HH", 60, 60) + shortstr(b"c1") + struct.pack(">QB", tag, 0) + shortstr(b"ex") + shortstr(b"rk")
    return content(m, body, **kw)


def ret(body):
    m = struct.pack(">HHH", 60, 50, 312) + shortstr(b"NO_ROUTE") + shortstr(b"ex") + shortstr(b"rk")
    return content(m, body)


def body(n, seed):
    return bytes((i * 131 + seed) & 0xFF for i in range(n))


def seed(name, cuts, wire):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([len(cuts)]) + bytes(cuts) + wire)


os.makedirs(OUT, exist_ok=True)
many = deliver(1, body(40000, 1)) + deliver(2, b"small") + ret(body(20000, 2)) + deliver(3, b"")
seed("whole", [], many)
seed("octets", [1, 2, 7, 3], many)
seed("kib", [0x80 | 3, 5, 0x80 | 15, 0x80], many)  # 4 KiB, 5, 16 KiB, 1 KiB
seed("bad_end", [0x80 | 9, 100], deliver(1, body(41000, 3), bad_end_at=0))
seed("oversized_frame", [0x80 | 1], deliver(1, body(30000, 4), frame_payload=30000)[:-30008] +
     frame(3, 1, body(40000, 5)))
