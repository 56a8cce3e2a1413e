#!/usr/bin/env python3
"""The kernel's floor for a broker on this machine: a "null broker".

A producer writes SIZE-byte messages over TCP loopback to a relay, which
reads them into one buffer and writes them on to a consumer: two TCP hops,
three processes, no protocol, no copy in user space, blocking calls, as
in bench/compare's 1 producer / 1 consumer scenarios. What it reaches is
what the machine's TCP allows any broker with the load generator on the
same cores; the relay's CPU per MiB is the least a broker can spend.

  bench/net/relay_floor.py [--size 1048576] [--seconds 5] [--rounds 3]
"""
import argparse
import os
import socket
import time


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def fork(fn):
    pid = os.fork()
    if pid == 0:
        try:
            fn()
        finally:
            os._exit(0)
    return pid


def run(size, seconds):
    to_relay, to_consumer = listener(), listener()
    r_end, w_end = os.pipe()

    def producer():
        s = socket.create_connection(to_relay.getsockname())
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msg = os.urandom(size)
        try:
            while True:
                s.sendall(msg)
        except OSError:
            pass

    def relay():
        a, _ = to_relay.accept()
        b = socket.create_connection(to_consumer.getsockname())
        b.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = memoryview(bytearray(4 << 20))
        try:
            while True:
                n = a.recv_into(buf)
                if n == 0:
                    return
                b.sendall(buf[:n])
        except OSError:
            pass

    def consumer():
        c, _ = to_consumer.accept()
        buf = memoryview(bytearray(4 << 20))
        got, start = 0, None
        while True:
            n = c.recv_into(buf)
            if n == 0:
                break
            got += n
            if start is None:
                start, got = time.monotonic(), 0
            elif time.monotonic() - start >= seconds:
                break
        os.write(w_end, f"{got / (time.monotonic() - start)}\n".encode())

    cons = fork(consumer)
    rel = fork(relay)
    prod = fork(producer)
    time.sleep(0.3)
    c0 = [cpu_s(p) for p in (rel, prod, cons)]
    t0 = time.monotonic()
    rate = float(os.read(r_end, 64).decode())
    t1 = time.monotonic()
    c1 = [cpu_s(p) for p in (rel, prod, cons)]
    for p in (prod, rel, cons):
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass
        os.waitpid(p, 0)
    wall = t1 - t0
    msgs = rate / size
    relay_cpu = (c1[0] - c0[0]) / wall
    return msgs, relay_cpu, (c1[1] - c0[1] + c1[2] - c0[2]) / wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        cc = f.read().strip()
    print(f"{a.size} B messages, {a.seconds} s, congestion control {cc}")
    for i in range(a.rounds):
        msgs, relay_cpu, ends_cpu = run(a.size, a.seconds)
        per_mib = relay_cpu / (msgs * a.size / (1 << 20)) * 1000
        print(f"round {i + 1}: {msgs:,.0f} msg/s, relay CPU {relay_cpu * 100:.0f}% "
              f"({per_mib:.2f} ms per MiB), producer + consumer CPU {ends_cpu * 100:.0f}%")


if __name__ == "__main__":
    main()
