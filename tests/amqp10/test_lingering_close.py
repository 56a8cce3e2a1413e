"""How an AMQP 1.0 connection ends (issue 10, part 1): close, a SASL
failure and a protocol header the broker does not speak all end with the
broker's last frames (or header), then EOF — never a reset, however many
bytes the client wrote after them. The broker shuts down its write side and
reads and discards the rest until the client closes (a lingering close).

The raw-socket tests write many bytes after the point where the broker ends
the connection: on Linux, a close() with unread input sends RST, which is
what a lingering close avoids. Proton's own burst-and-close goes through
python3-qpid-proton's reactor."""
import socket
import struct
import threading
import time
import unittest

from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

from amqp10_harness import EXTERNAL_URL, Amqp10Case
from rawamqp import write_in_background  # tests/amqp091, on the path amqp10_harness sets

AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_HEADER = b"AMQP\x03\x01\x00\x00"

# Performative and section descriptors (smallulong codes).
SASL_MECHANISMS, SASL_INIT, SASL_OUTCOME = 0x40, 0x41, 0x44
OPEN, BEGIN, ATTACH, FLOW, TRANSFER, DISPOSITION, DETACH, END, CLOSE = range(0x10, 0x19)
NAMES = {0x40: "sasl-mechanisms", 0x44: "sasl-outcome", 0x10: "open", 0x11: "begin", 0x12: "attach",
         0x13: "flow", 0x14: "transfer", 0x15: "disposition", 0x16: "detach", 0x17: "end", 0x18: "close"}

# ------------------------------------------------------------- encoding

NULL, TRUE, FALSE = b"\x40", b"\x41", b"\x42"


def uint(n):
    return b"\x70" + struct.pack(">I", n)


def string(s):
    b = s.encode()
    return b"\xa1" + bytes([len(b)]) + b


def symbol(s):
    b = s.encode()
    return b"\xa3" + bytes([len(b)]) + b


def binary(b):
    return b"\xa0" + bytes([len(b)]) + b if len(b) < 256 else b"\xb0" + struct.pack(">I", len(b)) + b


def described_list(code, *fields):
    items = b"".join(fields)
    return b"\x00\x53" + bytes([code]) + b"\xd0" + struct.pack(">II", 4 + len(items), len(fields)) + items


def frame(body, sasl=False, channel=0):
    return struct.pack(">IBBH", 8 + len(body), 2, 1 if sasl else 0, channel) + body


def sasl_init(mechanism, response=None):
    return frame(described_list(SASL_INIT, symbol(mechanism), binary(response) if response is not None else NULL),
                 sasl=True)


def open_frame():
    return frame(described_list(OPEN, string("raw-peer")))


def begin():
    return frame(described_list(BEGIN, NULL, uint(0), uint(2048), uint(2048)))


def attach_sender(address):
    target = described_list(0x29, string(address))
    source = described_list(0x28, NULL)
    return frame(described_list(ATTACH, string("raw-sender"), uint(0), FALSE, NULL, NULL, source, target,
                                NULL, FALSE, uint(0)))


def transfers(first_id, n, body=b"x" * 100):
    """Unsettled transfers on handle 0, one data section each."""
    out = []
    for i in range(first_id, first_id + n):
        out.append(frame(described_list(TRANSFER, uint(0), uint(i), binary(struct.pack(">I", i)), uint(0), FALSE)
                         + b"\x00\x53\x75" + binary(body)))
    return b"".join(out)


def close_frame():
    return frame(b"\x00\x53\x18\x45")


EMPTY_FRAME = b"\x00\x00\x00\x08\x02\x00\x00\x00"
GARBAGE = b"\xde\xad\xbe\xef" * 131_072  # 512 KiB that are no frames


# ------------------------------------------------------------- the peer

class Reset(AssertionError):
    pass


class RawPeer:
    """A socket that reads what the broker sends as a list of tokens:
    ("header", 8 bytes) or (frame type, descriptor code or None, body)."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        self.tokens = []
        self.in_header_position = True  # a protocol header may come next

    def close(self):
        self.sock.close()

    def write_in_background(self, data):
        return write_in_background(self.sock, data)

    def parse(self):
        while True:
            if self.buf.startswith(b"AMQP"):
                if len(self.buf) < 8:
                    return
                self.tokens.append(("header", self.buf[:8]))
                self.buf = self.buf[8:]
                continue
            if len(self.buf) < 8:
                return
            size, doff, ftype = struct.unpack(">IBB", self.buf[:6])
            if len(self.buf) < size:
                return
            body = self.buf[doff * 4:size]
            self.buf = self.buf[size:]
            code = body[2] if body[:2] == b"\x00\x53" else None
            self.tokens.append((ftype, code, body))

    def read_to_eof(self, timeout=20.0):
        """Reads until EOF; raises Reset on ECONNRESET, AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no EOF within {timeout}s; read {self.describe()}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError as e:
                self.parse()
                raise Reset(f"reset after {self.describe()}: {e!r}") from e
            if not data:
                self.parse()
                return self.tokens
            self.buf += data
            self.parse()

    def describe(self):
        out = []
        for t in self.tokens:
            if t[0] == "header":
                out.append(f"header {t[1]!r}")
            else:
                out.append(("sasl:" if t[0] == 1 else "") + NAMES.get(t[1], f"{t[1]}"))
        if self.buf:
            out.append(f"+{len(self.buf)} bytes {self.buf[:40]!r}")
        return out


def sasl_outcome_code(body):
    """The code field of a sasl-outcome body (list8 or list32, ubyte first)."""
    at = 3
    at += 3 if body[at] == 0xc0 else 9
    assert body[at] == 0x50, f"code not a ubyte in {body!r}"
    return body[at + 1]


class LingeringCloseTest(Amqp10Case):

    def peer(self):
        p = RawPeer(self.host, self.port)
        self._closers.append(p.close)
        return p

    def exchange(self, data):
        """Writes `data` (on a thread) while reading to EOF; fails on a
        reset while reading or writing. Returns the tokens read."""
        p = self.peer()
        join = p.write_in_background(data)
        try:
            tokens = p.read_to_eof()
        except Reset as e:
            self.fail(f"{e}; our write: {join()!r}")
        error = join()
        self.assertIsNone(error, f"our write of {len(data)} bytes failed after reading {p.describe()}")
        p.close()
        return p.describe(), tokens

    @unittest.skipIf(EXTERNAL_URL, "depends on how warrend answers headers it does not speak")
    def test_protocol_header_mismatch_then_more_bytes(self):
        """The broker's own header, then EOF: no reset."""
        for header, answer in ((b"AMQP\x05\x01\x00\x00", b"AMQP\x00\x00\x09\x01"),
                               (b"GARBAGE!", b"AMQP\x00\x00\x09\x01"),
                               (b"AMQP\x00\x01\x00\x01", AMQP_HEADER),
                               (b"AMQP\x03\x01\x00\x01", AMQP_HEADER),
                               (b"AMQP\x02\x01\x00\x00", SASL_HEADER)):
            with self.subTest(header=header):
                seen, tokens = self.exchange(header + GARBAGE)
                self.assertEqual(tokens, [("header", answer)], f"answer to {header!r}: {seen}")

    def test_sasl_failure_then_more_bytes(self):
        """A wrong password with SASL PLAIN, then the AMQP header, open and
        more bytes in the same write: sasl-outcome auth (1), then EOF."""
        for after in (AMQP_HEADER + open_frame() + begin() + GARBAGE, AMQP_HEADER + EMPTY_FRAME * 100_000):
            with self.subTest(after=after[:20]):
                seen, tokens = self.exchange(SASL_HEADER + sasl_init("PLAIN", b"\0guest\0wrong") + after)
                self.assertEqual(seen, ["header " + repr(SASL_HEADER), "sasl:sasl-mechanisms", "sasl:sasl-outcome"])
                self.assertEqual(sasl_outcome_code(tokens[-1][2]), 1, "sasl-outcome code auth")

    def test_transfers_then_close_then_more_bytes(self):
        """SASL ANONYMOUS, open, begin, attach, 200 unsettled transfers,
        close, then 5,000 more transfers, all in one write: the broker
        answers everything up to its close, then EOF; the 200 are stored,
        what came after the close is not."""
        admin = self.pika_channel()
        q = self.qname()
        admin.queue_declare(q)
        data = (SASL_HEADER + sasl_init("ANONYMOUS") + AMQP_HEADER + open_frame() + begin()
                + attach_sender(f"/queue/{q}") + transfers(0, 200) + close_frame() + transfers(200, 5000))
        seen, tokens = self.exchange(data)
        self.assertEqual(seen[-1], "close", f"the last frame before EOF: {seen}")
        self.assertNotIn("detach", seen)
        self.assertEqual(seen.count("close"), 1, seen)
        self.assertNotIn(b"amqp:", tokens[-1][2], f"close with an error: {tokens[-1][2]!r}")
        self.assertEqual(self.pika_count(admin, q)[0], 200)

    def test_close_then_more_bytes(self):
        """Open, then close followed by 1 MiB of empty frames: close, EOF."""
        seen, _ = self.exchange(SASL_HEADER + sasl_init("ANONYMOUS") + AMQP_HEADER + open_frame() + close_frame()
                                + EMPTY_FRAME * 131_072)
        self.assertEqual(seen[-2:], ["open", "close"], seen)

    def test_proton_burst_unsettled_then_close(self):
        """Proton sends 2,000 messages unsettled and closes the connection
        at once: the broker's close comes, and no transport error."""
        admin = self.pika_channel()
        for attempt in range(3):
            q = self.qname()
            admin.queue_declare(q)
            h = BurstThenClose(self.url, f"/queue/{q}", 2000)
            c = Container(h)
            c.run()
            self.assertFalse(h.timed_out, f"attempt {attempt + 1}: not closed within 20s: {h.events}")
            self.assertTrue(h.remote_closed, f"attempt {attempt + 1}: no close from the broker: {h.events}")
            self.assertEqual(h.errors, [], f"attempt {attempt + 1}: {h.events}")
            self.assertLessEqual(self.pika_count(admin, q)[0], 2000)


class BurstThenClose(MessagingHandler):
    """Sends n messages as soon as the link can send, then closes."""

    def __init__(self, url, address, n):
        super().__init__()
        self.url, self.address, self.n = url, address, n
        self.sent = False
        self.remote_closed = False
        self.timed_out = False
        self.errors = []
        self.events = []

    def on_start(self, event):
        self.conn = event.container.connect(self.url, reconnect=False)
        event.container.create_sender(self.conn, self.address)
        self.timer = event.container.schedule(20, self)

    def on_timer_task(self, event):
        self.timed_out = True
        self.events.append("timed out")
        event.container.stop()

    def on_sendable(self, event):
        if self.sent:
            return
        self.sent = True
        for i in range(self.n):
            event.sender.send(Message(body=b"m" * 256 + str(i).encode()))
        self.events.append(f"sent {self.n}, credit {event.sender.credit}")
        event.connection.close()

    def on_connection_remote_close(self, event):
        self.remote_closed = True
        cond = event.connection.remote_condition
        self.events.append(f"remote close {cond.name if cond else ''}")
        if cond:
            self.errors.append(f"close with {cond.name}: {cond.description}")

    def on_transport_error(self, event):
        cond = event.transport.condition
        self.events.append(f"transport error {cond.name if cond else ''} {cond.description if cond else ''}")
        self.errors.append(f"transport error {cond.name if cond else ''} {cond.description if cond else ''}")

    def on_transport_closed(self, event):
        self.events.append("transport closed")
        self.timer.cancel()
        event.container.stop()  # else the cancelled timer keeps run() a few seconds


if __name__ == "__main__":
    unittest.main()
