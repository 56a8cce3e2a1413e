#!/usr/bin/python3
"""perf_smoke: a seconds-long warren-perf run against a real warrend.

Starts warrend on a free port with a temporary data dir, runs warren-perf
with publisher confirms, manual multi-acks and -C (so every sequence number
is checked), over AMQP 0-9-1 and then AMQP 1.0, and checks that nothing was
lost or duplicated and that the --json line parses. Then floods warrend with
publishes (no confirms), so that the publishers move to the reader thread,
and checks again; and kills a flooding publisher (its socket on the reader
thread) and checks warrend still serves. Paths come from WARREN_WARREND and
WARREN_PERF.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def start_warrend(warrend, data_dir):
    log_path = os.path.join(data_dir, "warrend.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [warrend, "--amqp-port", "0", "--data-dir", data_dir,
         "--socketlock-path", os.path.join(data_dir, "sl.sock")],
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log_path) as f:
            m = re.search(r"AMQP 0-9-1 listening on ([\d.]+):(\d+)", f.read())
        if m:
            return proc, int(m.group(2))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    sys.exit("warrend did not start:\n" + open(log_path).read())


def run_perf(perf, port, args, timeout):
    """warren-perf with `args` and --json: (exit status, its JSON result)."""
    cmd = [perf, "-h", f"amqp://guest:guest@127.0.0.1:{port}/%2F", *args, "--json"]
    print("$", " ".join(cmd), flush=True)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    sys.stderr.write(run.stderr)
    lines = [l for l in run.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == 1, f"expected one JSON line, got: {run.stdout!r}"
    return run.returncode, json.loads(lines[0])


def run_checked(perf, port, protocol):
    """2 producers with confirms, 2 consumers with multi-acks, -C: no loss, no dups."""
    status, result = run_perf(perf, port, ["--protocol", protocol, "-x", "2", "-y", "2", "-u",
                                           f"perf-smoke-{protocol}", "-s", "64", "-C", "100000", "-c", "256",
                                           "-A", "50", "-q", "500", "-z", "30"], 90)
    print(json.dumps(result, indent=1))
    assert status == 0, f"warren-perf exited {status}"
    assert result["protocol"] == protocol, result["protocol"]
    assert result["errors"] == [], result["errors"]
    assert result["verified"], "loss/dup check did not run"
    assert result["sent"] == 200000, result["sent"]
    assert result["confirmed"] == 200000, result["confirmed"]
    assert result["received"] == 200000, result["received"]
    assert result["lost"] == 0 and result["duplicated"] == 0, (result["lost"], result["duplicated"])
    for key in ("latency_us", "confirm_latency_us"):
        h = result[key]
        assert h["count"] == 200000, (key, h["count"])
        assert 0 <= h["min"] <= h["p50"] <= h["p99"] <= h["p99.9"] <= h["max"], (key, h)
    assert result["send_rate"] > 0 and result["receive_rate"] > 0
    print(f"perf_smoke: {protocol} ok", flush=True)


MOVED = "its socket is read on a reader thread"


def run_flood(perf, port, log_path):
    """No confirms, auto-ack: publishers outrun the broker's loop and move to the reader."""
    status, result = run_perf(perf, port, ["-x", "2", "-y", "2", "-u", "perf-smoke-flood", "-s", "64",
                                           "-C", "300000", "-a", "-z", "60"], 120)
    assert status == 0 and result["errors"] == [], (status, result["errors"])
    assert result["sent"] == 600000 and result["received"] == 600000, (result["sent"], result["received"])
    assert result["lost"] == 0 and result["duplicated"] == 0, (result["lost"], result["duplicated"])
    moved = open(log_path).read().count(MOVED)
    assert moved >= 1, "no publisher moved to the reader thread"
    print(f"perf_smoke: flood ok ({moved} connection(s) moved to the reader, "
          f"{result['receive_rate']:.0f} msg/s)", flush=True)


def kill_flooding_publisher(perf, port, log_path):
    before = open(log_path).read().count(MOVED)
    p = subprocess.Popen([perf, "-h", f"amqp://guest:guest@127.0.0.1:{port}/%2F", "-x", "1", "-y", "0",
                          "-u", "perf-smoke-killed", "-s", "64", "-z", "60"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while open(log_path).read().count(MOVED) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # mid-stream on the reader
    p.kill()
    p.wait()
    assert open(log_path).read().count(MOVED) > before, "the flooding publisher did not move"
    print("perf_smoke: killed a publisher on the reader thread", flush=True)


def main():
    warrend = os.environ["WARREN_WARREND"]
    perf = os.environ["WARREN_PERF"]
    with tempfile.TemporaryDirectory(prefix="perf_smoke.") as tmp:
        proc, port = start_warrend(warrend, tmp)
        log_path = os.path.join(tmp, "warrend.log")
        try:
            for protocol in ("amqp091", "amqp10"):
                run_checked(perf, port, protocol)
            run_flood(perf, port, log_path)
            kill_flooding_publisher(perf, port, log_path)
            run_checked(perf, port, "amqp091")  # still serving
            assert proc.poll() is None, "warrend died"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        # A clean stop: no sanitizer report, no leak.
        assert proc.wait() == 0, f"warrend exited {proc.returncode}:\n" + open(log_path).read()[-4000:]
    print("perf_smoke: ok")


if __name__ == "__main__":
    main()
