#!/usr/bin/python3
"""Publish throughput over TLS against plain TCP, on one warrend.

A raw AMQP 0-9-1 client (tests/amqp091/rawamqp.py) writes a stream of
unconfirmed basic.publish (method, header, body) to an unbound routing key
on the default exchange, so the broker's work is reading, decrypting,
cutting, decoding and routing: where TLS costs. The stream is encoded once
and written with sendall, plain or through Python's ssl module; the clock
stops when the broker answers a passive queue.declare sent after it, so
every publish has been handled. Best of --reps runs per case, by wall
time; beside it the broker's CPU time per publish (user + system, all its
threads, from /proc), which a busy machine disturbs less than the rate.

    bench/tls/publish.py --warrend build/release/apps/warrend/warrend

Plain connections that stream move to the reader thread (a second core);
TLS connections never do. --reader-threads 0 keeps plain on the broker's
loop too, for a one-thread comparison.
"""
import argparse
import os
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "amqp091"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "amqp10"))

import rawamqp  # noqa: E402
from amqp_harness import Warrend  # noqa: E402
from test_tls import TLS_LISTENING, make_certificates  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time of a process, all threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(host, port, ctx, body_size, count, pid):
    c = rawamqp.RawClient(host, port, timeout=60)
    if ctx is not None:
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
    c.handshake(open_vhost=True)
    c.channel_open(1)
    c.send(rawamqp.queue_declare(1, "tls-bench-sync"))
    c.expect(50, 11, 1)
    batch = 2000
    chunk = rawamqp.publishes(1, "", "nowhere", batch, b"x" * body_size)
    cpu0, me0, t0 = cpu_seconds(pid), time.process_time(), time.monotonic()
    for _ in range(count // batch):
        c.sock.sendall(chunk)
    c.send(rawamqp.queue_declare(1, "tls-bench-sync", passive=True))
    c.expect(50, 11, 1, timeout=120)
    dt, cpu, me = time.monotonic() - t0, cpu_seconds(pid) - cpu0, time.process_time() - me0
    c.close()
    return dt, len(chunk) * (count // batch), cpu, me


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warrend", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--reader-threads", type=int, default=None)
    ap.add_argument("--count", type=int, default=1_000_000, help="publishes of 16 B; a tenth of it for 4 KiB")
    a = ap.parse_args()
    os.environ["WARREN_WARREND"] = a.warrend
    pki_dir = "/tmp/tls-bench-pki"
    os.makedirs(pki_dir, exist_ok=True)
    pki = make_certificates(pki_dir)
    extra = ["--tls", "--tls-port", "0", "--tls-cert", pki["server"], "--tls-key", pki["server_key"]]
    if a.reader_threads is not None:
        extra += ["--amqp-reader-threads", str(a.reader_threads)]
    broker = Warrend(*extra).start()
    tls_port = int(TLS_LISTENING.search(broker.stdout_text()).group(2))
    ctx = ssl.create_default_context(cafile=pki["ca"])
    try:
        print(f"| body | transport | publishes/s (best of {a.reps}) | MB/s on the wire | broker CPU per publish "
              "| client CPU per publish |")
        print("|---|---|---|---|---|---|")
        for body, count in ((16, a.count), (4096, a.count // 10)):
            for name, port, c in (("TCP", broker.port, None), ("TLS 1.3", tls_port, ctx)):
                runs = [run(broker.host, port, c, body, count, broker.p.pid) for _ in range(a.reps)]
                dt, nbytes, _, _ = min(runs)
                cpu, me = min(r[2] for r in runs), min(r[3] for r in runs)
                print(f"| {body} B | {name} | {count / dt:,.0f} | {nbytes / dt / 1e6:,.0f} "
                      f"| {cpu / count * 1e9:,.0f} ns | {me / count * 1e9:,.0f} ns |", flush=True)
    finally:
        problem = broker.stop()
        if problem:
            print(problem, file=sys.stderr)


if __name__ == "__main__":
    main()
