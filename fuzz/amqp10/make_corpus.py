#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_amqp10_frames: AMQP 1.0 frame streams
encoded here by hand (independently of the C++ codec), plus the open and
sasl-init frames Qpid Proton sent in a capture.

    fuzz/amqp10/make_corpus.py    # rewrites fuzz/corpus/fuzz_amqp10_frames/
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "corpus", "fuzz_amqp10_frames")

PROTON_OPEN = bytes.fromhex(
    "0000004902000000005310c03c0aa12432343365653932302d326164342d343433392d613133382d36316366616432346135623"
    "1a1093132372e302e302e3140607fff404040404040")
PROTON_SASL_INIT = bytes.fromhex("0000002402010000005341c01702a309414e4f4e594d4f5553a009616e6f6e796d6f7573")

NULL = b"\x40"
TRUE = b"\x41"
FALSE = b"\x42"


def uint(v):
    return b"\x43" if v == 0 else (b"\x52" + bytes([v]) if v < 256 else b"\x70" + struct.pack(">I", v))


def ulong(v):
    return b"\x44" if v == 0 else (b"\x53" + bytes([v]) if v < 256 else b"\x80" + struct.pack(">Q", v))


def ubyte(v):
    return b"\x50" + bytes([v])


def variable(small, data):
    data = data.encode() if isinstance(data, str) else data
    if len(data) < 256:
        return bytes([small, len(data)]) + data
    return bytes([small + 0x10]) + struct.pack(">I", len(data)) + data


def string(s):
    return variable(0xa1, s)


def symbol(s):
    return variable(0xa3, s)


def binary(b):
    return variable(0xa0, b)


def lst(*items):
    body = b"".join(items)
    if not items:
        return b"\x45"
    if len(body) + 1 < 256:
        return bytes([0xc0, len(body) + 1, len(items)]) + body
    return b"\xd0" + struct.pack(">II", len(body) + 4, len(items)) + body


def mp(*pairs):
    body = b"".join(k + v for k, v in pairs)
    return bytes([0xc1, len(body) + 1, 2 * len(pairs)]) + body


def symbol_array(*syms):
    body = b"\xa3" + b"".join(bytes([len(s)]) + s.encode() for s in syms)
    return bytes([0xe0, len(body) + 1, len(syms)]) + body


def described(code, value):
    return b"\x00" + ulong(code) + value


def frame(body, channel=0, frame_type=0, payload=b""):
    data = body + payload
    return struct.pack(">IBBH", 8 + len(data), 2, frame_type, channel) + data


def message():
    header = described(0x70, lst(TRUE, ubyte(4)))
    annotations = described(0x72, mp((symbol("x-opt-jms-dest"), ubyte(0))))
    properties = described(0x73, lst(string("id-1"), NULL, string("/queues/q"), NULL, NULL, NULL, symbol("text/plain")))
    app = described(0x74, mp((string("colour"), string("red"))))
    data = described(0x75, binary("hello"))
    footer = described(0x78, mp((symbol("x-sum"), uint(5))))
    return header + annotations + properties + app + data + footer


SEEDS = {
    "proton-open": PROTON_OPEN,
    "proton-sasl-init": PROTON_SASL_INIT,
    "sasl-mechanisms-outcome":
        frame(described(0x40, lst(symbol_array("PLAIN", "ANONYMOUS"))), frame_type=1)
        + frame(described(0x44, lst(ubyte(0))), frame_type=1),
    "open-begin-attach":
        frame(described(0x10, lst(string("warren"), string("localhost"), uint(65536), b"\x60\xff\xff", uint(60000),
                                  NULL, NULL, symbol("ANONYMOUS-RELAY"))))
        + frame(described(0x11, lst(NULL, uint(1), uint(2048), uint(2048))), channel=1)
        + frame(described(0x12, lst(string("sender"), uint(0), FALSE, ubyte(2), ubyte(0),
                                    described(0x28, lst(string("q"))),
                                    described(0x29, lst(string("q"), uint(1), symbol("never"))))), channel=1),
    "flow-transfer-disposition":
        frame(described(0x13, lst(uint(1), uint(2048), uint(1), uint(2048), uint(0), uint(0), uint(100))), channel=1)
        + frame(described(0x14, lst(uint(0), uint(1), binary(b"\x00\x01"), uint(0), FALSE)), channel=1,
                payload=message())
        + frame(described(0x15, lst(TRUE, uint(1), uint(1), TRUE, described(0x24, lst()))), channel=1),
    "heartbeat-detach-end-close":
        frame(b"")
        + frame(described(0x16, lst(uint(0), TRUE, described(0x1d, lst(symbol("amqp:not-found"),
                                                                         string("no queue"))))), channel=1)
        + frame(described(0x17, lst()), channel=1)
        + frame(b"\x00" + symbol("amqp:close:list") + lst()),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
