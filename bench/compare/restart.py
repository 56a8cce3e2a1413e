#!/usr/bin/env python3
"""Restart time and RSS of warrend builds on one kept data directory.

Publishes N persistent messages of SIZE bytes into one durable queue once
(confirms, 256 in flight; with the first build), then, for each round,
restarts each build in turn on the same data directory and times it from
start until a passive queue.declare counts all N; reads its RSS then, and
the recovery time `warrend` logs. Builds alternate round by round, so a
busy machine slows them alike. An older build ignores what a newer one
adds beside its segments (index files), so both run on the same bytes.

  bench/compare/restart.py --warrend OLD/warrend --warrend NEW/warrend \\
      --messages 2000000 --rounds 3 --out bench/results/restart-DATE.md
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from backlog import QUEUE, du_bytes, wait_for_depth  # noqa: E402
from brokers import Warren, rss_kib  # noqa: E402


def restart(args, warrend, data_dir):
    w = Warren(warrend, log_level="info")  # its recovery line
    w.dir = data_dir
    t0 = time.monotonic()
    w.start(fresh=False, timeout=args.timeout)
    seconds = wait_for_depth(w.port, args.messages, t0, args.timeout)
    rss = rss_kib(w.pid)
    w.stop(keep_dir=True)
    log = open(os.path.join(data_dir, "warrend.log")).read()
    found = re.findall(r"recovered from .* in (\d+) ms", log)
    return {"seconds": round(seconds, 3), "rss_kib": rss, "recovery_ms": int(found[-1]) if found else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warrend", action="append", required=True, help="a warrend binary (repeat)")
    ap.add_argument("--warren-perf", help="default: beside the first warrend's build")
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", help="a data directory to reuse (published into if new)")
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--out")
    args = ap.parse_args()
    perf = args.warren_perf or os.path.join(os.path.dirname(args.warrend[0]), "..", "warren-perf", "warren-perf")
    data = args.data or f"/tmp/restart-bench-{args.messages}"
    if not os.path.isdir(os.path.join(data, "store")):
        os.makedirs(data, exist_ok=True)
        w = Warren(args.warrend[0])
        w.dir = data
        w.start(fresh=False)
        cmd = [perf, "-h", w.uri(), "--json", "-u", QUEUE, "-ad", "false", "-s", str(args.size), "-x", "1", "-y", "0",
               "-f", "persistent", "-c", "256", "-C", str(args.messages)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        w.stop(keep_dir=True)
        if r.returncode != 0:
            raise RuntimeError(f"publishing failed: {r.stdout[-1000:]} {r.stderr[-1000:]}")
        sys.stderr.write(f"published {args.messages:,} into {data}\n")
    runs = {b: [] for b in args.warrend}
    for i in range(args.rounds):
        for b in args.warrend:
            r = restart(args, b, data)
            runs[b].append(r)
            sys.stderr.write(f"round {i + 1}: {b}: {r['seconds']:.2f} s to serving, recovery {r['recovery_ms']} ms, "
                             f"RSS {r['rss_kib'] / 1024:,.0f} MiB\n")
    L = [f"# Restart with {args.messages:,} × {args.size} B persistent messages in one durable queue", "",
         f"{datetime.date.today()}, {os.uname().nodename}, {os.cpu_count()} CPUs, load average before "
         f"{os.getloadavg()[0]:.1f}. bench/compare/restart.py, {args.rounds} rounds, builds alternating; "
         f"log {du_bytes(os.path.join(data, 'store')) / (1 << 30):.2f} GiB on disk.", "",
         "| build | start to serving, each round (s) | recovery logged, each round (ms) | RSS serving, median (MiB) |",
         "|---|---|---|---:|"]
    for b, rs in runs.items():
        secs = ", ".join(f"{r['seconds']:.2f}" for r in rs)
        recs = ", ".join(str(r["recovery_ms"]) for r in rs)
        L.append(f"| {b} | {secs} | {recs} | {statistics.median(r['rss_kib'] for r in rs) / 1024:,.0f} |")
    L += ["", "```"] + [json.dumps({"warrend": b, "runs": rs}) for b, rs in runs.items()] + ["```", ""]
    text = "\n".join(L)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
