//! The built-in job-shop solver: anytime search for a short makespan, with a
//! proven lower bound, stoppable at any moment with the best schedule so far.

mod bound;
mod construct;
mod rng;
mod schedule;
mod tabu;

pub use bound::lower_bound;
use job_model::{JobShop, JobShopResult, SolverInfo};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Solves until the time limit, a proven optimum, or `stop` is set; calls
/// `on_improve` for each better schedule. Always returns a valid schedule.
///
/// A dispatching rule gives the first schedule at once; then one tabu search
/// per thread (seeds `seed`, `seed + 1`, ...) improves it, the best of all
/// being reported as it is found.
pub fn solve(problem: &JobShop, params: &Params, stop: &AtomicBool, on_improve: &(dyn Fn(Improvement) + Sync)) -> JobShopResult {
    let started = Instant::now();
    let lb = lower_bound(problem);
    let deadline = started + params.time_limit;
    let first = construct::dispatch(problem, construct::Rule::MostWorkRemaining, None);
    on_improve(Improvement { makespan: first.makespan(), lower_bound: lb, elapsed_s: started.elapsed().as_secs_f64() });
    let graph = tabu::Graph::new(problem);
    let start_seq = graph.sequences(&first);
    let best = std::sync::Mutex::new((first.makespan(), start_seq.clone()));
    std::thread::scope(|scope| {
        for t in 0..params.threads.max(1) {
            let (graph, best, start_seq) = (&graph, &best, start_seq.clone());
            scope.spawn(move || {
                let mut search = tabu::Search::new(graph, params.seed.wrapping_add(t as u64));
                let mut keep_going = || Instant::now() < deadline && !stop.load(Ordering::Relaxed) && best.lock().map_or(false, |b| b.0 > lb);
                let mut improved = |found: &tabu::Found| {
                    let mut b = best.lock().expect("best is never poisoned");
                    if found.makespan < b.0 {
                        *b = (found.makespan, found.seq.clone());
                        on_improve(Improvement { makespan: found.makespan, lower_bound: lb, elapsed_s: started.elapsed().as_secs_f64() });
                    }
                };
                search.run(start_seq, lb, &mut keep_going, &mut improved);
            });
        }
    });
    let (_, seq) = best.into_inner().expect("best is never poisoned");
    let schedule = tabu::Search::schedule(&graph, &seq);
    let makespan = schedule.makespan();
    JobShopResult {
        makespan,
        lower_bound: lb,
        optimal: makespan == lb,
        schedule: schedule.to_result_schedule(problem),
        solver: SolverInfo { name: NAME.into(), elapsed_s: started.elapsed().as_secs_f64() },
    }
}
