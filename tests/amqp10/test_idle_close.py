"""The broker closes a silent peer: [amqp10] idle_time_out = "1s" from a
config file, and a raw TCP client that does SASL ANONYMOUS and open by hand
(advertising no idle-time-out of its own, so the broker sends it no empty
frames) and then nothing. The broker must send close with
amqp:resource-limit-exceeded and EOF after twice its idle time-out; a peer
that sends an empty frame every 0.4 s stays open."""
import os
import shutil
import socket
import struct
import tempfile
import time
import unittest

from amqp10_harness import EXTERNAL_URL, Amqp10Case

EMPTY_FRAME = b"\x00\x00\x00\x08\x02\x00\x00\x00"


def frame(body, sasl=False):
    """A frame on channel 0: size, doff 2, type, channel, body."""
    return struct.pack(">IBBH", 8 + len(body), 2, 1 if sasl else 0, 0) + body


def described_list(code, *fields):
    """A described list with a smallulong descriptor, as list8 (short fields only)."""
    items = b"".join(fields)
    return b"\x00\x53" + bytes([code]) + b"\xc0" + bytes([1 + len(items), len(fields)]) + items


def sym8(s):
    return b"\xa3" + bytes([len(s)]) + s.encode()


def str8(s):
    return b"\xa1" + bytes([len(s)]) + s.encode()


SASL_INIT = frame(described_list(0x41, sym8("ANONYMOUS")), sasl=True)
OPEN = frame(described_list(0x10, str8("raw-peer")))


class RawPeer:
    """A socket and a buffer of what the broker sent."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        self.eof = False

    def read_some(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.buf += data
        return True

    def expect(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n and not self.eof and time.monotonic() < deadline:
            self.read_some(deadline - time.monotonic())
        if len(self.buf) < n:
            raise AssertionError(f"wanted {n} bytes, have {self.buf!r} (eof {self.eof})")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def next_frame(self, timeout=5):
        size = struct.unpack(">I", self.expect(4, timeout))[0]
        rest = self.expect(size - 4, timeout)
        doff, ftype = rest[0], rest[1]
        return ftype, rest[doff * 4 - 4:]

    def handshake(self):
        self.sock.sendall(b"AMQP\x03\x01\x00\x00")
        assert self.expect(8) == b"AMQP\x03\x01\x00\x00"
        ftype, body = self.next_frame()
        assert ftype == 1 and body[:3] == b"\x00\x53\x40", f"not sasl-mechanisms: {body!r}"
        self.sock.sendall(SASL_INIT)
        ftype, body = self.next_frame()
        assert ftype == 1 and body[:3] == b"\x00\x53\x44", f"not sasl-outcome: {body!r}"
        self.sock.sendall(b"AMQP\x00\x01\x00\x00" + OPEN)
        assert self.expect(8) == b"AMQP\x00\x01\x00\x00"
        ftype, body = self.next_frame()
        assert ftype == 0 and body[:3] == b"\x00\x53\x10", f"not open: {body!r}"
        return body

    def close(self):
        self.sock.close()


@unittest.skipIf(EXTERNAL_URL, "needs a warrend started with its own config file")
class SilentPeerTest(Amqp10Case):

    @classmethod
    def setUpClass(cls):
        cls.cfg_dir = tempfile.mkdtemp(prefix="wamqp10-idle-", dir="/tmp")
        path = os.path.join(cls.cfg_dir, "warren.toml")
        with open(path, "w") as f:
            f.write('[amqp10]\nidle_time_out = "1s"\n')
        cls.broker_args = ("--config", path)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.cfg_dir, ignore_errors=True)

    def peer(self):
        p = RawPeer(self.host, self.port)
        self._closers.append(p.close)
        return p

    def test_broker_advertises_its_idle_time_out(self):
        open_body = self.peer().handshake()
        # open's 5th field; rather than decode it all, look for uint 1000
        # (0x70 00 00 03 e8) among the fields.
        self.assertIn(b"\x70\x00\x00\x03\xe8", open_body, f"no idle-time-out 1000 in {open_body!r}")

    def test_silent_peer_is_closed_after_twice_the_idle_time_out(self):
        p = self.peer()
        p.handshake()
        quiet_since = time.monotonic()
        frames = []
        while True:
            try:
                frames.append(p.next_frame(timeout=6))
            except AssertionError:
                break
            if frames[-1][1][:3] == b"\x00\x53\x18":  # close
                break
        closed_after = time.monotonic() - quiet_since
        self.assertTrue(frames and frames[-1][1][:3] == b"\x00\x53\x18", f"no close frame: {frames!r}, {p.buf!r}")
        self.assertIn(b"amqp:resource-limit-exceeded", frames[-1][1])
        self.assertGreaterEqual(closed_after, 1.8, "closed before twice the idle time-out")
        self.assertLess(closed_after, 3.5, "closed too late")
        # Then EOF (we do not answer the close).
        deadline = time.monotonic() + 5
        while not p.eof and time.monotonic() < deadline:
            p.read_some(deadline - time.monotonic())
        self.assertTrue(p.eof, f"no EOF after close; then got {p.buf!r}")
        self.assertTrue(self.broker.alive())

    def test_peer_sending_empty_frames_stays_open(self):
        p = self.peer()
        p.handshake()
        start = time.monotonic()
        while time.monotonic() - start < 4.5:
            p.sock.sendall(EMPTY_FRAME)
            p.read_some(0.4)
            self.assertFalse(p.eof, f"closed after {time.monotonic() - start:.1f}s: {p.buf!r}")
        self.assertNotIn(b"\x00\x53\x18", p.buf, f"a close frame came: {p.buf!r}")
        # Still served: a clean close is answered with close.
        p.sock.sendall(frame(described_list(0x18)))
        ftype, body = p.next_frame()
        self.assertEqual(body[:3], b"\x00\x53\x18", f"not close: {body!r}")


if __name__ == "__main__":
    unittest.main()
