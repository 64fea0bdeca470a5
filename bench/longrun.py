#!/usr/bin/env python3
"""One long single-thread run of the built-in job-shop solver, for
BENCHMARKS.md's "Long runs" section: every improvement (seconds, makespan)
and the resident set sampled once a minute, written as JSON.

    bench/longrun.py SOLVE INSTANCE SECONDS SEED OUT.json

SOLVE is a release build of `solve` (bench/run builds one under
$HOME/.cache/scheduling-solver/target/release). Instances and best known
makespans come from ../shared/data/jobshop (or $SHARED_DATA/jobshop).
"""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

if len(sys.argv) != 6:
    sys.exit(__doc__)
solve, inst, limit, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
data = Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data")) / "jobshop"
best_known = {b["name"]: b for b in json.loads((data / "bounds.json").read_text())}[inst]["upper_bound"]
run = subprocess.Popen(
    [solve, str(data / "instances" / inst), "--time-limit", str(limit), "--threads", "1", "--seed", str(seed), "--progress"],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
)
rss = []


def sample():
    minute = 0
    while run.poll() is None:
        time.sleep(60)
        minute += 1
        try:
            for line in open(f"/proc/{run.pid}/status"):
                if line.startswith("VmRSS"):
                    rss.append([minute, int(line.split()[1])])
        except FileNotFoundError:
            return


threading.Thread(target=sample, daemon=True).start()
improvements = [[r["elapsed_s"], r["makespan"]] for r in (json.loads(l) for l in run.stderr if l.startswith("{"))]
final = run.stdout.read().strip()
if run.wait() != 0:
    sys.exit(f"solve failed on {inst}")
Path(out).write_text(json.dumps({
    "what": f"solve {inst} --threads 1 --seed {seed} --time-limit {limit}; bench/longrun.py",
    "instance": inst, "best_known": best_known, "threads": 1, "seed": seed, "limit_s": limit,
    "final": final, "improvements_s_makespan": improvements, "rss_kib_by_minute": rss,
}))
