"""The socketlock command-line tool (e) and warrend as a socketlock primary (f)."""
import os
import re
import signal
import stat
import subprocess
import sys
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
        # A 1 s TTL runs out under `sleep 30`: the command is killed (always,
        # now; --kill-on-loss is still accepted).
        t0 = time.monotonic()
        rc, out, err = self.run_cli("run", "--write", "--ttl", "1s", "--kill-on-loss", "--socket", self.sock,
                                    "--", "sleep", "30")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 128 + signal.SIGKILL, f"{out}\n{err}")
        self.assertIn("lost", err)
        self.assertLess(elapsed, 5)


def session_procs(sid):
    """The live (not zombie) processes of session `sid`, as "pid:comm" strings."""
    alive = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            alive.append(f"{name}:{text[text.index('(') + 1:text.rindex(')')]}")
    return alive


def children_of(pid):
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            if int(text[text.rindex(")") + 2:].split()[1]) == pid:
                kids.append(int(name))
    return kids


# Run as the second command under the lock: it prints, the moment it starts,
# which processes of the first command (its session) are still alive.
ALIVE_CHECK = r"""
import os, sys
sid = int(sys.argv[1])
alive = []
for name in os.listdir("/proc"):
    if not name.isdigit():
        continue
    try:
        text = open(f"/proc/{name}/stat").read()
    except OSError:
        continue
    fields = text[text.rindex(")") + 2:].split()
    if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
        alive.append(name + ":" + text[text.index("(") + 1:text.rindex(")")])
print("alive", " ".join(alive) or "-")
"""


class RunLifetimeTest(SocketlockCase):
    """(e) `socketlock run`: no process of the command runs once the lock is
    released, whatever dies first. Each `socketlock run` here starts a
    session of its own, so the first command's processes are the live
    members of its session; the second command, started under the same
    write lock, lists those it can still see the moment it starts."""

    def setUp(self):
        super().setUp()
        self.warrend = self.start_warrend()

    def first(self, script, *extra, sock=None):
        p = self.cli("first", "run", "--write", *extra, "--socket", sock or self.sock, "--", "sh", "-c", script)
        p.readline(15, "started")
        return p

    def second(self, first, sock=None, timeout=15):
        """Runs the checker under the write lock: (seconds it took, live processes of `first` it saw)."""
        t0 = time.monotonic()
        rc, out, err = self.run_cli("run", "--write", "--socket", sock or self.sock, "--",
                                    sys.executable, "-c", ALIVE_CHECK, str(first.pid), timeout=timeout)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, f"{out}\n{err}\n{first.describe()}")
        seen = out.split("alive", 1)[1].split()
        return took, [] if seen == ["-"] else seen

    def assert_all_gone(self, proc, within=5):
        deadline = time.monotonic() + within
        while session_procs(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(session_procs(proc.pid), [], f"processes of {proc.name} outlived it")

    def sigkill_parent(self, sock):
        first = self.first("echo started; sleep 3; echo done", sock=sock)
        started = time.monotonic()
        self.assertTrue(session_procs(first.pid), "the command runs")
        first.signal(signal.SIGKILL)
        first.wait(5)
        _, seen = self.second(first, sock=sock)
        print(f"\n  second command done {time.monotonic() - started:.2f}s after the first started its sleep 3")
        self.assertEqual(seen, [], "the second write lock was granted while the first command still ran")
        self.assertNotIn("done", first.all_lines, "the command went on past its socketlock's death")

    def test_sigkill_of_socketlock_with_warrend(self):
        self.sigkill_parent(self.sock)

    def test_sigkill_of_socketlock_that_is_the_primary(self):
        self.sigkill_parent(os.path.join(self.dir, "alone.sock"))

    def test_sigkill_of_the_command(self):
        first = self.first("sleep 30 & echo started; sleep 30")
        kids = children_of(first.pid)
        self.assertEqual(len(kids), 1, f"one direct child: {kids}")
        t0 = time.monotonic()
        os.kill(kids[0], signal.SIGKILL)
        rc = first.wait(5)
        exited = time.monotonic() - t0
        self.assertEqual(rc, 128 + signal.SIGKILL, first.describe())
        self.assertLess(exited, 3, "socketlock exits promptly once its command is killed")
        took, seen = self.second(first)
        self.assertEqual(seen, [], "the command's other processes outlived its lock")
        self.assertLess(took, 3, "the lock is released promptly")

    def test_sigkill_of_the_whole_group(self):
        first = self.first("sleep 30 & echo started; sleep 30")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(5)
        took, seen = self.second(first)
        self.assertEqual(seen, [])
        self.assertLess(took, 3, "the lock is released promptly")

    def test_leftovers_are_ended_when_the_command_exits(self):
        first = self.first("sleep 30 & echo started")
        rc = first.wait(10)
        self.assertEqual(rc, 0, first.describe())
        self.assertEqual(session_procs(first.pid), [], "a background process of the command outlived its lock")

    def test_sigterm_is_passed_on(self):
        first = self.first("echo started; sleep 30")
        first.signal(signal.SIGTERM)
        rc = first.wait(5)
        self.assertEqual(rc, 128 + signal.SIGTERM, first.describe())
        self.assertEqual(session_procs(first.pid), [])
        took, seen = self.second(first)
        self.assertEqual(seen, [])

    def test_a_run_that_serves_stays_for_the_other_holders(self):
        # Two overlapping readers, no standing primary: the first `run`
        # serves the path. Its command ends first; it must not take the
        # primary (and with it the second reader's lock, and so its
        # command) away until the second is done.
        alone = os.path.join(self.dir, "alone.sock")
        a = self.cli("a", "run", "--read", "--socket", alone, "--", "sh", "-c", "echo started; sleep 0.3")
        a.readline(15, "started")
        b = self.cli("b", "run", "--read", "--socket", alone, "--", "sh", "-c", "echo started; sleep 1.5; echo finished")
        b.readline(15, "started")
        b.readline(10, "finished")
        self.assertIsNone(a.p.poll(), "the serving run left while another held the lock\n" + a.describe())
        self.assertEqual(b.wait(10), 0, b.describe())
        self.assertNotIn("lost", b.stderr_text(), "the second reader lost its lock to the first's exit")
        self.assertEqual(a.wait(10), 0, a.describe())
        self.assertIn("staying until its other holders are done", a.stderr_text())

    def test_ttl_expiry_ends_the_command(self):
        t0 = time.monotonic()
        first = self.first("sleep 30 & echo started; sleep 30", "--ttl", "1s")
        rc = first.wait(5)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 128 + signal.SIGKILL, first.describe())
        self.assertIn("lost", first.stderr_text())
        self.assertLess(elapsed, 4)
        self.assertEqual(session_procs(first.pid), [])


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
