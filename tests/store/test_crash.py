"""Crash tests of warrend's durable storage, with real clients: pika (AMQP
0-9-1) and python3-qpid-proton (AMQP 1.0) publish in confirm mode and take
messages while warrend is SIGKILLed at a random moment (seeded), then
warrend starts again on the same data directory, several rounds over.

After every restart:
  - every message whose confirm (0-9-1 basic.ack) or acceptance (1.0) its
    publisher received is in each durable queue it was routed to, intact
    (its body carries its id and the sha256 of its payload), once, and
    marked redelivered;
  - no message is there that was never published persistent (transient
    messages do not survive), nor one removed (acked or rejected) by a
    client that later had a persistent publish confirmed: the log is
    written in order, and a confirm means the batch holding that publish,
    and so everything the broker did before it, is synced;
  - a message a restart showed stays (SIGKILL keeps the page cache), until
    a client removes it;
  - the durable exchange, queues (with their arguments) and bindings are
    there; the round's non-durable queue and exchange and its exclusive
    (although durable) queue are not;
  - the broker reports no damage in its log, and no sanitizer complained.
Messages never confirmed may or may not be there: at-least-once. The
clients (crash_clients.py, run as processes) say what they did on stdout;
the Ledger below turns that into what each queue must and may hold.

The seed is printed; WARREN_CRASH_SEED=N replays the same choices (not the
same timing), WARREN_CRASH_ROUNDS=N changes the number of kills.

LockTest: a second warrend on a data directory in use exits non-zero,
saying why, and the first keeps serving.
"""
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "amqp091"))

import pika  # noqa: E402
from pika.exceptions import ChannelClosedByBroker  # noqa: E402

from amqp_harness import LISTENING, PYTHON, SANITIZER, Child, Warrend  # noqa: E402
from crash_clients import EXCHANGE, Q1, Q2, ROUTES, make_body, parse_body  # noqa: E402

ROUNDS = int(os.environ.get("WARREN_CRASH_ROUNDS", "8"))
QUEUE_ARGS = {Q1: {"x-max-length": 1_000_000}, Q2: None}
BINDINGS = [(Q1, "both"), (Q1, "one"), (Q2, "both")]  # from EXCHANGE
RECOVERED = re.compile(r"store: vhost '/' recovered from .* (\d+) exchanges, (\d+) queues, (\d+) bindings, "
                       r"(\d+) messages")
STARTED = re.compile(r"socketlock serving")  # the last line before the store opens
DAMAGE = re.compile(r"store: .* skipped, the rest was recovered")
LOCKED = "is in use by another warrend (its LOCK is held)"  # apps/warrend/main.cpp, open_store


class RestartableWarrend(Warrend):
    """A warrend that can be SIGKILLed and started again on its data
    directory; each run logs to files of its own (warrend.N.stdout/stderr)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.data_dir = os.path.join(self.dir, "data")
        self.runs = 0

    def next_run(self):
        self.runs += 1
        self.out_path = os.path.join(self.dir, f"warrend.{self.runs}.stdout")
        self.err_path = os.path.join(self.dir, f"warrend.{self.runs}.stderr")

    def start(self, timeout=20):
        self.next_run()
        return super().start(timeout)

    def kill9(self):
        os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=10)

    def kill9_while_starting(self, after):
        """Starts a run and SIGKILLs it `after` seconds later, whether it
        listens by then or is still recovering. False if it exited first."""
        self.next_run()
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      start_new_session=True)
        time.sleep(after)
        if self.p.poll() is not None:
            return False
        self.kill9()
        return True

    def params(self):
        return pika.ConnectionParameters(host=self.host, port=self.port, connection_attempts=1, socket_timeout=10)


class Ledger:
    """What each durable queue must hold after a restart, and what it may."""

    def __init__(self):
        self.must = {Q1: set(), Q2: set()}  # confirmed, not removed since
        self.may = {Q1: set(), Q2: set()}   # published persistent, not durably removed
        self.transient = set()              # published transient: never to be seen again
        self.durably_removed = set()        # (queue, id): never to be seen again
        self.confirmed = 0

    def apply(self, clients):
        """A round's client lines. Publishes first: another client may have
        removed a message before its publisher heard the confirm."""
        removals = []
        for lines in clients:
            keys = {}     # id -> routing key, of persistent publishes
            pending = []  # removals not yet followed by a confirm of a persistent publish
            for line in lines:
                word, *rest = line.split()
                if word == "sending":
                    mid, key, kind = rest
                    if kind == "persistent":
                        keys[mid] = key
                        for q in ROUTES[key]:
                            self.may[q].add(mid)
                    else:
                        self.transient.add(mid)
                elif word == "confirmed" and rest[0] in keys:
                    # Its confirm waited for a sync covering everything done before it on
                    # this connection (a transient one's did not wait).
                    self.confirmed += 1
                    for q in ROUTES[keys[rest[0]]]:
                        self.must[q].add(rest[0])
                    removals += [(q, mid, True) for q, mid in pending]
                    pending = []
                elif word == "removed":
                    pending.append(tuple(rest))
            removals += [(q, mid, False) for q, mid in pending]
        for q, mid, durable in removals:
            self.must[q].discard(mid)
            if durable:
                self.may[q].discard(mid)
                self.durably_removed.add((q, mid))

    def published(self, q, mid):
        """A confirmed publish by the test itself."""
        self.must[q].add(mid)
        self.may[q].add(mid)
        self.confirmed += 1

    def check(self, q, found):
        """found: [(id, redelivered, problem)] read from q after a restart.
        Returns the problems; from then on q must hold exactly what was found."""
        problems = []
        ids = [mid for mid, _, _ in found]
        seen = set()
        for mid, redelivered, problem in found:
            if problem:
                problems.append(f"{q}: damaged message {mid}: {problem}")
            if mid in seen:
                problems.append(f"{q}: {mid} is there more than once ({ids.count(mid)} times)")
            seen.add(mid)
            if not redelivered:
                problems.append(f"{q}: recovered message {mid} is not marked redelivered")
            if mid not in self.may[q]:
                why = ("it was published transient" if mid in self.transient else
                       "it was removed, and a later publish on that connection was confirmed"
                       if (q, mid) in self.durably_removed else "it was never published persistent to this queue")
                problems.append(f"{q}: {mid} is there but should not be: {why}")
        lost = sorted(self.must[q] - seen)
        if lost:
            problems.append(f"{q}: {len(lost)} confirmed messages lost: {lost[:20]}")
        self.must[q] = set(seen)
        self.may[q] = set(seen)
        return problems


class CrashTest(unittest.TestCase):

    def setUp(self):
        seed = os.environ.get("WARREN_CRASH_SEED")
        self.seed = int(seed) if seed else random.SystemRandom().randrange(1 << 32)
        sys.stderr.write(f"\n  seed {self.seed} (WARREN_CRASH_SEED={self.seed} replays its choices)\n")
        self.rng = random.Random(self.seed)
        self.broker = RestartableWarrend()
        self.clients = []
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for c in self.clients:
            if c.poll() is None:
                c.kill()
                c.wait(timeout=10)
        if self.broker.alive():  # the test failed: leave everything for a look
            self.broker.kill9()
        if os.path.isdir(self.broker.dir):
            sys.stderr.write(f"  data dir and logs kept in {self.broker.dir}\n")

    def fail_with_logs(self, msg):
        self.fail(f"{msg}\nseed {self.seed}; logs of every run in {self.broker.dir}\n{self.broker.describe()}")

    def connect(self):
        return pika.BlockingConnection(self.broker.params())

    # ----------------------------------------------------------- the test

    def test_kill9_rounds(self):
        b = self.broker
        b.start()
        self.define()
        ledger = Ledger()
        t0 = time.monotonic()
        for rnd in range(1, ROUNDS + 1):
            self.crash_round(rnd, ledger)
            b.start()
            self.check(rnd, ledger)
        # A clean stop loses nothing either, and starts clean.
        problem = b.stop(keep_dir=True)
        if problem:
            self.fail(problem)
        b.start()
        self.check(ROUNDS + 1, ledger)
        sys.stderr.write(f"  {ROUNDS} kills in {time.monotonic() - t0:.1f}s: {ledger.confirmed} confirmed "
                         f"publishes checked, {len(ledger.durably_removed)} removals known durable\n")
        # Else the test would pass having tested next to nothing.
        self.assertGreater(ledger.confirmed, 50, "too few confirmed publishes to say anything")
        self.assertGreater(len(ledger.durably_removed), 5, "too few durable removals to say anything")
        problem = b.stop()
        if problem:
            self.fail(problem)

    def define(self):
        """The durable definitions every restart must bring back."""
        conn = self.connect()
        ch = conn.channel()
        ch.exchange_declare(EXCHANGE, "direct", durable=True)
        for q in (Q1, Q2):
            ch.queue_declare(q, durable=True, arguments=QUEUE_ARGS[q])
        for q, key in BINDINGS:
            ch.queue_bind(q, EXCHANGE, key)
        conn.close()

    def crash_round(self, rnd, ledger):
        b, rng = self.broker, self.rng
        # What must not come back, bound where the clients publish, so that
        # persistent messages reach them: non-durable queue and exchange, and
        # an exclusive queue, durable, whose owner lives until the kill.
        owner = self.connect()
        ch = owner.channel()
        ch.exchange_declare(f"crash.ndx.{rnd}", "fanout", durable=False)
        ch.queue_declare(f"crash.nd.{rnd}", durable=False)
        ch.queue_declare(f"crash.excl.{rnd}", durable=True, exclusive=True)
        for q in (f"crash.nd.{rnd}", f"crash.excl.{rnd}"):
            ch.queue_bind(q, EXCHANGE, "both")
            ch.queue_bind(q, f"crash.ndx.{rnd}")
        ch.queue_bind(Q2, f"crash.ndx.{rnd}")  # goes with its exchange

        env = dict(os.environ, AMQP_HOST=b.host, AMQP_PORT=str(b.port), AMQP10_URL=f"amqp://{b.host}:{b.port}")
        self.clients = [Child([PYTHON, os.path.join(HERE, "crash_clients.py"), kind, str(rng.randrange(1 << 32)),
                               f"r{rnd}-{kind}{i}"], env)
                        for i, kind in enumerate(("pika", "pika", "proton"))]
        if rng.random() < 0.2:
            delay = rng.uniform(0, 0.8)  # from the clients' start: maybe while they connect
            what = "after the clients started"
        else:
            for c in self.clients:
                self.wait_for(lambda: c.has("ready") or c.poll() is not None, 20, f"{c.argv[2:]} ready", c.describe)
            delay = rng.uniform(0.1, 2.5)
            what = "into the traffic"
        time.sleep(delay)
        if not b.alive():
            self.fail_with_logs(f"round {rnd}: warrend died before its kill")
        b.kill9()

        for c in self.clients:  # each notices the broker is gone, says so and exits
            try:
                rc = c.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.fail_with_logs(f"round {rnd}: a client did not exit after the kill\n{c.describe()}")
            c.close()
            if rc != 0 or not c.has("gone"):
                self.fail_with_logs(f"round {rnd}: client failed (status {rc})\n{c.describe()}")
        self.check_stderr(rnd)
        try:
            owner.close()
        except Exception:  # its broker is dead
            pass
        ledger.apply([c.lines for c in self.clients])
        if rng.random() < 0.3:  # and once more, maybe in the middle of its recovery
            after = rng.uniform(0.05, 0.6)
            if not b.kill9_while_starting(after):
                self.fail_with_logs(f"round {rnd}: warrend exited on its own {after:.2f}s into a restart")
            self.check_stderr(rnd)
            log = b.stdout_text()
            stage = ("listening" if LISTENING.search(log) else "recovered" if RECOVERED.search(log) else
                     "recovering" if STARTED.search(log) else "starting")
            what += f", then {after:.2f}s into a restart ({stage})"
        said = lambda word: sum(len(c.matching(word)) for c in self.clients)  # noqa: E731
        sys.stderr.write(f"  round {rnd}: killed {delay:.2f}s {what}: {said('sending ')} publishes, "
                         f"{said('confirmed ')} confirmed, {said('removed ')} removals\n")

    def check(self, rnd, ledger):
        """After a restart: definitions, messages, the binding by a probe."""
        b = self.broker
        log = b.stdout_text()
        if DAMAGE.search(log):
            self.fail_with_logs(f"after restart {rnd}: the store reports damage, after a mere kill")
        conn = self.connect()
        ch = conn.channel()
        # Declared again as they were: equivalent, so the exchange's type
        # and the queues' durability and arguments came back.
        ch.exchange_declare(EXCHANGE, "direct", durable=True, passive=True)
        ch.exchange_declare(EXCHANGE, "direct", durable=True)
        for q in (Q1, Q2):
            ch.queue_declare(q, durable=True, passive=True)
            ch.queue_declare(q, durable=True, arguments=QUEUE_ARGS[q])
        with self.assertRaises(ChannelClosedByBroker, msg=f"{Q1} came back without its x-max-length") as cm:
            ch.queue_declare(Q1, durable=True)
        self.assertEqual(cm.exception.reply_code, 406)
        if rnd <= ROUNDS:  # the killed round's things that must not come back
            for kind, name in (("queue", f"crash.nd.{rnd}"), ("queue", f"crash.excl.{rnd}"),
                               ("exchange", f"crash.ndx.{rnd}")):
                with self.assertRaises(ChannelClosedByBroker, msg=f"{kind} {name} came back after restart {rnd}") as cm:
                    getattr(conn.channel(), f"{kind}_declare")(name, passive=True)
                self.assertEqual(cm.exception.reply_code, 404, cm.exception.reply_text)

        problems = []
        found = {q: self.read_all(conn, q) for q in (Q1, Q2)}
        for q in (Q1, Q2):
            problems += ledger.check(q, found[q])
        m = RECOVERED.search(log)
        want = (1, 2, len(BINDINGS), len(found[Q1]) + len(found[Q2]))
        if not m or tuple(map(int, m.groups())) != want:
            problems.append(f"the recovery line says {m and m.group(0)!r}; expected (exchanges, queues, "
                            f"bindings, messages) {want}")
        if problems:
            more = f"\n  ({len(problems) - 40} more)" if len(problems) > 40 else ""
            self.fail_with_logs(f"after restart {rnd}:\n  " + "\n  ".join(problems[:40]) + more)

        # The bindings route: a probe through EXCHANGE reaches both queues
        # (mandatory: unroutable raises).
        ch = conn.channel()
        ch.confirm_delivery()
        mid = f"probe-{rnd}"
        ch.basic_publish(EXCHANGE, "both", make_body(mid, self.rng), mandatory=True,
                         properties=pika.BasicProperties(delivery_mode=2))
        for q in (Q1, Q2):
            ledger.published(q, mid)
            self.assertEqual(ch.queue_declare(q, passive=True).method.message_count, len(found[q]) + 1,
                             f"{q} after the probe")
        conn.close()
        sys.stderr.write(f"  restart {rnd}: {len(found[Q1])} + {len(found[Q2])} messages recovered, as expected\n")

    def read_all(self, conn, q):
        """[(id, redelivered, problem)] of every message in q, which stay there
        (unacked, requeued when the channel closes)."""
        ch = conn.channel()
        n = ch.queue_declare(q, passive=True).method.message_count
        found = []
        if n:
            for method, _props, body in ch.consume(q, inactivity_timeout=10):
                if method is None:
                    self.fail_with_logs(f"{q}: only {len(found)} of its {n} messages came in 10s")
                mid, problem = parse_body(body)
                found.append((mid, method.redelivered, problem))
                if len(found) == n:
                    break
        ch.close()
        return found

    def check_stderr(self, rnd):
        if SANITIZER.search(self.broker.stderr_text()):
            self.fail_with_logs(f"round {rnd}: warrend's stderr has a sanitizer report")

    def wait_for(self, predicate, timeout, what, detail=lambda: ""):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail_with_logs(f"timed out after {timeout}s waiting for {what}\n{detail()}")
            time.sleep(0.01)


class LockTest(unittest.TestCase):

    def test_second_warrend_on_the_same_data_dir_exits(self):
        first = RestartableWarrend().start()
        self.addCleanup(lambda: first.alive() and first.kill9())
        conn = pika.BlockingConnection(first.params())
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare("lock.q", durable=True)
        ch.basic_publish("", "lock.q", b"before", properties=pika.BasicProperties(delivery_mode=2))

        # Its own socketlock path: else socketlock, not the store, would refuse it.
        second = subprocess.run([first.bin, "--data-dir", first.data_dir, "--amqp-port", "0",
                                 "--socketlock-path", os.path.join(first.dir, "second.sock")],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        output = second.stdout + second.stderr
        self.assertNotEqual(second.returncode, 0, f"the second warrend did not fail:\n{output}")
        self.assertIn(LOCKED, output)
        self.assertNotRegex(second.stderr, SANITIZER)
        self.assertNotIn("listening", output)

        # The first keeps serving, its store too (a persistent publish is
        # confirmed after its sync), on the connection it had and a new one.
        self.assertTrue(first.alive(), first.describe())
        ch.basic_publish("", "lock.q", b"after", properties=pika.BasicProperties(delivery_mode=2))
        conn.close()
        conn = pika.BlockingConnection(first.params())
        self.assertEqual(conn.channel().queue_declare("lock.q", passive=True).method.message_count, 2)
        conn.close()

        # And the data directory is whole: both messages come back.
        problem = first.stop(keep_dir=True)
        self.assertIsNone(problem, problem)
        first.start()
        conn = pika.BlockingConnection(first.params())
        ch = conn.channel()
        got = [ch.basic_get("lock.q", auto_ack=True)[2] for _ in range(2)]
        self.assertEqual(got, [b"before", b"after"])
        conn.close()
        problem = first.stop()
        self.assertIsNone(problem, problem)


if __name__ == "__main__":
    unittest.main()
