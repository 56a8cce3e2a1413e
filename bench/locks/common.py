"""Shared pieces of the lock research experiments (bench/locks/qN_*.py).

- connect(): a pika BlockingConnection with explicit heartbeat and
  capabilities, and a log of every frame the client receives.
- Proxy: a TCP proxy between one client and the broker that can forward,
  black-hole (stop forwarding without FIN or RST) and cut (close with RST
  or FIN).
- Report: collects the findings of one experiment, prints them as they come,
  and writes them as JSON for run_all.py.

Run with Debian's /usr/bin/python3 (python3-pika 1.2).
"""
import argparse
import json
import socket
import struct
import sys
import threading
import time
import uuid

import pika
import pika.exceptions


def now():
    return time.monotonic()


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------- connections

class FrameLog:
    """Every frame a connection receives, as short names with the time they
    were read: "Basic.Cancel", "Basic.Deliver", "Connection.Close 320", ...
    Heartbeats are counted, not listed."""

    def __init__(self):
        self.t0 = now()
        self.events = []
        self.heartbeats = 0

    def attach(self, conn):
        impl = conn._impl
        original = impl._process_frame

        def logged(frame_value):
            self.record(frame_value)
            return original(frame_value)

        impl._process_frame = logged  # pika calls self._process_frame for every frame read

    def record(self, f):
        if isinstance(f, pika.frame.Heartbeat):
            self.heartbeats += 1
            return
        if isinstance(f, pika.frame.Method):
            name = f.method.NAME
            code = getattr(f.method, "reply_code", None)
            if code is not None:
                name += f" {code} {getattr(f.method, 'reply_text', '')}"
            self.events.append((now() - self.t0, f.channel_number, name))

    def names(self, since=0.0):
        return [n for t, _, n in self.events if t >= since]

    def mark(self):
        return now() - self.t0


def connect(host, port, heartbeat=0, cancel_notify=True, name="client"):
    """A BlockingConnection and its FrameLog. heartbeat=0 disables heartbeats
    (pika sends the client's value in tune-ok, and both brokers take it)."""
    caps = {"authentication_failure_close": True, "basic.nack": True, "connection.blocked": True,
            "publisher_confirms": True, "consumer_cancel_notify": cancel_notify}
    params = pika.ConnectionParameters(host=host, port=port, heartbeat=heartbeat, blocked_connection_timeout=None,
                                       connection_attempts=1, socket_timeout=10, stack_timeout=20,
                                       client_properties={"capabilities": caps, "connection_name": name})
    log = FrameLog()
    conn = pika.BlockingConnection(params)
    log.attach(conn)
    return conn, log


def close_quietly(conn):
    try:
        if conn and conn.is_open:
            conn.close()
    except Exception:
        pass


def exc_name(e):
    """An exception as the lock user would see it: class and AMQP reply."""
    name = type(e).__name__
    args = getattr(e, "args", ())
    if isinstance(e, (pika.exceptions.ChannelClosedByBroker, pika.exceptions.ConnectionClosedByBroker)):
        return f"{name} {e.reply_code} {e.reply_text.split(' - ')[0]}"
    if args:
        return f"{name} {args[0]!r}"[:160]
    return name


class Consumer:
    """A consumer on its own channel with prefetch 1 that records its
    deliveries and any basic.cancel from the broker."""

    def __init__(self, conn, queue, prefetch=1, arguments=None):
        self.conn = conn
        self.ch = conn.channel()
        self.ch.basic_qos(prefetch_count=prefetch)
        self.deliveries = []
        self.cancelled_at = None
        self.ch.add_on_cancel_callback(self._cancelled)
        self.tag = self.ch.basic_consume(queue, self._deliver, auto_ack=False, arguments=arguments)

    def _deliver(self, ch, method, props, body):
        self.deliveries.append((now(), method, props, body))

    def _cancelled(self, frame):
        self.cancelled_at = now()

    def wait(self, count=1, timeout=5.0):
        """Pumps the connection until `count` deliveries in all, a cancel,
        or the timeout. True if the deliveries arrived."""
        deadline = now() + timeout
        while len(self.deliveries) < count and self.cancelled_at is None and now() < deadline:
            self.conn.process_data_events(time_limit=min(0.05, max(0.0, deadline - now())))
        return len(self.deliveries) >= count

    def last(self):
        return self.deliveries[-1] if self.deliveries else None


def passive(conn_or_ch, queue):
    """queue.declare(passive) on a fresh channel: (message_count,
    consumer_count) or the error text."""
    ch = conn_or_ch.channel() if hasattr(conn_or_ch, "channel") else conn_or_ch
    try:
        ok = ch.queue_declare(queue, passive=True)
        r = (ok.method.message_count, ok.method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker as e:
        return f"{e.reply_code} {e.reply_text.split(' - ')[0]}"
    if hasattr(conn_or_ch, "channel"):
        try:
            ch.close()
        except Exception:
            pass
    return r


def fill_tokens(conn, queue, n, arguments=None, durable=False):
    ch = conn.channel()
    ch.queue_declare(queue, durable=durable, arguments=arguments)
    ch.confirm_delivery()
    for i in range(1, n + 1):
        ch.basic_publish("", queue, f"token {i}".encode())
    ch.close()


# --------------------------------------------------------------------- proxy

class Proxy:
    """One listening port in front of the broker. Each accepted client gets a
    Pipe: two threads copying bytes, one per direction.

    forward():   copy bytes (the normal state).
    blackhole(): stop copying, both ways, without closing anything. Bytes wait
                 in the kernel buffers, as TCP retransmissions would wait on a
                 silent path. Neither end sees a FIN or an RST.
    resume():    copy again; what waited is delivered, and a close that
                 happened on one side meanwhile reaches the other.
    cut(rst):    close both sides of every pipe now, with RST (SO_LINGER 0)
                 or with FIN (shutdown, then close: as a process exit does, an
                 RST follows the FIN when bytes were left unread).
    drop_client(): close only the client's side (the client sees the loss at
                 once); the broker's side stays silent until resume().

    The proxy's own kernel answers TCP keepalives on both sides, so keepalive
    cannot detect a black hole made this way. In a real black hole it could,
    after net.ipv4.tcp_keepalive_time (7200 s by default), and only on a socket
    that enabled SO_KEEPALIVE."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.pipes = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            for s in (c, b):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            p = Pipe(c, b, self.flowing)
            with self.lock:
                self.pipes.append(p)
            p.start()

    def forward(self):
        self.flowing.set()

    resume = forward

    def blackhole(self):
        self.flowing.clear()
        time.sleep(0.1)  # let a chunk already read be written

    def cut(self, rst=True):
        """Returns once the copying threads have left select(), that is once
        the sockets are really closed (the RST or FIN is sent)."""
        with self.lock:
            for p in self.pipes:
                p.close_side(p.c, rst)
                p.close_side(p.b, rst)
            for p in self.pipes:
                p.join(0.2)

    def drop_client(self, rst=True):
        with self.lock:
            for p in self.pipes:
                p.close_side(p.c, rst)

    def up_bytes(self):
        with self.lock:
            return sum(p.up_bytes for p in self.pipes)

    def close(self):
        self.closed = True
        self.flowing.set()
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        try:
            self.lsock.close()
        except OSError:
            pass
        self.cut(rst=True)


class Pipe:
    def __init__(self, c, b, flowing):
        self.c, self.b, self.flowing = c, b, flowing
        self.dead = set()
        self.mu = threading.RLock()
        self.up_bytes = 0  # client to broker, forwarded

    def start(self):
        self.threads = [threading.Thread(target=self._copy, args=(self.c, self.b), daemon=True),
                        threading.Thread(target=self._copy, args=(self.b, self.c), daemon=True)]
        for t in self.threads:
            t.start()

    def join(self, timeout):
        for t in self.threads:
            t.join(timeout)

    def close_side(self, s, rst):
        with self.mu:
            if s in self.dead:
                return
            self.dead.add(s)
            try:
                if rst:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _copy(self, src, dst):
        import select
        while True:
            self.flowing.wait()
            with self.mu:
                if src in self.dead:
                    # our side was closed (cut/drop_client): pass the close on when flowing
                    self.close_side(dst, False)
                    return
            try:
                r, _, _ = select.select([src], [], [], 0.005)  # short: a socket closed under select() is only released (and its RST sent) when select returns
            except (OSError, ValueError):
                r = [src]
            if not r:
                continue
            if not self.flowing.is_set():
                continue
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.close_side(dst, False)
                self.close_side(src, False)
                return
            try:
                dst.sendall(data)
            except OSError:
                self.close_side(src, False)
                return
            if src is self.c:
                self.up_bytes += len(data)


# -------------------------------------------------------------------- report

class Report:
    """Findings of one experiment, in order: (key, value) pairs. Printed as
    they come; written as JSON with --json."""

    def __init__(self, question, title, broker):
        self.question, self.title, self.broker = question, title, broker
        self.findings = []
        self.notes = []
        print(f"== Q{question} on {broker}: {title}", flush=True)

    def add(self, key, value):
        self.findings.append([key, str(value)])
        print(f"  {key}: {value}", flush=True)

    def note(self, text):
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def write(self, path):
        if path:
            with open(path, "w") as f:
                json.dump({"question": self.question, "title": self.title, "broker": self.broker,
                           "findings": self.findings, "notes": self.notes}, f, indent=1)


def arg_parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5672)
    p.add_argument("--broker", default="broker", help="name used in the output (warren, rabbitmq)")
    p.add_argument("--json", help="write the findings here")
    return p


def is_warren(broker_name):
    return broker_name.lower().startswith("warren")


def main_guard(fn):
    try:
        fn()
    except KeyboardInterrupt:
        sys.exit(130)


def _debug_signal():
    """kill -USR1 PID prints every thread's stack (for an experiment that hangs)."""
    import faulthandler
    import signal
    faulthandler.register(signal.SIGUSR1, all_threads=True)


_debug_signal()
