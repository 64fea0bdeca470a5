//! Proven lower bounds for the flexible job-shop, cheap enough to compute
//! before the search starts. Every operation takes at least its shortest
//! alternative. A job cannot take less than the sum of those. The operations
//! whose machines all lie in a set S must be done on S's |S| machines, after
//! the earliest of their heads and before the latest of their tails, so the
//! makespan is at least that head + tail + their work / |S|. For a set of
//! one machine, the one-machine relaxation with heads and tails (the
//! preemptive Jackson schedule, as for the job-shop) is stronger.

use crate::bound::jackson_preemptive;
use job_model::FlexibleJobShop;
use std::collections::HashMap;

/// Above this many (set, operation) pairs, only the set of all machines and
/// the single machines are tried: the bound is a head start, not the job.
const SUBSET_WORK: usize = 20_000_000;

pub fn lower_bound(problem: &FlexibleJobShop) -> i64 {
    let mut bound = 0;
    // Per operation: (machine set, head, shortest duration, tail).
    let mut ops: Vec<(Vec<usize>, i64, i64, i64)> = Vec::with_capacity(problem.operation_count());
    for job in &problem.jobs {
        let total: i64 = job.iter().map(|o| o.min_duration()).sum();
        bound = bound.max(total);
        let mut head = 0;
        for op in job {
            let d = op.min_duration();
            let mut machines: Vec<usize> = op.alternatives.iter().map(|a| a.machine).collect();
            machines.sort_unstable();
            ops.push((machines, head, d, total - head - d));
            head += d;
        }
    }
    let mut sets: HashMap<&[usize], ()> = HashMap::new();
    for (machines, ..) in &ops {
        sets.insert(machines, ());
    }
    let all: Vec<usize> = (0..problem.machines).collect();
    let mut candidates: Vec<&[usize]> = vec![&all];
    if sets.len().saturating_mul(ops.len()) <= SUBSET_WORK {
        candidates.extend(sets.keys().copied().filter(|s| s.len() > 1 && s.len() < problem.machines));
    }
    let words = problem.machines.div_ceil(64);
    let bits = |s: &[usize]| {
        let mut b = vec![0u64; words];
        for &m in s {
            b[m / 64] |= 1 << (m % 64);
        }
        b
    };
    let op_bits: Vec<Vec<u64>> = ops.iter().map(|o| bits(&o.0)).collect();
    for set in candidates {
        let set_bits = bits(set);
        let (mut work, mut head, mut tail) = (0i64, i64::MAX, i64::MAX);
        for (o, (_, h, d, t)) in ops.iter().enumerate() {
            if op_bits[o].iter().zip(&set_bits).all(|(a, b)| a & !b == 0) {
                work += d;
                head = head.min(*h);
                tail = tail.min(*t);
            }
        }
        if head != i64::MAX {
            let width = set.len() as i64;
            bound = bound.max(head + tail + (work + width - 1) / width);
        }
    }
    // Single machines: the operations that can run nowhere else.
    let mut only_on: Vec<Vec<(i64, i64, i64)>> = vec![Vec::new(); problem.machines];
    for (machines, h, d, t) in &ops {
        if let [m] = machines[..] {
            only_on[m].push((*h, *d, *t));
        }
    }
    for machine in &mut only_on {
        bound = bound.max(jackson_preemptive(machine));
    }
    bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_counts_the_work_a_machine_set_must_do() {
        // Three operations of 4 that only machines 0 and 1 can run: 12 / 2.
        let p = FlexibleJobShop::parse_fjs("3 3\n1 2 0 4 1 4\n1 2 0 4 1 5\n1 2 1 4 0 6\n").unwrap();
        assert_eq!(lower_bound(&p), 6);
        // A job of two operations each at least 3 long.
        let p = FlexibleJobShop::parse_fjs("1 2\n2 2 0 3 1 7 1 1 3\n").unwrap();
        assert_eq!(lower_bound(&p), 6);
        // Machine 0 alone can run two operations of 5: 10, although the
        // set of all machines would allow (5 + 2 + 5) / 2.
        let p = FlexibleJobShop::parse_fjs("2 2\n1 1 0 5\n2 1 1 2 1 0 5\n").unwrap();
        assert_eq!(lower_bound(&p), 10);
    }
}
