"""A deliberately small AMQP 0-9-1 client over a raw socket, for what real
clients will not do: wrong protocol headers, silence after negotiating
heartbeats, frames out of order, many frames in one write. Only the methods
the tests need.

A RawClient made with strict=True treats a reset (ECONNRESET on a read,
EPIPE or ECONNRESET on a write) as a failure (Reset), where the default
takes it as the end of the connection."""
import socket
import struct
import threading
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


def frame(ftype, channel, payload):
    """One frame's bytes."""
    return struct.pack("!BHI", ftype, channel, len(payload)) + payload + bytes([FRAME_END])


def method(channel, class_id, method_id, args=b""):
    """One method frame's bytes."""
    return frame(FRAME_METHOD, channel, struct.pack("!HH", class_id, method_id) + args)


def close_args(code=200, text="Goodbye", class_id=0, method_id=0):
    """The arguments of connection.close and channel.close."""
    return struct.pack("!H", code) + shortstr(text) + struct.pack("!HH", class_id, method_id)


def start_ok(user="guest", password="guest"):
    caps = {"authentication_failure_close": True, "consumer_cancel_notify": True}
    return method(0, 10, 11, table({"product": "rawamqp", "capabilities": caps}) + shortstr("PLAIN")
                  + longstr(f"\0{user}\0{password}") + shortstr("en_US"))


def tune_ok(channel_max=64, frame_max=65536, heartbeat=0):
    return method(0, 10, 31, struct.pack("!HIH", channel_max, frame_max, heartbeat))


def connection_open(vhost="/"):
    return method(0, 10, 40, shortstr(vhost) + shortstr("") + b"\0")


def connection_close(code=200, text="Goodbye"):
    return method(0, 10, 50, close_args(code, text))


CONNECTION_CLOSE_OK = method(0, 10, 51)


def channel_open(channel):
    return method(channel, 20, 10, shortstr(""))


def channel_close(channel, code=200, text="Goodbye"):
    return method(channel, 20, 40, close_args(code, text))


def channel_close_ok(channel):
    return method(channel, 20, 41)


def exchange_declare(channel, name, kind="direct"):
    """Not passive, not durable, waits for declare-ok."""
    return method(channel, 40, 10, struct.pack("!H", 0) + shortstr(name) + shortstr(kind) + b"\0" + table({}))


def queue_declare(channel, name, passive=False):
    return method(channel, 50, 10, struct.pack("!H", 0) + shortstr(name) + bytes([1 if passive else 0]) + table({}))


def basic_qos(channel, prefetch_count):
    return method(channel, 60, 10, struct.pack("!IHB", 0, prefetch_count, 0))


def confirm_select(channel):
    return method(channel, 85, 10, b"\0")


def publishes(channel, exchange, routing_key, n, body=b"x"):
    """n basic.publish sequences (method, content header, one body frame)."""
    one = (method(channel, 60, 40, struct.pack("!H", 0) + shortstr(exchange) + shortstr(routing_key) + b"\0")
           + frame(FRAME_HEADER, channel, struct.pack("!HHQH", 60, 0, len(body), 0))
           + frame(FRAME_BODY, channel, body))
    return one * n


def write_in_background(sock, data):
    """Writes `data` to `sock` on a thread (so that a big write and the
    test's reads run side by side); returns a callable that waits for the
    write and returns its exception or None. Also used by tests/amqp10."""
    result = []

    def run():
        try:
            sock.sendall(data)
            result.append(None)
        except Exception as e:  # noqa: BLE001 -- reported to the caller
            result.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=20.0):
        t.join(timeout)
        if t.is_alive():
            raise AssertionError(f"a write of {len(data)} bytes did not finish within {timeout}s")
        return result[0]
    return join


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


class Reset(AssertionError):
    """The connection was reset where a clean end was due (strict mode)."""


class RawClient:
    def __init__(self, host, port, timeout=5.0, strict=False):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.heartbeats_received = 0
        self.strict = strict
        self.lock = threading.Lock()  # one whole write at a time, for tests that share the socket

    def close(self):
        self.sock.close()

    def send(self, data):
        try:
            with self.lock:
                self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            if self.strict:
                raise Reset(f"writing {len(data)} bytes: {e!r}") from e
            raise

    def send_in_background(self, data):
        """Writes `data` on a thread; see write_in_background."""
        return write_in_background(self.sock, data)

    def recv_some(self, timeout):
        """Bytes from the socket; b"" at EOF; None on timeout. A reset is
        EOF, or Reset in strict mode."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError as e:
            if self.strict:
                raise Reset(f"reading, after {self.buf!r}: {e!r}") from e
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
        self.send(frame(ftype, channel, payload))

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
