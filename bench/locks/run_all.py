#!/usr/bin/python3
"""Runs every lock research experiment (q1..q6) against a private warrend and
a private RabbitMQ 3.10 node, and writes the results as markdown.

    nice -n 19 /usr/bin/python3 bench/locks/run_all.py
    nice -n 19 /usr/bin/python3 bench/locks/run_all.py --only 2,6 --out /tmp/x.md

warrend: $WARREN_WARREND, or build/release/apps/warrend/warrend of this tree.
RabbitMQ: bench/compare/brokers.py's RabbitMQ class (its own node name,
directory, cookie and ports; --rabbit-port, default 5690, and that + 20000).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "compare"))
from brokers import RabbitMQ  # noqa: E402

PYTHON = "/usr/bin/python3"
LISTENING = re.compile(r"AMQP 0-9-1 listening on ([0-9.]+):(\d+)")

SCRIPTS = {
    1: "q1_semaphore_drop.py",
    2: "q2_queue_deleted.py",
    3: "q3_query_cost.py",
    4: "q4_expiry.py",
    5: "q5_ab_race.py",
    6: "q6_consumer_count.py",
}
CONSUMER_TIMEOUT_MS = 5000


class Warrend:
    """A private warrend, started as tests/amqp091/amqp_harness.py does."""

    name = "Warren"

    def __init__(self, binary):
        self.bin = binary
        self.dir = tempfile.mkdtemp(prefix="locks-research-warren.")
        self.p = None
        self.host, self.port, self.pid = "127.0.0.1", None, None

    def start(self, timeout=30):
        self.out = os.path.join(self.dir, "warrend.log")
        self.p = subprocess.Popen([self.bin, "--data-dir", os.path.join(self.dir, "data"),
                                   "--socketlock-path", os.path.join(self.dir, "sl.sock"), "--amqp-port", "0"],
                                  stdin=subprocess.DEVNULL, stdout=open(self.out, "wb"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out, "rb") as f:
                m = LISTENING.search(f.read().decode(errors="replace"))
            if m:
                self.host, self.port, self.pid = m.group(1), int(m.group(2)), self.p.pid
                return
            if self.p.poll() is not None:
                raise RuntimeError("warrend exited: " + open(self.out).read())
            time.sleep(0.05)
        raise RuntimeError("warrend did not say where it listens")

    def version(self):
        r = subprocess.run([self.bin, "--version"], capture_output=True, text=True)
        return (r.stdout or r.stderr).strip()

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_script(q, broker, host, port, extra=(), timeout=900, split=None):
    """Runs one experiment; its findings (a dict). split: the broker names of
    a run that measured several (q3 --target), whose findings are in
    JSON.NAME files: then a dict of those dicts."""
    fd, path = tempfile.mkstemp(prefix=f"q{q}-", suffix=".json")
    os.close(fd)
    argv = [PYTHON, "-u", os.path.join(HERE, SCRIPTS[q]), "--json", path, *extra]
    if not split:
        argv += ["--host", host, "--port", str(port), "--broker", broker]
    print(f"--- {' '.join(argv[2:])}", flush=True)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=HERE)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), "timeout"
    sys.stdout.write(out)

    def load(p):
        try:
            with open(p) as f:
                res = json.load(f)
            os.unlink(p)
        except (OSError, ValueError):
            res = {"question": q, "findings": [], "notes": []}
        res["rc"], res["seconds"] = rc, time.monotonic() - t0
        if rc != 0:
            res["error"] = out[-3000:]
        return res

    if split:
        os.unlink(path)
        return {name: load(f"{path}.{name}") for name in split}
    res = load(path)
    if os.path.exists(path):
        os.unlink(path)
    return res


QUIET_LOAD = 1.0


def wait_quiet(limit):
    """Waits up to `limit` seconds for the 1-minute load average to fall below
    QUIET_LOAD (the machine may be shared). Returns (seconds waited, load)."""
    t0 = time.monotonic()
    while True:
        with open("/proc/loadavg") as f:
            load = float(f.read().split()[0])
        if load < QUIET_LOAD or time.monotonic() - t0 >= limit:
            return time.monotonic() - t0, load
        time.sleep(10)


def rabbit_eval(rabbit, expr):
    r = rabbit.ctl("eval", expr, timeout=60)
    return r.stdout.strip() if r.returncode == 0 else f"error: {r.stderr.strip()}"


def table(results):
    """One markdown table: finding | Warren | RabbitMQ, rows in order of first appearance."""
    keys, values = [], {}
    for broker, res in results.items():
        for k, v in res.get("findings", []):
            if k not in values:
                keys.append(k)
                values[k] = {}
            values[k][broker] = v
    brokers = list(results)
    lines = ["| | " + " | ".join(brokers) + " |", "|---|" + "---|" * len(brokers)]
    for k in keys:
        cells = [values[k].get(b, "—").replace("|", "\\|") for b in brokers]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return cpu, os.cpu_count(), platform.release(), commit


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warrend", default=os.environ.get("WARREN_WARREND") or
                    os.path.join(ROOT, "build", "release", "apps", "warrend", "warrend"))
    ap.add_argument("--rabbit-port", type=int, default=5690)
    ap.add_argument("--only", default="1,2,3,4,5,6", help="questions to run, e.g. 2,6")
    ap.add_argument("--no-rabbit", action="store_true", help="Warren only")
    ap.add_argument("--quiet-wait", type=float, default=600,
                    help="before Q3 (timings), wait up to this many seconds for a quiet machine (default 600)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "locks-research-2026-12-06.md"))
    a = ap.parse_args()
    only = [int(x) for x in a.only.split(",") if x]

    warren = Warrend(a.warrend)
    rabbit = None if a.no_rabbit else RabbitMQ(a.rabbit_port, amqp10=False)

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results = {}
    versions = {}
    started = datetime.datetime.now()
    load_start = open("/proc/loadavg").read().split()[:3]
    try:
        warren.start()
        versions["Warren"] = warren.version()
        brokers = [("Warren", "warren", warren.host, warren.port, warren.pid)]
        if rabbit:
            print("starting RabbitMQ ...", flush=True)
            rabbit.start()
            versions["RabbitMQ"] = rabbit.version()
            brokers.append(("RabbitMQ", "rabbitmq", "127.0.0.1", rabbit.port, rabbit.pid))
        for q in only:
            results[q] = {}
            if q == 3:
                waited, load = wait_quiet(a.quiet_wait)
                # one run, the brokers taking turns: a load that comes and goes hits both alike
                targets = [x for title, name, host, port, pid in brokers
                           for x in ("--target", f"{name},{host},{port},{pid}")]
                split = run_script(3, None, None, None, targets, split=[name for _, name, *_ in brokers])
                for title, name, *_ in brokers:
                    results[q][title] = split[name]
                    results[q][title]["notes"].append(
                        f"waited {waited:.0f} s for a 1-minute load average below {QUIET_LOAD} "
                        f"(it was {load:.2f} when the measurement began)")
                continue
            for title, name, host, port, pid in brokers:
                results[q][title] = run_script(q, name, host, port)
        if 4 in only and rabbit:
            # RabbitMQ's nearest thing to a lease: consumer_timeout, set for this run only
            old = rabbit_eval(rabbit, "application:get_env(rabbit, consumer_timeout).")
            rabbit_eval(rabbit, f"application:set_env(rabbit, consumer_timeout, {CONSUMER_TIMEOUT_MS}).")
            res = run_script(4, "rabbitmq", "127.0.0.1", rabbit.port,
                             ["--part", "consumer-timeout", "--consumer-timeout-ms", str(CONSUMER_TIMEOUT_MS)])
            m = re.match(r"\{ok,(\d+)\}", old)
            rabbit_eval(rabbit, f"application:set_env(rabbit, consumer_timeout, {m.group(1)})." if m else
                        "application:unset_env(rabbit, consumer_timeout).")
            res["notes"].append(f"consumer_timeout was {old} before; set to {CONSUMER_TIMEOUT_MS} for this part, "
                                "then put back")
            results[4]["RabbitMQ (consumer_timeout)"] = res
    finally:
        warren.stop()
        if rabbit:
            rabbit.stop()

    cpu, cores, kernel, commit = machine()
    load_end = open("/proc/loadavg").read().split()[:3]
    lines = [
        "# Lock research: the amqp-locks questions, on Warren and RabbitMQ 3.10",
        "",
        f"Run {started:%Y-%m-%d %H:%M} by `bench/locks/run_all.py` (commit {commit}).",
        f"Machine: {cpu}, {cores} cores, Linux {kernel}. Every process ran under `nice -n 19`. "
        f"Load average {' '.join(load_start)} at the start, {' '.join(load_end)} at the end "
        "(the machine is shared: timings are indicative).",
        "Brokers: " + "; ".join(f"{k} {v}" for k, v in versions.items()) +
        ". Client: Debian's python3-pika 1.2 (`/usr/bin/python3`).",
        "",
        "Each experiment is a script in `bench/locks/` (its docstring says what it does). "
        "The answers, and what they mean for a lock user, are in `docs/locks.md`, "
        "\"Research questions, answered\".",
        "",
    ]
    for q in only:
        per = results.get(q, {})
        if not per:
            continue
        title = next((r.get("title") for r in per.values() if r.get("title")), SCRIPTS[q])
        lines += [f"## Q{q}: {title}", "", f"Script: `bench/locks/{SCRIPTS[q]}`.", ""]
        lines.append(table(per))
        lines.append("")
        for broker, res in per.items():
            for n in res.get("notes", []):
                lines.append(f"- {broker}: {n}")
            if res.get("rc") not in (0, None):
                lines.append(f"- {broker}: **the script failed** (exit {res['rc']}):")
                lines += ["", "```", res.get("error", "").strip()[-1500:], "```"]
        lines.append("")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {a.out}")
    failed = [(q, b) for q, per in results.items() for b, r in per.items() if r.get("rc") != 0]
    if failed:
        print(f"failed: {failed}")
        sys.exit(1)


if __name__ == "__main__":
    main()
