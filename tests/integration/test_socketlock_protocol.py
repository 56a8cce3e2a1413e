"""(g) The socketlock wire protocol spoken over a raw socket to warrend:
bad input is refused without harming well-behaved clients, and the Go
dialect (bare HELLO, client-named locks) works."""
import random
import socket
import time
import unittest

from harness import SocketlockCase


class Raw:
    """A hand-driven protocol connection."""

    def __init__(self, path, name):
        self.name = name
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.eof = False
        self.seen = []

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def line(self, timeout=5):
        """The next line without its newline; None at EOF; raises on timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: no line within {timeout}s; got so far: {self.seen}")
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        text = raw.decode(errors="replace")
        self.seen.append(text)
        return text

    def ask(self, text, timeout=5):
        self.send(text + "\n")
        return self.line(timeout)

    def silent_for(self, seconds):
        """True when nothing arrives for `seconds`."""
        try:
            extra = self.line(seconds)
        except AssertionError:
            return True
        raise AssertionError(f"{self.name}: expected silence, got {extra!r}")

    def wait_closed(self, timeout):
        """Reads until EOF; returns the lines read on the way."""
        lines = []
        while True:
            l = self.line(timeout)
            if l is None:
                return lines
            lines.append(l)

    def close(self):
        self.s.close()


class RawProtocolTest(SocketlockCase):

    def setUp(self):
        super().setUp()
        self.warrend = self.start_warrend("--socketlock-hello-timeout", "1s")
        self.raws = []
        self.addCleanup(lambda: [r.close() for r in self.raws])

    def raw(self, name):
        r = Raw(self.sock, name)
        self.raws.append(r)
        return r

    def seed_write_lock(self, r, cid):
        self.assertEqual(r.ask(f"{cid} HELLO"), f"{cid} CONNECTED")
        offer = r.ask(f"{cid} REQWRITE")
        self.assertRegex(offer, rf"^{cid} WRITELOCK \d+$")
        token = offer.split()[2]
        self.assertEqual(r.ask(f"{cid} CONFIRM {token}"), f"{cid} LOCKOK {token}")
        return token

    def test_bad_input_leaves_others_alone(self):
        good = self.raw("good")
        token = self.seed_write_lock(good, "good")
        waiter = self.raw("waiter")
        self.assertEqual(waiter.ask("waiter HELLO"), "waiter CONNECTED")
        waiter.send("waiter REQWRITE\n")
        waiter.silent_for(0.2)
        # A client that never speaks is closed after the hello timeout (1 s).
        silent = self.raw("silent")
        silent_t0 = time.monotonic()

        garbage = self.raw("garbage")
        garbage.send(b"\x00\xff\xfe\x01 \x7f garbage\r\n\x00\x00\n")
        self.assertRegex(garbage.line(), r" REQFAIL ")
        garbage.send(random.Random(7).randbytes(3000))  # fewer than 4096 bytes between newlines
        garbage.send("\nx REQWRITE\n")
        replies = []
        while not replies or not replies[-1].startswith("x "):
            replies.append(garbage.line())
        self.assertEqual(replies[-1], "x REQFAIL hello required")
        self.assertTrue(all(" REQFAIL " in r for r in replies), f"garbage answered only with REQFAIL: {replies}")
        garbage.close()

        long_line = self.raw("long")
        long_line.send("x" * 5000 + "\n")
        lines = long_line.wait_closed(5)
        self.assertEqual(lines, ["- REQFAIL line too long (max 4096 bytes)"], "a REQFAIL, then the connection closes")

        unknown = self.raw("unknown")
        self.assertEqual(unknown.ask("u1 HELLO"), "u1 CONNECTED")
        self.assertEqual(unknown.ask("u1 FROB"), "u1 REQFAIL unknown command")
        self.assertEqual(unknown.ask("u2 PING"), "u2 REQFAIL client id mismatch")
        self.assertEqual(unknown.ask("u1 PING"), "u1 PONG", "the connection survives bad commands")

        thief = self.raw("thief")
        self.assertEqual(thief.ask("thief HELLO"), "thief CONNECTED")
        for verb in ("RELEASE", "STATUS", "CONFIRM", "REJECT"):
            reply = thief.ask(f"thief {verb} {token}")
            self.assertEqual(reply, "thief REQFAIL invalid lock id", f"{verb} of another client's lock")
        self.assertEqual(thief.ask("thief RELEASE 12345678901234567890123"), "thief REQFAIL invalid lock id")

        closed = silent.wait_closed(5)
        silent_s = time.monotonic() - silent_t0
        print(f"\n  silent connection closed after {silent_s:.2f}s, saying {closed}")
        self.assertGreaterEqual(silent_s, 0.9)
        self.assertLess(silent_s, 3.5)

        self.assertEqual(good.ask(f"good STATUS {token}"), f"good LOCKOK {token}", "the holder kept its lock")
        waiter.silent_for(0.05)  # not served while the holder holds
        self.assertEqual(good.ask(f"good RELEASE {token}"), f"good RELEASED {token}")
        offer = waiter.line(5)
        self.assertRegex(offer, r"^waiter WRITELOCK \d+$")
        new = offer.split()[2]
        self.assertGreater(int(new), int(token))
        for verb in ("CONFIRM", "REJECT"):  # an offer made to someone else
            self.assertEqual(thief.ask(f"thief {verb} {new}"), "thief REQFAIL invalid lock id", verb)
        self.assertEqual(waiter.ask(f"waiter CONFIRM {new}"), f"waiter LOCKOK {new}")
        self.assertIsNone(self.warrend.p.poll(), "warrend survived\n" + self.warrend.describe())

    def test_client_that_never_reads_is_held_back(self):
        # Backpressure: a client that reads none of its answers must not be
        # able to grow the primary without bound. The primary stops reading
        # it once its queued output passes Primary::kMaxPendingOutput and
        # resumes when the output drains, so 4 MB of "SHOW" cannot get in.
        flood = self.raw("flood")
        self.assertEqual(flood.ask("f HELLO"), "f CONNECTED")
        flood.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        flood.s.settimeout(3)
        chunk, sent, limit = b"f SHOW\n" * 10000, 0, 4_000_000
        held_back = None
        t0 = time.monotonic()
        try:
            while sent < limit and time.monotonic() - t0 < 20:
                flood.s.sendall(chunk)
                sent += len(chunk)
        except socket.timeout:
            held_back = "blocked"
        except (BrokenPipeError, ConnectionResetError):
            held_back = "dropped"
        rss = self.rss_kb(self.warrend.pid)
        lines = self.show()  # others are still served meanwhile
        self.assertTrue(any(l.startswith("next lock id") for l in lines), "\n".join(lines))
        print(f"\n  non-reading client pushed {sent / 1e6:.1f} MB: {held_back or 'accepted'}; warrend RSS {rss} kB")
        self.assertIsNotNone(held_back, f"warrend accepted {sent / 1e6:.1f} MB of requests from a client that reads "
                                        f"none of the answers (RSS now {rss} kB): unbounded output buffering")

    @staticmethod
    def rss_kb(pid):
        with open(f"/proc/{pid}/status") as f:
            return next((int(l.split()[1]) for l in f if l.startswith("VmRSS")), -1)

    def test_seed_dialect_refuses_an_invalid_ttl(self):
        # After "<id> HELLO" the only thing REQREAD/REQWRITE may carry is a
        # TTL in whole seconds; anything else is "invalid ttl", never a name.
        r = self.raw("seed")
        self.assertEqual(r.ask("s1 HELLO"), "s1 CONNECTED")
        for verb in ("REQREAD", "REQWRITE"):
            for arg in ("-5", "abc", "1.5", "5 extra", "0", "5s", "99999999999999999999", "lab12 7"):
                self.assertEqual(r.ask(f"s1 {verb} {arg}"), "s1 REQFAIL invalid ttl", f"{verb} {arg}")
        # Nothing was queued meanwhile: a valid request is offered at once.
        offer = r.ask("s1 REQWRITE 5")
        self.assertRegex(offer, r"^s1 WRITELOCK \d+$")
        token = offer.split()[2]
        self.assertEqual(r.ask(f"s1 CONFIRM {token}"), f"s1 LOCKOK {token}")
        self.assertEqual(r.ask(f"s1 RELEASE {token}"), f"s1 RELEASED {token}")
        # A Go dialect client (bare HELLO) still names its locks, even "-5".
        go = self.raw("go")
        cid = go.ask("HELLO").split()[1]
        self.assertEqual(go.ask(f"{cid} REQREAD -5"), f"{cid} READLOCK -5")
        self.assertEqual(go.ask(f"{cid} REQWRITE other 1.5"), f"{cid} REQFAIL invalid ttl")

    def test_go_dialect(self):
        go = self.raw("go")
        connected = go.ask("HELLO")
        self.assertRegex(connected, r"^CONNECTED \S+$")
        cid = connected.split()[1]
        self.assertEqual(go.ask(f"{cid} REQWRITE mylock 5"), f"{cid} WRITELOCK mylock")
        go.send(f"{cid} CONFIRM mylock\n")
        go.silent_for(0.3)  # Go servers do not acknowledge CONFIRM
        self.assertEqual(go.ask(f"{cid} STATUS mylock"), f"{cid} LOCKOK mylock")
        lines = self.show()
        self.assertTrue(any(l.startswith("holder") and cid in l for l in lines), "\n".join(lines))
        go.send(f"{cid} RELEASE mylock\n")
        go.silent_for(0.2)
        self.assertEqual(go.ask(f"{cid} STATUS mylock"), f"{cid} LOCKTIMEOUT mylock", "a released name is over")
        # A short TTL: STATUS after it reports the end of the lock.
        self.assertEqual(go.ask(f"{cid} REQREAD short 1"), f"{cid} READLOCK short")
        go.send(f"{cid} CONFIRM short\n")
        time.sleep(1.3)
        self.assertEqual(go.ask(f"{cid} STATUS short"), f"{cid} LOCKTIMEOUT short")


if __name__ == "__main__":
    unittest.main()
