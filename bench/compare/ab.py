#!/usr/bin/python3
"""Warren against Warren: two builds of warrend (A and B, e.g. before and after
a change) on the same machine, in the same run, with the same warren-perf.

For telling whether a change costs throughput or memory. Reuses compare.py's
SCENARIOS, perf() and median() and brokers.py's Warren; no RabbitMQ. Each
round runs every chosen scenario against A then B (odd rounds) or B then A
(even rounds), each broker freshly started for its run and stopped after.
Scenario 9 (memory.py) runs once per build on a fresh broker.

  bench/compare/ab.py --a /tmp/ab-before/build/release --b build/release \
      --a-label before --b-label after --only 1,2,3,9 --rounds 3 --out FILE
"""
import argparse
import json
import os
import resource
import signal
import sys
import time

import brokers
import memory
from compare import SCENARIOS, fmt, machine, median, perf, selected


def binary(build, name):
    return os.path.join(build, "apps", name, name)


def busy_seconds():
    """CPU seconds all cores spent not idle (/proc/stat), and the time now."""
    with open("/proc/stat") as f:
        j = [int(x) for x in f.readline().split()[1:]]
    return (sum(j) - j[3] - j[4]) / os.sysconf("SC_CLK_TCK"), time.monotonic()


def fresh(warrend):
    b = brokers.Warren(warrend)
    b.start()
    return b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="build dir of A (holds apps/warrend/warrend)")
    ap.add_argument("--b", required=True, help="build dir of B")
    ap.add_argument("--a-label", default="A")
    ap.add_argument("--b-label", default="B")
    ap.add_argument("--perf-build", help="build dir whose warren-perf drives both (default: --b)")
    ap.add_argument("--only", help="comma-separated scenario ids as in compare.py (9 = memory)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="also write the markdown table here")
    args = ap.parse_args()
    args.warren_perf = binary(args.perf_build or args.b, "warren-perf")  # perf() reads this
    only = set(args.only.split(",")) if args.only else None
    builds = {args.a_label: binary(args.a, "warrend"), args.b_label: binary(args.b, "warrend")}
    labels = [args.a_label, args.b_label]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # scenario 9: 1,000 connections
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    mach, started = machine(), time.monotonic()
    results, mem, running = {}, {}, []
    try:
        for rnd in range(args.rounds):
            order = labels if rnd % 2 == 0 else labels[::-1]
            for sid, title, flags, seconds in SCENARIOS:
                if not selected(sid, only) or sid == "7":
                    continue
                for label in order:
                    b = fresh(builds[label])
                    running.append(b)
                    (c0, t0), r, (c1, t1) = busy_seconds(), perf(args, b, flags, seconds), busy_seconds()
                    if "error" not in r:  # CPU used by anything else on the machine, % of one core
                        r["other_cpu_percent"] = (100 * (c1 - c0) / (t1 - t0) - r["broker_cpu_percent"]
                                                  - r["cpu"]["percent"])
                    b.stop()
                    running.remove(b)
                    r.update({"scenario": sid, "build": label, "round": rnd + 1})
                    results.setdefault(sid, {l: [] for l in labels})[label].append(r)
                    brief = r.get("error") or (f"{r['receive_rate']:,.0f} msg/s, p99 {r['latency_us']['p99']:,.0f} µs,"
                                               f" load {r['loadavg_1min']:.2f}, other CPU {r['other_cpu_percent']:.0f}%")
                    print(f"round {rnd + 1} {sid} {label}: {brief}", file=sys.stderr, flush=True)
                    time.sleep(0.5)
        if only is None or "9" in only:
            for label in labels:
                b = fresh(builds[label])
                running.append(b)
                mem[label] = {"connections": memory.per_connection(b.port, b.pid),
                              "messages": memory.per_message(b.port, b.pid),
                              "loadavg_1min": os.getloadavg()[0]}
                b.stop()
                running.remove(b)
                print(f"9 {label}: {mem[label]}", file=sys.stderr, flush=True)
    finally:
        for b in running:
            b.stop()

    def m(rs, key, sub=None):
        return median([(r.get(key) or {}).get(sub) if sub else r.get(key) for r in rs if "error" not in r])

    A, B = labels
    L = [f"{args.rounds} round(s), order {A},{B} then {B},{A}; each run on a freshly started warrend; "
         f"warren-perf from {args.warren_perf}; {(time.monotonic() - started) / 60:.1f} min; "
         f"load at start {mach['load']}, at end {open('/proc/loadavg').read().strip()}\n",
         f"| scenario | {A} msg/s | {B} msg/s | {B}/{A} | {A} p99 µs | {B} p99 µs | "
         f"{A} load per run | {B} load per run | other CPU % per run ({A}; {B}) | errors |",
         "|---|---:|---:|---:|---:|---:|---|---|---|---|"]
    for sid, title, flags, _ in SCENARIOS:
        if sid not in results:
            continue
        ra, rb = results[sid][A], results[sid][B]
        va, vb = m(ra, "receive_rate"), m(rb, "receive_rate")
        # p99 of delivery latency; for confirm scenarios the confirm latency's p99 too
        lat = "confirm_latency_us" if sid in ("3", "4", "10-3") else None
        pa, pb = fmt(m(ra, "latency_us", "p99")), fmt(m(rb, "latency_us", "p99"))
        if lat:
            pa += f" (confirm {fmt(m(ra, lat, 'p99'))})"
            pb += f" (confirm {fmt(m(rb, lat, 'p99'))})"
        loads = [" ".join(f"{r['loadavg_1min']:.2f}" for r in rs if "loadavg_1min" in r) for rs in (ra, rb)]
        other = "; ".join(" ".join(f"{r['other_cpu_percent']:.0f}" for r in rs if "error" not in r) for rs in (ra, rb))
        errs = sum("error" in r for r in ra + rb)
        L.append(f"| {sid} {title} | {fmt(va)} | {fmt(vb)} | {fmt(vb / va) if va and vb else '-'} | "
                 f"{pa} | {pb} | {loads[0]} | {loads[1]} | {other} | {errs or ''} |")
    if mem:
        L += ["", f"| scenario 9 | {A} | {B} | {B}/{A} |", "|---|---:|---:|---:|"]
        for key, field, unit, name in (("connections", "bytes_per_connection", 1024, "RSS per idle connection (KiB)"),
                                       ("messages", "bytes_per_message", 1, "RSS per queued 16 B message (B)")):
            va, vb = (mem[l][key][field] / unit for l in labels)
            L.append(f"| {name} | {fmt(va)} | {fmt(vb)} | {fmt(vb / va) if va else '-'} |")
    text = "\n".join(L) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        with open(args.out + ".jsonl", "w") as f:  # every run, for a closer look
            for sid in results:
                for label in labels:
                    for r in results[sid][label]:
                        f.write(json.dumps(r, sort_keys=True) + "\n")
            for label in mem:
                f.write(json.dumps({"scenario": "9", "build": label, **mem[label]}, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
