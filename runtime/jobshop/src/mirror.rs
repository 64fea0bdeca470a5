//! The search run on the mirrored instance: every job's route reversed.
//! Reversing each machine's sequence of a schedule of the mirror gives a
//! schedule of the original with the same makespan (time runs backwards),
//! and the other way round, so the two searches can exchange schedules.
//!
//! Why: the tabu search is not symmetric in time. Its schedules are
//! left-justified and it follows the first critical path from the start,
//! so on the mirror it takes other paths through the same space. On the
//! seven hard DMU tuning instances at 20 s (2 threads, seeds 1-2), one
//! direction was better on both seeds of four of them, by 0.4-1.1%: the
//! mirror on two, the original on two. A second thread that begins on
//! the mirror covers both from the start, and each search's trajectories
//! alternate between the sides (see `tabu::Search::with_mirror`).

use crate::graph::Graph;
use crate::parallel::Walk;
use crate::tabu::Search;
use job_model::JobShop;

/// `p` with every job's operations in reverse order.
pub(crate) fn mirror(p: &JobShop) -> JobShop {
    JobShop { machines: p.machines, jobs: p.jobs.iter().map(|ops| ops.iter().rev().copied().collect()).collect() }
}

/// Operation `o` of `g`'s instance is operation `twin[o]` of its mirror,
/// and the other way round (operations numbered job after job).
pub(crate) fn twins_of(g: &Graph) -> Vec<usize> {
    let n = g.operations();
    let mut twin = Vec::with_capacity(n);
    for j in 0..g.jobs() {
        let (first, end) = (g.first_of_job[j], g.first_of_job.get(j + 1).copied().unwrap_or(n));
        twin.extend((first..end).rev());
    }
    twin
}

/// Machine sequences of one problem as the other's: each reversed, each
/// operation its twin. Its own inverse.
pub(crate) fn reflect(seq: &[Vec<usize>], twin: &[usize]) -> Vec<Vec<usize>> {
    seq.iter().map(|s| s.iter().rev().map(|&o| twin[o]).collect()).collect()
}

/// A search of the original or of its mirror, speaking in the original's
/// schedules either way.
pub(crate) struct Oriented<'a> {
    search: Search<'a>,
    /// Set when `search` runs on the mirror.
    twin: Option<Vec<usize>>,
    /// The search's best as a schedule of the original; refreshed after
    /// each epoch in which it improved.
    best: (i64, Vec<Vec<usize>>),
}

impl<'a> Oriented<'a> {
    pub(crate) fn forward(search: Search<'a>) -> Self {
        let best = (search.best_makespan(), search.best_solution().clone());
        Self { search, twin: None, best }
    }

    /// `search` runs on the mirror; `twin` from [`twins_of`].
    pub(crate) fn mirrored(search: Search<'a>, twin: Vec<usize>) -> Self {
        let best = (search.best_makespan(), reflect(search.best_solution(), &twin));
        Self { search, twin: Some(twin), best }
    }

    fn as_original(&self, seq: &[Vec<usize>]) -> Vec<Vec<usize>> {
        self.twin.as_ref().map_or_else(|| seq.to_vec(), |twin| reflect(seq, twin))
    }
}

impl Walk for Oriented<'_> {
    type Solution = Vec<Vec<usize>>;

    fn best_makespan(&self) -> i64 {
        self.best.0
    }

    fn best_solution(&self) -> &Self::Solution {
        &self.best.1
    }

    fn run(&mut self, steps: u64, lower_bound: i64, keep_going: &mut dyn FnMut() -> bool, improved: &mut dyn FnMut(i64)) -> bool {
        let more = Walk::run(&mut self.search, steps, lower_bound, keep_going, improved);
        if self.search.best_makespan() < self.best.0 {
            self.best = (self.search.best_makespan(), self.as_original(self.search.best_solution()));
        }
        more
    }

    fn takes_best(&self) -> bool {
        self.search.takes_best()
    }

    fn adopt(&mut self, solution: &Self::Solution) {
        // Reflection is its own inverse: the original's schedule, as the mirror's.
        let theirs = self.as_original(solution);
        self.search.adopt(&theirs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use job_model::Operation;

    fn instance() -> JobShop {
        let op = |machine, duration| Operation { machine, duration };
        JobShop { machines: 3, jobs: vec![vec![op(0, 3), op(1, 2), op(2, 2)], vec![op(0, 2), op(2, 1), op(1, 4)], vec![op(1, 4), op(2, 3)]] }
    }

    #[test]
    fn a_reflected_schedule_of_the_mirror_has_the_same_makespan() {
        let p = instance();
        let m = mirror(&p);
        let (gp, gm) = (Graph::new(&p), Graph::new(&m));
        let twin = twins_of(&gp);
        for seed in 1..20 {
            let mut rng = crate::rng::Rng::new(seed);
            let of_mirror = gm.sequences(&crate::construct::dispatch(&m, Some(&mut rng)));
            let there = gm.schedule(&of_mirror);
            let here = gp.schedule(&reflect(&of_mirror, &twin));
            assert_eq!(here.makespan, there.makespan);
            assert_eq!(reflect(&reflect(&of_mirror, &twin), &twin), of_mirror);
        }
    }

    #[test]
    fn a_mirrored_search_reports_schedules_of_the_original() {
        let p = instance();
        let m = mirror(&p);
        let (gp, gm) = (Graph::new(&p), Graph::new(&m));
        let start = gm.sequences(&crate::construct::dispatch(&m, None));
        let first = gm.schedule(&start).makespan;
        let mut walk = Oriented::mirrored(Search::new(&gm, start, 3), twins_of(&gp));
        assert_eq!(walk.best_makespan(), first);
        walk.run(2_000, 0, &mut || true, &mut |_| {});
        let seq = walk.best_solution().clone();
        let schedule = gp.schedule(&seq);
        assert_eq!(schedule.makespan, walk.best_makespan());
        assert!(walk.best_makespan() <= first);
        let result = job_model::JobShopResult {
            makespan: schedule.makespan,
            lower_bound: 0,
            optimal: false,
            schedule: schedule.to_result_schedule(&p),
            solver: job_model::SolverInfo { name: "test".into(), elapsed_s: 0.0 },
        };
        assert_eq!(job_model::check_schedule(&p, &result), Ok(()));
        // The original's schedule goes into the mirror's pool reflected,
        // where `adopt` times it and panics on a cycle.
        walk.adopt(&seq);
    }
}
