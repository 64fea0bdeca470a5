//! Giffler-Thompson active schedules: at each step, the machine whose next
//! operation could finish first, and among the operations that could start
//! before that, the one whose job has most work remaining (MWKR), or, when a
//! random source is given, now and then a random one: each search thread
//! starts from a different good schedule.

use crate::rng::Rng;
use crate::schedule::Schedule;
use job_model::JobShop;

pub fn dispatch(problem: &JobShop, mut rng: Option<&mut Rng>) -> Schedule {
    let n = problem.jobs.len();
    let mut next = vec![0usize; n];
    let mut job_ready = vec![0i64; n];
    let mut machine_ready = vec![0i64; problem.machines];
    let mut remaining: Vec<i64> = problem.jobs.iter().map(|j| j.iter().map(|o| o.duration).sum()).collect();
    let mut starts: Vec<Vec<i64>> = problem.jobs.iter().map(|j| vec![0; j.len()]).collect();
    let total = problem.operation_count();
    let mut makespan = 0;
    let mut candidates = Vec::with_capacity(n);
    for _ in 0..total {
        // Earliest completion among the schedulable operations.
        let (mut best_end, mut best_machine, mut best_job) = (i64::MAX, 0, 0);
        for j in 0..n {
            if let Some(op) = problem.jobs[j].get(next[j]) {
                let end = job_ready[j].max(machine_ready[op.machine]) + op.duration;
                if end < best_end {
                    (best_end, best_machine, best_job) = (end, op.machine, j);
                }
            }
        }
        candidates.clear();
        for j in 0..n {
            // The operation that ends first is always a candidate, also when
            // it takes no time (zero durations occur in benchmark sets).
            if let Some(op) = problem.jobs[j].get(next[j])
                && op.machine == best_machine
                && (j == best_job || job_ready[j].max(machine_ready[op.machine]) < best_end)
            {
                candidates.push(j);
            }
        }
        let random_pick = rng.as_deref_mut().and_then(|r| (r.below(4) == 0).then(|| candidates[r.below(candidates.len())]));
        let chosen = random_pick.unwrap_or_else(|| *candidates.iter().max_by_key(|&&j| (remaining[j], std::cmp::Reverse(j))).expect("one candidate at least"));
        let op = problem.jobs[chosen][next[chosen]];
        let start = job_ready[chosen].max(machine_ready[op.machine]);
        starts[chosen][next[chosen]] = start;
        job_ready[chosen] = start + op.duration;
        machine_ready[op.machine] = start + op.duration;
        remaining[chosen] -= op.duration;
        makespan = makespan.max(start + op.duration);
        next[chosen] += 1;
    }
    Schedule { starts, makespan }
}
