#!/usr/bin/env python3
"""Long prover runs: every lock target under faults, Warren and RabbitMQ.

Runs `warren-prover run` for each (target, fault set) and writes a markdown
table (operations, violations by kind, stale writes refused, belief
overlaps, longest wait after the last heal) plus each run's report
directory. The prover exits non-zero on a violation; that is a finding
here, not a failure of the script.

  bench/prover/campaign.py --seconds 180 --out bench/results/prover-DATE.md
  bench/prover/campaign.py --only warren-native --seconds 600

Needs build/release (warren-prover, warrend) and, for rabbitmq-* targets,
Debian's rabbitmq-server.
"""
import argparse
import collections
import datetime
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What each target is run under: faults a lock without fencing survives
# (the process or connection dies: the broker notices at once or within
# heartbeats), and the faults fencing exists for (a holder paused or cut
# off that still believes it holds).
FAULT_SETS = {
    "deaths": "kill,cut,restart,delay",
    "pauses": "stop,blackhole",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/release"))
    ap.add_argument("--seconds", type=int, default=180)
    ap.add_argument("--clients", type=int, default=5)
    ap.add_argument("--heartbeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", action="append", help="a target (repeatable); default: all")
    ap.add_argument("--faults", action="append", choices=sorted(FAULT_SETS), help="fault sets; default: both")
    ap.add_argument("--fault-list", help="one fault list for every target instead of the sets (e.g. all)")
    ap.add_argument("--no-fence", action="store_true", help="the recipes without their counter queue's token")
    ap.add_argument("--out", default=os.path.join(ROOT, f"bench/results/prover-{datetime.date.today()}.md"))
    args = ap.parse_args()

    prover = os.path.join(args.build_dir, "apps/prover/warren-prover")
    warrend = os.path.join(args.build_dir, "apps/warrend/warrend")
    targets = args.only or subprocess.run([prover, "list"], capture_output=True, text=True, check=True).stdout.split()
    sets = ["custom"] if args.fault_list else (args.faults or list(FAULT_SETS))
    reports = os.path.splitext(args.out)[0]
    rows = []
    for target in targets:
        for name in sets:
            faults = args.fault_list if args.fault_list else FAULT_SETS[name]
            if target == "socketlock":
                faults = faults.replace(",cut", "").replace(",delay", "").replace("blackhole", "kill")
            report = os.path.join(reports, f"{target}-{name}")
            cmd = [prover, "run", "--target", target, "--workload", "socketlock" if target == "socketlock" else "lock",
                   "--faults", faults, "--seconds", str(args.seconds), "--clients", str(args.clients),
                   "--heartbeat", str(args.heartbeat), "--seed", str(args.seed), "--report", report,
                   "--warrend", warrend] + (["--no-fence"] if args.no_fence else [])
            t0 = time.monotonic()
            r = subprocess.run(cmd, capture_output=True, text=True)
            took = time.monotonic() - t0
            out = r.stdout
            last = out.strip().splitlines()[-2] if "report:" in out else (out.strip().splitlines() or ["?"])[-1]
            m = re.search(r"(\d+) operations, (\d+) violations", out)
            kinds = collections.Counter(re.findall(r"^VIOLATION (\S+)", out, re.M))
            stale = re.search(r"refused as stale (\d+)", out)
            overl = re.search(r"what fencing is for\): (\d+)", out)
            wait = re.search(r"healed: ([\d.]+) s", out)
            row = {
                "target": target, "faults": faults, "ops": m.group(1) if m else "?",
                "violations": m.group(2) if m else f"error (exit {r.returncode})",
                "kinds": ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "-",
                "stale": stale.group(1) if stale else "?", "overlaps": overl.group(1) if overl else "?",
                "wait": wait.group(1) if wait else "?", "took": f"{took:.0f}",
            }
            if not m:
                row["kinds"] = (r.stderr.strip().splitlines() or ["?"])[-1][:120]
            rows.append(row)
            print(f"{target:40} {faults:28} {row['ops']:>7} ops {row['violations']:>6} violations  {row['kinds']}",
                  flush=True)
            write(args, rows)


def write(args, rows):
    with open(args.out, "w") as f:
        f.write(f"# warren-prover campaign, {datetime.date.today()}\n\n")
        extra = (" --no-fence" if args.no_fence else "") + (f" --fault-list {args.fault_list}" if args.fault_list else "")
        f.write(f"`bench/prover/campaign.py --seconds {args.seconds} --clients {args.clients} "
                f"--heartbeat {args.heartbeat} --seed {args.seed}{extra}`, one run per row, on this 2-core VM. "
                "Violations: see docs/prover.md. 'Stale refused': writes the fenced resource refused; "
                "'belief overlaps': holders believing at once during a fault (what fencing is for).\n\n")
        f.write("| target | faults | operations | violations | by kind | stale refused | belief overlaps | "
                "longest wait after heal (s) | run (s) |\n|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['target']} | {r['faults']} | {r['ops']} | {r['violations']} | {r['kinds']} | {r['stale']} | "
                    f"{r['overlaps']} | {r['wait']} | {r['took']} |\n")


if __name__ == "__main__":
    sys.exit(main())
