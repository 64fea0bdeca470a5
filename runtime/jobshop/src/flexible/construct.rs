//! A first schedule for the flexible job-shop, by list scheduling: at each
//! step, of every job's next operation on each of its machines, the pairing
//! that would finish first; ties go to the job with most work remaining
//! (its shortest alternatives). When a random source is given, now and then
//! another job's next operation is placed on its best machine instead, so
//! each search thread starts from a different good schedule.

use super::search::Solution;
use crate::rng::Rng;
use job_model::FlexibleJobShop;

pub fn dispatch(problem: &FlexibleJobShop, mut rng: Option<&mut Rng>) -> Solution {
    let n = problem.jobs.len();
    let first: Vec<usize> = problem.jobs.iter().scan(0, |acc, j| Some(std::mem::replace(acc, *acc + j.len()))).collect();
    let total = problem.operation_count();
    let mut next = vec![0usize; n];
    let mut job_ready = vec![0i64; n];
    let mut machine_ready = vec![0i64; problem.machines];
    let mut remaining: Vec<i64> = problem.jobs.iter().map(|j| j.iter().map(|o| o.min_duration()).sum()).collect();
    let mut solution = Solution { machine: vec![0; total], dur: vec![0; total], seq: vec![Vec::new(); problem.machines], makespan: 0 };
    // The earliest end of a job's next operation, on its best machine.
    let best_of = |j: usize, next: &[usize], job_ready: &[i64], machine_ready: &[i64]| {
        problem.jobs[j].get(next[j]).map(|op| {
            op.alternatives.iter().map(|a| (job_ready[j].max(machine_ready[a.machine]) + a.duration, a.machine, a.duration)).min().expect("an operation has an alternative")
        })
    };
    for _ in 0..total {
        // (end, most work remaining, job) orders the candidates.
        let key = |j: usize, end: i64| (end, std::cmp::Reverse(remaining[j]), j);
        let (mut j, mut m, mut d) = (0..n)
            .filter_map(|j| best_of(j, &next, &job_ready, &machine_ready).map(|(end, m, d)| (key(j, end), j, m, d)))
            .min()
            .map(|(_, j, m, d)| (j, m, d))
            .expect("an operation is left");
        if let Some(r) = rng.as_deref_mut()
            && r.below(4) == 0
        {
            let open: Vec<usize> = (0..n).filter(|&k| next[k] < problem.jobs[k].len()).collect();
            j = open[r.below(open.len())];
            (_, m, d) = best_of(j, &next, &job_ready, &machine_ready).expect("an open job has a next operation");
        }
        let o = first[j] + next[j];
        let start = job_ready[j].max(machine_ready[m]);
        solution.machine[o] = m;
        solution.dur[o] = d;
        solution.seq[m].push(o);
        job_ready[j] = start + d;
        machine_ready[m] = start + d;
        remaining[j] -= problem.jobs[j][next[j]].min_duration();
        solution.makespan = solution.makespan.max(start + d);
        next[j] += 1;
    }
    solution
}
