#!/usr/bin/python3
"""What watching warrend costs: issue 15's "with the API, metrics and console
in use (scraped every 5 s, a console open), the transient and durable
benchmarks lose at most 3%".

Each round runs the chosen bench/compare scenarios (default 1, 3 and 4:
transient auto-ack, transient with confirms, durable with confirms) against
three warrends, in an order that rotates every round:

  off       --no-management --no-prometheus (the baseline)
  idle      the API and Prometheus served, nobody asking
  observed  served, and asked as in production: Prometheus scrapes
            /metrics and /metrics/per-object every 5 s, and a console
            polls what its overview and queues pages read (/api/overview,
            /api/queues with the console's columns) every 5 s

and prints the medians with observed / off. Runs are 15 s (three scrapes
each). On a shared or busy machine the throughput's own noise is larger than
3%, so the script also measures what the observation itself costs, which
noise does not blur: a warrend holding the benchmark's queues is observed
for 60 s with no traffic, and its CPU time over that window (from /proc)
and the broker loop's time spent on the requests' snapshots (the answers'
X-Warren-Loop-Microseconds) are reported per 5 s period, as a share of one
core and of the loop. A Release build:

  bench/mgmt/overhead.py --build-dir build/release --rounds 5 --out bench/results/mgmt-overhead-DATE.md
"""
import argparse
import base64
import os
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compare"))
import brokers  # noqa: E402
from compare import SCENARIOS, machine, median, perf  # noqa: E402

INTERVAL = 5.0
CONSOLE_PATHS = ["/api/overview",
                 "/api/queues?columns=name,vhost,messages,messages_ready,messages_unacknowledged,consumers,"
                 "message_stats.publish_details,message_stats.deliver_get_details&page=1&page_size=100"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Observer(threading.Thread):
    """Prometheus and a console, on their 5 s cadences (the console half a
    period after the scrape, as two independent pollers would fall)."""

    def __init__(self, api_port, prom_port):
        super().__init__(daemon=True)
        self.api, self.prom = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{prom_port}"
        self.stop_event = threading.Event()
        self.requests = 0
        self.errors = 0
        self.loop_us = 0  # the broker loop's time on these requests' snapshots

    def get(self, url, auth):
        req = urllib.request.Request(url)
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                r.read()
                self.loop_us += int(r.headers.get("X-Warren-Loop-Microseconds", "0"))
            self.requests += 1
        except OSError:
            self.errors += 1

    def run(self):
        tick = 0
        while not self.stop_event.wait(INTERVAL / 2):
            if tick % 2 == 0:
                for path in ("/metrics", "/metrics/per-object"):
                    self.get(self.prom + path, auth=False)
            else:
                for path in CONSOLE_PATHS:
                    self.get(self.api + path, auth=True)
            tick += 1

    def stop(self):
        self.stop_event.set()
        self.join()


def run_variant(args, warrend, variant, scenarios, seconds):
    ports = None if variant == "off" else (free_port(), free_port())
    broker = brokers.Warren(warrend, management=ports)
    broker.start()
    observer = None
    try:
        if variant == "observed":
            observer = Observer(*ports)
            observer.start()
        out = {}
        for sid, title, flags, _ in scenarios:
            out[sid] = perf(args, broker, flags, seconds)
        if observer:
            observer.stop()
            out["_requests"], out["_errors"] = observer.requests, observer.errors
        return out
    finally:
        if observer and observer.is_alive():
            observer.stop()
        broker.stop()


def observation_cost(warrend, scenarios, seconds=60):
    """CPU seconds warrend spends, and loop microseconds, being observed for
    `seconds` with no traffic, its queues declared (warren-perf's, 100 more)."""
    ports = (free_port(), free_port())
    broker = brokers.Warren(warrend, management=ports)
    broker.start()
    try:
        import pika
        conn = pika.BlockingConnection(pika.URLParameters(broker.uri()))
        ch = conn.channel()
        for i in range(100):
            ch.queue_declare(f"observed-{i}")
        conn.close()
        time.sleep(1)
        cpu0 = brokers.cpu_seconds(broker.pid)
        observer = Observer(*ports)
        observer.start()
        time.sleep(seconds)
        observer.stop()
        cpu = brokers.cpu_seconds(broker.pid) - cpu0
        return {"seconds": seconds, "cpu_s": cpu, "loop_us": observer.loop_us, "requests": observer.requests,
                "errors": observer.errors}
    finally:
        broker.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "release"))
    ap.add_argument("--only", default="1,3,4", help="bench/compare scenario ids")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--out")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    warrend = os.path.join(build, "apps", "warrend", "warrend")
    args.warren_perf = os.path.join(build, "apps", "warren-perf", "warren-perf")
    only = set(args.only.split(","))
    scenarios = [s for s in SCENARIOS if s[0] in only]  # exact ids: "4" is not 4b..4g
    variants = ["off", "idle", "observed"]
    results = {v: {s[0]: [] for s in scenarios} for v in variants}
    requests = []
    for r in range(args.rounds):
        order = variants[r % 3:] + variants[:r % 3]
        for v in order:
            got = run_variant(args, warrend, v, scenarios, args.seconds)
            if v == "observed":
                requests.append((got.pop("_requests"), got.pop("_errors")))
            for sid, res in got.items():
                results[v][sid].append(res)
                rate = res.get("receive_rate")
                print(f"round {r + 1} {v:8} {sid:3} {rate if rate is not None else res.get('error')}", flush=True)
    lines = [f"# What watching warrend costs ({time.strftime('%Y-%m-%d')})", "",
             f"`bench/mgmt/overhead.py --rounds {args.rounds} --seconds {args.seconds} --only {args.only}`; "
             f"machine: {machine()}", "",
             "| scenario | off (msg/s) | idle | observed | observed / off | broker CPU off → observed |",
             "|---|---|---|---|---|---|"]
    for sid, title, _, _ in scenarios:
        def m(v, key):
            return median([x.get(key) for x in results[v][sid] if "error" not in x])
        off, idle, obs = (m(v, "receive_rate") for v in variants)
        ratio = f"{obs / off:.3f}" if off and obs else "—"
        cpu = f"{m('off', 'broker_cpu_percent') or 0:.0f}% → {m('observed', 'broker_cpu_percent') or 0:.0f}%"
        lines.append(f"| {sid}: {title} | {off or 0:,.0f} | {idle or 0:,.0f} | {obs or 0:,.0f} | {ratio} | {cpu} |")
    lines += ["", f"Observer requests per observed run (ok, failed): {requests}"]
    cost = observation_cost(warrend, scenarios)
    periods = cost["seconds"] / INTERVAL
    lines += ["", f"What observing costs, without traffic ({cost['seconds']} s, 100 queues, {cost['requests']} "
              f"requests, {cost['errors']} failed): warrend's CPU {cost['cpu_s'] * 1000 / periods:.1f} ms per 5 s "
              f"({100 * cost['cpu_s'] / cost['seconds']:.2f}% of one core); the broker's loop "
              f"{cost['loop_us'] / periods / 1000:.2f} ms per 5 s ({cost['loop_us'] / 1e4 / cost['seconds']:.3f}% of its "
              f"time)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
