#!/usr/bin/env python3
"""Check the Promela models of models/ with spin (docs/models.md).

    check_models.py MODEL.pml [MODEL.pml ...]   check each model
    check_models.py --selftest MODELS_DIR       plant known bugs; each must be caught

The convention: a model whose file name ends in -bug.pml must yield a
counterexample; the trail is replayed (spin -t) and printed as a step list in
the terms of the model's `@trail` directive, with its length. Every other
model must verify with no errors, exhaustively: the safety run (assertions,
invalid end states) and, for each `ltl` property it declares, a liveness run
(pan -a -f, weak fairness), each with no errors, no truncation (search depth,
memory) and no unreached statement but the ends of endless loops.

For the ltl runs, spin generates pan with -DLTL_RUN, so that a model can
leave its own assertions out there and show that the ltl formula alone
catches what they catch.

Directives in a model's comments:
  @config -DNAME=V ...  one more configuration to check (the defaults are
                        checked first); a line each
  @trail LABEL=EXPR[,EXPR..][:set|:bool] ...
                        the columns of a printed trail: a bit set shown as
                        {..}, a bool as TRUE/FALSE, several EXPRs as <<..>>
  @step EXPR            the step name: EXPR before the step, {pid} replaced
                        by the pid of the process that takes it

MODEL.seed-trace.txt next to a model: a trace in the @trail columns (one
state a row, the first the initial state) that must be a run of the model;
checked with a never claim generated from it (spin -N) and printed again as
spin replays it.

Exits 0 when every model behaves as its name says. Needs spin and a C
compiler (gcc, or $CC); fails if either is missing. $SPIN overrides spin.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEMLIM_MB = 3000           # pan stops (and we fail) rather than eat the machine
DEPTH_LIMIT = 100000       # -m: far above any depth the models reach; checked
PAN_TIMEOUT = 300          # seconds per pan run


class CheckError(Exception):
    pass


def tool(name, env):
    path = shutil.which(os.environ.get(env, name))
    if not path:
        raise CheckError(f"{name} not found (install it: scripts/install-deps.sh; or set ${env})")
    return path


def run(cmd, cwd, timeout=PAN_TIMEOUT):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout


def directives(text):
    lead = r"^[\s/*]*"       # directives start a comment line
    configs = [line.split() for line in re.findall(lead + r"@config\s+(.*?)\s*$", text, re.M)]
    trail = re.search(lead + r"@trail\s+(.*?)\s*$", text, re.M)
    step = re.search(lead + r"@step\s+(\S+)", text, re.M)
    columns = []
    if trail:
        for item in trail.group(1).split():
            label, _, rest = item.partition("=")
            expr, _, fmt = rest.partition(":")
            columns.append((label, expr.split(","), fmt))
    return configs, columns, step.group(1) if step else None


# ---- pan's report -----------------------------------------------------------

def stats(out):
    def num(pattern, default=None):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else default
    return {
        "errors": int(num(r"errors: (\d+)", -1)),
        "states": int(num(r"([\d.e+]+) states, stored", 0)),
        "transitions": int(num(r"([\d.e+]+) transitions", 0)),
        "depth": int(num(r"depth reached (\d+)", 0)),
        "seconds": num(r"pan: elapsed time ([\d.e+]+) seconds", 0.0),
        "memory": num(r"([\d.]+)\s+total actual memory usage", 0.0),
    }


def truncation(out, depth):
    """What says the search was not exhaustive, if anything."""
    problems = []
    for sign in ("max search depth too small", "reached -DMEMLIM bound", "out of memory",
                 "Search not completed", "Bit statespace search", "hash-compact"):
        if sign in out:
            problems.append(sign)
    if "Full statespace search" not in out:
        problems.append("no 'Full statespace search'")
    if depth >= DEPTH_LIMIT - 1:
        problems.append(f"depth {depth} at the -m limit")
    return problems


def unreached(out):
    """Statements of the model's processes that the search never reached,
    but the ends of endless loops."""
    found = []
    for block in re.finditer(r"unreached in (proctype \S+|init)\n((?:\t.*\n)*)", out):
        for line in block.group(2).splitlines():
            line = line.strip()
            if line.startswith("(") or line.endswith('"-end-"'):
                continue
            found.append(f"{block.group(1)}: {line}")
    return found


def describe(s):
    return (f"{s['states']:,} states, {s['transitions']:,} transitions, depth {s['depth']}, "
            f"{s['seconds']:.2f} s, {s['memory']:.0f} MB")


# ---- trails --------------------------------------------------------------------

STEP_RE = re.compile(r"^\s*(\d+):\s+proc\s+(\d+|-)\s+\(([^:)]*:?[^)]*)\)\s+(\S+):(\d+)\s+\(state \d+\)\s+\[(.*)\]")
VAR_RE = re.compile(r"^\t\t(\S+) = (.*)$")


def trail_steps(spin, cwd, model, extra):
    """[(step number, pid, process name, first statement, file:line)], one per trail step."""
    _, out = run([spin, *extra, "-t", "-p", model], cwd)
    steps = []
    for line in out.splitlines():
        m = STEP_RE.match(line)
        if not m or m.group(2) == "-":
            continue
        n, pid = int(m.group(1)), int(m.group(2))
        if steps and steps[-1][0] == n and steps[-1][1] == pid:
            continue
        name = m.group(3).split(":")[0] or "init"
        steps.append((n, pid, name, m.group(6).strip(), f"{m.group(4)}:{m.group(5)}"))
    return steps, out


def state_after(spin, cwd, model, extra, n):
    """The globals after trail step n (spin -t -uN stops before step N)."""
    _, out = run([spin, *extra, "-t", f"-u{n + 1}", "-g", model], cwd)
    values = {}
    for line in out.splitlines():
        m = VAR_RE.match(line)
        if m:
            values[m.group(1)] = m.group(2).strip()
    return values


def show(values, columns):
    def one(v, fmt):
        if fmt == "set":
            return "{" + ", ".join(str(i) for i in range(32) if int(v) >> i & 1) + "}"
        if fmt == "bool":
            return "TRUE" if v not in ("0", "false") else "FALSE"
        return v
    cells = []
    for _, exprs, fmt in columns:
        vals = [one(values.get(e, "0"), fmt) for e in exprs]
        cells.append("<<" + ", ".join(vals) + ">>" if len(vals) > 1 else vals[0])
    return cells


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([fmt(header)] + [fmt(r) for r in rows])


def print_trail(spin, cwd, model, extra, columns, step_expr, title):
    steps, raw = trail_steps(spin, cwd, model, extra)
    if not steps:
        print(raw)
        return 0
    if not columns:           # no @trail: spin's own step list, a line a step
        print(f"{title}: {len(steps)} steps")
        for n, pid, name, stmt, where in steps:
            print(f"  {n:4d}  {name}({pid})  {where}  [{stmt}]")
        last = state_after(spin, cwd, model, extra, steps[-1][0])
        print("  the last state: " + ", ".join(f"{k} = {v}" for k, v in last.items()))
        return len(steps)
    init = [s for s in steps if s[1] == 0 and s[2] == "init"]
    moves = [s for s in steps if s not in init]
    # one spin run a state (they share the directory's temporary files: not in parallel)
    states = [state_after(spin, cwd, model, extra, n)
              for n in [init[-1][0] if init else 0] + [m[0] for m in moves]]
    rows = [[1, "-", "Initial predicate", *show(states[0], columns)]]
    shared = {m[2] for m in moves if len({x[1] for x in moves if x[2] == m[2]}) > 1}
    for i, (n, pid, name, stmt, where) in enumerate(moves):
        name = f"{name}({pid})" if name in shared else name
        before, after = states[i], states[i + 1]
        action = before.get(step_expr.replace("{pid}", str(pid)), stmt) if step_expr else stmt
        action = action if len(action) <= 60 else action[:57] + "..."
        rows.append([i + 2, name, action, *show(after, columns)])
    print(f"{title}: {len(moves)} steps after the initial state ({len(rows)} states)")
    print(table(rows, ["state", "process", "step", *[c[0] for c in columns]]))
    return len(moves)


# ---- a trace that must be a run: a never claim from it ---------------------------

def parse_value(cell, fmt):
    cell = cell.strip()
    def one(v):
        v = v.strip()
        if fmt == "set":
            inner = v.strip("{}").strip()
            return str(sum(1 << int(x) for x in inner.split(",")) if inner else 0)
        if fmt == "bool":
            return "1" if v == "TRUE" else "0"
        return v
    if cell.startswith("<<"):
        return [one(v) for v in re.findall(r"\{[^}]*\}|[^,\s][^,]*", cell[2:-2])]
    return [one(cell)]


def seed_trace_claim(path, columns):
    rows = [l for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]
    header = re.split(r"\s{2,}", rows[0].strip())
    labels = [c[0] for c in columns]
    if header[-len(labels):] != labels:
        raise CheckError(f"{path.name}: columns {header} do not end with the @trail labels {labels}")
    preds = []
    for row in rows[1:]:
        cells = re.split(r"\s{2,}", row.strip())[-len(labels):]
        terms = []
        for (label, exprs, fmt), cell in zip(columns, cells):
            for e, v in zip(exprs, parse_value(cell, fmt)):
                terms.append(f"{e} == {v}")
        preds.append("(" + " && ".join(terms) + ")")
    lines = ["never {  /* generated from " + path.name + " */",
             f"  do :: !{preds[0]} :: {preds[0]} -> break od;"]
    for a, b in zip(preds, preds[1:]):
        lines.append(f"  do :: {a} :: {b} -> break od;")
    lines[-1] = lines[-1].rstrip(";")
    lines.append("}")
    return "\n".join(lines) + "\n", len(preds)


# ---- one model --------------------------------------------------------------------

def compile_pan(cc, cwd, flags, exe, opt="-O1"):
    # -O1: as fast a pan as -O2, and it compiles sooner; -O0 for small searches
    rc, out = run([cc, opt, "-w", *flags, "-o", exe, "pan.c"], cwd)
    if rc != 0:
        raise CheckError(f"{cc} {' '.join(flags)} pan.c failed:\n{out}")


def check(model, spin, cc, expect_bug=None, configs=None, quiet=False, fail_fast=False, opt="-O1"):
    """Check one model in each configuration; returns a list of failures."""
    model = Path(model).resolve()
    text = model.read_text()
    extra_configs, columns, step_expr = directives(text)
    if expect_bug is None:
        expect_bug = model.name.endswith("-bug.pml")
    if configs is None:
        configs = [[]] + extra_configs
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    failures = []
    say(f"=== {model.name}: expected to {'yield a counterexample' if expect_bug else 'verify'}")
    for defines in configs:
        work = Path(tempfile.mkdtemp(prefix="warren-model-"))
        try:
            name = model.name
            shutil.copy(model, work / name)
            label = " ".join(defines) or "defaults"
            rc, out = run([spin, *defines, "-a", name], work)
            if rc != 0 or not (work / "pan.c").exists():
                failures.append(f"{name} [{label}]: spin -a failed:\n{out}")
                continue
            ltls = re.findall(r"^ltl (\S+):", out, re.M)
            runs = [("safety", ["-DSAFETY"] + (["-DNOCLAIM"] if ltls else []) + (["-DBFS"] if expect_bug else []),
                     [f"-m{DEPTH_LIMIT}"])]
            for ltl in ltls:
                runs.append((f"ltl {ltl}", ["-DNFAIR=3"], ["-a", "-f", "-N", ltl, f"-m{DEPTH_LIMIT}"]))
            counterexamples = []
            for what, cflags, args in runs:
                exe = "pan_" + re.sub(r"\W", "_", what)
                gen = [*defines] + (["-DLTL_RUN"] if what.startswith("ltl") else [])
                rc, out = run([spin, *gen, "-a", name], work)
                if rc != 0:
                    failures.append(f"{name} [{label}]: spin {' '.join(gen)} -a failed:\n{out}")
                    break
                compile_pan(cc, work, [f"-DMEMLIM={MEMLIM_MB}", *cflags], exe, opt)
                for t in work.glob("*.trail"):
                    t.unlink()
                rc, out = run([f"./{exe}", *args], work)
                s = stats(out)
                head = f"{name} [{label}] {what} (cc {' '.join(cflags)}; pan {' '.join(args)})"
                if s["errors"] < 0:
                    failures.append(f"{head}: no report from pan:\n{out}")
                    break
                if s["errors"] > 0:
                    error = next((l for l in out.splitlines() if l.startswith("pan:1:") or "violated" in l), "error")
                    say(f"{head}: COUNTEREXAMPLE: {error.strip()} ({describe(s)})")
                    counterexamples.append(what)
                    if not quiet and len(counterexamples) == 1:
                        print_trail(spin, work, name, gen, columns, step_expr, f"  the trail of {what}")
                    elif not quiet:
                        steps, _ = trail_steps(spin, work, name, gen)
                        moves = [st for st in steps if not (st[1] == 0 and st[2] == "init")]
                        say(f"  the trail of {what}: {len(moves)} steps (spin -t -p to see it)")
                    if not expect_bug:
                        failures.append(f"{head}: {error.strip()}")
                        if fail_fast:
                            break
                    continue
                problems = truncation(out, s["depth"])
                if problems:
                    failures.append(f"{head}: not exhaustive: {', '.join(problems)}\n{out}")
                    if fail_fast:
                        break
                    continue
                missed = unreached(out) if what == "safety" and not expect_bug else []
                if missed:
                    failures.append(f"{head}: statements never reached (vacuous model?):\n  " + "\n  ".join(missed))
                    continue
                say(f"{head}: no errors, exhaustive: {describe(s)}")
            if expect_bug and not counterexamples and not failures:
                failures.append(f"{name} [{label}]: named -bug.pml but spin finds no counterexample")
            elif expect_bug and counterexamples:
                say(f"{name} [{label}]: counterexample as expected ({', '.join(counterexamples)})")
            seed = model.with_name(model.name[:-4] + ".seed-trace.txt")
            if seed.exists() and not defines:
                failures += check_seed_trace(seed, work, name, spin, cc, columns, step_expr, say, quiet)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if failures and fail_fast:
            break
    return failures


def check_seed_trace(seed, work, name, spin, cc, columns, step_expr, say, quiet):
    if not columns:
        return [f"{seed.name}: the model has no @trail directive"]
    claim, states = seed_trace_claim(seed, columns)
    (work / "seed.never").write_text(claim)
    for f in work.glob("*.trail"):
        f.unlink()
    rc, out = run([spin, "-a", "-N", "seed.never", name], work)
    if rc != 0:
        return [f"{seed.name}: spin -a -N failed:\n{out}"]
    compile_pan(cc, work, ["-DSAFETY", f"-DMEMLIM={MEMLIM_MB}"], "pan_seed")
    rc, out = run(["./pan_seed", "-A", "-N", "never_0", f"-m{DEPTH_LIMIT}"], work)
    if "end state in claim reached" not in out:
        return [f"{seed.name}: its {states} states are not a run of {name}:\n{out}"]
    say(f"{seed.name}: its {states} states are a run of {name} (the claim made from it is matched)")
    if not quiet:
        print_trail(spin, work, name, ["-N", "seed.never"], columns, step_expr,
                    "  that run, as spin replays it")
    return []


# ---- selftest: planted bugs ----------------------------------------------------------

# Plants are checked at smaller bounds than the models: the bugs show there, sooner.
PLANT_DEFINES = {"warren-client-confirms.pml": ["-DNPUBS=1"]}

# (model, what, the model's name for the copy, [(text, replacement)], which run must catch it)
PLANTS = [
    ("warren-client-confirms.pml", "the reader takes answers from old sockets too (no epoch check)",
     "warren-client-confirms.pml", [(":: e == epoch ->", ":: true ->")], "safety"),
    ("warren-client-confirms.pml", "recovery resets next_seq but keeps the pending confirms (the seed's bug)",
     "warren-client-confirms.pml",
     [("COMPLETE(fu); channel[ci].pending[si].fut = 0; channel[ci].pending[si].epoch = 0", "skip")], "safety"),
    ("warren-client-confirms.pml", "an ack completes but does not remove the pending confirm",
     "warren-client-confirms.pml",
     [("COMPLETE(fu); fs = fs | (1 << fu);\n               channel[c].pending[si].fut = 0; channel[c].pending[si].epoch = 0",
       "COMPLETE(fu); fs = fs | (1 << fu)")], "safety"),
    ("warren-client-confirms.pml", "recovery forgets the pending confirms without completing them; "
     "no publisher awaits and no quiescence check, so only the ltl property can catch it",
     "warren-client-confirms.pml",
     [("COMPLETE(fu); channel[ci].pending[si].fut = 0;", "channel[ci].pending[si].fut = 0;"),
      ("(_pid % 2 == 1 || COMPLETED(f));", "skip;"),
      ("timeout -> assert(done == ALL)", "timeout")], "ltl every_publish_completes"),
    ("nservicebus-pooling-fix.pml", "the fix model under a -bug.pml name (it has no counterexample)",
     "nservicebus-pooling-fix-bug.pml", [], "named -bug.pml but spin finds no counterexample"),
    ("nservicebus-pooling-bug.pml", "the bug model under a name that says it verifies",
     "nservicebus-pooling-bug-renamed.pml", [], "safety"),
]


def selftest(models_dir, spin, cc):
    models_dir = Path(models_dir)
    missed = []
    for source, what, copy_name, edits, catcher in PLANTS:
        text = (models_dir / source).read_text()
        for old, new in edits:
            if text.count(old) != 1:
                raise CheckError(f"selftest out of date: {source} has {text.count(old)} of {old!r}")
            text = text.replace(old, new)
        work = Path(tempfile.mkdtemp(prefix="warren-plant-"))
        try:
            planted = work / copy_name
            planted.write_text(text)
            t0 = time.monotonic()
            failures = check(planted, spin, cc, configs=[PLANT_DEFINES.get(source, [])], quiet=True,
                             fail_fast=True, opt="-O0")
            took = time.monotonic() - t0
        finally:
            shutil.rmtree(work, ignore_errors=True)
        caught = [f for f in failures if catcher in f.splitlines()[0]]
        if caught:
            print(f"caught ({took:.1f} s): {what}\n    {caught[0].splitlines()[0]}", flush=True)
        else:
            print(f"MISSED: {what}: expected a failure of '{catcher}', got {failures or 'none'}", flush=True)
            missed.append(what)
    print(f"{len(PLANTS) - len(missed)} of {len(PLANTS)} planted bugs caught")
    return missed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*")
    ap.add_argument("--selftest", metavar="MODELS_DIR")
    a = ap.parse_args()
    try:
        spin = tool("spin", "SPIN")
        cc = tool("gcc", "CC")
        if a.selftest:
            return 1 if selftest(a.selftest, spin, cc) else 0
        if not a.models:
            ap.error("no model given")
        failures = []
        for m in a.models:
            failures += check(m, spin, cc)
    except (CheckError, subprocess.TimeoutExpired) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
