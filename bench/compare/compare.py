#!/usr/bin/python3
"""Warren vs RabbitMQ 3.10 on the same machine, in the same run (README.md).

Starts both brokers, runs each scenario of issue 5 against both with
warren-perf, alternating A B / B A over the rounds, and writes a table of
medians with the ratio Warren / RabbitMQ to bench/results/compare-<date>.md.
"""
import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

import brokers
import memory

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# (id, title, warren-perf flags, run seconds). Throughput runs use -z; the
# broker's CPU is read around each run.
SCENARIOS = [
    ("1", "1p1c 16 B, no confirms, auto-ack", "-x 1 -y 1 -s 16 -a", 5),
    ("2", "1p1c 16 B, manual acks, multi-ack 100, prefetch 1000", "-x 1 -y 1 -s 16 -A 100 -q 1000", 5),
    ("3", "1p1c 16 B, confirms (-c 256), transient, auto-ack", "-x 1 -y 1 -s 16 -c 256 -a", 5),
    ("4", "1p1c 16 B, durable queue, persistent, confirms (-c 256)",
     "-x 1 -y 1 -s 16 -c 256 -a -f persistent -u compare-durable", 5),
    # More of issue 12's durable scenarios: bodies, fan-out (one write per
    # message, not ten), two producers and two consumers.
    ("4b", "1p1c 1 KiB, durable queue, persistent, confirms (-c 256)",
     "-x 1 -y 1 -s 1024 -c 256 -a -f persistent -u compare-durable-1k", 5),
    ("4c", "1p1c 64 KiB, durable queue, persistent, confirms (-c 256)",
     "-x 1 -y 1 -s 65536 -c 256 -a -f persistent -u compare-durable-64k", 5),
    # Issue 12's large bodies: 1 MiB spans eight frames at the client's
    # default frame_max (128 KiB), both ways.
    ("4g", "1p1c 1 MiB, durable queue, persistent, confirms (-c 256)",
     "-x 1 -y 1 -s 1048576 -c 256 -a -f persistent -u compare-durable-1m", 5),
    ("4d", "fan-out to 10 durable queues, persistent 16 B, confirms (-c 256)",
     "-x 1 -y 10 -s 16 -c 256 -a -f persistent -e compare-dfanout -t fanout "
     "--queue-pattern compare-dfan-%d --queue-pattern-from 1 --queue-pattern-to 10", 5),
    ("4e", "2p2c 16 B, durable queue, persistent, confirms (-c 256 each)",
     "-x 2 -y 2 -s 16 -c 256 -a -f persistent -u compare-durable-2", 5),
    # No consumer: every message is written and synced before its confirm
    # (with a consumer keeping up, most are settled before their batch is
    # written, and neither broker writes those).
    ("4f", "1 producer, no consumer, 16 B, durable queue, persistent, confirms (-c 256)",
     "-x 1 -y 0 -s 16 -c 256 -f persistent -u compare-durable-backlog -ad false", 5),
    ("5a", "1p1c 1 KiB, auto-ack", "-x 1 -y 1 -s 1024 -a", 5),
    ("5b", "1p1c 64 KiB, auto-ack", "-x 1 -y 1 -s 65536 -a", 5),
    ("5c", "1p1c 1 MiB, auto-ack", "-x 1 -y 1 -s 1048576 -a", 5),
    ("6", "fan-out to 10 queues (1 producer, 10 consumers), 16 B, auto-ack",
     "-x 1 -y 10 -s 16 -a -e compare-fanout -t fanout", 5),
    ("7", "1,000 queues, 1 producer + 1 consumer each, 10 msg/s each",
     "-x 1000 -y 1000 -s 16 -a -r 10 --queue-pattern compare-%d --queue-pattern-from 1 --queue-pattern-to 1000", 8),
    ("8-1k", "latency at 1k msg/s", "-x 1 -y 1 -s 16 -a -r 1000", 5),
    ("8-10k", "latency at 10k msg/s", "-x 1 -y 1 -s 16 -a -r 10000", 5),
    ("8-100k", "latency at 100k msg/s", "-x 1 -y 1 -s 16 -a -r 100000", 5),
    # Scenario 10: 1 and 3 over AMQP 1.0 (RabbitMQ: its rabbitmq_amqp1_0 plugin).
    # Without -u, warren-perf's links use /exchange/direct/KEY (apps/warren-perf/README.md).
    ("10-1", "AMQP 1.0: 1p1c 16 B, pre-settled sends, pre-settled deliveries", "-x 1 -y 1 -s 16 -a --protocol amqp10", 5),
    ("10-3", "AMQP 1.0: 1p1c 16 B, unsettled sends (-c 256), pre-settled deliveries",
     "-x 1 -y 1 -s 16 -c 256 -a --protocol amqp10", 5),
]


def selected(sid, only):
    """--only 10 picks 10-1 and 10-3, --only 8 all of 8-*, --only 5 both 5a and 5b;
    --only 8-1k or 5a just that one."""
    group = sid.split("-")[0].rstrip("abcdefghijklmnopqrstuvwxyz")
    return not only or sid in only or sid.split("-")[0] in only or group in only


def perf(args, broker, extra, seconds):
    cmd = [args.warren_perf, "-h", broker.uri(), "--json", "-z", str(seconds)] + extra.split()
    cpu0, t0 = brokers.cpu_seconds(broker.pid), time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 240)
    cpu1, t1 = brokers.cpu_seconds(broker.pid), time.monotonic()
    lines = [l for l in run.stdout.splitlines() if l.startswith("{")]
    if run.returncode not in (0, 1) or not lines:
        errors = [l for l in run.stderr.splitlines() if "error" in l] or run.stderr.splitlines()[-3:]
        return {"error": f"exit {run.returncode}: " + " | ".join(errors)[:600], "cmd": " ".join(cmd)}
    r = json.loads(lines[0])
    # The broker's CPU over the whole warren-perf process (connection setup included).
    r["broker_cpu_percent"] = 100.0 * (cpu1 - cpu0) / (t1 - t0)
    r["cmd"] = " ".join(cmd[:1] + ["-h", "URI"] + cmd[3:])
    r["loadavg_1min"] = os.getloadavg()[0]  # other work on the machine shows here
    return r


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio_text(w, r):
    if w is None or not r:
        return "-"
    q = w / r
    return f"1/{1 / q:,.0f}" if 0 < q < 0.1 else fmt(q) + "×"


def fmt(v, unit=""):
    if v is None:
        return "-"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except Exception:
            return "?"
    cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -1")
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram": mem, "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        # -dirty: the tree had uncommitted changes (other work in progress) when it was built
        "commit": sh(f"git -C {ROOT} describe --always --dirty"),
        "load": sh("cat /proc/loadavg"),
        # BBR paces loopback too: large bodies run ~40% slower under it here (README)
        "cc": sh("cat /proc/sys/net/ipv4/tcp_congestion_control"),
    }


def rows_for(sid, results):
    """Table rows (metric, lower_is_better, values per broker) of one scenario."""
    def m(key, broker, sub=None):
        vals = []
        for r in results[broker]:
            if "error" in r:
                continue
            v = r.get(key)
            if sub:
                v = (v or {}).get(sub)
            vals.append(v)
        return median(vals)

    if sid.startswith("8"):
        return [(f"latency {p} (µs)", True, {b: m("latency_us", b, p) for b in results})
                for p in ("p50", "p99", "p99.9")] + \
               [("received (msg/s)", False, {b: m("receive_rate", b) for b in results})]
    if sid == "7":
        return [("broker CPU (%)", True, {b: m("broker_cpu_percent", b) for b in results}),
                ("received (msg/s)", False, {b: m("receive_rate", b) for b in results}),
                ("latency p99 (µs)", True, {b: m("latency_us", b, "p99") for b in results})]
    rows = [("received (msg/s)", False, {b: m("receive_rate", b) for b in results}),
            ("sent (msg/s)", False, {b: m("send_rate", b) for b in results})]
    if sid in ("3", "10-3") or sid.startswith("4"):
        rows.append(("confirm latency p99 (µs)", True, {b: m("confirm_latency_us", b, "p99") for b in results}))
    rows.append(("broker CPU (%)", None, {b: m("broker_cpu_percent", b) for b in results}))
    rows.append(("warren-perf CPU (%)", None, {b: m("cpu", b, "percent") for b in results}))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one round")
    ap.add_argument("--only", help="comma-separated scenario ids (1,2,...,8-1k,9,10); a prefix before '-' picks the group")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--rabbit-port", type=int, default=5673)
    ap.add_argument("--out", help="results file (default bench/results/compare-<date>.md)")
    args = ap.parse_args()
    if args.quick:
        args.rounds = 1
    args.warren_perf = os.path.join(args.build_dir, "apps", "warren-perf", "warren-perf")
    warrend = os.path.join(args.build_dir, "apps", "warrend", "warrend")
    only = set(args.only.split(",")) if args.only else None
    out = args.out or os.path.join(ROOT, "bench", "results",
                                   f"compare-{datetime.date.today().isoformat()}.md")

    warren, rabbit = brokers.Warren(warrend), brokers.RabbitMQ(args.rabbit_port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    load_at_start = open("/proc/loadavg").read().strip()
    raw = []
    results = {}
    mem = {}
    try:
        print("starting warrend and RabbitMQ ...", file=sys.stderr)
        warren.start()
        rabbit.start()
        rabbit_version = rabbit.version()
        for rnd in range(args.rounds):
            order = [warren, rabbit] if rnd % 2 == 0 else [rabbit, warren]
            for sid, title, flags, seconds in SCENARIOS:
                if not selected(sid, only):
                    continue
                if sid == "7" and rnd > 0:
                    continue  # 2,000 connections take long to set up: one round is enough for an idle cost
                for b in order:
                    r = perf(args, b, flags, seconds)
                    r.update({"scenario": sid, "broker": b.name, "round": rnd + 1})
                    raw.append(r)
                    results.setdefault(sid, {warren.name: [], rabbit.name: []})[b.name].append(r)
                    brief = r.get("error") or f"{r['receive_rate']:,.0f} msg/s received, " \
                                              f"p99 {r['latency_us']['p99']:,.0f} µs"
                    print(f"round {rnd + 1} scenario {sid} {b.name}: {brief}", file=sys.stderr)
                    time.sleep(0.5)
        if not only or "9" in only:
            for b in (warren, rabbit):
                # On a fresh broker: memory freed by earlier scenarios would be reused and hide the cost.
                print(f"scenario 9 {b.name}: restarting, then memory ...", file=sys.stderr)
                b.stop()
                b.start()
                mem[b.name] = {"connections": memory.per_connection(b.port, b.pid),
                               "messages": memory.per_message(b.port, b.pid)}
                raw.append({"scenario": "9", "broker": b.name, **mem[b.name]})
    finally:
        print("stopping the brokers ...", file=sys.stderr)
        warren.stop()
        rabbit.stop()

    mach = machine()
    mach["load"] = f"{load_at_start} at the start, {mach['load']} at the end"
    write_report(out, args, results, mem, raw, mach, rabbit_version, time.monotonic() - started)
    print(open(out).read().split("## Raw")[0])
    print(f"written to {out}", file=sys.stderr)


def write_report(out, args, results, mem, raw, mach, rabbit_version, elapsed):
    L = []
    L.append(f"# Warren vs RabbitMQ, {mach['date']}\n")
    L.append(f"`bench/compare/run.sh{' --quick' if args.rounds == 1 else ''}"
             f"{' --only ' + args.only if args.only else ''}` "
             f"({args.rounds} round(s), brokers alternated A B / B A; medians; scenarios 7 and 9 run once; "
             f"{elapsed / 60:.1f} min in all)\n")
    L.append(f"- machine: {mach['cpu']}, {mach['cores']} cores, {mach['ram']} RAM, Linux {mach['kernel']}, "
             f"TCP congestion control {mach['cc']}")
    L.append(f"- Warren commit {mach['commit']} (Release); RabbitMQ {rabbit_version} (Debian), "
             f"Erlang defaults, its own node and data dir")
    L.append(f"- load generator: warren-perf on the same 2 cores as the broker; load average (/proc/loadavg) {mach['load']}")
    L.append("- ratio: Warren / RabbitMQ; for latency and CPU rows lower is better\n")
    L.append("| scenario | metric | Warren | RabbitMQ | ratio |")
    L.append("|---|---|---:|---:|---:|")
    for sid, title, flags, _ in SCENARIOS:
        if sid not in results:
            continue
        for i, (metric, _, vals) in enumerate(rows_for(sid, results[sid])):
            w, r = vals.get("Warren"), vals.get("RabbitMQ")
            ratio = ratio_text(w, r)
            L.append(f"| {sid + ' ' + title if i == 0 else ''} | {metric} | {fmt(w)} | {fmt(r)} | {ratio} |")
    if mem:
        w, r = mem.get("Warren", {}), mem.get("RabbitMQ", {})
        for key, metric, unit in (("connections", "RSS per idle connection (KiB)", 1024),
                                  ("messages", "RSS per queued 16 B message (B)", 1)):
            field = "bytes_per_connection" if key == "connections" else "bytes_per_message"
            wv = w.get(key, {}).get(field)
            rv = r.get(key, {}).get(field)
            wv = wv / unit if wv is not None else None
            rv = rv / unit if rv is not None else None
            ratio = ratio_text(wv, rv)
            title = "9 memory: 1,000 idle connections; 1M queued messages" if key == "connections" else ""
            L.append(f"| {title} | {metric} | {fmt(wv)} | {fmt(rv)} | {ratio} |")
    L.append("\nScenario flags (warren-perf, PerfTest's meanings):\n")
    for sid, title, flags, seconds in SCENARIOS:
        L.append(f"- {sid}: `warren-perf {flags} -z {seconds}`")
    L.append("- 9: bench/compare/memory.py: RSS (VmRSS; RabbitMQ: beam.smp) before and after 1,000 raw-socket "
             "connections with one channel each, and before and after 1,000,000 queued 16 B messages")
    L.append("\n## Raw results (one JSON object per run)\n")
    L.append("```")
    for r in raw:
        L.append(json.dumps(r, sort_keys=True))
    L.append("```")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
