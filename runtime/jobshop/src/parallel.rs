//! The threads of one solve, for either problem's search: each thread runs
//! its own search in epochs of a fixed number of iterations, and the
//! threads meet between epochs. A search that has stalled is handed the
//! best schedule of all (the job-shop search takes it into its elite
//! pool, in its first run only; the flexible one restarts from it). Which
//! schedule each thread sees therefore depends only on the seed and the
//! thread count, not on timing: two runs with the same seed and threads
//! follow the same path, and the time limit only decides where it is cut.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// One thread's search, as the epochs drive it.
pub(crate) trait Walk {
    type Solution: Clone + Send;

    fn best_makespan(&self) -> i64;
    fn best_solution(&self) -> &Self::Solution;
    /// Runs `steps` iterations or until the best meets `lower_bound` or
    /// `keep_going` says no; `improved` sees each new best makespan.
    /// Returns whether the search may go on.
    fn run(&mut self, steps: u64, lower_bound: i64, keep_going: &mut dyn FnMut() -> bool, improved: &mut dyn FnMut(i64)) -> bool;
    /// Whether it would take the best of all threads now (when that is
    /// better than its own): it has gone long without a new best of its own,
    /// and its search has no reason of its own to keep to its region.
    fn takes_best(&self) -> bool;
    /// Takes a better solution of another thread (to continue from it, or to relink toward it).
    fn adopt(&mut self, solution: &Self::Solution);
    /// `Some(h)` when this thread has proven that its share of a search
    /// split between the threads holds no schedule of makespan at most
    /// `h` (the flexible search's exact step, when its pools are every
    /// choice there is): when every thread's `h` is the same, the
    /// instance has none.
    fn proven(&self) -> Option<i64> {
        None
    }
}

/// Hands a solution out as a checkpoint.
pub(crate) type Checkpoint<'a, S> = &'a (dyn Fn(&S) + Sync);

pub(crate) struct Race<'a, S> {
    pub threads: usize,
    pub steps: u64,
    pub lower_bound: i64,
    pub deadline: Instant,
    pub stop: &'a AtomicBool,
    /// Each new best makespan of any thread (the caller keeps reports monotone).
    pub report: &'a (dyn Fn(i64) + Sync),
    /// The best solution so far, at most once per period and only when it
    /// is better than `first_makespan` and the last one handed out.
    pub checkpoint: Option<(Checkpoint<'a, S>, Duration)>,
    pub first_makespan: i64,
}

/// A thread's best makespan and solution, and what it has proven (see
/// [`Walk::proven`]), after its first epoch.
type Best<S> = Mutex<Option<(i64, S, Option<i64>)>>;

/// The horizon every thread has proven, if they agree on one: no schedule
/// is that short.
fn proven_by_all<S>(bests: &[Best<S>]) -> Option<i64> {
    let proven: Vec<Option<i64>> = bests.iter().map(|b| b.lock().expect("never poisoned").as_ref().and_then(|b| b.2)).collect();
    proven.iter().all(|&h| h.is_some() && h == proven[0]).then_some(proven[0]).flatten()
}

/// Runs one search per thread, built in its thread by `start(t)`, until the
/// deadline, `stop`, or a search that proves its schedule optimal, or all
/// the threads together (see [`Walk::proven`]); returns the best solution
/// of all, and the lower bound the threads proved together, if any.
pub(crate) fn race<W: Walk>(r: &Race<'_, W::Solution>, start: &(dyn Fn(usize) -> W + Sync)) -> (W::Solution, Option<i64>) {
    let threads = r.threads.max(1);
    let finished = AtomicBool::new(false);
    let barrier = Barrier::new(threads);
    let checkpointed = Mutex::new((r.first_makespan, Instant::now()));
    let bests: Vec<Best<W::Solution>> = (0..threads).map(|_| Mutex::new(None)).collect();
    let lock = |t: usize| bests[t].lock().expect("never poisoned");
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (finished, barrier, checkpointed, lock, all) = (&finished, &barrier, &checkpointed, &lock, &bests);
            scope.spawn(move || {
                let mut search = start(t);
                (r.report)(search.best_makespan());
                let mut keep_going = || Instant::now() < r.deadline && !r.stop.load(Ordering::Relaxed) && !finished.load(Ordering::Relaxed);
                loop {
                    let more = search.run(r.steps, r.lower_bound, &mut keep_going, &mut |makespan| (r.report)(makespan));
                    if !more {
                        finished.store(true, Ordering::Relaxed);
                    }
                    *lock(t) = Some((search.best_makespan(), search.best_solution().clone(), search.proven()));
                    // Every thread reaches both barriers in every epoch, so
                    // none waits for one that has left.
                    barrier.wait();
                    let makespan_of = |k: usize| lock(k).as_ref().map_or(i64::MAX, |b| b.0);
                    let leader = (0..threads).min_by_key(|&k| (makespan_of(k), k)).expect("one thread");
                    // Between the barriers the bests are read-only: one thread
                    // saves the leader's solution when it is due.
                    if t == 0
                        && let Some((on_checkpoint, every)) = r.checkpoint
                    {
                        let mut last = checkpointed.lock().expect("never poisoned");
                        if let Some((makespan, solution, _)) = &*lock(leader)
                            && *makespan < last.0
                            && last.1.elapsed() >= every
                        {
                            on_checkpoint(solution);
                            *last = (*makespan, Instant::now());
                        }
                    }
                    if finished.load(Ordering::Relaxed) {
                        break;
                    }
                    // Every thread reads the same proofs here, so all leave
                    // together.
                    if proven_by_all(all).is_some_and(|h| h + 1 >= makespan_of(leader)) {
                        break;
                    }
                    if leader != t
                        && search.takes_best()
                        && let Some((makespan, solution, _)) = &*lock(leader)
                        && *makespan < search.best_makespan()
                    {
                        search.adopt(solution);
                    }
                    barrier.wait();
                }
            });
        }
    });
    let proven = proven_by_all(&bests).map(|h| h + 1);
    let best = bests.into_iter().filter_map(|b| b.into_inner().expect("never poisoned")).min_by_key(|b| b.0).expect("one thread").1;
    (best, proven)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A proof counts only when every thread has proven the same horizon
    /// for its share.
    #[test]
    fn a_proof_needs_every_share_at_one_horizon() {
        let bests = |proven: &[Option<i64>]| -> Vec<Best<()>> { proven.iter().map(|&p| Mutex::new(Some((10, (), p)))).collect() };
        assert_eq!(proven_by_all(&bests(&[Some(8), Some(8)])), Some(8));
        assert_eq!(proven_by_all(&bests(&[Some(8)])), Some(8));
        assert_eq!(proven_by_all(&bests(&[Some(8), None])), None);
        assert_eq!(proven_by_all(&bests(&[Some(8), Some(9)])), None, "shares of different trees");
        assert_eq!(proven_by_all(&[Mutex::new(None), Mutex::new(Some((10, (), Some(8))))]), None, "a thread before its first epoch");
    }
}
