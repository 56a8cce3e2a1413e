"""Scenario 9: a broker's resident memory per idle connection and per queued
16 B message, with raw AMQP 0-9-1 sockets (no client library to hide costs)."""
import socket
import struct
import time

from brokers import rss_kib

FRAME_END = b"\xce"


def frame(ftype, channel, payload):
    return struct.pack(">BHI", ftype, channel, len(payload)) + payload + FRAME_END


def shortstr(s):
    b = s.encode()
    return struct.pack(">B", len(b)) + b


def longstr(b):
    return struct.pack(">I", len(b)) + b


def method(channel, class_id, method_id, args=b""):
    return frame(1, channel, struct.pack(">HH", class_id, method_id) + args)


class Conn:
    """A blocking AMQP 0-9-1 connection that reads frames until it sees a given method."""

    def __init__(self, port, user="guest", password="guest"):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self.expect(10, 10)  # connection.start
        resp = b"\x00" + user.encode() + b"\x00" + password.encode()
        self.sock.sendall(method(0, 10, 11, longstr(b"") + shortstr("PLAIN") + longstr(resp) + shortstr("en_US")))
        tune = self.expect(10, 30)
        channel_max, frame_max, _ = struct.unpack(">HIH", tune[:8])
        self.sock.sendall(method(0, 10, 31, struct.pack(">HIH", 1, frame_max or 131072, 0)) +
                          method(0, 10, 40, shortstr("/") + shortstr("") + b"\x00"))
        self.expect(10, 41)  # connection.open-ok
        self.sock.sendall(method(1, 20, 10, shortstr("")))
        self.expect(20, 11)  # channel.open-ok

    def expect(self, class_id, method_id):
        while True:
            while len(self.buf) >= 7:
                ftype, _, size = struct.unpack(">BHI", self.buf[:7])
                if len(self.buf) < size + 8:
                    break
                payload, self.buf = self.buf[7:7 + size], self.buf[size + 8:]
                if ftype != 1:
                    continue
                cid, mid = struct.unpack(">HH", payload[:4])
                if (cid, mid) in ((10, 50), (20, 40)):
                    raise RuntimeError(f"closed by the broker: {payload[4:]!r}")
                if (cid, mid) == (class_id, method_id):
                    return payload[4:]
            data = self.sock.recv(1 << 20)
            if not data:
                raise RuntimeError("connection closed")
            self.buf += data

    def queue_declare(self, name, passive=False):
        bits = 0x01 if passive else 0x00
        self.sock.sendall(method(1, 50, 10, struct.pack(">H", 0) + shortstr(name) + bytes([bits]) + longstr(b"")))
        ok = self.expect(50, 11)
        n = ok[0]
        return struct.unpack(">II", ok[1 + n:9 + n])  # message count, consumer count

    def queue_delete(self, name):
        self.sock.sendall(method(1, 50, 40, struct.pack(">H", 0) + shortstr(name) + b"\x00"))
        self.expect(50, 41)

    def close(self):
        self.sock.close()


def settle(seconds=2.0):
    time.sleep(seconds)


def per_connection(port, pid, count=1000):
    """Bytes of RSS per idle connection with one open channel."""
    settle(1)
    before = rss_kib(pid)
    conns = [Conn(port) for _ in range(count)]
    settle(3)
    after = rss_kib(pid)
    for c in conns:
        c.close()
    settle(1)
    return {"connections": count, "rss_before_kib": before, "rss_after_kib": after,
            "bytes_per_connection": (after - before) * 1024 / count}


def per_message(port, pid, count=1_000_000, body_size=16):
    """Bytes of RSS per queued message (bodies of body_size bytes) in a transient queue."""
    queue = "compare-memory"
    c = Conn(port)
    c.queue_declare(queue)
    settle(1)
    before = rss_kib(pid)
    publish = (method(1, 60, 40, struct.pack(">H", 0) + shortstr("") + shortstr(queue) + b"\x00") +
               frame(2, 1, struct.pack(">HHQH", 60, 0, body_size, 0)) +
               frame(3, 1, b"m" * body_size))
    batch = publish * 1000
    for _ in range(count // 1000):
        c.sock.sendall(batch)
        if len(c.buf) < (1 << 20):  # drain anything the broker sends (blocked notices)
            c.sock.setblocking(False)
            try:
                c.buf += c.sock.recv(1 << 20)
            except BlockingIOError:
                pass
            c.sock.setblocking(True)
    deadline = time.monotonic() + 300
    queued = 0
    while time.monotonic() < deadline:
        queued, _ = c.queue_declare(queue, passive=True)
        if queued >= count:
            break
        time.sleep(0.5)
    settle(3)
    after = rss_kib(pid)
    c.queue_delete(queue)
    c.close()
    return {"messages": queued, "body_size": body_size, "rss_before_kib": before, "rss_after_kib": after,
            "bytes_per_message": (after - before) * 1024 / max(queued, 1)}
