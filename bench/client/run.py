#!/usr/bin/env python3
"""src/client against rabbitmq-c and amqp091-go: publishing with confirms
(a window of 256 in flight) on Warren and RabbitMQ 3.10, side by side, and
the client's recovery time (issue 14). See bench/client/README.md.

  bench/client/run.py                     # 3 rounds, 200k messages, recovery 20 rounds
  bench/client/run.py --rounds 1 --messages 50000 --recovery-rounds 5 --out /tmp/x.md

Installs what it needs with apt-get if it is missing (golang-go,
golang-github-rabbitmq-amqp091-go-dev, librabbitmq-dev, rabbitmq-server
without starting the system broker); builds warrend, client_bench,
rabbitmqc_confirms and recovery_bench in build/release and the amqp091-go
program with `go build`, offline, against Debian's packaged source; starts
a private warrend and a private RabbitMQ node with bench/compare/brokers.py;
runs every publisher `--rounds` times per case, alternating their order;
then recovery_bench; prints the table of medians and writes it with the
machine, the versions and whatever else used the CPU meanwhile.
"""
import argparse
import datetime
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench/compare"))
import brokers  # noqa: E402
from compare import machine  # noqa: E402

PACKAGES = ["golang-go", "golang-github-rabbitmq-amqp091-go-dev", "librabbitmq-dev", "rabbitmq-server"]
PUBLISHERS = [("src/client", "client_bench"), ("rabbitmq-c", "rabbitmqc_confirms"), ("amqp091-go", "amqp091go_confirms")]
# (broker, body bytes, durable queue + persistent messages)
CASES = [("Warren", 16, False), ("Warren", 1024, False), ("Warren", 16, True),
         ("RabbitMQ", 16, False), ("RabbitMQ", 1024, False)]


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw).stdout.strip()


def installed(pkg):
    return sh(["dpkg-query", "-W", "-f=${Status}", pkg]).endswith("install ok installed")


def ensure_packages():
    """apt-get install what is missing, as bench/compare/run.sh does for
    rabbitmq-server: a policy-rc.d that exits 101 keeps the package from
    starting the system broker."""
    missing = [p for p in PACKAGES if not installed(p)]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing {' '.join(missing)}", file=sys.stderr, flush=True)
    policy = "/usr/sbin/policy-rc.d"
    guard = "rabbitmq-server" in missing and not os.path.exists(policy)
    if guard:
        subprocess.run(sudo + ["sh", "-c", f"printf '#!/bin/sh\\nexit 101\\n' > {policy} && chmod +x {policy}"], check=True)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
        if r.returncode != 0:  # stale package lists
            subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env, check=True)
            subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                           env=env, check=True)
    finally:
        if guard:
            subprocess.run(sudo + ["rm", "-f", policy])


def build(args):
    bd = args.build_dir
    if not os.path.exists(os.path.join(bd, "CMakeCache.txt")):
        subprocess.run(["cmake", "-S", ROOT, "-B", bd, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                        "-DWARREN_TESTS=OFF", "-DWARREN_BENCH=ON"], check=True, stdout=subprocess.DEVNULL)
    # Only these targets; nice, for the other work on the machine.
    subprocess.run(["nice", "-n", "10", "cmake", "--build", bd, "--target", "warrend", "client_bench",
                    "rabbitmqc_confirms", "recovery_bench"], check=True)
    # Offline: GOPATH mode over Debian's packaged source, no module downloads.
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOPROXY="off", GOFLAGS="",
               GOCACHE=os.path.join(bd, "bench/client/go-cache"))
    subprocess.run(["nice", "-n", "10", "go", "build", "-o", os.path.join(bd, "bench/client/amqp091go_confirms"), "."],
                   cwd=os.path.join(HERE, "amqp091go_confirms"), env=env, check=True)


def cpu_ticks():
    """(busy, niced) CPU seconds of the whole machine so far, from /proc/stat:
    busy is user + nice + system + irq + softirq (not idle, iowait or steal),
    niced the nice part alone (other engineers' builds run at nice 10 or 19;
    nothing this script measures is niced)."""
    with open("/proc/stat") as f:
        j = [int(x) for x in f.readline().split()[1:]]
    tck = os.sysconf("SC_CLK_TCK")
    return (j[0] + j[1] + j[2] + j[5] + j[6]) / tck, j[1] / tck


class OtherLoad(threading.Thread):
    """Every 2 s, the CPU each process outside this run used, by (command,
    nice): what ran concurrently (other builds, benchmarks, model checkers).
    A process that lived and ended between two samples (a compiler run)
    shows through its parent's cutime when the parent reaps it: it is
    attributed to the parent (ninja, make, a test driver)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop_ev = threading.Event()
        self.by_name = {}
        self.started = time.monotonic()
        self.last = self.snapshot()

    @staticmethod
    def snapshot():
        """pid -> (comm, nice, ppid, own ticks, reaped children's ticks)."""
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    head, rest = f.read().rsplit(")", 1)
                v = rest.split()
                out[int(pid)] = (head.split("(", 1)[1], int(v[16]), int(v[1]), int(v[11]) + int(v[12]),
                                 int(v[13]) + int(v[14]))
            except (OSError, IndexError, ValueError):
                pass
        return out

    def run(self):
        tck = os.sysconf("SC_CLK_TCK")
        while not self.stop_ev.wait(2):
            ours = set(brokers.descendants(os.getpid()))
            now = self.snapshot()
            # A child seen before and gone now: its parent's cutime will hold
            # all of it, of which the part up to the last sample was counted.
            counted = {}
            for pid, (_, _, ppid, own, kids) in self.last.items():
                if pid not in now:
                    counted[ppid] = counted.get(ppid, 0) + own + kids
            for pid, (comm, nice, _, own, kids) in now.items():
                if pid in ours:
                    continue
                prev = self.last.get(pid)
                d = own + kids - (prev[3] + prev[4] if prev else 0) - counted.get(pid, 0)
                if d > 0:
                    self.by_name[(comm, nice)] = self.by_name.get((comm, nice), 0) + d / tck
            self.last = now

    def report(self, min_share=0.01):
        """[(comm, nice, average % of one core)] over the run, largest first."""
        secs = time.monotonic() - self.started
        rows = [(c, n, 100 * s / secs) for (c, n), s in self.by_name.items() if s / secs >= min_share]
        return sorted(rows, key=lambda r: -r[2])


def parse(out):
    r = {}
    m = re.search(r"^publish: .*: (\d+) msg/s \((\d+) acked, (\d+) not\)", out, re.M)
    if m:
        r["publish"], r["acked"], r["not_acked"] = int(m[1]), int(m[2]), int(m[3])
    m = re.search(r"^publish cpu: ([\d.]+) s, ([\d.]+) us/msg", out, re.M)
    if m:
        r["publish_cpu_us"] = float(m[2])
    m = re.search(r"^consume: (\d+) messages: (\d+) msg/s", out, re.M)
    if m:
        r["consumed"], r["consume"] = int(m[1]), int(m[2])
    return r


def run_one(args, binary, broker, size, durable):
    cmd = [os.path.join(args.build_dir, "bench/client", binary), broker.uri(), "--messages", str(args.messages),
           "--size", str(size), "--window", str(args.window)] + (["--durable"] if durable else [])
    (c0, n0), t0, b0 = cpu_ticks(), time.monotonic(), brokers.cpu_seconds(broker.pid)
    ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        out, rc, err = p.stdout, p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        out, rc, err = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), -1, "timeout"
    (c1, n1), t1, b1 = cpu_ticks(), time.monotonic(), brokers.cpu_seconds(broker.pid)
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = parse(out)
    client_cpu = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
    broker_cpu = b1 - b0
    # % of one core: everything but this publisher and this broker (the
    # other broker idling and interrupt time included), and the niced part.
    r["other_cpu_percent"] = 100 * ((c1 - c0) - client_cpu - broker_cpu) / (t1 - t0)
    r["niced_cpu_percent"] = 100 * (n1 - n0) / (t1 - t0)
    r["loadavg_1min"] = os.getloadavg()[0]
    if rc != 0 or "publish" not in r or r.get("acked") != args.messages:
        r["error"] = f"rc {rc}: {err.strip()[-300:]}"
    return r


def median_of(runs, key):
    vals = [r[key] for r in runs if key in r and "error" not in r]
    return statistics.median(vals) if vals else None


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def built_from(args):
    """The tree the binaries come from: the commit when this run started
    (after building), and when the binaries were last linked."""
    def mtime(rel):
        try:
            return time.strftime("%H:%M", time.localtime(os.path.getmtime(os.path.join(args.build_dir, rel))))
        except OSError:
            return "?"
    return (f"{sh(f'git -C {ROOT} describe --always --dirty')} at the start of the run"
            f"{' (--no-build: binaries as found)' if args.no_build else ''}; warrend linked {mtime('apps/warrend/warrend')}, "
            f"client_bench {mtime('bench/client/client_bench')}, recovery_bench {mtime('bench/client/recovery_bench')}")


def versions(rabbit, warren):
    def dpkg(p):
        return sh(["dpkg-query", "-W", "-f=${Version}", p]) or "?"
    return {
        "warren": warren,
        "rabbitmq": rabbit,
        "rabbitmq-c": "librabbitmq " + dpkg("librabbitmq4"),
        "amqp091-go": dpkg("golang-github-rabbitmq-amqp091-go-dev"),
        "go": sh(["go", "version"]),
        "gcc": sh("c++ --version | head -1"),
    }


def recovery(args):
    cmd = [os.path.join(args.build_dir, "bench/client/recovery_bench"), "--warrend",
           os.path.join(args.build_dir, "apps/warrend/warrend"), "--rounds", str(args.recovery_rounds), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60 + 30 * args.recovery_rounds)
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    rounds = [x for x in lines if "round" in x]
    summary = {x["summary"]: x for x in lines if "summary" in x}
    tail = next((x for x in lines if "failures" in x), {})
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
    return {"rounds": rounds, "summary": summary, "failures": tail.get("failures"),
            "unknown": tail.get("unknown_outcomes"), "stderr": p.stderr.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/release"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=200000)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--recovery-rounds", type=int, default=20)
    ap.add_argument("--rabbit-port", type=int, default=5675)
    ap.add_argument("--no-build", action="store_true", help="use the binaries already in --build-dir")
    ap.add_argument("--out", default=os.path.join(ROOT, f"bench/results/client-{datetime.date.today()}.md"))
    args = ap.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)

    ensure_packages()
    if not args.no_build:
        build(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mach, started, warren_built = machine(), time.monotonic(), built_from(args)
    load = OtherLoad()
    load.start()
    warren = brokers.Warren(os.path.join(args.build_dir, "apps/warrend/warrend"))
    rabbit = brokers.RabbitMQ(args.rabbit_port, amqp10=False)
    results, raw = {}, []
    rabbit_version = "3.10"
    try:
        warren.start()
        rabbit.start()
        rabbit_version = rabbit.version()
        by_name = {"Warren": warren, "RabbitMQ": rabbit}
        for rnd in range(args.rounds):
            order = PUBLISHERS if rnd % 2 == 0 else PUBLISHERS[::-1]
            for case in CASES:
                bname, size, durable = case
                for label, binary in order:
                    r = run_one(args, binary, by_name[bname], size, durable)
                    r.update({"round": rnd + 1, "broker": bname, "size": size, "durable": durable, "client": label})
                    raw.append(r)
                    results.setdefault(case, {}).setdefault(label, []).append(r)
                    brief = r.get("error") or (f"publish {r['publish']:,} msg/s ({r['publish_cpu_us']:.2f} us/msg), "
                                               f"consume {r.get('consume', 0):,} msg/s, other CPU "
                                               f"{r['other_cpu_percent']:.0f}% (niced {r['niced_cpu_percent']:.0f}%)")
                    print(f"round {rnd + 1} {bname} {size} B{' durable' if durable else ''} {label}: {brief}",
                          file=sys.stderr, flush=True)
    finally:
        warren.stop()
        rabbit.stop()
    # Recovery on its own: no other broker running.
    print("recovery_bench ...", file=sys.stderr, flush=True)
    rec = recovery(args)
    load.stop_ev.set()
    elapsed = time.monotonic() - started
    write_report(args, results, raw, rec, mach, versions(rabbit_version, warren_built), load.report(), elapsed)


def write_report(args, results, raw, rec, mach, ver, others, elapsed):
    L = []
    k = f"{args.messages // 1000}k" if args.messages % 1000 == 0 else str(args.messages)
    L.append(f"# src/client against rabbitmq-c and amqp091-go ({datetime.date.today()})")
    L.append("")
    L.append(f"Issue 14: publishing {k} messages with confirms, a window of {args.window} in flight, each "
             f"publisher in its own process on the same machine as the broker; median of {args.rounds} runs "
             "(publisher order alternating per round). Transient messages to a non-durable queue unless "
             "*durable* (durable queue, delivery-mode 2). Then the same process consumes them back "
             "(prefetch 1000, one basic.ack each). `bench/client/run.py`, `bench/client/README.md`.")
    L.append("")
    L.append("## Publishing with confirms (msg/s, higher is better)")
    L.append("")
    L.append("| broker | body | queue | src/client | rabbitmq-c | amqp091-go | src/client ÷ best other |")
    L.append("|---|---|---|---:|---:|---:|---:|")
    for case in CASES:
        if case not in results:
            continue
        b, size, durable = case
        m = {label: median_of(results[case].get(label, []), "publish") for label, _ in PUBLISHERS}
        others_best = max([v for lbl, v in m.items() if lbl != "src/client" and v] or [0])
        ratio = f"{m['src/client'] / others_best:.2f}×" if m["src/client"] and others_best else "—"
        L.append(f"| {b} | {size} B | {'durable' if durable else 'transient'} | {fmt(m['src/client'])} | "
                 f"{fmt(m['rabbitmq-c'])} | {fmt(m['amqp091-go'])} | {ratio} |")
    L.append("")
    L.append("## The publisher's own CPU while publishing (µs per message, lower is better)")
    L.append("")
    L.append("User + system time of the publishing process (all its threads) over the publish phase, "
             "divided by the messages: what the library costs, whichever side is the bottleneck.")
    L.append("")
    L.append("| broker | body | queue | src/client | rabbitmq-c | amqp091-go |")
    L.append("|---|---|---|---:|---:|---:|")
    for case in CASES:
        if case not in results:
            continue
        b, size, durable = case
        m = {label: median_of(results[case].get(label, []), "publish_cpu_us") for label, _ in PUBLISHERS}
        L.append(f"| {b} | {size} B | {'durable' if durable else 'transient'} | {fmt(m['src/client'], 2)} | "
                 f"{fmt(m['rabbitmq-c'], 2)} | {fmt(m['amqp091-go'], 2)} |")
    L.append("")
    L.append("## Consuming them back (msg/s; secondary: not the issue's requirement)")
    L.append("")
    L.append("| broker | body | queue | src/client | rabbitmq-c | amqp091-go |")
    L.append("|---|---|---|---:|---:|---:|")
    for case in CASES:
        if case not in results:
            continue
        b, size, durable = case
        m = {label: median_of(results[case].get(label, []), "consume") for label, _ in PUBLISHERS}
        L.append(f"| {b} | {size} B | {'durable' if durable else 'transient'} | {fmt(m['src/client'])} | "
                 f"{fmt(m['rabbitmq-c'])} | {fmt(m['amqp091-go'])} |")
    L.append("")
    L.append("## Recovery of src/client (ms from the restarted warrend accepting TCP)")
    L.append("")
    L.append(f"`recovery_bench`, {args.recovery_rounds} rounds: a durable queue declared through the client, a "
             "consumer (prefetch 100, acks) and a confirm-mode publisher (persistent 64 B, up to 8 in flight, one "
             "a millisecond; while its channel is down it retries every 100 µs) running, 200 acks into the epoch; "
             "warrend is killed with SIGKILL and started again on the same port and "
             "data dir; the clock starts when a probe connect() to the new process first succeeds (tried "
             "every 100 µs). Client backoff 5 ms doubling to 50 ms, jittered within [b/2, b].")
    L.append("")
    L.append("| measure | median | p90 | max |")
    L.append("|---|---:|---:|---:|")
    names = [("opened", "`opened` event of the new epoch (connection open, topology re-declared, channels reopened)"),
             ("first_publish", "first publish of the new epoch accepted by the channel"),
             ("first_ack", "first publish of the new epoch acked by the broker"),
             ("first_delivery", "first delivery of the new epoch to the consumer"),
             ("restart", "(for reference) kill to the new warrend accepting"),
             ("ack_latency", "(for reference) publish to ack, every acked persistent publish of the run")]
    for key, title in names:
        s = rec["summary"].get(key)
        if s:
            L.append(f"| {title} | {s['median']:.1f} | {s['p90']:.1f} | {s['max']:.1f} |")
    rr = rec["rounds"]
    if rr:
        gap = sorted(x["first_ack_ms"] - x["first_publish_ms"] for x in rr)
        L.append(f"| (derived) first ack − first publish: the broker's write and fdatasync | "
                 f"{statistics.median(gap):.1f} | {gap[min(len(gap) - 1, round(0.9 * (len(gap) - 1)))]:.1f} | "
                 f"{gap[-1]:.1f} |")
        ok_open = sum(x["opened_ms"] <= 100 for x in rr)
        ok_ack = sum(x["first_ack_ms"] <= 100 for x in rr)
        L.append("")
        L.append(f"Within 100 ms of the broker accepting: opened in {ok_open} of {len(rr)} rounds, first publish "
                 f"acked in {ok_ack} of {len(rr)}.")
    L.append("")
    L.append(f"Rounds that did not recover within 10 s: {rec['failures']}; publishes in flight at a kill "
             f"(completed Unknown): {rec['unknown']}.")
    if rec["rounds"]:
        L.append("")
        L.append("Per round (ms after accepting): opened / first publish / first ack / first delivery; restart: " +
                 "; ".join(f"{x['opened_ms']:.1f} / {x['first_publish_ms']:.1f} / {x['first_ack_ms']:.1f} / "
                           f"{x['first_delivery_ms']:.1f}; {x['restart_ms']:.0f}" for x in rec["rounds"]) + ".")
    L.append("")
    L.append("## Machine and versions")
    L.append("")
    L.append(f"- {mach['cpu']}, {mach['cores']} cores, {mach['ram']} RAM, Linux {mach['kernel']}; "
             f"{mach['date']}; load average at the start {mach['load']}; the run took {elapsed / 60:.1f} min")
    L.append(f"- Warren and src/client: {ver['warren']} (Release, {ver['gcc']}; -dirty: other engineers' "
             "uncommitted work was in the shared tree)")
    L.append(f"- RabbitMQ {ver['rabbitmq']} (Debian), a private node started by bench/compare/brokers.py")
    L.append(f"- rabbitmq-c: {ver['rabbitmq-c']} (Debian librabbitmq-dev); amqp091-go {ver['amqp091-go']} "
             f"(Debian golang-github-rabbitmq-amqp091-go-dev), {ver['go']}")
    L.append("- brokers and publishers share the 2 cores (publisher, broker, and for amqp091-go its runtime threads)")
    if others:
        L.append("- concurrently on the machine (CPU of processes outside this run, averaged over the whole run, "
                 "% of one core): " + ", ".join(f"{c} (nice {n}) {p:.0f}%" for c, n, p in others[:8]))
    else:
        L.append("- nothing else used a noticeable share of the CPU during the run")
    oc = [r["other_cpu_percent"] for r in raw if "error" not in r]
    nc = [r["niced_cpu_percent"] for r in raw if "error" not in r]
    if oc:
        L.append(f"- other CPU per publisher run (the whole machine's busy time from /proc/stat minus this "
                 f"publisher and this broker, % of one core; includes the other broker idling and interrupt "
                 f"time): median {statistics.median(oc):.0f}%, max {max(oc):.0f}%; of it niced (other "
                 f"builds): median {statistics.median(nc):.0f}%, max {max(nc):.0f}%; "
                 f"{sum(x >= 50 for x in oc)} of {len(oc)} runs had half a core or more of other load")
    errs = [r for r in raw if "error" in r]
    if errs:
        L.append(f"- errors: " + "; ".join(f"{r['broker']} {r['size']} B {r['client']} round {r['round']}: "
                                           f"{r['error']}" for r in errs))
    L.append("")
    L.append("## Every run")
    L.append("")
    L.append("| broker | body | queue | publisher | publish msg/s per round | µs CPU/msg per round | "
             "other CPU % per round (niced) |")
    L.append("|---|---|---|---|---|---|---|")
    for case in CASES:
        for label, _ in PUBLISHERS:
            rs = results.get(case, {}).get(label, [])
            if not rs:
                continue
            b, size, durable = case
            L.append(f"| {b} | {size} B | {'durable' if durable else 'transient'} | {label} | " +
                     ", ".join(fmt(r.get("publish")) for r in rs) + " | " +
                     ", ".join(fmt(r.get("publish_cpu_us"), 2) for r in rs) + " | " +
                     ", ".join(f"{r['other_cpu_percent']:.0f} ({r['niced_cpu_percent']:.0f})" for r in rs) + " |")
    text = "\n".join(L) + "\n"
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
