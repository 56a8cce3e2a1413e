"""The socketlock command-line tool (e) and warrend as a socketlock primary (f)."""
import os
import re
import signal
import stat
import subprocess
import time
import unittest

from harness import SocketlockCase


class CliTest(SocketlockCase):
    """(e) `socketlock run|status` against a warrend primary (and alone)."""

    def setUp(self):
        super().setUp()
        self.warrend = self.start_warrend()

    def holder(self):
        h = self.worker("holder", "hold")
        _, held = h.readline(15, "HELD")
        return h, int(held.split()[1])

    def test_exit_status_is_the_commands(self):
        rc, out, err = self.run_cli("run", "--write", "--socket", self.sock, "--", "sh", "-c", "exit 7")
        self.assertEqual(rc, 7, f"{out}\n{err}")
        rc, out, err = self.run_cli("run", "--read", "--socket", self.sock, "--", "true")
        self.assertEqual(rc, 0, f"{out}\n{err}")
        rc, out, err = self.run_cli("run", "--write", "--socket", self.sock, "--", "/nonexistent/cmd")
        self.assertEqual(rc, 127, f"{out}\n{err}")

    def test_exit_status_when_it_is_its_own_primary(self):
        alone = os.path.join(self.dir, "alone.sock")
        rc, out, err = self.run_cli("run", "--write", "--socket", alone, "--", "sh", "-c", "exit 7")
        self.assertEqual(rc, 7, f"{out}\n{err}")
        self.assertFalse(os.path.exists(alone), "the CLI served the path itself and must remove its socket")

    def test_timeout_while_another_holds(self):
        h, token = self.holder()
        t0 = time.monotonic()
        rc, out, err = self.run_cli("run", "--write", "--timeout", "1s", "--socket", self.sock, "--", "true")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 1, f"{out}\n{err}")
        self.assertIn("timeout waiting for lock", err)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 5, "gave up late")
        lines = self.show()
        self.assertTrue(any(l.startswith("holder") and str(token) in l for l in lines), "\n".join(lines))
        self.assertFalse(any(l.startswith("waiting") for l in lines),
                         "the timed-out request must be withdrawn:\n" + "\n".join(lines))
        h.close_stdin()
        self.assertEqual(h.wait(10), 0, h.describe())

    def test_status_lists_holder_and_waiter(self):
        h, token = self.holder()
        waiter = self.cli("waiter", "run", "--read", "--socket", self.sock, "--client-id", "the-waiter", "--", "true")
        lines = self.wait_for_waiters(1)
        text = "\n".join(lines)
        self.assertRegex(lines[0], r"^STATE\s+LOCK ID\s+MODE\s+CLIENT")
        self.assertRegex(text, rf"(?m)^holder\s+{token}\s+write\s+\S+")
        self.assertRegex(text, r"(?m)^waiting\s+-\s+read\s+the-waiter\s")
        self.assertRegex(text, rf"(?m)^next lock id {token + 1}, policy WriterPreferred$")
        h.close_stdin()
        self.assertEqual(waiter.wait(10), 0, waiter.describe())
        self.assertEqual(h.wait(10), 0, h.describe())

    def test_token_and_mode_are_exported(self):
        script = 'echo "$SOCKETLOCK_TOKEN $SOCKETLOCK_MODE"'
        seen = []
        for mode in ("--write", "--read", "--write"):
            rc, out, err = self.run_cli("run", mode, "--socket", self.sock, "--", "sh", "-c", script)
            self.assertEqual(rc, 0, f"{out}\n{err}")
            token, word = out.split()
            self.assertEqual(word, mode[2:])
            seen.append(int(token))
        self.assertEqual(seen, sorted(set(seen)), "tokens increase from one run to the next")
        self.assertGreater(seen[0], 0)

    def test_status_without_primary_fails(self):
        t0 = time.monotonic()
        rc, out, err = self.run_cli("status", "--socket", os.path.join(self.dir, "nobody.sock"))
        self.assertEqual(rc, 1, f"{out}\n{err}")
        self.assertIn("cannot connect", err)
        self.assertLess(time.monotonic() - t0, 5, "status gives up after its 2 s connect timeout")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "nobody.sock")), "status never becomes primary")

    def test_kill_on_loss(self):
        # A 1 s TTL runs out under `sleep 30`: the command is sent SIGTERM.
        t0 = time.monotonic()
        rc, out, err = self.run_cli("run", "--write", "--ttl", "1s", "--kill-on-loss", "--socket", self.sock,
                                    "--", "sleep", "30")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 128 + signal.SIGTERM, f"{out}\n{err}")
        self.assertIn("lost", err)
        self.assertLess(elapsed, 5)


class WarrendTest(SocketlockCase):
    """(f) warrend: start, refuse a second primary, stop cleanly, take over a stale socket."""

    def epoch(self, proc):
        _, line = proc.readline(10, contains="socketlock serving")
        return int(re.search(r"epoch (\d+)", line).group(1))

    def test_serves_and_stops_on_sigterm(self):
        d = self.start_warrend()
        self.assertTrue(stat.S_ISSOCK(os.stat(self.sock).st_mode), "the socket exists")
        self.assertTrue(os.path.isdir(os.path.join(self.dir, "data")), "the data dir is created")
        self.assertEqual(self.epoch(d), 1)
        rc, out, err = self.run_cli("run", "--write", "--socket", self.sock, "--", "true")
        self.assertEqual(rc, 0, f"{out}\n{err}")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait(2)
        print(f"\n  SIGTERM to exit: {(time.monotonic() - t0) * 1000:.0f} ms")
        self.assertEqual(rc, 0, d.describe())
        self.assertFalse(os.path.exists(self.sock), "warrend removes its socket on a clean stop")
        self.assertTrue(any("warrend stopped" in l for l in d.all_lines), d.describe())

    def test_second_instance_is_refused(self):
        first = self.start_warrend()
        second = self.start_warrend(name="second", wait=False)
        rc = second.wait(10)
        self.assertNotEqual(rc, 0, second.describe())
        self.assertTrue(any("another process is already the socketlock primary" in l
                            for l in second.all_lines + second.stderr_text().splitlines()), second.describe())
        self.assertIsNone(first.p.poll(), "the first warrend keeps running")
        rc, out, err = self.run_cli("run", "--write", "--socket", self.sock, "--", "true")
        self.assertEqual(rc, 0, f"the first warrend still serves: {out}\n{err}\n{first.describe()}")

    def test_help_lists_options_with_defaults(self):
        r = subprocess.run([self.warrend_bin, "--help"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        text = r.stdout.decode()
        # CLI11 shows a default as "TEXT=value" (older versions: "[value]").
        self.assertRegex(text, r"--data-dir \S*(=var|\[var\])")
        self.assertRegex(text, r"--socketlock-path \S*(=|\[)<data-dir>/socketlock\.sock")
        for flag in ("--socketlock-request-timeout", "--socketlock-max-ttl", "--socketlock-hello-timeout"):
            self.assertIn(flag, text)

    def test_stale_socket_is_taken_over(self):
        first = self.start_warrend(name="first")
        e1 = self.epoch(first)
        first.signal(signal.SIGKILL)
        first.wait(5)
        self.assertTrue(os.path.exists(self.sock), "SIGKILL leaves the socket file behind")
        second = self.start_warrend(name="second")
        e2 = self.epoch(second)
        self.assertGreater(e2, e1, "the new primary starts a new epoch")
        rc, out, err = self.run_cli("run", "--write", "--socket", self.sock, "--", "sh", "-c", "echo $SOCKETLOCK_TOKEN")
        self.assertEqual(rc, 0, f"{out}\n{err}\n{second.describe()}")
        self.assertEqual(int(out) >> 32, e2, "tokens carry the epoch")


if __name__ == "__main__":
    unittest.main()
