#!/usr/bin/env python3
"""The built-in flexible job-shop solver and OR-Tools CP-SAT side by side.

Same machine, instances, time limit and threads (CP-SAT's num_workers), one
solver at a time. CP-SAT gets the usual FJSP model: per operation one
optional interval per machine alternative, exactly one present, no overlap
per machine, job order, makespan minimised.

The sample: the instances used to tune the search are those at every fifth
position of the sorted names in bounds.json (index % 5 == 0); they are never
reported. Of the others, `--per-family` instances per family: with
`--sample spaced` (the default) evenly spaced in name order, which is not
by difficulty and turned out easy; with `--sample largest` the family's
held-out instances with the most operations (ties by name), its hard end. Prints a markdown table: per
family the mean gap to the best known upper bound of each solver, and on how
many instances ours is better or equal; `--json` writes the raw figures;
`--cpsat-from FILE` reuses CP-SAT's figures from an earlier run's file.
Run it through `bench/run --fjsp`, which builds `solve` and provides ortools.
"""

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def parse_fjs(text):
    rows = [list(map(int, line.split())) for line in text.splitlines()[1:] if line.strip()]
    m = int(text.split()[1])
    jobs = []
    for row in rows:
        ops, i = [], 1
        for _ in range(row[0]):
            k = row[i]
            i += 1
            ops.append([(row[i + 2 * a], row[i + 2 * a + 1]) for a in range(k)])
            i += 2 * k
        jobs.append(ops)
    return jobs, m


def tuning_set(names):
    return {n for i, n in enumerate(sorted(names)) if i % 5 == 0}


def operations(path):
    jobs, _ = parse_fjs(path.read_text())
    return sum(len(job) for job in jobs)


def sample(names, per_family, rule="spaced", instances=None):
    held_out = [n for n in sorted(names) if n not in tuning_set(names)]
    by_family = defaultdict(list)
    for n in held_out:
        by_family[n.split("-")[0]].append(n)
    chosen = []
    for family, members in sorted(by_family.items()):
        k = min(per_family, len(members))
        if rule == "largest":
            chosen += sorted(sorted(members, key=lambda n: (-operations(instances / n), n))[:k])
        else:
            chosen += [members[(i * len(members)) // k] for i in range(k)]
    return chosen


def run_builtin(solve, path, limit, threads):
    out = subprocess.run([solve, str(path), "--format", "fjs", "--time-limit", str(limit), "--threads", str(threads), "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"solve failed on {path}: {out.stderr}")
    r = json.loads(out.stdout)
    return {"makespan": r["makespan"], "lower_bound": r["lower_bound"]}


def run_cpsat(path, limit, threads):
    from ortools.sat.python import cp_model

    jobs, m = parse_fjs(path.read_text())
    horizon = sum(max(d for _, d in alts) for job in jobs for alts in job)
    model = cp_model.CpModel()
    per_machine = defaultdict(list)
    ends = []
    for job in jobs:
        previous_end = None
        for alts in job:
            lo, hi = min(d for _, d in alts), max(d for _, d in alts)
            start = model.NewIntVar(0, horizon, "")
            duration = model.NewIntVar(lo, hi, "")
            end = model.NewIntVar(0, horizon, "")
            model.NewIntervalVar(start, duration, end, "")
            presences = []
            for machine, d in alts:
                if len(alts) == 1:
                    per_machine[machine].append(model.NewIntervalVar(start, d, end, ""))
                    presences.append(None)
                    continue
                present = model.NewBoolVar("")
                per_machine[machine].append(model.NewOptionalIntervalVar(start, d, end, present, ""))
                model.Add(duration == d).OnlyEnforceIf(present)
                presences.append(present)
            if len(alts) > 1:
                model.AddExactlyOne(presences)
            if previous_end is not None:
                model.Add(start >= previous_end)
            previous_end = end
        ends.append(previous_end)
    for intervals in per_machine.values():
        model.AddNoOverlap(intervals)
    makespan = model.NewIntVar(0, horizon, "")
    model.AddMaxEquality(makespan, ends)
    model.Minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = threads
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {"makespan": None, "lower_bound": int(solver.BestObjectiveBound())}
    return {"makespan": int(solver.ObjectiveValue()), "lower_bound": int(solver.BestObjectiveBound())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--solve", required=True)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--time-limit", type=float, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--sample", choices=["spaced", "largest"], default="spaced")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--render", type=Path, help="print the tables from figures saved with --json instead of running")
    ap.add_argument("--cpsat-from", type=Path, help="CP-SAT's figures from an earlier --json run of the same instances and limit, instead of running it")
    a = ap.parse_args()
    if a.render and a.cpsat_from:
        ap.error("--render prints saved figures; --cpsat-from is for a run")
    earlier = {r["name"]: r["cpsat"] for r in json.loads(a.cpsat_from.read_text())} if a.cpsat_from else None
    bounds = {b["name"]: b for b in json.loads((a.data / "bounds.json").read_text())}
    rows = json.loads(a.render.read_text()) if a.render else []
    for name in [] if a.render else sample(list(bounds), a.per_family, a.sample, a.data / "instances"):
        path = a.data / "instances" / name
        if earlier is not None and name not in earlier:
            sys.exit(f"{a.cpsat_from} has no CP-SAT figures for {name}: run without --cpsat-from")
        ours = run_builtin(a.solve, path, a.time_limit, a.threads)
        cpsat = run_cpsat(path, a.time_limit, a.threads) if earlier is None else earlier[name]
        ub = bounds[name]["upper_bound"]
        rows.append({"name": name, "upper_bound": ub, "builtin": ours, "cpsat": cpsat})
        print(f"{name}: ours {ours['makespan']} cp-sat {cpsat['makespan']} best known {ub}", file=sys.stderr, flush=True)
    if a.json and not a.render:
        a.json.write_text(json.dumps(rows, indent=1))
    gap = lambda ms, ub: float("inf") if ms is None else 100.0 * (ms - ub) / ub
    # Some published bounds are older than the schedules both solvers now
    # find (Behnke's, some Hurink and Brandimarte ones): the gap to the
    # better of the two makespans compares the solvers where those do not.
    better = lambda r: min(m for m in (r["builtin"]["makespan"], r["cpsat"]["makespan"]) if m is not None)
    print("| family | instances | built-in mean gap | CP-SAT mean gap | built-in gap to the better | CP-SAT gap to the better | built-in ≤ CP-SAT |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    families = defaultdict(list)
    for r in rows:
        families[r["name"].split("-")[0]].append(r)
    for family, rs in sorted(families.items()):
        ours = [gap(r["builtin"]["makespan"], r["upper_bound"]) for r in rs]
        theirs = [gap(r["cpsat"]["makespan"], r["upper_bound"]) for r in rs if r["cpsat"]["makespan"] is not None]
        ours_b = [gap(r["builtin"]["makespan"], better(r)) for r in rs]
        theirs_b = [gap(r["cpsat"]["makespan"], better(r)) for r in rs if r["cpsat"]["makespan"] is not None]
        missing = len(rs) - len(theirs)
        note = f" ({missing} without a schedule)" if missing else ""
        mean_text = lambda values: f"{sum(values) / len(values):.2f}%" if values else "-"
        wins = sum(1 for r in rs if r["cpsat"]["makespan"] is None or r["builtin"]["makespan"] <= r["cpsat"]["makespan"])
        print(f"| {family} | {len(rs)} | {mean_text(ours)} | {mean_text(theirs)}{note} | {mean_text(ours_b)} | {mean_text(theirs_b)}{note} | {wins}/{len(rs)} |")
    print()
    print("| instance | operations | best known | built-in | CP-SAT |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        theirs = r["cpsat"]["makespan"]
        print(f"| {r['name']} | {operations(a.data / 'instances' / r['name'])} | {r['upper_bound']} | {r['builtin']['makespan']} | {'none found' if theirs is None else theirs} |")


if __name__ == "__main__":
    main()
