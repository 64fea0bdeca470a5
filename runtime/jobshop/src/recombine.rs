//! Recombination of two elite schedules that keeps what they share
//! (in the manner of Cheng, Peng & Lü's hybrid evolutionary algorithm): every
//! pair of operations that both schedules order alike on a machine keeps
//! that order, and the pairs they disagree on are settled afresh by Giffler
//! & Thompson's active-schedule rule, each conflict by the order of one
//! parent or the other at random. With no parents, the same rule builds a
//! fresh start for a search that begins again (`tabu::Search`).

use crate::graph::{Graph, NONE};
use crate::rng::Rng;

/// A child of `a` and `b` (machine sequences of one instance). Acyclic:
/// the arcs it must keep are a subset of `a`'s, and it is built in a
/// topological order of them.
pub(crate) fn recombine(g: &Graph, a: &[Vec<usize>], b: &[Vec<usize>], rng: &mut Rng) -> Vec<Vec<usize>> {
    let n = g.operations();
    let (mut pos_a, mut pos_b) = (vec![0; n], vec![0; n]);
    for (s, pos) in [(a, &mut pos_a), (b, &mut pos_b)] {
        for m in s {
            for (i, &o) in m.iter().enumerate() {
                pos[o] = i;
            }
        }
    }
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    for m in a {
        for (i, &x) in m.iter().enumerate() {
            for &y in &m[i + 1..] {
                if pos_b[x] < pos_b[y] {
                    after[x].push(y);
                }
            }
        }
    }
    active(g, &after, &mut |conflict| {
        let pos = if rng.below(2) == 0 { &pos_a } else { &pos_b };
        *conflict.iter().min_by_key(|&&o| pos[o]).expect("a conflict is never empty")
    })
}

/// A new active schedule with no parent: each conflict settled for the
/// job with most work remaining, or one time in four at random, as
/// `construct::dispatch` starts a search, so that each fresh start differs.
pub(crate) fn fresh(g: &Graph, rng: &mut Rng) -> Vec<Vec<usize>> {
    let n = g.operations();
    // Each operation's work to the end of its job, itself included.
    let mut remaining = vec![0i64; n];
    for o in (0..n).rev() {
        remaining[o] = g.dur(o) + if g.job_next[o] == NONE { 0 } else { remaining[g.job_next[o]] };
    }
    active(g, &vec![Vec::new(); n], &mut |conflict| {
        if rng.below(4) == 0 {
            conflict[rng.below(conflict.len())]
        } else {
            *conflict.iter().max_by_key(|&&o| (remaining[o], std::cmp::Reverse(g.job[o]))).expect("a conflict is never empty")
        }
    })
}

/// Giffler & Thompson's active schedule, with the machine arcs `after[x]`
/// (each `y` after `x` on its machine) kept: at each step, the operation
/// that could end first fixes the machine, and `choose` picks among the
/// ready operations of that machine that could start before it ends.
fn active(g: &Graph, after: &[Vec<usize>], choose: &mut dyn FnMut(&[usize]) -> usize) -> Vec<Vec<usize>> {
    let n = g.operations();
    // Waiting counts: the job predecessor and the kept machine predecessors.
    let mut waiting: Vec<u32> = (0..n).map(|o| u32::from(g.job_prev[o] != NONE)).collect();
    for ys in after {
        for &y in ys {
            waiting[y] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&o| waiting[o] == 0).collect();
    let mut job_end = vec![0i64; n];
    let mut machine_end = vec![0i64; g.machines];
    let mut seq = vec![Vec::new(); g.machines];
    let mut conflict = Vec::new();
    while !ready.is_empty() {
        let start = |o: usize| machine_end[g.machine(o)].max(if g.job_prev[o] == NONE { 0 } else { job_end[g.job_prev[o]] });
        let &first = ready.iter().min_by_key(|&&o| (start(o) + g.dur(o), o)).expect("ready is not empty");
        let (m, end) = (g.machine(first), start(first) + g.dur(first));
        conflict.clear();
        // `first` itself too when it takes no time (benchmark sets have such).
        conflict.extend(ready.iter().copied().filter(|&o| o == first || (g.machine(o) == m && start(o) < end)));
        let chosen = choose(&conflict);
        job_end[chosen] = start(chosen) + g.dur(chosen);
        machine_end[m] = job_end[chosen];
        seq[m].push(chosen);
        ready.retain(|&o| o != chosen);
        if g.job_next[chosen] != NONE {
            let o = g.job_next[chosen];
            waiting[o] -= 1;
            if waiting[o] == 0 {
                ready.push(o);
            }
        }
        for &o in &after[chosen] {
            waiting[o] -= 1;
            if waiting[o] == 0 {
                ready.push(o);
            }
        }
    }
    debug_assert_eq!(seq.iter().map(Vec::len).sum::<usize>(), n, "kept arcs are acyclic");
    seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_instances::random_instance;

    /// A child is a schedule of the instance (each machine's operations,
    /// no cycle) that orders every pair its parents agree on as they do.
    #[test]
    fn a_child_keeps_what_its_parents_share_and_is_a_schedule() {
        let mut told_apart = 0;
        for seed in 1..30 {
            let p = random_instance(8, 5, seed);
            let g = Graph::new(&p);
            let parent = |k: u64| g.sequences(&crate::construct::dispatch(&p, Some(&mut Rng::new(k))));
            let (a, b) = (parent(100 + seed), parent(200 + seed));
            let child = recombine(&g, &a, &b, &mut Rng::new(seed));
            assert!(g.checked_sequences(&g.schedule(&child)).is_some());
            let mut pos = vec![[0; 3]; g.operations()];
            for (k, s) in [&a, &b, &child].into_iter().enumerate() {
                for m in s {
                    for (i, &o) in m.iter().enumerate() {
                        pos[o][k] = i;
                    }
                }
            }
            for m in 0..g.machines {
                let mut held = child[m].clone();
                held.sort_unstable();
                let mut want = a[m].clone();
                want.sort_unstable();
                assert_eq!(held, want, "machine {m} holds its operations");
                for &x in &a[m] {
                    for &y in &a[m] {
                        if pos[x][0] < pos[y][0] && pos[x][1] < pos[y][1] {
                            assert!(pos[x][2] < pos[y][2], "a shared order is kept");
                        }
                    }
                }
            }
            told_apart += usize::from(child != a && child != b);
        }
        assert!(told_apart > 15, "a child is mostly neither parent ({told_apart} of 29)");
    }

    /// A fresh start is a schedule of the instance, and seeds tell them apart.
    #[test]
    fn fresh_starts_are_schedules_that_differ_by_seed() {
        let p = random_instance(10, 6, 4);
        let g = Graph::new(&p);
        let starts: Vec<_> = (0..8).map(|seed| fresh(&g, &mut Rng::new(seed))).collect();
        for s in &starts {
            assert!(g.checked_sequences(&g.schedule(s)).is_some(), "a schedule of the instance");
            for (m, ops) in s.iter().enumerate() {
                assert!(ops.iter().all(|&o| g.machine(o) == m), "machine {m} holds its own operations");
            }
        }
        let distinct: std::collections::HashSet<_> = starts.iter().collect();
        assert!(distinct.len() > 4, "fresh starts differ: {} of 8", distinct.len());
    }
}
