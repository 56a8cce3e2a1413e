"""How a connection ends (issue 10, parts 1 and 2), over raw sockets and
through pika.

When warrend ends a connection — close-ok to a client's connection.close,
its own connection.close (an error, a refused login), a protocol header it
does not speak — it writes its last bytes, shuts down its write side and
reads and discards what the client still sends until the client closes (a
lingering close). So the client reads every last frame and then EOF, never
ECONNRESET, however many bytes it wrote after the close; and its writes
never fail with EPIPE. Frames after a client's connection.close are
discarded (the 0-9-1 spec); publishes before it are routed and, in confirm
mode, confirmed before close-ok.

Every test here writes many bytes *after* the close (or races the close
against more writes): on Linux a close() with unread input sends RST,
which is what a lingering close avoids, so these tests fail against a
broker that closes at once.

Crossing closes: a channel.close the client sends while the server's own
channel.close for the same channel is on its way is answered with
close-ok, and the other channels carry on; a channel.close for a channel
that is not open is answered with close-ok; a stray close-ok is ignored.
"""
import threading
import time
import unittest

import pika

from amqp_harness import BrokerCase
from rawamqp import (CONNECTION_CLOSE_OK, FRAME_METHOD, PROTOCOL_HEADER, Closed, RawClient,
                     Reader, Reset, basic_qos, channel_close, channel_close_ok, channel_open, confirm_select,
                     connection_close, connection_open, exchange_declare, publishes, start_ok, tune_ok)

NAMES = {(10, 10): "connection.start", (10, 30): "connection.tune", (10, 41): "connection.open-ok",
         (10, 50): "connection.close", (10, 51): "connection.close-ok", (20, 11): "channel.open-ok",
         (20, 40): "channel.close", (20, 41): "channel.close-ok", (40, 11): "exchange.declare-ok",
         (60, 11): "basic.qos-ok", (60, 80): "basic.ack", (60, 120): "basic.nack", (85, 11): "confirm.select-ok"}

# What a client writes after its close: publishes on channel 1 (about
# 0.9 MB; discarded by the server), or bytes that are no frames at all.
AFTER_CLOSE = {
    "publishes": publishes(1, "", "after-close", 10_000),
    "garbage": b"\xde\xad\xbe\xef" * 131_072,
}


def name(cm):
    return NAMES.get(cm, f"{cm[0]}.{cm[1]}")


class Method:
    """A method frame the server sent."""

    def __init__(self, channel, payload):
        r = Reader(payload)
        self.channel, self.cm, self.args = channel, (r.u16(), r.u16()), r

    def __repr__(self):
        return f"{name(self.cm)}@{self.channel}"

    def close_reason(self):
        """(code, text) of a connection.close or channel.close."""
        r = Reader(self.args.data)
        r.at = self.args.at
        return r.u16(), r.shortstr()


class RawCloseCase(BrokerCase):
    """Raw-socket helpers: one write of many frames, read until EOF."""

    def raw(self):
        c = RawClient(self.broker.host, self.port, timeout=10, strict=True)
        self._closers.append(c.close)
        return c

    def write_and_read_to_eof(self, c, data, timeout=20.0):
        """Writes `data` (on a thread, while reading) and reads every frame
        the server sends until EOF; a connection.close from the server is
        answered with close-ok (once our write is done), as a client must.
        Fails on a reset (reading or writing) or if EOF does not come within
        `timeout`. Returns the method frames read."""
        join = c.send_in_background(data) if data else (lambda: None)
        frames, deadline = [], time.monotonic() + timeout
        read_error = None
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail(f"no EOF within {timeout}s; frames so far {frames}")
                try:
                    ftype, channel, payload = c.read_frame(timeout=left)
                except Closed:
                    break
                except Reset:
                    raise
                except AssertionError as e:  # read_frame's time-out
                    self.fail(f"no EOF within {timeout}s ({e}); frames so far {frames}")
                if ftype != FRAME_METHOD:  # heartbeats; no content is expected
                    continue
                m = Method(channel, payload)
                frames.append(m)
                if m.cm == (10, 50):
                    write_error = join()
                    if write_error is not None:
                        self.fail(f"our write failed ({write_error!r}) before the server's close {m.close_reason()}")
                    c.send(CONNECTION_CLOSE_OK)
        except Reset as e:
            read_error = e
        write_error = join()
        problems = []
        if read_error is not None:
            problems.append(f"reset while reading: {read_error}")
        if write_error is not None:
            problems.append(f"our write of {len(data)} bytes failed: {write_error!r}")
        if problems:
            self.fail("; ".join(problems) + f"\nframes read: {frames}")
        return frames

    def assertEndsWithCloseOk(self, frames, what):
        self.assertTrue(frames, f"{what}: nothing read before EOF")
        self.assertEqual(frames[-1].cm, (10, 51), f"{what}: the last frame before EOF: {frames}")
        for m in frames:
            if m.cm == (10, 50):
                self.fail(f"{what}: the server closed the connection with {m.close_reason()}: {frames}")

    def open_channel(self, c, channel=1, confirm=False):
        c.channel_open(channel)
        if confirm:
            c.send(confirm_select(channel))
            c.expect(85, 11, channel)


class CloseTest(RawCloseCase):
    """A client's connection.close with frames in flight: close-ok, then
    EOF, never a reset."""

    SIZES = (0, 1, 10, 100, 1000, 4000, 10_000)

    def check_publishes_then_close(self, confirm):
        admin = self.channel()
        for n in self.SIZES:
            for after in (None, "publishes"):
                with self.subTest(n=n, after=after):
                    q = self.declare(admin)
                    c = self.raw()
                    c.handshake()
                    self.open_channel(c, 1, confirm)
                    data = publishes(1, "", q, n) + connection_close()
                    if after:
                        data += AFTER_CLOSE[after]
                    frames = self.write_and_read_to_eof(c, data)
                    what = f"{n} publishes, close{' and ' + after if after else ''}"
                    self.assertEndsWithCloseOk(frames, what)
                    if confirm:
                        self.assertAllConfirmed(frames[:-1], n, what)
                    else:
                        self.assertEqual(frames[:-1], [], f"{what}: frames before close-ok")
                    c.close()
                    self.assertEqual(self.count(admin, q)[0], n, f"{what}: messages routed")
                    if after:
                        self.assertEqual(self.count(admin, "after-close")[0], 0,
                                         f"{what}: publishes after the close were routed")

    def assertAllConfirmed(self, frames, n, what):
        multiple_upto, singles = 0, set()
        for m in frames:
            self.assertEqual((m.channel, m.cm), (1, (60, 80)), f"{what}: not a basic.ack on 1: {frames}")
            tag, multiple = m.args.u64(), m.args.u8() & 1
            if multiple:
                multiple_upto = max(multiple_upto, tag)
            else:
                singles.add(tag)
        missing = [t for t in range(1, n + 1) if t > multiple_upto and t not in singles]
        self.assertEqual(missing[:10], [], f"{what}: {len(missing)} publishes not acked before close-ok")

    def setUp(self):
        super().setUp()
        # The queue that publishes written after a close would reach.
        self.declare(self.channel(), "after-close")

    def test_publishes_then_close_in_one_write(self):
        self.check_publishes_then_close(confirm=False)

    def test_publishes_then_close_in_one_write_with_confirms(self):
        self.check_publishes_then_close(confirm=True)

    def test_close_then_publishes_in_one_write(self):
        """amqplib's shape: its close goes out ahead of the channel's
        buffered publishes. They are discarded; the client gets close-ok."""
        admin = self.channel()
        q = self.declare(admin)
        for _ in range(3):
            c = self.raw()
            c.handshake()
            c.channel_open(1)
            frames = self.write_and_read_to_eof(c, connection_close() + publishes(1, "", q, 10_000))
            self.assertEndsWithCloseOk(frames, "close, then 10,000 publishes")
            self.assertEqual(frames[:-1], [])
            c.close()
            self.assertEqual(self.count(admin, q)[0], 0, "publishes after the close were routed")

    def test_close_at_every_step_of_the_handshake(self):
        """A close (then more bytes) right after the protocol header, after
        start-ok, after tune-ok and after open, all in one write: the
        handshake's replies, then close-ok (or the server's own close,
        before open), then EOF."""
        steps = [
            ("header", PROTOCOL_HEADER, [(10, 10)]),
            ("start-ok", PROTOCOL_HEADER + start_ok(), [(10, 10), (10, 30)]),
            ("tune-ok", PROTOCOL_HEADER + start_ok() + tune_ok(), [(10, 10), (10, 30)]),
            ("open", PROTOCOL_HEADER + start_ok() + tune_ok() + connection_open(), [(10, 10), (10, 30), (10, 41)]),
        ]
        for step, prefix, replies in steps:
            for after in (None, "publishes", "garbage"):
                with self.subTest(step=step, after=after):
                    c = self.raw()
                    data = prefix + connection_close() + (AFTER_CLOSE[after] if after else b"")
                    frames = self.write_and_read_to_eof(c, data)
                    self.assertEqual([m.cm for m in frames[:len(replies)]], replies,
                                     f"close after {step}: {frames}")
                    rest = frames[len(replies):]
                    if step == "open":
                        self.assertEqual([m.cm for m in rest], [(10, 51)], f"close after open: {frames}")
                    else:
                        self.assertIn([m.cm for m in rest], ([(10, 51)], [(10, 50)]),
                                      f"close after {step}: not one close-ok or close: {frames}")
                    c.close()

    def test_refused_login_with_more_bytes_after_it(self):
        """A wrong password in start-ok, and more bytes in the same write:
        the server's connection.close 403, then EOF."""
        for after in ("publishes", "garbage"):
            with self.subTest(after=after):
                c = self.raw()
                data = PROTOCOL_HEADER + start_ok("guest", "wrong") + tune_ok() + connection_open() \
                    + AFTER_CLOSE[after]
                frames = self.write_and_read_to_eof(c, data)
                self.assertEqual([m.cm for m in frames], [(10, 10), (10, 50)], f"refused login: {frames}")
                code, text = frames[-1].close_reason()
                self.assertEqual(code, 403, text)
                self.assertTrue(text.startswith("ACCESS_REFUSED"), text)
                c.close()

    def test_wrong_protocol_header_with_more_bytes_after_it(self):
        for header in (b"AMQP\x00\x00\x08\x00", b"AMQP\x01\x01\x00\x0a", b"GET / HTTP/1.1\r\n\r\n"):
            with self.subTest(header=header):
                c = self.raw()
                join = c.send_in_background(header + AFTER_CLOSE["garbage"])
                got = self.read_bytes_to_eof(c)
                self.assertEqual(got, PROTOCOL_HEADER, f"answer to {header!r}")
                self.assertIsNone(join(), "our write failed")
                c.close()

    def read_bytes_to_eof(self, c, timeout=20.0):
        data, deadline = b"", time.monotonic() + timeout
        while True:
            chunk = c.recv_some(max(deadline - time.monotonic(), 0.001))
            if chunk == b"":
                return data
            if chunk is None:
                self.fail(f"no EOF within {timeout}s; got {data!r}")
            data += chunk


class CloseOneLoopTest(CloseTest):
    """The same with no reader thread: every connection is read by the
    broker's loop (a publisher that streams would otherwise move)."""
    broker_args = ("--amqp-reader-threads", "0")


class CrossingCloseTest(RawCloseCase):
    """Closes that cross (the client's channel.close while the server's is
    on its way) and closes sent by many threads at once."""

    def open_client(self, channels=(1, 2)):
        c = self.raw()
        c.handshake()
        for ch in channels:
            c.channel_open(ch)
        return c

    def read_until(self, c, channel, cm, allowed, what, timeout=10.0):
        """Method frames up to and including `cm` on `channel`; any other
        frame must be one of `allowed` ((channel, cm) pairs). Returns the
        frames before it."""
        before, deadline = [], time.monotonic() + timeout
        while True:
            try:
                ch, cls, mth, r = c.read_method(timeout=max(deadline - time.monotonic(), 0.001))
            except Closed:
                self.fail(f"{what}: EOF after {before}")
            m = Method(ch, r.data)
            if (ch, (cls, mth)) == (channel, cm):
                return before
            if m.cm in ((10, 50), (20, 40)):
                self.fail(f"{what}: {m} {m.close_reason()} (before {name(cm)}@{channel}); before it {before}")
            if (ch, m.cm) not in allowed:
                self.fail(f"{what}: unexpected {m} while waiting for {name(cm)}@{channel}; before it {before}")
            before.append(m)

    def end_cleanly(self, c):
        frames = self.write_and_read_to_eof(c, connection_close())
        self.assertEndsWithCloseOk(frames, "the final connection.close")

    def crossing(self, c, channel):
        """Channel `channel` publishes to an exchange that does not exist
        and, in the same write, closes itself; the server's channel.close
        404 is read and answered with close-ok."""
        c.send(publishes(channel, "no-such-exchange", "k", 1) + channel_close(channel))
        ch, cls, mth, r = c.read_method()
        self.assertEqual((ch, cls, mth), (channel, 20, 40), "the server's channel.close for the publish")
        code = r.u16()
        self.assertEqual(code, 404, r.shortstr())

    def test_crossing_channel_closes_leave_other_channels_alone(self):
        c = self.open_client((1, 2))
        self.crossing(c, 1)
        c.send(channel_close_ok(1))
        c.send(exchange_declare(2, self.qname("x")))
        before = self.read_until(c, 2, (40, 11), {(1, (20, 41))}, "exchange.declare on channel 2")
        self.assertEqual([(m.channel, m.cm) for m in before], [(1, (20, 41))],
                         "one channel.close-ok for our close of channel 1")
        c.send(basic_qos(2, 10))
        self.read_until(c, 2, (60, 11), set(), "basic.qos on channel 2")
        self.end_cleanly(c)

    def test_channel_reopened_on_the_same_number_after_crossing(self):
        c = self.open_client((1, 2))
        self.crossing(c, 1)
        c.send(channel_close_ok(1) + channel_open(1) + exchange_declare(1, self.qname("x")))
        before = self.read_until(c, 1, (40, 11), {(1, (20, 41)), (1, (20, 11))}, "exchange.declare on reopened 1")
        self.assertEqual([(m.channel, m.cm) for m in before], [(1, (20, 41)), (1, (20, 11))],
                         "close-ok for our close, then open-ok")
        c.send(exchange_declare(2, self.qname("x")))
        self.read_until(c, 2, (40, 11), set(), "exchange.declare on channel 2")
        self.end_cleanly(c)

    def test_crossing_on_two_channels_at_once(self):
        c = self.open_client((1, 2, 3))
        c.send(publishes(1, "no-such-exchange", "k", 1) + channel_close(1)
               + publishes(3, "no-such-exchange", "k", 1) + channel_close(3))
        closes = []
        while len(closes) < 2:
            ch, cls, mth, r = c.read_method()
            if (cls, mth) == (20, 41):
                continue
            self.assertEqual((cls, mth), (20, 40), f"on channel {ch}")
            closes.append(ch)
        self.assertEqual(sorted(closes), [1, 3])
        c.send(channel_close_ok(1) + channel_close_ok(3) + exchange_declare(2, self.qname("x")))
        self.read_until(c, 2, (40, 11), {(1, (20, 40)), (3, (20, 40)), (1, (20, 41)), (3, (20, 41))},
                        "exchange.declare on channel 2")
        self.end_cleanly(c)

    def test_connection_close_crossing_a_channel_close(self):
        """A failing publish and the client's connection.close in one
        write: the server's channel.close 404 may come, then close-ok, EOF."""
        c = self.open_client((1,))
        frames = self.write_and_read_to_eof(
            c, publishes(1, "no-such-exchange", "k", 1) + connection_close() + AFTER_CLOSE["publishes"])
        self.assertEndsWithCloseOk(frames, "publish to a missing exchange, then connection.close")
        self.assertIn([(m.channel, m.cm) for m in frames[:-1]], ([], [(1, (20, 40))]), frames)

    def race(self, threads, fn):
        """Runs fn() on `threads` threads released together; returns their exceptions."""
        barrier = threading.Barrier(threads)
        errors = []

        def run():
            try:
                barrier.wait(timeout=10)
                fn()
            except Exception as e:  # noqa: BLE001 -- reported by the test
                errors.append(e)

        ts = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=20)
        return errors

    def test_32_threads_close_the_connection_at_once(self):
        """32 threads share one socket (a lock around each whole write) and
        send connection.close at the same moment: one close-ok, then EOF;
        no error from the server, no reset, no failed write. 10 times."""
        for attempt in range(10):
            try:
                c = self.open_client((1,))
                errors = self.race(32, lambda: c.send(connection_close()))
                frames = self.write_and_read_to_eof(c, b"")
                self.assertEqual(errors, [], f"a thread's connection.close failed; frames read {frames}")
                self.assertEqual([m.cm for m in frames], [(10, 51)], "exactly one close-ok, then EOF")
                c.close()
            except AssertionError as e:
                raise AssertionError(f"attempt {attempt + 1} of 10: {e}") from e

    def test_32_threads_close_one_channel_at_once(self):
        """32 threads send channel.close for one channel at the same moment,
        then channel 2 asks for basic.qos and exchange.declare: only
        channel.close-oks on channel 1 (at least one), the answers on
        channel 2, and the connection stays open. 10 times, then channel 1
        opens again and works."""
        c = self.open_client((2,))
        for attempt in range(10):
            try:
                c.channel_open(1)
                errors = self.race(32, lambda: c.send(channel_close(1)))
                self.assertEqual(errors, [], "a thread's channel.close failed")
                c.send(basic_qos(2, 10) + exchange_declare(2, self.qname("x")))
                before = self.read_until(c, 2, (40, 11), {(1, (20, 41)), (2, (60, 11))},
                                         "basic.qos and exchange.declare on channel 2")
                oks = [m for m in before if m.channel == 1]
                self.assertTrue(1 <= len(oks) <= 32, f"{len(oks)} channel.close-ok for 32 closes")
                self.assertEqual([m.cm for m in before if m.channel == 2], [(60, 11)])
            except (AssertionError, Closed) as e:
                raise AssertionError(f"attempt {attempt + 1} of 10: {e!r}") from e
        c.channel_open(1)
        c.send(exchange_declare(1, self.qname("x")))
        self.read_until(c, 1, (40, 11), set(), "exchange.declare on channel 1, open again")
        self.end_cleanly(c)

    def test_stray_channel_close_ok_is_ignored(self):
        c = self.open_client((2,))
        c.send(channel_close_ok(1) + channel_close_ok(2) + exchange_declare(2, self.qname("x")))
        self.read_until(c, 2, (40, 11), set(), "exchange.declare after stray close-oks")
        self.end_cleanly(c)


class PikaCloseTest(BrokerCase):
    """pika writes its publishes before its close: all of them are routed,
    and close() raises nothing."""

    def burst_then_close(self, n, confirm):
        admin = self.channel()
        q = self.declare(admin)
        conn = pika.BlockingConnection(self.params())
        ch = conn.channel()
        if confirm:
            ch.confirm_delivery()
        for i in range(n):
            ch.basic_publish("", q, str(i).encode())
        conn.close()
        self.assertTrue(conn.is_closed)
        self.assertEqual(self.count(admin, q)[0], n)

    def test_publish_burst_then_close(self):
        self.burst_then_close(5000, confirm=False)

    def test_publish_burst_with_confirms_then_close(self):
        self.burst_then_close(2000, confirm=True)

    def test_wrong_password_is_refused_every_time(self):
        for attempt in range(20):
            with self.subTest(attempt=attempt):
                with self.assertRaises((pika.exceptions.ProbableAuthenticationError,
                                        pika.exceptions.AuthenticationError)) as cm:
                    pika.BlockingConnection(self.params(credentials=pika.PlainCredentials("guest", "wrong")))
                self.assertIn("ACCESS_REFUSED", repr(cm.exception))


if __name__ == "__main__":
    unittest.main()
