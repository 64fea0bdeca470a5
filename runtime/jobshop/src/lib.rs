//! The built-in job-shop solver: anytime search for a short makespan, with a
//! proven lower bound, stoppable at any moment with the best schedule so far.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bound;
mod construct;
mod rng;
mod schedule;
mod tabu;

pub use bound::lower_bound;
use job_model::{JobShop, JobShopResult, SolverInfo, check_schedule};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

pub const NAME: &str = "jobshop-builtin";

#[derive(Debug, Clone)]
pub struct Params {
    pub time_limit: Duration,
    pub threads: usize,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self { time_limit: Duration::from_secs(10), threads: 1, seed: 1 }
    }
}

/// One improvement, as the worker writes it into the status document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Improvement {
    pub makespan: i64,
    pub lower_bound: i64,
    pub elapsed_s: f64,
}

/// What the caller hears while the search runs.
pub struct Hooks<'a> {
    /// Each better makespan, as it is found.
    pub on_improve: &'a (dyn Fn(Improvement) + Sync),
    /// The best schedule so far, at most once per period and only when it
    /// improved: what a worker saves as its checkpoint.
    pub on_checkpoint: Option<(&'a (dyn Fn(JobShopResult) + Sync), Duration)>,
}

/// Iterations per epoch, scaled so that an epoch takes a few tens of
/// milliseconds whatever the size (an iteration costs O(operations)).
fn epoch_steps(operations: usize) -> u64 {
    (2_000_000 / operations.max(1) as u64).clamp(200, 50_000)
}

/// Solves until the time limit, a proven optimum, or `stop` is set; calls
/// `on_improve` for each better schedule. Always returns a valid schedule.
///
/// A dispatching rule gives the first schedule at once; then one tabu search
/// per thread improves it. The threads run in epochs of a fixed number of
/// iterations and meet between epochs: a search that has stalled continues
/// from the best schedule of all. Which schedule each thread sees therefore
/// depends only on the seed and the thread count, not on timing: two runs
/// with the same seed and threads follow the same path, and the time limit
/// only decides where it is cut.
pub fn solve(problem: &JobShop, params: &Params, stop: &AtomicBool, on_improve: &(dyn Fn(Improvement) + Sync)) -> JobShopResult {
    solve_from(problem, params, None, stop, &Hooks { on_improve, on_checkpoint: None })
}

/// [`solve`], continuing from `initial` (a checkpoint of an earlier run)
/// when it is a valid schedule of `problem`; the first thread starts from
/// it, so the answer is never worse than it.
pub fn solve_from(problem: &JobShop, params: &Params, initial: Option<&JobShopResult>, stop: &AtomicBool, hooks: &Hooks) -> JobShopResult {
    let on_improve = hooks.on_improve;
    let started = Instant::now();
    let lb = lower_bound(problem);
    let deadline = started + params.time_limit;
    let graph = tabu::Graph::new(problem);
    let resumed = initial.filter(|r| check_schedule(problem, r).is_ok()).and_then(|r| {
        let schedule = schedule::Schedule { starts: r.schedule.iter().map(|ops| ops.iter().map(|o| o.start).collect()).collect(), makespan: r.makespan };
        graph.checked_sequences(&schedule).map(|seq| graph.schedule(&seq))
    });
    let first = resumed.unwrap_or_else(|| construct::dispatch(problem, None));
    on_improve(Improvement { makespan: first.makespan(), lower_bound: lb, elapsed_s: started.elapsed().as_secs_f64() });
    let result_of = |seq: &[Vec<usize>]| {
        let schedule = graph.schedule(seq);
        let makespan = schedule.makespan();
        JobShopResult {
            makespan,
            lower_bound: lb,
            optimal: makespan == lb,
            schedule: schedule.to_result_schedule(problem),
            solver: SolverInfo { name: NAME.into(), elapsed_s: started.elapsed().as_secs_f64() },
        }
    };
    let checkpointed = Mutex::new((first.makespan(), Instant::now()));
    let threads = params.threads.max(1);
    let steps = epoch_steps(graph.operations());
    // The best makespan reported so far, so that reports only ever improve.
    let reported = Mutex::new(first.makespan());
    let report = |makespan: i64| {
        let mut r = reported.lock().expect("never poisoned");
        if makespan < *r {
            *r = makespan;
            on_improve(Improvement { makespan, lower_bound: lb, elapsed_s: started.elapsed().as_secs_f64() });
        }
    };
    let finished = AtomicBool::new(false);
    let barrier = Barrier::new(threads);
    let bests: Vec<Mutex<(i64, Vec<Vec<usize>>)>> = (0..threads).map(|_| Mutex::new((i64::MAX, Vec::new()))).collect();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (graph, first, report, finished, barrier, bests, result_of, checkpointed) = (&graph, &first, &report, &finished, &barrier, &bests, &result_of, &checkpointed);
            scope.spawn(move || {
                let seed = params.seed.wrapping_add(t as u64);
                let start = if t == 0 { first.clone() } else { construct::dispatch(problem, Some(&mut rng::Rng::new(seed ^ 0x5EED))) };
                let mut search = tabu::Search::new(graph, graph.sequences(&start), seed);
                report(search.best().makespan);
                let mut keep_going = || Instant::now() < deadline && !stop.load(Ordering::Relaxed) && !finished.load(Ordering::Relaxed);
                loop {
                    let more = search.run(steps, lb, &mut keep_going, &mut |found| report(found.makespan));
                    if !more {
                        finished.store(true, Ordering::Relaxed);
                    }
                    *bests[t].lock().expect("never poisoned") = (search.best().makespan, search.best().seq.clone());
                    // Every thread reaches both barriers in every epoch, so
                    // none waits for one that has left.
                    barrier.wait();
                    let leader = (0..threads).min_by_key(|&k| (bests[k].lock().expect("never poisoned").0, k)).expect("one thread");
                    // Between the barriers the bests are read-only: one thread
                    // saves the leader's schedule when it is due.
                    if t == 0
                        && let Some((on_checkpoint, every)) = hooks.on_checkpoint
                    {
                        let mut last = checkpointed.lock().expect("never poisoned");
                        let (makespan, seq) = &*bests[leader].lock().expect("never poisoned");
                        if *makespan < last.0 && last.1.elapsed() >= every {
                            on_checkpoint(result_of(seq));
                            *last = (*makespan, Instant::now());
                        }
                    }
                    if finished.load(Ordering::Relaxed) {
                        break;
                    }
                    if leader != t && search.stalled() {
                        let (makespan, seq) = &*bests[leader].lock().expect("never poisoned");
                        if *makespan < search.best().makespan {
                            search.adopt(seq);
                        }
                    }
                    barrier.wait();
                }
            });
        }
    });
    let (_, seq) = bests.into_iter().map(|b| b.into_inner().expect("never poisoned")).min_by_key(|b| b.0).expect("one thread");
    result_of(&seq)
}
