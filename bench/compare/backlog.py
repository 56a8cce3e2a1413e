#!/usr/bin/env python3
"""Backlog and restart, Warren vs RabbitMQ 3.10 (issue 12's last numbers).

For each broker, fresh:
  1. publish N persistent messages of SIZE bytes into one durable queue,
     no consumer, confirms with 256 in flight (warren-perf -x 1 -y 0);
  2. stop it cleanly and start it again on the same data, timing from the
     start until a passive queue.declare reports all N messages;
  3. consume them all, auto-ack (warren-perf -x 0 -y 1 -a -D N).
warren-perf declares the queue durable (-f persistent), not auto-delete.
Each phase's rate, and the broker's peak RSS in each (sampled every 0.2 s),
go to a markdown table and JSON lines in --out.

  bench/compare/backlog.py --messages 10000000 --size 1024 --out bench/results/backlog-DATE.md
Run it through nothing else: it needs build/release (bench/compare/run.sh
builds it) and Debian's rabbitmq-server (run.sh installs it).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from brokers import RabbitMQ, Warren, rss_kib  # noqa: E402
from memory import Conn  # noqa: E402

QUEUE = "compare-backlog"


class PeakRss:
    """The broker's highest RSS while the block runs."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def __enter__(self):
        def sample():
            while not self.stop.is_set():
                try:
                    self.peak = max(self.peak, rss_kib(self.pid))
                except FileNotFoundError:
                    pass
                self.stop.wait(0.2)
        self.t = threading.Thread(target=sample, daemon=True)
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join()


def perf(args, broker, flags, timeout):
    cmd = [args.warren_perf, "-h", broker.uri(), "--json", "-u", QUEUE, "-ad", "false", "-s", str(args.size)] + flags
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stdout[-2000:]} {r.stderr[-2000:]}")
    return json.loads(lines[-1])


def depth(port):
    c = Conn(port)
    try:
        return c.queue_declare(QUEUE, passive=True)[0]
    finally:
        c.close()


def wait_for_depth(port, n, t0, timeout):
    """Polls until a passive declare counts n messages; seconds since t0."""
    while True:
        try:
            if depth(port) == n:
                return time.monotonic() - t0
        except (OSError, RuntimeError):
            pass
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("the backlog did not come back")
        time.sleep(0.02)


def du_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def run(args, broker):
    n = args.messages
    out = {"broker": broker.name, "messages": n, "size": args.size}
    broker.start()
    try:
        with PeakRss(broker.pid) as rss:
            p = perf(args, broker, ["-x", "1", "-y", "0", "-f", "persistent", "-c", "256", "-C", str(n)],
                     timeout=args.timeout)
        out["publish_rate"] = p["send_rate"]
        out["publish_seconds"] = p["seconds"]
        out["confirm_p99_us"] = p["confirm_latency_us"]["p99"]
        out["publish_peak_rss_kib"] = rss.peak
        out["depth_after_publish"] = depth(broker.port)
        out["data_bytes"] = du_bytes(broker.dir)
        sys.stderr.write(f"  {broker.name}: published {n} at {p['send_rate']:,.0f} msg/s, "
                         f"peak RSS {rss.peak / 1024:,.0f} MiB\n")

        # --restarts N: as many stop/start rounds; the table shows the first,
        # the JSON every one (a second restart of Warren reads the segment
        # indexes the first may have written).
        for i in range(args.restarts):
            broker.stop(keep_dir=True)
            t0 = time.monotonic()
            broker.start(fresh=False, timeout=args.timeout)
            with PeakRss(broker.pid) as rss:
                seconds = wait_for_depth(broker.port, n, t0, args.timeout)
                rss_now = rss_kib(broker.pid)
            if i == 0:
                out["restart_seconds"], out["restart_rss_kib"], out["restart_peak_rss_kib"] = seconds, rss_now, rss.peak
            out.setdefault("restarts", []).append({"seconds": round(seconds, 3), "rss_kib": rss_now,
                                                   "peak_rss_kib": rss.peak})
            sys.stderr.write(f"  {broker.name}: serving all {n} after {seconds:.2f} s, "
                             f"RSS {rss_now / 1024:,.0f} MiB (peak {rss.peak / 1024:,.0f})\n")

        with PeakRss(broker.pid) as rss:
            p = perf(args, broker, ["-x", "0", "-y", "1", "-a", "-D", str(n), "-f", "persistent"], timeout=args.timeout)
        out["consume_rate"] = p["receive_rate"]
        out["consume_seconds"] = p["seconds"]
        out["consume_peak_rss_kib"] = rss.peak
        out["received"] = p["received"]
        sys.stderr.write(f"  {broker.name}: consumed at {p['receive_rate']:,.0f} msg/s, "
                         f"peak RSS {rss.peak / 1024:,.0f} MiB\n")
    finally:
        broker.stop()
    return out


def table(results, args):
    by = {r["broker"]: r for r in results}
    rows = [("publish, persistent, confirms (msg/s)", "publish_rate", "{:,.0f}", True),
            ("confirm latency p99 (ms)", "confirm_p99_us", "{:,.1f}", False),
            ("peak RSS while publishing (MiB)", "publish_peak_rss_kib", "{:,.0f}", False),
            ("log / data on disk (GiB)", "data_bytes", "{:,.2f}", False),
            ("restart: start to serving the backlog (s)", "restart_seconds", "{:,.1f}", False),
            ("RSS once serving after the restart (MiB)", "restart_rss_kib", "{:,.0f}", False),
            ("consume, auto-ack (msg/s)", "consume_rate", "{:,.0f}", True),
            ("peak RSS while consuming (MiB)", "consume_peak_rss_kib", "{:,.0f}", False)]
    scale = {"confirm_p99_us": 1e-3, "publish_peak_rss_kib": 1 / 1024, "restart_rss_kib": 1 / 1024,
             "consume_peak_rss_kib": 1 / 1024, "data_bytes": 1 / (1 << 30)}
    L = [f"# Backlog of {args.messages:,} × {args.size} B persistent messages, Warren vs RabbitMQ",
         "", f"{datetime.date.today()}, {os.uname().nodename}, {os.cpu_count()} CPUs. bench/compare/backlog.py.", "",
         "| | Warren | RabbitMQ | Warren / RabbitMQ |", "|---|---|---|---|"]
    for title, key, fmt, higher in rows:
        vals = {b: by[b].get(key) for b in ("Warren", "RabbitMQ") if b in by}
        cells = [fmt.format(vals[b] * scale.get(key, 1)) if vals.get(b) is not None else "-" for b in ("Warren", "RabbitMQ")]
        ratio = "-"
        if vals.get("Warren") and vals.get("RabbitMQ"):
            ratio = f"{vals['Warren'] / vals['RabbitMQ']:.2f}×"
        L.append(f"| {title} | {cells[0]} | {cells[1]} | {ratio} |")
    L += ["", "```"] + [json.dumps(r, sort_keys=True) for r in results] + ["```", ""]
    return "\n".join(L)


def main():
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=10_000_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--only", choices=["warren", "rabbitmq"])
    ap.add_argument("--build-dir", default=os.path.join(root, "build", "release"))
    ap.add_argument("--rabbit-port", type=int, default=5673)
    ap.add_argument("--timeout", type=int, default=3600, help="seconds a phase may take")
    ap.add_argument("--restarts", type=int, default=1, help="stop/start rounds before consuming")
    ap.add_argument("--out", default=os.path.join(root, "bench", "results",
                                                  f"backlog-{datetime.date.today()}.md"))
    args = ap.parse_args()
    args.warren_perf = os.path.join(args.build_dir, "apps", "warren-perf", "warren-perf")
    brokers = []
    if args.only != "rabbitmq":
        brokers.append(Warren(os.path.join(args.build_dir, "apps", "warrend", "warrend")))
    if args.only != "warren":
        brokers.append(RabbitMQ(args.rabbit_port, amqp10=False))
    results = []
    for b in brokers:
        sys.stderr.write(f"{b.name}: {args.messages:,} × {args.size} B\n")
        results.append(run(args, b))
    text = table(results, args)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
