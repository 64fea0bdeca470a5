#!/usr/bin/env python3
"""One long run of the built-in solver (one thread unless THREADS says), for
BENCHMARKS.md's "Long runs" section: every improvement (seconds, makespan)
and the resident set sampled once a minute, written as JSON, each with the
CPU time the solver had used by then (all its threads): the search's path
is fixed by its seed, so when other work shares the cores a gain comes
later in wall time but at the same CPU time, and the CPU seconds say how
much search a stretch of the run held.

    bench/longrun.py SOLVE INSTANCE SECONDS SEED OUT.json [THREADS]

OUT.json is rewritten at every improvement and every minute's sample, with
"finished": false until the run ends, so an hours-long run can be watched
and a run cut short still leaves its trace.

SOLVE is a release build of `solve` (bench/run builds one under
$HOME/.cache/scheduling-solver/target/release). Instances and best known
makespans come from ../shared/data/jobshop (or $SHARED_DATA/jobshop), or
from fjsp/ there for a flexible job-shop instance (solved with --format fjs).
"""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

if len(sys.argv) not in (6, 7):
    sys.exit(__doc__)
solve, inst, out = sys.argv[1], sys.argv[2], sys.argv[5]
try:
    limit, seed, threads = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[6]) if len(sys.argv) == 7 else 1
except ValueError:
    sys.exit("SECONDS, SEED and THREADS are whole numbers\n" + __doc__)
if "/" in inst:
    # The best known makespan is looked up by name in bounds.json.
    sys.exit(f"INSTANCE is a name in the shared data (dmu67, barnes-seti5x), not a path: {inst!r}")
shared = Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
# A job-shop instance by its name in jobshop/, else a flexible one in fjsp/.
kind = "jobshop" if (shared / "jobshop" / "instances" / inst).exists() else "fjsp"
if not (shared / kind / "instances" / inst).exists():
    sys.exit(f"no instance {inst!r} in {shared / 'jobshop' / 'instances'} or {shared / 'fjsp' / 'instances'}")
fjs = " --format fjs" if kind == "fjsp" else ""
data = shared / kind
best_known = {b["name"]: b for b in json.loads((data / "bounds.json").read_text())}[inst]["upper_bound"]
run = subprocess.Popen(
    [solve, str(data / "instances" / inst), "--time-limit", str(limit), "--threads", str(threads), "--seed", str(seed), "--progress"]
    + fjs.split(),
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
)
rss = []
improvements = []
cpu_at_improvements = []
cpu_by_minute = []
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s():
    """The solver's user and system time so far, in seconds (None once it has exited)."""
    try:
        fields = Path(f"/proc/{run.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    # After the command's name: state is field 3, utime and stime 14 and 15.
    return (int(fields[11]) + int(fields[12])) / TICKS

lock = threading.Lock()  # held by write() and by the appends it reads


def write(final=None):
    with lock:
        tmp = Path(out + ".tmp")
        tmp.write_text(json.dumps({
            "what": f"solve {inst}{fjs} --threads {threads} --seed {seed} --time-limit {limit}; bench/longrun.py",
            "instance": inst, "best_known": best_known, "threads": threads, "seed": seed, "limit_s": limit,
            "finished": final is not None, "final": final,
            "improvements_s_makespan": improvements, "rss_kib_by_minute": rss,
            "cpu_s_at_improvements": cpu_at_improvements, "cpu_s_by_minute": cpu_by_minute,
        }))
        tmp.replace(out)


def sample():
    minute = 0
    while run.poll() is None:
        time.sleep(60)
        minute += 1
        try:
            for line in open(f"/proc/{run.pid}/status"):
                if line.startswith("VmRSS"):
                    with lock:
                        rss.append([minute, int(line.split()[1])])
            cpu = cpu_s()
            if cpu is not None:
                with lock:
                    cpu_by_minute.append([minute, cpu])
            write()
        except FileNotFoundError:
            return


threading.Thread(target=sample, daemon=True).start()
errors = []
for line in run.stderr:
    if not line.startswith("{"):
        errors.append(line)
    else:
        r = json.loads(line)
        cpu = cpu_s()
        with lock:
            improvements.append([r["elapsed_s"], r["makespan"]])
            cpu_at_improvements.append(cpu)
        write()
final = run.stdout.read().strip()
if run.wait() != 0:
    sys.exit(f"solve failed on {inst}: {''.join(errors).strip()}")
write(final)
