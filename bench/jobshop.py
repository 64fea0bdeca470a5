#!/usr/bin/env python3
"""The built-in job-shop solver and OR-Tools CP-SAT side by side.

Same machine, same instances, same time limit, same number of threads
(CP-SAT's num_workers). Writes a table to BENCHMARKS.md: per instance family
the mean relative gap of the makespan to the best known upper bound
(bounds.json), how many instances reached it and how fast, and each
instance's figures. Run it through bench/run, which builds `solve` and
provides ortools; nothing else should run on the machine meanwhile.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def parse_orlib(text):
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    n, m = int(rows[0][0]), int(rows[0][1])
    jobs = []
    for row in rows[1 : n + 1]:
        values = list(map(int, row))
        jobs.append([(values[2 * k], values[2 * k + 1]) for k in range(m)])
    return jobs, m


def vm_hwm_mib(pid, exe):
    """The process's peak resident memory since its exec, in MiB; None while
    it is not yet `exe` (between fork and exec /proc shows the forking
    Python, or a few kB: a run that ends within milliseconds, such as one
    that reaches its lower bound at once, would report that as its peak)."""
    try:
        if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(os.fsencode(str(exe))):
            return None
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run_builtin(solve, path, limit, threads, seed):
    """Our solver as a user runs it; improvements come from --progress. Its
    peak resident memory is read from /proc while it runs (the kernel's
    rusage would count the Python process it was forked from), after one
    second and at the end, to show whether it grows."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [solve, str(path), "--time-limit", str(limit), "--threads", str(threads), "--seed", str(seed), "--json", "--progress"],
            stdout=out, stderr=err, text=True,
        )
        started, early, peak = time.monotonic(), None, None
        while proc.poll() is None:
            hwm = vm_hwm_mib(proc.pid, solve)
            peak = hwm or peak
            if early is None and time.monotonic() - started >= 1.0:
                early = hwm
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.exit(f"solve failed on {path} (exit {proc.returncode}): {stderr}")
    result = json.loads(stdout)
    trace = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return {
        "makespan": result["makespan"],
        "lower_bound": result["lower_bound"],
        "trace": [(t["elapsed_s"], t["makespan"]) for t in trace],
        "rss_after_1s_mib": early,
        "peak_rss_mib": peak,
    }


def run_cpsat(path, limit, threads, seed):
    """The usual interval / no-overlap model, makespan minimised."""
    from ortools.sat.python import cp_model

    jobs, machines = parse_orlib(path.read_text())
    horizon = sum(d for job in jobs for _, d in job)
    model = cp_model.CpModel()
    ends, per_machine = [], [[] for _ in range(machines)]
    for j, job in enumerate(jobs):
        previous_end = None
        for k, (machine, duration) in enumerate(job):
            start = model.new_int_var(0, horizon, f"s{j}_{k}")
            end = model.new_int_var(0, horizon, f"e{j}_{k}")
            per_machine[machine].append(model.new_interval_var(start, duration, end, f"i{j}_{k}"))
            if previous_end is not None:
                model.add(start >= previous_end)
            previous_end = end
        ends.append(previous_end)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, ends)
    for intervals in per_machine:
        model.add_no_overlap(intervals)
    model.minimize(makespan)

    class Trace(cp_model.CpSolverSolutionCallback):
        def __init__(self):
            super().__init__()
            self.started = time.monotonic()
            self.points = []

        def on_solution_callback(self):
            self.points.append((time.monotonic() - self.started, int(self.objective_value)))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = threads
    solver.parameters.random_seed = seed
    trace = Trace()
    status = solver.solve(model, trace)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {"makespan": None, "lower_bound": int(solver.best_objective_bound), "trace": trace.points}
    return {"makespan": int(solver.objective_value), "lower_bound": int(solver.best_objective_bound), "trace": trace.points}


# Tuned on: ft10, la21 and ta41 (tenure and patience, issue 5); ta41, dmu41
# and swv03 (the elite pool and relinking, issue 14). Never reported as
# held out.
TUNING = {"ft10", "la21", "ta41", "dmu41", "swv03"}

# Tuned on later (the incremental timing's and the threads' exchange, on
# 2026-12-03), after the held-out sample was fixed: kept out of this set so
# that the sample stays what it was, and disjoint from it (checked below).
TUNED_LATER = {"dmu45", "dmu53", "dmu57", "dmu63", "dmu69", "dmu73", "swv13", "ta29", "ta39"}


def held_out(names):
    """The job-shop sample of issue 14, chosen by rule before any run: the
    Taillard, DMU and SWV instances, less the tuning set and less ta51-ta80
    (whose first schedules already reach the lower bound), sorted by name,
    every fourth from the first. Evenly spaced by name, which spreads it
    over the sizes (15x15 to 50x20); it says nothing of difficulty."""
    def eligible(n):
        m = re.fullmatch(r"(ta|dmu|swv)(\d+)", n)
        return m and n not in TUNING and not (m.group(1) == "ta" and int(m.group(2)) > 50)
    return [n for n in sorted(names) if eligible(n)][::4]


def best_at(trace, seconds):
    """The best makespan found within `seconds`, from a solver's trace."""
    return min((makespan for t, makespan in trace if t <= seconds), default=None)


def time_to(trace, target):
    return next((t for t, makespan in trace if makespan <= target), None)


def family(name):
    return re.match(r"[a-z]+", name).group()


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def fmt(value, pattern):
    return "—" if value is None else pattern.format(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solve", required=True, help="the release `solve` binary")
    parser.add_argument("--data", required=True, help="../shared/data/jobshop")
    parser.add_argument("--time-limit", type=float, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--instances", help="comma-separated names, or families (ta, ft...); default: all 148")
    parser.add_argument("--output", default="BENCHMARKS.md", help="Markdown file; this run's section replaces one with the same title")
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--render", help="write the table from figures saved with --json instead of running")
    chosen.add_argument("--held-out", action="store_true", help="issue 14's job-shop sample (see held_out) instead of --instances")
    parser.add_argument("--no-cpsat", action="store_true", help="the built-in solver only (for long runs)")
    parser.add_argument("--cpsat-from", help="CP-SAT's figures from an earlier --json run of the same instances, limit and threads, instead of running it again")
    args = parser.parse_args()
    earlier = {r["name"]: r for r in json.loads(Path(args.cpsat_from).read_text())} if args.cpsat_from else None

    data = Path(args.data)
    bounds = {b["name"]: b for b in json.loads((data / "bounds.json").read_text())}
    names = sorted(bounds)
    if args.held_out:
        names = held_out(names)
        assert not TUNED_LATER & set(names), "the held-out sample was tuned on"
    elif args.instances:
        wanted = args.instances.split(",")
        names = [n for n in names if n in wanted or family(n) in wanted]
        missing = [w for w in wanted if w not in bounds and not any(family(n) == w for n in bounds)]
        if missing:
            sys.exit(f"unknown instance or family: {', '.join(missing)} (see {data / 'bounds.json'})")

    if earlier is not None and not args.render:
        absent = [n for n in names if n not in earlier]
        if absent:
            sys.exit(f"{args.cpsat_from} has no figures for {', '.join(absent)}")
    rows = json.loads(Path(args.render).read_text()) if args.render else []
    for name in [] if args.render else names:
        path = data / "instances" / name
        ub = bounds[name]["upper_bound"]
        ours = run_builtin(args.solve, path, args.time_limit, args.threads, args.seed)
        if earlier is not None:
            theirs = {k: earlier[name]["cpsat"][k] for k in ("makespan", "lower_bound", "trace")}
        elif args.no_cpsat:
            theirs = {"makespan": None, "lower_bound": None, "trace": []}
        else:
            theirs = run_cpsat(path, args.time_limit, args.threads, args.seed)
        row = {"name": name, "family": family(name), "upper_bound": ub, "builtin": ours, "cpsat": theirs}
        for key in ("builtin", "cpsat"):
            r = row[key]
            r["gap"] = None if r["makespan"] is None else 100.0 * (r["makespan"] - ub) / ub
            r["time_to_best_known"] = time_to(r["trace"], ub)
        rows.append(row)
        print(
            f"{name:6} best known {ub:5}  built-in {ours['makespan']:5} ({row['builtin']['gap']:+.2f}%)  "
            f"CP-SAT {fmt(theirs['makespan'], '{:5}')} ({fmt(row['cpsat']['gap'], '{:+.2f}')}%)",
            flush=True,
        )

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    from ortools import __version__ as ortools_version

    kind = "held-out instances" if args.held_out else "instances"
    title = f"## {args.time_limit:g} s, {args.threads} thread{'s' if args.threads > 1 else ''}, {len(rows)} {kind}"
    cpsat_ran = any(r["cpsat"]["makespan"] is not None for r in rows)
    # Where the run stood at these times shows whether it still improves.
    checkpoints = [t for t in (10, 60) if t < args.time_limit]
    out = [
        title,
        "",
        f"Run on {datetime.date.today()}: {os.cpu_count()} cores ({cpu}), built-in solver (seed {args.seed}) "
        + (
            f"against OR-Tools CP-SAT {ortools_version} (`num_workers` {args.threads}), its figures from an earlier run on this machine ({Path(args.cpsat_from).name}). "
            if earlier is not None
            else f"against OR-Tools CP-SAT {ortools_version} (`num_workers` {args.threads}), one after the other. "
            if cpsat_ran
            else "alone (CP-SAT not run). "
        )
        + f"Gap: (makespan − best known) / best known. Reached: instances where the best known makespan was "
        f"matched, and the mean time it took.",
        "",
        "| family | instances | built-in mean gap | CP-SAT mean gap | built-in reached | CP-SAT reached | built-in better / equal / worse |",
        "|---|---|---|---|---|---|---|",
    ]
    for fam in sorted({r["family"] for r in rows}):
        rs = [r for r in rows if r["family"] == fam]
        cells = []
        for key in ("builtin", "cpsat"):
            cells.append(fmt(mean(r[key]["gap"] for r in rs), "{:+.2f}%"))
        for key in ("builtin", "cpsat"):
            reached = [r[key]["time_to_best_known"] for r in rs if r[key]["time_to_best_known"] is not None]
            cells.append(f"{len(reached)}" + (f" (mean {mean(reached):.2f} s)" if reached else ""))
        better = sum(1 for r in rs if r["cpsat"]["makespan"] is None or r["builtin"]["makespan"] < r["cpsat"]["makespan"])
        equal = sum(1 for r in rs if r["builtin"]["makespan"] == r["cpsat"]["makespan"])
        cells.append(f"{better} / {equal} / {len(rs) - better - equal}" if cpsat_ran else "—")
        out.append(f"| {fam} | {len(rs)} | " + " | ".join(cells) + " |")
    out += [
        "",
        "<details><summary>Per instance</summary>",
        "",
        "| instance | best known | built-in | CP-SAT | built-in bound | CP-SAT bound | built-in time to best known | "
        + "".join(f"built-in at {t} s | " for t in checkpoints)
        + "built-in last improvement | built-in peak RSS after 1 s / at the end |",
        "|---|---|---|---|---|---|---|" + "---|" * len(checkpoints) + "---|---|",
    ]
    for r in rows:
        b, c = r["builtin"], r["cpsat"]
        out.append(
            f"| {r['name']} | {r['upper_bound']} | {b['makespan']} ({b['gap']:+.2f}%) | {fmt(c['makespan'], '{}')} ({fmt(c['gap'], '{:+.2f}')}%) "
            f"| {b['lower_bound']} | {fmt(c['lower_bound'], '{}')} | {fmt(b['time_to_best_known'], '{:.2f} s')} | "
            + "".join(f"{fmt(best_at(b['trace'], t), '{}')} | " for t in checkpoints)
            + f"{fmt(b['trace'][-1][0] if b['trace'] else None, '{:.1f} s')} | {fmt(b.get('rss_after_1s_mib'), '{:.1f}')} / {fmt(b.get('peak_rss_mib'), '{:.1f} MiB')} |"
        )
    out += ["", "</details>", ""]
    section = "\n".join(out)

    output = Path(args.output)
    text = output.read_text() if output.exists() else "# Benchmarks\n\nWritten by `bench/run`; see bench/jobshop.py for how.\n\n"
    # Replace this configuration's previous section, keep the others, and
    # keep its hand-written prose: what stands between the heading and the
    # "Run on" line (how the sample was chosen) and after the table.
    pattern = re.compile(re.escape(title.rsplit(",", 1)[0]) + r", \d+ " + re.escape(kind) + r"\n.*?(?=\n## |\Z)", re.S)

    def keep_prose(previous):
        before = re.search(r"\n\n(.*?\n)\nRun on ", previous.group(0), re.S)
        after = previous.group(0).split("</details>\n", 1)
        new = section.rstrip("\n") + "\n"
        if before:
            new = new.replace("\n\nRun on ", "\n\n" + before.group(1) + "\nRun on ", 1)
        if len(after) == 2 and after[1].strip():
            new += after[1].rstrip("\n") + "\n"
        return new

    text = pattern.sub(keep_prose, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    output.write_text(text)
    if args.json:
        # One instance per line: readable in a diff without a line per number.
        Path(args.json).write_text("[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in rows) + "\n]\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
