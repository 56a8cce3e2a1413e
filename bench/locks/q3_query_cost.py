"""Q3: what does a "lock still exists / still held" query cost? Round-trip
latency of --count sequential queries of each kind, from one pika client on
the holder's connection, while the lock (a queue with one token, held by a
prefetch-1 consumer) is held:

  passive        queue.declare(passive=true) of the held queue
  redeclare      queue.declare of the held queue with the same arguments
  publish        basic.publish (mandatory) to an existing queue + wait for the
                 confirm (amqp-locks' existence check; the message stays in
                 that queue)
  native-verify  Warren only: publish with x-fencing-token to a held lock
                 queue + wait for the confirm (docs/locks.md)
  qos            basic.qos, the smallest RPC: the floor of a round trip

With --broker-pid, the broker's CPU time (from /proc schedstat) per
query is reported too: the median over --rounds rounds. pika's own cost is
part of every latency; it is the same client for every kind and both
brokers. --target NAME,HOST,PORT,PID (repeated) measures several brokers in
one run, taking turns round by round, so that a load that comes and goes on
the machine hits them alike (run_all.py does this).
"""
import os
import time

import pika

from common import Consumer, Report, arg_parser, close_quietly, connect, fill_tokens, is_warren, main_guard, unique


def cpu_tree(pid):
    """CPU seconds of pid, its threads and its descendants (RabbitMQ's beam is
    below its rabbitmq-server script), from schedstat: nanoseconds, where
    /proc/PID/stat counts 10 ms ticks."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                try:
                    with open(f"/proc/{p}/task/{tid}/schedstat") as f:
                        total += int(f.read().split()[0])
                    with open(f"/proc/{p}/task/{tid}/children") as f:
                        todo += [int(c) for c in f.read().split()]
                except (FileNotFoundError, ProcessLookupError):
                    pass
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1e9


def pct(sorted_us, p):
    return sorted_us[min(len(sorted_us) - 1, int(p / 100 * len(sorted_us)))]


def measure(fn, count, pid):
    """count sequential calls: their latencies (us), the broker's CPU and
    this client's CPU (us per call)."""
    c0 = cpu_tree(pid) if pid else None
    p0 = time.process_time()
    lat = []
    for _ in range(count):
        t = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t) * 1e6)
    client = (time.process_time() - p0) * 1e6
    broker = (cpu_tree(pid) - c0) * 1e6 if pid else None
    return lat, broker, client


class Target:
    """One broker under test: a holder connection with its channels and the
    kinds of query to time on it."""

    def __init__(self, name, host, port, pid):
        self.name, self.pid = name, pid
        self.conn, _ = connect(host, port, heartbeat=0, name="holder")
        self.sem, self.probe = unique("q3-sem"), unique("q3-A")
        fill_tokens(self.conn, self.sem, 1)
        c = Consumer(self.conn, self.sem)
        if not c.wait(1):
            raise RuntimeError("no token")
        q = self.q = self.conn.channel()
        q.queue_declare(self.probe)
        pub = self.conn.channel()
        pub.confirm_delivery()
        sem, probe = self.sem, self.probe
        self.kinds = [
            ("passive", lambda: q.queue_declare(sem, passive=True)),
            ("redeclare", lambda: q.queue_declare(sem)),
            ("publish", lambda: pub.basic_publish("", probe, b"", mandatory=True)),
            ("qos", lambda: q.basic_qos(prefetch_count=0)),
        ]
        self.lock_conn = None
        if is_warren(name):
            lock = unique("q3-lock")
            q.queue_declare(lock, arguments={"x-queue-type": "lock"})
            self.lock_conn, _ = connect(host, port, heartbeat=0, name="lock-holder")
            lc = Consumer(self.lock_conn, lock)
            if not lc.wait(1):
                raise RuntimeError("no grant")
            props = pika.BasicProperties(headers={"x-fencing-token": lc.last()[2].headers["x-fencing-token"]})
            vch = self.lock_conn.channel()
            vch.confirm_delivery()
            self.kinds.insert(3, ("native-verify", lambda: vch.basic_publish("", lock, b"", props)))
        self.lat = {k: [] for k, _ in self.kinds}
        self.broker = {k: [] for k, _ in self.kinds}  # per round, us per query
        self.client = {k: [] for k, _ in self.kinds}

    def round(self, rnd, count):
        order = self.kinds[rnd % len(self.kinds):] + self.kinds[:rnd % len(self.kinds)]
        for k, fn in order:
            lat, b, c = measure(fn, count, self.pid)
            self.lat[k] += lat
            self.broker[k].append((b or 0.0) / count)
            self.client[k].append(c / count)

    def report(self, r):
        p50 = {}
        for k, _ in self.kinds:
            lat = sorted(self.lat[k])
            p50[k] = pct(lat, 50)
            text = f"p50 {p50[k]:.0f} us, p99 {pct(lat, 99):.0f} us, mean {sum(lat) / len(lat):.0f} us"
            if self.pid:
                text += f"; broker CPU {median(self.broker[k]):.0f} us/query"
            text += f"; client CPU {median(self.client[k]):.0f} us/query"
            r.add(k, text)
        for k in ("passive", "redeclare", "native-verify"):
            if k in p50:
                ratio = f"latency {p50[k] / p50['publish']:.2f}"
                if self.pid:
                    ratio += f", broker CPU {median(self.broker[k]) / median(self.broker['publish']):.2f}"
                r.add(f"{k} / publish", ratio)

    def close(self):
        self.q.queue_delete(self.sem)
        self.q.queue_delete(self.probe)
        close_quietly(self.lock_conn)
        close_quietly(self.conn)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    p = arg_parser(__doc__)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--rounds", type=int, default=8, help="the kinds (and targets) take turns, count/rounds at a time")
    p.add_argument("--broker-pid", type=int, help="broker process, for CPU per query")
    p.add_argument("--target", action="append", metavar="NAME,HOST,PORT[,PID]",
                   help="measure several brokers in the same run, taking turns (instead of --host/--port); "
                        "the findings of each go to JSON_PATH.NAME")
    a = p.parse_args()
    specs = []
    for t in a.target or []:
        f = t.split(",")
        specs.append((f[0], f[1], int(f[2]), int(f[3]) if len(f) > 3 else None))
    if not specs:
        specs = [(a.broker, a.host, a.port, a.broker_pid)]
    targets = [Target(*s) for s in specs]
    per = a.count // a.rounds
    load0 = loadavg()
    for t in targets:
        for _, fn in t.kinds:
            for _ in range(a.warmup):
                fn()
    for rnd in range(a.rounds):
        for t in (targets if rnd % 2 == 0 else targets[::-1]):
            t.round(rnd, per)
    load1 = loadavg()
    for t in targets:
        r = Report(3, f"cost of a lock-still-held query ({a.count} sequential queries each)", t.name)
        r.note("latency in microseconds, client and broker on the same host (loopback); pika 1.2 on CPython; "
               f"the kinds take turns in {a.rounds} rounds of {per} queries"
               + (", and the brokers take turns too" if len(targets) > 1 else "")
               + "; CPU per query is the median of the rounds (robust to a busy neighbour in one round)")
        r.note(f"load average {load0} before, {load1} after")
        t.report(r)
        t.close()
        if a.json:
            r.write(f"{a.json}.{t.name}" if a.target else a.json)


if __name__ == "__main__":
    main_guard(main)
