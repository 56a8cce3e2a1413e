#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_amqp091_preparse: publishes of every shape
the Preparser takes or leaves, after the fuzzer's built-in prefix
(handshake, channel 1, queue "q" with a no-ack consumer).

    fuzz/amqp091/make_preparse_corpus.py   # rewrites fuzz/corpus/fuzz_amqp091_preparse/

Each seed is <mode> <split> <session>; see the fuzzer.
"""
import os
import struct

from make_corpus import body, header, method, shortstr, write_seeds

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "corpus", "fuzz_amqp091_preparse")


def publish(ch, exchange, key, data, flags=0, props=b"", mandatory=False, immediate=False):
    bits = (1 if mandatory else 0) | (2 if immediate else 0)
    out = method(ch, 60, 40, struct.pack(">H", 0) + shortstr(exchange) + shortstr(key) + bytes([bits]))
    out += header(ch, len(data), flags, props)
    return out + (body(ch, data) if data else b"")


def seeds():
    plain = publish(1, "", "q", b"hello") + publish(1, "", "q", b"") + publish(1, "amq.direct", "q", b"x" * 300)
    persistent = publish(1, "", "q", b"p", flags=0x1000, props=b"\x02")  # delivery-mode 2
    expiring = publish(1, "", "q", b"e", flags=0x0100, props=shortstr("100"))
    reply_to = publish(1, "", "q", b"r", flags=0x0200, props=shortstr("amq.rabbitmq.reply-to"))
    two_bodies = (method(1, 60, 40, b"\x00\x00" + shortstr("") + shortstr("q") + b"\x00") + header(1, 4, 0) +
                  body(1, b"ab") + body(1, b"cd"))
    tx = method(1, 90, 10) + publish(1, "", "q", b"in tx") + method(1, 90, 20)
    return {
        "plain": b"\x01\x00" + plain,
        "plain-split": b"\x01\x07" + plain + persistent,
        "confirms": b"\x05\x03" + plain + publish(1, "nope", "q", b"404") + plain,
        "fast-way-left": b"\x01\x11" + expiring + reply_to + two_bodies + tx,
        "mandatory-immediate": b"\x05\x00" + publish(1, "", "none", b"m", mandatory=True) +
                               publish(1, "", "q", b"i", immediate=True),
        "frame-max-4096": b"\x03\x05" + publish(1, "", "q", b"y" * 5000) + plain,
        "no-prefix": b"\x00\x02" + b"AMQP\x00\x00\x09\x01" + plain,
        # Moves to the batched path after read 3 (then 10), mid-stream.
        "moved": bytes([0x01 | 0x08 | 3 << 4, 0x07]) + plain + persistent + plain,
        "moved-confirms": bytes([0x05 | 0x08 | 10 << 4, 0x13]) + plain + two_bodies + plain,
    }


def main():
    write_seeds(OUT, seeds())


if __name__ == "__main__":
    main()
