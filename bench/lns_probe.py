#!/usr/bin/env python3
"""Would an exact large-neighbourhood step get the built-in search further?

A probe, not a solver: it takes a schedule the built-in search ended at
(`solve ... --json`), frees part of it and re-solves that part exactly with
OR-Tools CP-SAT (one worker), the rest kept as it was. If CP-SAT proves that
no such neighbourhood holds a shorter schedule, an exact sub-solver of that
shape (a branch and bound over a time window, say) is not worth building
into the search.

    bench/lns_probe.py RESULT.json MODE SIZE STEPS SEED [--instance FJS]

MODE picks what is freed (SIZE says how much):

- `window`: the operations that start in a random time window SIZE units
  long; on each machine the others keep their order and the freed ones
  may go anywhere among them;
- `prefix`: likewise for the window [0, SIZE);
- `machines`: every operation on SIZE random machines;
- `jobs`: every operation of SIZE random jobs.

Without `--instance` each operation keeps its machine (a job-shop, or a
flexible job-shop's assignment held fixed); with the flexible job-shop
instance file the freed operations may also change machine. A step whose
optimum is no worse than the current makespan is taken (so the walk may
move along a plateau). Prints one line per step: operations freed, CP-SAT's
status, the neighbourhood's optimum, CP-SAT's time.
Run with the bench venv's python (bench/run provides ortools).
"""

import argparse
import json
import random
import sys
from pathlib import Path

from ortools.sat.python import cp_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fjsp import parse_fjs  # noqa: E402


def main():
    parser = argparse.ArgumentParser(usage="bench/lns_probe.py RESULT.json MODE SIZE STEPS SEED [--instance FJS]", description=__doc__.split("\n\n")[0])
    parser.add_argument("result")
    parser.add_argument("mode", choices=("window", "prefix", "machines", "jobs"))
    parser.add_argument("size", type=int)
    parser.add_argument("steps", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--instance")
    args = parser.parse_args()
    result = json.loads(Path(args.result).read_text())
    mode, size, steps, rng = args.mode, args.size, args.steps, random.Random(args.seed)
    schedule = result["schedule"]
    ops = [(j, k) for j, job in enumerate(schedule) for k in range(len(job))]
    machine = {o: schedule[o[0]][o[1]]["machine"] for o in ops}
    start = {o: schedule[o[0]][o[1]]["start"] for o in ops}
    if args.instance:
        jobs, _ = parse_fjs(Path(args.instance).read_text())
        # The shared data's fjs files number machines from 0, as results do.
        alternatives = {(j, k): list(op) for j, job in enumerate(jobs) for k, op in enumerate(job)}
    else:
        alternatives = {o: [(machine[o], schedule[o[0]][o[1]]["duration"])] for o in ops}
    misfit = [o for o in ops if (machine[o], schedule[o[0]][o[1]]["duration"]) not in alternatives.get(o, [])]
    if misfit or len(alternatives) != len(ops):
        sys.exit(f"{args.result} is not a schedule of {args.instance}: operation {misfit[:1] or 'count'} does not fit")
    machines = 1 + max(m for alts in alternatives.values() for m, _ in alts)
    limit = {"machines": machines, "jobs": len(schedule)}.get(mode)
    if limit is not None and not 1 <= size <= limit:
        sys.exit(f"SIZE for {mode} is a count from 1 to {limit}, not {size}")
    makespan = result["makespan"]
    print(f"start {makespan}", flush=True)
    for step in range(steps):
        free = choose(mode, size, ops, machine, start, machines, len(schedule), makespan, rng)
        found, status, wall, value = solve(ops, alternatives, machine, start, free, machines, makespan, rng.randrange(1 << 20))
        print(f"{step} freed {len(free)} {status} {value} {wall:.2f}s", flush=True)
        if value <= makespan:
            start, machine = found
            makespan = value
    print(f"end {makespan}")


def choose(mode, size, ops, machine, start, machines, jobs, makespan, rng):
    if mode == "machines":
        chosen = set(rng.sample(range(machines), size))
        return {o for o in ops if machine[o] in chosen}
    if mode == "jobs":
        chosen = set(rng.sample(range(jobs), size))
        return {o for o in ops if o[0] in chosen}
    t0 = 0 if mode == "prefix" else rng.randrange(makespan)
    return {o for o in ops if t0 <= start[o] < t0 + size}


def solve(ops, alternatives, machine, start, free, machines, makespan, seed):
    model = cp_model.CpModel()
    horizon = sum(max(d for _, d in alternatives[o]) for o in ops)
    s = {o: model.NewIntVar(0, horizon, "") for o in ops}
    end = {o: model.NewIntVar(0, horizon, "") for o in ops}
    cmax = model.NewIntVar(0, horizon, "")
    on, intervals = {}, [[] for _ in range(machines)]
    for o in ops:
        model.AddHint(s[o], start[o])
        model.Add(cmax >= end[o])
        choices = alternatives[o] if o in free else [a for a in alternatives[o] if a[0] == machine[o]]
        lits = []
        for m, d in choices:
            lit = model.NewBoolVar("")
            on[o, m] = lit
            lits.append(lit)
            intervals[m].append(model.NewOptionalIntervalVar(s[o], d, end[o], lit, ""))
            model.AddHint(lit, m == machine[o])
        model.AddExactlyOne(lits)
        if o[1] > 0:
            model.Add(s[o] >= end[(o[0], o[1] - 1)])
    for m in range(machines):
        kept = sorted((o for o in ops if o not in free and machine[o] == m), key=lambda o: start[o])
        for a, b in zip(kept, kept[1:]):
            model.Add(s[b] >= end[a])
        model.AddNoOverlap(intervals[m])
    model.Minimize(cmax)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = 30
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, solver.StatusName(status), solver.WallTime(), makespan + 1
    found = ({o: solver.Value(s[o]) for o in ops}, {o: next(m for m, _ in alternatives[o] if (o, m) in on and solver.Value(on[o, m])) for o in ops})
    return found, solver.StatusName(status), solver.WallTime(), solver.Value(cmax)


if __name__ == "__main__":
    main()
