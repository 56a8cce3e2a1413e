"""A deliberately small AMQP 0-9-1 client over a raw socket, for what real
clients will not do: wrong protocol headers, silence after negotiating
heartbeats, frames out of order. Only the methods the tests need."""
import socket
import struct
import time

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8
FRAME_END = 0xCE


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!B", len(b)) + b


def longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!I", len(b)) + b


def table(d):
    """Field table with string, bool and nested table values."""
    out = b""
    for k, v in d.items():
        out += shortstr(k)
        if isinstance(v, bool):
            out += b"t" + struct.pack("!B", v)
        elif isinstance(v, dict):
            out += b"F" + table(v)
        else:
            out += b"S" + longstr(v)
    return struct.pack("!I", len(out)) + out


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        b = self.data[self.at:self.at + n]
        self.at += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def u64(self):
        return struct.unpack("!Q", self.take(8))[0]

    def shortstr(self):
        return self.take(self.u8()).decode()

    def longstr(self):
        return self.take(self.u32())


class Closed(Exception):
    """The server closed the socket."""


class RawClient:
    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.heartbeats_received = 0

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def recv_some(self, timeout):
        """Bytes from the socket; b"" at EOF; None on timeout."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return b""

    def read_all_until_eof(self, timeout):
        """Everything the server sends until it closes; fails on timeout."""
        data, deadline = b"", time.monotonic() + timeout
        while True:
            chunk = self.recv_some(max(deadline - time.monotonic(), 0.001))
            if chunk == b"":
                return data
            if chunk is None:
                raise AssertionError(f"server did not close within {timeout}s; got {data!r}")
            data += chunk

    # ----------------------------------------------------------- frames

    def send_frame(self, ftype, channel, payload):
        self.send(struct.pack("!BHI", ftype, channel, len(payload)) + payload + bytes([FRAME_END]))

    def send_method(self, channel, class_id, method_id, args=b""):
        self.send_frame(FRAME_METHOD, channel, struct.pack("!HH", class_id, method_id) + args)

    def send_heartbeat(self):
        self.send_frame(FRAME_HEARTBEAT, 0, b"")

    def read_frame(self, timeout=5.0):
        """(type, channel, payload); raises Closed at EOF, AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 7:
                ftype, channel, size = struct.unpack("!BHI", self.buf[:7])
                if len(self.buf) >= 8 + size:
                    payload, end = self.buf[7:7 + size], self.buf[7 + size]
                    self.buf = self.buf[8 + size:]
                    assert end == FRAME_END, f"bad frame end {end:#x}"
                    if ftype == FRAME_HEARTBEAT:
                        self.heartbeats_received += 1
                    return ftype, channel, payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no frame within {timeout}s")
            chunk = self.recv_some(left)
            if chunk == b"":
                raise Closed()
            if chunk:
                self.buf += chunk

    def read_method(self, timeout=5.0):
        """The next method frame (heartbeats counted and skipped): (channel, class, method, Reader)."""
        while True:
            ftype, channel, payload = self.read_frame(timeout)
            if ftype == FRAME_HEARTBEAT:
                continue
            assert ftype == FRAME_METHOD, f"expected a method frame, got type {ftype}"
            r = Reader(payload)
            return channel, r.u16(), r.u16(), r

    def expect(self, class_id, method_id, channel=0, timeout=5.0):
        ch, c, m, r = self.read_method(timeout)
        if (ch, c, m) == (0, 10, 50) and (class_id, method_id) != (10, 50):
            code = r.u16()
            raise AssertionError(f"connection.close {code} {r.shortstr()!r} instead of {class_id}.{method_id}")
        assert (ch, c, m) == (channel, class_id, method_id), \
            f"expected {class_id}.{method_id} on channel {channel}, got {c}.{m} on {ch}"
        return r

    # ------------------------------------------------------- handshake

    def handshake(self, heartbeat=0, user="guest", password="guest", vhost="/", open_vhost=True):
        """Through connection.open-ok (or up to tune-ok when not open_vhost)."""
        self.send(PROTOCOL_HEADER)
        r = self.expect(10, 10)
        assert (r.u8(), r.u8()) == (0, 9)
        caps = {"authentication_failure_close": True, "consumer_cancel_notify": True}
        self.send_method(0, 10, 11, table({"product": "rawamqp", "capabilities": caps}) + shortstr("PLAIN")
                         + longstr(f"\0{user}\0{password}") + shortstr("en_US"))
        r = self.expect(10, 30)
        channel_max, frame_max, _server_heartbeat = r.u16(), r.u32(), r.u16()
        self.send_method(0, 10, 31, struct.pack("!HIH", channel_max, frame_max, heartbeat))
        if open_vhost:
            self.send_method(0, 10, 40, shortstr(vhost) + shortstr("") + b"\0")
            self.expect(10, 41)

    def read_close(self, timeout=5.0):
        """Expects connection.close: (code, text, class, method)."""
        r = self.expect(10, 50, timeout=timeout)
        return r.u16(), r.shortstr(), r.u16(), r.u16()

    def channel_open(self, channel=1):
        self.send_method(channel, 20, 10, shortstr(""))
        self.expect(20, 11, channel)

    def basic_get(self, queue, channel=1, no_ack=False):
        """(delivery_tag, redelivered, body) or None for get-empty."""
        self.send_method(channel, 60, 70, struct.pack("!H", 0) + shortstr(queue) + bytes([no_ack]))
        ch, c, m, r = self.read_method()
        if (c, m) == (60, 72):
            return None
        assert (ch, c, m) == (channel, 60, 71), f"expected basic.get-ok, got {c}.{m}"
        tag, redelivered = r.u64(), bool(r.u8())
        _ftype, _ch, header = self.read_frame()
        body_size = struct.unpack("!Q", header[4:12])[0]
        body = b""
        while len(body) < body_size:
            _ftype, _ch, part = self.read_frame()
            body += part
        return tag, redelivered, body
