#!/usr/bin/env python3
"""Lock cycles over AMQP, Warren against RabbitMQ 3.10, in one run.

For each broker: a publish + consume round trip (the floor), then
lock_bench's cycle (acquire, release) with 1 and 64 contending clients for
Warren's native lock and for each mutex recipe of amqp-locks (with the
counter queue's fencing token, and single-queue also without), and
socketlock_bench's write cycle for socketlock. Writes a markdown table.

  bench/locks/run.py --seconds 5 --out bench/results/locks-DATE.md

Needs build/release (lock_bench, socketlock_bench, warrend) and Debian's
rabbitmq-server.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench/compare"))
from brokers import RabbitMQ, Warren  # noqa: E402

MUTEX_RECIPES = ["exclusive-queue", "exclusive-consumer", "single-queue", "token-semaphore-alo"]


def bench(build, port, broker, args):
    cmd = [os.path.join(build, "bench/locks/lock_bench"), "--port", str(port), "--broker", broker, "--json", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/release"))
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", default="1,64")
    ap.add_argument("--rabbit-port", type=int, default=5674)
    ap.add_argument("--out", default=os.path.join(ROOT, f"bench/results/locks-{datetime.date.today()}.md"))
    args = ap.parse_args()
    rows = []
    secs = ["--seconds", str(args.seconds)]
    for broker in (Warren(os.path.join(args.build_dir, "apps/warrend/warrend")), RabbitMQ(args.rabbit_port, amqp10=False)):
        broker.start()
        try:
            name = broker.name
            rows += bench(args.build_dir, broker.port, name, ["--baseline", *secs])
            recipes = (["native"] if name == "Warren" else []) + MUTEX_RECIPES
            for r in recipes:
                rows += bench(args.build_dir, broker.port, name, ["--recipe", r, "--clients", args.clients, *secs])
                print(rows[-1], flush=True)
            rows += bench(args.build_dir, broker.port, name,
                          ["--recipe", "single-queue", "--no-fence", "--clients", args.clients, *secs])
        finally:
            broker.stop()
    sl = subprocess.run([os.path.join(args.build_dir, "bench/socketlock/socketlock_bench"), "--only", "write",
                         "--clients", args.clients, "--seconds", str(args.seconds), "--json"],
                        capture_output=True, text=True, timeout=600)
    try:
        for j in json.loads(sl.stdout)["rows"]:
            rows.append({"broker": "socketlock (Unix socket)", "what": "write lock", "clients": j["clients"],
                         "cycles_per_s": j["cycles_per_s"], "p50_ms": j["p50_us"] / 1000, "p99_ms": j["p99_us"] / 1000,
                         "errors": 0})
    except (ValueError, KeyError):
        print("socketlock_bench gave no JSON:", sl.stderr[-500:], file=sys.stderr)
    with open(args.out, "w") as f:
        f.write(f"# Lock cycles, {datetime.date.today()}\n\n`bench/locks/run.py --seconds {args.seconds} "
                f"--clients {args.clients}` on this 2-core VM. A cycle is acquire then release; with 64 clients on "
                "one mutex, 63 wait in line, so cycles/s is the lock's throughput and p50/p99 include the wait.\n\n")
        f.write("| broker | what | clients | cycles/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['broker']} | {r['what']} | {r['clients']} | {float(r['cycles_per_s']):,.0f} | "
                    f"{float(r['p50_ms']):.3f} | {float(r['p99_ms']):.3f} | {r['errors']} |\n")
    print(open(args.out).read())


if __name__ == "__main__":
    sys.exit(main())
