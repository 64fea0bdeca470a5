//! Lower bounds that are proven and cheap: a job cannot take less than its
//! own work, and no machine can finish before the optimum of its one-machine
//! relaxation with heads and tails (the work before and after each operation
//! in its job), which the preemptive Jackson schedule gives exactly (Carlier
//! 1982): the bound is the best of these over jobs and machines.

use job_model::JobShop;
use std::collections::BinaryHeap;

pub fn lower_bound(problem: &JobShop) -> i64 {
    let mut bound = 0;
    // Per machine: (head, duration, tail) of each operation on it.
    let mut ops: Vec<Vec<(i64, i64, i64)>> = vec![Vec::new(); problem.machines];
    for job in &problem.jobs {
        let total: i64 = job.iter().map(|o| o.duration).sum();
        bound = bound.max(total);
        let mut head = 0;
        for op in job {
            ops[op.machine].push((head, op.duration, total - head - op.duration));
            head += op.duration;
        }
    }
    for machine in &mut ops {
        bound = bound.max(jackson_preemptive(machine));
    }
    bound
}

/// The makespan of the preemptive one-machine schedule that always runs the
/// released operation with the longest tail: optimal for the preemptive
/// problem, hence a lower bound for the machine.
pub(crate) fn jackson_preemptive(ops: &mut [(i64, i64, i64)]) -> i64 {
    ops.sort_unstable_by_key(|&(head, _, _)| head);
    let mut ready: BinaryHeap<(i64, i64)> = BinaryHeap::new(); // (tail, remaining)
    let (mut t, mut i, mut cmax) = (0i64, 0, 0i64);
    while i < ops.len() || !ready.is_empty() {
        if ready.is_empty() {
            t = t.max(ops[i].0);
        }
        while i < ops.len() && ops[i].0 <= t {
            ready.push((ops[i].2, ops[i].1));
            i += 1;
        }
        let (tail, remaining) = ready.pop().expect("one operation is released");
        let next_release = ops.get(i).map_or(i64::MAX, |o| o.0);
        let run = remaining.min(next_release - t);
        t += run;
        if run == remaining {
            cmax = cmax.max(t + tail);
        } else {
            ready.push((tail, remaining - run));
        }
    }
    cmax
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jackson_interrupts_for_a_longer_tail() {
        // B arrives at 1 with a long tail and preempts A.
        let mut ops = vec![(0, 4, 0), (1, 2, 10)];
        assert_eq!(jackson_preemptive(&mut ops), 13);
        // An idle gap waits for the release.
        let mut ops = vec![(5, 1, 0)];
        assert_eq!(jackson_preemptive(&mut ops), 6);
    }

    #[test]
    fn ft10_bound_is_between_the_machine_loads_and_the_optimum() {
        let text = // Relative to the package, where cargo runs its tests (not `env!`: the
        // build cache is shared between checkouts).
        std::fs::read_to_string("../../xtask/data/ft10.txt").unwrap();
        let p = JobShop::parse_orlib(&text).unwrap();
        let max_load = (0..p.machines).map(|m| p.jobs.iter().flatten().filter(|o| o.machine == m).map(|o| o.duration).sum::<i64>()).max().unwrap();
        let lb = lower_bound(&p);
        assert!(max_load <= lb && lb <= 930, "ft10: load {max_load}, bound {lb}, optimum 930");
    }
}
