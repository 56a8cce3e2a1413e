"""The ledger that socketlock_worker's mutex mode writes, and its checks.

Each critical section appends "BEGIN <pid> <mode> <token> <ns>" after the
acquire returned and "END <pid> <mode> <token> <ns> [LOST]" before the
release, <ns> being CLOCK_MONOTONIC (one clock for all processes). A
section marked LOST had its lock taken away (its primary went away) while
it ran: socketlock promises it nothing, so it is left out of the overlap and
token checks and only counted.
"""
from dataclasses import dataclass


@dataclass
class Interval:
    pid: int
    mode: str
    token: int
    begin: int
    end: int
    lost: bool
    line: int  # of the BEGIN, 1-based

    def __str__(self):
        return (f"pid {self.pid} {self.mode} token {self.token} (epoch {self.token >> 32}) "
                f"[{self.begin}, {self.end}] ({(self.end - self.begin) / 1000:.0f} us)"
                f"{' LOST' if self.lost else ''} at ledger line {self.line}")


def parse(text):
    """Intervals in BEGIN order, and a list of problems with the ledger itself."""
    open_by_pid, intervals, problems = {}, [], []
    for n, raw in enumerate(text.splitlines(), 1):
        w = raw.split()
        if len(w) not in (5, 6) or w[0] not in ("BEGIN", "END"):
            problems.append(f"line {n}: malformed: {raw!r}")
            continue
        kind, pid, mode, token, ns = w[0], int(w[1]), w[2], int(w[3]), int(w[4])
        if kind == "BEGIN":
            if pid in open_by_pid:
                problems.append(f"line {n}: pid {pid} BEGIN while its line {open_by_pid[pid][4]} is open")
            open_by_pid[pid] = (mode, token, ns, n, n)
            continue
        if pid not in open_by_pid:
            problems.append(f"line {n}: END without BEGIN: {raw!r}")
            continue
        bmode, btoken, bns, bline, _ = open_by_pid.pop(pid)
        if (bmode, btoken) != (mode, token):
            problems.append(f"line {n}: END {mode} {token} closes BEGIN {bmode} {btoken} (line {bline})")
        intervals.append(Interval(pid, mode, token, bns, ns, len(w) == 6 and w[5] == "LOST", bline))
    for pid, (_, _, _, bline, _) in open_by_pid.items():
        problems.append(f"line {bline}: pid {pid} never wrote END")
    intervals.sort(key=lambda i: i.begin)
    return intervals, problems


def overlaps(intervals):
    """Pairs that mutual exclusion forbids: a writer overlapping anyone else,
    plus the number of reader/reader overlaps (allowed, for information)."""
    bad, shared = [], 0
    live = [i for i in intervals if not i.lost]
    for k, a in enumerate(live):
        for b in live[k + 1:]:
            if b.begin >= a.end:
                break  # sorted by begin: no later interval overlaps a
            if a.pid == b.pid:
                continue
            if a.mode == "write" or b.mode == "write":
                bad.append((a, b))
            else:
                shared += 1
    return bad, shared


def token_violations(intervals):
    """Writers' tokens must increase strictly in BEGIN order, and exceed every
    token granted before them (every earlier section ended before a writer's)."""
    bad, highest, last_writer = [], None, None
    for i in (i for i in intervals if not i.lost):
        if i.mode == "write":
            if last_writer is not None and i.token <= last_writer.token:
                bad.append(f"writer token not increasing: {last_writer} then {i}")
            if highest is not None and i.token <= highest.token:
                bad.append(f"writer token {i.token} not above earlier grant {highest}")
            last_writer = i
        if highest is None or i.token > highest.token:
            highest = i
    return bad


def excerpt(text, around_lines, radius=6):
    """The ledger lines near the given 1-based line numbers."""
    lines = text.splitlines()
    keep = sorted({n for a in around_lines for n in range(max(1, a - radius), min(len(lines), a + radius) + 1)})
    return "\n".join(f"{n:6}: {lines[n - 1]}" for n in keep)
