//! The built-in job-shop solver: anytime search for a short makespan, with a
//! proven lower bound, stoppable at any moment with the best schedule so far.

mod bound;
mod construct;
mod rng;
mod schedule;

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
pub fn solve(problem: &JobShop, params: &Params, stop: &AtomicBool, on_improve: &(dyn Fn(Improvement) + Sync)) -> JobShopResult {
    let started = Instant::now();
    let lb = lower_bound(problem);
    let deadline = started + params.time_limit;
    let mut rng = rng::Rng::new(params.seed);
    let mut best = construct::dispatch(problem, construct::Rule::MostWorkRemaining, None);
    on_improve(Improvement { makespan: best.makespan(), lower_bound: lb, elapsed_s: started.elapsed().as_secs_f64() });
    // Randomised dispatching until the limit: every candidate is a complete,
    // valid schedule, so stopping at any moment loses nothing.
    while best.makespan() > lb && Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let candidate = construct::dispatch(problem, construct::Rule::MostWorkRemaining, Some(&mut rng));
        if candidate.makespan() < best.makespan() {
            best = candidate;
            on_improve(Improvement { makespan: best.makespan(), lower_bound: lb, elapsed_s: started.elapsed().as_secs_f64() });
        }
    }
    let makespan = best.makespan();
    JobShopResult {
        makespan,
        lower_bound: lb,
        optimal: makespan == lb,
        schedule: best.to_result_schedule(problem),
        solver: SolverInfo { name: NAME.into(), elapsed_s: started.elapsed().as_secs_f64() },
    }
}
