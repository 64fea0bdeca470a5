#!/usr/bin/env python3
"""Would an exact step on a fixed machine assignment move the search?

A feasibility check, not a solver: does a constraint search without clause
learning (OR-Tools' classic CP solver: one disjunctive constraint per
machine, with edge finding, and rank-first branching) find a schedule of
makespan at most BOUND with the machine assignment of a schedule the
built-in search ended at, within LIMIT seconds? That is what the exact step
of the flexible search (runtime/jobshop/src/exact.rs) does, so if this
finds nothing, neither would it.

    bench/cp_classic_probe.py SCHEDULES.json KEY BOUND LIMIT

SCHEDULES.json holds schedules as bench/results/lns-probe-2026-12-06-
schedules.json does (KEY -> {"result": solve's --json output}); BOUND is
the makespan to reach (one below the schedule's, to ask whether it can be
beaten). Prints each better schedule found (seconds, makespan), then the
search's end: the time limit, or a proof that nothing below the last
makespan (or BOUND) exists. Run with the bench venv's python (bench/run
provides ortools).
"""

import argparse
import json
import sys
import time
from pathlib import Path

from ortools.constraint_solver import pywrapcp


def main():
    parser = argparse.ArgumentParser(usage="bench/cp_classic_probe.py SCHEDULES.json KEY BOUND LIMIT", description=__doc__.split("\n\n")[0])
    parser.add_argument("schedules", type=Path)
    parser.add_argument("key")
    parser.add_argument("bound", type=int)
    parser.add_argument("limit", type=float)
    args = parser.parse_args()
    try:
        kept = json.loads(args.schedules.read_text())
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"{args.schedules}: {e}")
    if not isinstance(kept, dict) or args.key not in kept:
        sys.exit(f"{args.key!r} is not a key of {args.schedules} (a JSON object of KEY -> {{\"result\": ...}})")
    try:
        schedule = kept[args.key]["result"]["schedule"]
    except (KeyError, TypeError):
        sys.exit(f"{args.schedules}: {args.key!r} has no result.schedule (solve's --json output)")
    s = pywrapcp.Solver("fixed-assignment")
    ops, by_machine = {}, {}
    for j, job in enumerate(schedule):
        for k, op in enumerate(job):
            if op["duration"] > args.bound:
                sys.exit(f"BOUND {args.bound} is shorter than operation {k} of job {j} ({op['duration']})")
            iv = s.FixedDurationIntervalVar(0, args.bound - op["duration"], op["duration"], False, f"o{j}_{k}")
            ops[j, k] = iv
            by_machine.setdefault(op["machine"], []).append(iv)
            if k:
                s.Add(iv.StartsAfterEnd(ops[j, k - 1]))
    sequences = []
    for m, intervals in sorted(by_machine.items()):
        d = s.DisjunctiveConstraint(intervals, f"m{m}")
        s.Add(d)
        sequences.append(d.SequenceVar())
    makespan = s.Max([ops[j, len(job) - 1].EndExpr() for j, job in enumerate(schedule)]).Var()
    phases = s.Compose([s.Phase(sequences, s.SEQUENCE_DEFAULT), s.Phase([makespan], s.CHOOSE_FIRST_UNBOUND, s.ASSIGN_MIN_VALUE)])
    began = time.time()
    s.NewSearch(phases, [s.Minimize(makespan, 1), s.TimeLimit(int(args.limit * 1000))])
    while s.NextSolution():
        print(f"{time.time() - began:.2f}s makespan {makespan.Value()}", flush=True)
    s.EndSearch()
    print(f"end {time.time() - began:.2f}s branches {s.Branches()} failures {s.Failures()}")


if __name__ == "__main__":
    main()
