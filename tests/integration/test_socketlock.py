"""socketlock across processes: mutual exclusion, holder and primary death,
a stopped holder and fencing. Run by CTest (see CMakeLists.txt), e.g.
  WARREN_WARREND=... WARREN_SOCKETLOCK=... WARREN_WORKER=... \\
  python3 -m unittest -v test_socketlock.MutualExclusionTest
"""
import os
import signal
import time
import unittest

import ledger
from harness import SocketlockCase, now_ns

MS = 1_000_000  # ns


class MutualExclusionTest(SocketlockCase):
    """(a) Workers log their critical sections to a ledger; the ledger must
    show writers alone, readers never beside a writer, and increasing tokens."""

    def run_workers(self, workers, timeout):
        """Waits for every worker to exit 0; returns the elapsed seconds."""
        t0 = time.monotonic()
        for w in workers:
            rc = w.wait(timeout)
            self.assertEqual(rc, 0, f"{w.name} failed\n{w.describe()}")
        return time.monotonic() - t0

    def check_ledger(self, path, counter, expect_sections):
        with open(path) as f:
            text = f.read()
        intervals, problems = ledger.parse(text)
        self.assertEqual(problems, [], "malformed ledger\n" + "\n".join(problems[:20]))
        self.assertEqual(len(intervals), expect_sections, "sections in the ledger")
        bad, shared = ledger.overlaps(intervals)
        if bad:
            lines = [n for a, b in bad[:5] for n in (a.line, b.line)]
            self.fail(f"{len(bad)} forbidden overlaps, first: " +
                      "; ".join(f"{a} WITH {b}" for a, b in bad[:5]) +
                      "\nledger excerpt:\n" + ledger.excerpt(text, lines) + "\n" + self.describe_all())
        tokens = ledger.token_violations(intervals)
        self.assertEqual(tokens, [], "fencing token order broken\n" + "\n".join(tokens[:10]))
        writers = sum(1 for i in intervals if i.mode == "write")
        with open(counter) as f:
            value = int(f.read().strip() or 0)
        self.assertEqual(value, writers, "lost updates: the counter writers increment disagrees with the ledger")
        lost = [i for i in intervals if i.lost]
        epochs = sorted({i.token >> 32 for i in intervals})
        print(f"\n  {len(intervals)} sections, {writers} writes, {shared} reader/reader overlaps, "
              f"{len(lost)} lost, epochs {epochs}")
        return intervals, epochs, lost

    @staticmethod
    def count_lines(path):
        try:
            with open(path) as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def mutex_args(self, iterations, ledger_path, counter):
        return ["--iterations", str(iterations), "--ledger", ledger_path, "--counter", counter,
                "--read-ratio", "0.3"]

    def test_with_warrend(self):
        self.start_warrend()
        led, counter = os.path.join(self.dir, "ledger"), os.path.join(self.dir, "counter")
        workers = [self.worker(f"w{k}", "mutex", *self.mutex_args(150, led, counter)) for k in range(4)]
        elapsed = self.run_workers(workers, 60)
        print(f"\n  4 x 150 iterations against warrend: {elapsed:.2f}s")
        for w in workers:
            self.assertIn("READY primary=0", w.all_lines, "a worker became primary beside warrend")
        _, epochs, lost = self.check_ledger(led, counter, 600)
        self.assertEqual(len(epochs), 1, "warrend never went away: one epoch")
        self.assertEqual(lost, [])

    def test_auto_primary_failover(self):
        # w0 comes first and serves; it has fewer iterations, so it leaves
        # while the others still work: they must fail over (new epoch) and go on.
        led, counter = os.path.join(self.dir, "ledger"), os.path.join(self.dir, "counter")
        w0 = self.worker("w0", "mutex", *self.mutex_args(10, led, counter), "--wait-go", "1")
        w0.readline(15, "READY primary=1")
        rest = [self.worker(f"w{k}", "mutex", *self.mutex_args(30, led, counter), "--wait-go", "1")
                for k in range(1, 4)]
        for w in rest:
            w.readline(15, "READY primary=0")
        for w in [w0] + rest:
            w.send("go\n")
        elapsed = self.run_workers([w0] + rest, 60)
        retries = sum(w.stderr_text().count("RETRY") for w in [w0] + rest)
        print(f"\n  auto-primary, 10 + 3 x 30 iterations: {elapsed:.2f}s, {retries} acquire retries")
        intervals, epochs, _ = self.check_ledger(led, counter, 100)
        self.assertGreaterEqual(len(epochs), 2, "w0 left early, so another worker had to take over")
        self.assertTrue(any("primary=1" in l for w in rest for l in w.all_lines if l.startswith("DONE")),
                        "some other worker should have become primary\n" + self.describe_all())


    def test_primary_sigkilled_mid_run(self):
        # A `socketlock serve` primary dies by SIGKILL while four workers
        # churn through the lock: held locks are lost, acquires in flight are
        # re-sent, and one worker takes over; the ledger must stay clean.
        serve = self.cli("serve", "serve", "--socket", self.sock)
        self.wait_listening(self.sock, serve)
        led, counter = os.path.join(self.dir, "ledger"), os.path.join(self.dir, "counter")
        workers = [self.worker(f"w{k}", "mutex", *self.mutex_args(200, led, counter), "--wait-go", "1")
                   for k in range(4)]
        for w in workers:
            w.readline(15, "READY primary=0")
        for w in workers:
            w.send("go\n")
        deadline = time.monotonic() + 30
        while self.count_lines(led) < 100 and time.monotonic() < deadline:
            time.sleep(0.002)
        serve.signal(signal.SIGKILL)
        at_kill = self.count_lines(led)
        elapsed = self.run_workers(workers, 60)
        retries = sum(w.stderr_text().count("RETRY") for w in workers)
        print(f"\n  primary killed after {at_kill} ledger lines; workers done {elapsed:.2f}s later, "
              f"{retries} acquire retries")
        self.assertLess(at_kill, 1600, "the kill came too late to test anything")
        _, epochs, _ = self.check_ledger(led, counter, 800)
        # A worker takes over after the kill, and each worker-primary that
        # finishes hands over again: epochs 1..5.
        self.assertGreaterEqual(len(epochs), 2, "a worker took over after the kill")


class HolderDeathTest(SocketlockCase):
    """(b) A holder killed with SIGKILL: the primary (warrend) frees its lock at once."""

    def test_sigkill_holder_releases(self):
        self.start_warrend()
        holder = self.worker("holder", "hold")
        _, held = holder.readline(15, "HELD")
        held_token = int(held.split()[1])
        waiter = self.cli("waiter", "run", "--write", "--timeout", "5s", "--socket", self.sock, "--",
                          "sh", "-c", "echo GOT $SOCKETLOCK_TOKEN")
        self.wait_for_waiters(1)
        killed = now_ns()
        holder.signal(signal.SIGKILL)
        got_at, got = waiter.readline(5, "GOT")
        self.assertEqual(waiter.wait(10), 0, waiter.describe())
        delay_ms = (got_at - killed) / MS
        print(f"\n  waiter granted {delay_ms:.0f} ms after SIGKILL of the holder")
        self.assertLess(delay_ms, 1000, "the lock of a killed holder must be free within 1 s")
        self.assertGreater(int(got.split()[1]), held_token)


class PrimaryDeathTest(SocketlockCase):
    """(c) The auto-primary, holding the write lock, is SIGKILLed with five
    clients queued: they elect a new primary and are all served, in turn."""

    def test_sigkill_primary_with_waiters(self):
        a = self.worker("A", "hold")
        _, held = a.readline(15, "HELD")
        self.assertTrue(held.endswith("primary=1"), held)
        a_token = int(held.split()[1])
        waiters = [self.worker(f"wait{k}", "wait", "--hold-ms", "50") for k in range(5)]
        for w in waiters:
            w.readline(15, "READY primary=0")
        self.wait_for_waiters(5)
        killed = now_ns()
        a.signal(signal.SIGKILL)
        grants = []
        for w in waiters:
            _, got = w.readline(12, "GOT")
            _, rel = w.readline(5, "RELEASED")
            _, token, at, primary = got.split()
            grants.append((int(at), int(rel.split()[1]), int(token), w.name, primary))
        grants.sort()
        report = "\n".join(f"  {name}: token {tok} (epoch {tok >> 32}) at +{(at - killed) / MS:.0f} ms "
                           f"for {(rel - at) / MS:.0f} ms, {primary}" for at, rel, tok, name, primary in grants)
        print(f"\n  A held {a_token} (epoch {a_token >> 32}), killed; then:\n{report}")
        first_ms = (grants[0][0] - killed) / MS
        last_ms = (grants[-1][0] - killed) / MS
        self.assertLess(first_ms, 2500, "first waiter must be served within 2.5 s of the kill\n" + report)
        self.assertLess(last_ms, 6000, "all waiters served in bounded time\n" + report)
        for (at, rel, tok, name, _), nxt in zip(grants, grants[1:]):
            self.assertLessEqual(rel, nxt[0], f"{name} still held when {nxt[3]} got the lock\n{report}")
            self.assertLess(tok, nxt[2], "tokens increase in grant order\n" + report)
        for _, _, tok, name, _ in grants:
            self.assertGreater(tok >> 32, a_token >> 32, f"{name}'s token is from a new epoch\n{report}")
        self.assertEqual(sum(1 for g in grants if g[4] == "primary=1"), 1,
                         "exactly one waiter took over as primary\n" + report)
        for w in waiters:
            w.close_stdin()
        for w in waiters:
            self.assertEqual(w.wait(15), 0, w.describe())

    def test_holder_learns_of_primary_death(self):
        # `socketlock serve` is the primary; a `run` holds the lock under it.
        # When the primary is SIGKILLed, the lock is lost (on_lost fires) and
        # the command is killed at once: the lock it ran under is gone, and a
        # new primary could grant it to someone else. (--kill-on-loss is
        # still accepted; killing is what `run` always does now.)
        serve = self.cli("serve", "serve", "--socket", self.sock)
        self.wait_listening(self.sock, serve)
        run = self.cli("run", "run", "--write", "--kill-on-loss", "--socket", self.sock, "--",
                       "sh", "-c", "echo RUNNING; exec sleep 30")
        run.readline(10, "RUNNING")
        killed = now_ns()
        serve.signal(signal.SIGKILL)
        rc = run.wait(5)
        ms = (run.exit_ns - killed) / MS
        print(f"\n  holder's command killed {ms:.0f} ms after the primary's SIGKILL")
        self.assertEqual(rc, 128 + signal.SIGKILL, run.describe())
        self.assertIn("connection to the primary lost", run.stderr_text())
        self.assertLess(ms, 1000)


class StoppedHolderTest(SocketlockCase):
    """(d) A holder stopped past its TTL loses the lock; a newer holder's
    token fences off its late write."""

    def test_sigstop_holder_is_fenced(self):
        self.start_warrend("--socketlock-max-ttl", "10s")
        resource = os.path.join(self.dir, "resource")
        h = self.worker("holdttl", "holdttl", "--ttl", "2", "--resource", resource)
        _, held = h.readline(15, "HELD")
        old = int(held.split()[1])
        h.readline(5, "FIRSTWRITE ACCEPTED")
        h.signal(signal.SIGSTOP)
        time.sleep(3)  # past the 2 s TTL
        rc, out, err = self.run_cli("run", "--write", "--timeout", "5s", "--socket", self.sock, "--",
                                    self.worker_bin, "fenced-write", "--resource", resource, "--data", "second")
        self.assertEqual(rc, 0, f"second client: {out}\n{err}\n{self.describe_all()}")
        self.assertIn("ACCEPTED", out)
        new = int(out.split("token=")[1].split()[0])
        self.assertGreater(new, old, "a later grant has a higher token")
        h.signal(signal.SIGCONT)
        h.send("resume\n")
        _, valid = h.readline(10, "VALID")
        self.assertTrue(valid.startswith("VALID 0 "), f"the resumed holder must see its lock as lost: {valid}")
        _, write = h.readline(10, "WRITE")
        self.assertEqual(write, f"WRITE REJECTED highest={new}", "the stale token must be fenced off")
        h.close_stdin()
        self.assertEqual(h.wait(10), 0, h.describe())
        with open(resource) as f:
            accepted = [l.split()[1] for l in f.read().splitlines()]
        self.assertEqual(accepted, [str(old), str(new)], "the resource took the two valid writes only")
        print(f"\n  stopped holder {old} -> {valid!r}; new holder {new}; stale write rejected")

    def test_ttl_above_max_is_refused(self):
        self.start_warrend("--socketlock-max-ttl", "10s")
        rc, out, err = self.run_cli("run", "--write", "--ttl", "20s", "--socket", self.sock, "--", "true")
        self.assertEqual(rc, 1, f"{out}\n{err}")
        self.assertIn("timeout too long", err)


if __name__ == "__main__":
    unittest.main()
