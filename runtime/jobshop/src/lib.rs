//! The built-in job-shop and flexible job-shop solver: anytime search for a
//! short makespan, with a proven lower bound, stoppable at any moment with
//! the best schedule so far.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod block_estimates;
mod bound;
mod construct;
mod elite;
#[doc(hidden)]
pub mod exact;
pub mod flexible;
mod graph;
mod mirror;
mod neighbourhood;
mod parallel;
mod recombine;
mod relink;
mod rng;
mod schedule;
mod tabu;
mod tabu_list;
#[cfg(test)]
mod test_instances;
mod timing;

pub use bound::lower_bound;
use graph::Graph;
use job_model::{JobShop, JobShopResult, SolverInfo, check_schedule};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
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

/// One search thread's first `steps` iterations from the dispatching
/// rule's schedule, alone: fixed work, for `benches/search_speed.rs` to
/// time (no clock, no threads). Returns the best makespan it found.
#[doc(hidden)]
pub fn search_steps(problem: &JobShop, steps: u64, seed: u64) -> i64 {
    let graph = Graph::new(problem);
    let mut search = tabu::Search::new(&graph, graph.sequences(&construct::dispatch(problem, None)), seed);
    let mut best = i64::MAX;
    search.run(steps, 0, &mut || true, &mut |found| best = best.min(found.makespan));
    best
}

/// Iterations per epoch, scaled so that an epoch takes a few tens of
/// milliseconds whatever the size (an iteration costs up to O(operations)).
fn epoch_steps(operations: usize) -> u64 {
    (2_000_000 / operations.max(1) as u64).clamp(200, 50_000)
}

/// Solves until the time limit, a proven optimum, or `stop` is set; calls
/// `on_improve` for each better schedule. Always returns a valid schedule.
///
/// A dispatching rule gives the first schedule at once; then one tabu search
/// per thread improves it, its trajectories alternating between the
/// instance and its mirror, every second thread beginning on the mirror
/// (see `mirror`), the threads meeting between epochs (see `parallel`):
/// two runs with the same seed and threads follow the same path, and the
/// time limit only decides where it is cut.
pub fn solve(problem: &JobShop, params: &Params, stop: &AtomicBool, on_improve: &(dyn Fn(Improvement) + Sync)) -> JobShopResult {
    solve_from(problem, params, None, stop, &Hooks { on_improve, on_checkpoint: None })
}

/// [`solve`], continuing from `initial` (a checkpoint of an earlier run)
/// when it is a valid schedule of `problem`; the first thread starts from
/// it, so the answer is never worse than it.
pub fn solve_from(problem: &JobShop, params: &Params, initial: Option<&JobShopResult>, stop: &AtomicBool, hooks: &Hooks) -> JobShopResult {
    let started = Instant::now();
    let lb = lower_bound(problem);
    let graph = Graph::new(problem);
    let resumed = initial.filter(|r| check_schedule(problem, r).is_ok()).and_then(|r| {
        let schedule = schedule::Schedule { starts: r.schedule.iter().map(|ops| ops.iter().map(|o| o.start).collect()).collect(), makespan: r.makespan };
        graph.checked_sequences(&schedule).map(|seq| graph.schedule(&seq))
    });
    let first = resumed.unwrap_or_else(|| construct::dispatch(problem, None));
    let result_of = |seq: &Vec<Vec<usize>>| {
        let schedule = graph.schedule(seq);
        result(schedule.makespan(), lb, schedule.to_result_schedule(problem), started)
    };
    let mirrored = mirror::mirror(problem);
    let mirror_graph = Graph::new(&mirrored);
    let start = |t: usize| {
        let seed = params.seed.wrapping_add(t as u64);
        let mut rng = rng::Rng::new(seed ^ 0x5EED);
        // Each search's trajectories alternate between the two sides; every
        // second thread begins on the mirror.
        if t % 2 == 1 {
            let from = construct::dispatch(&mirrored, Some(&mut rng));
            let search = tabu::Search::new(&mirror_graph, mirror_graph.sequences(&from), seed).with_mirror(&graph);
            return mirror::Oriented::mirrored(search, mirror::twins_of(&graph));
        }
        let from = if t == 0 { first.clone() } else { construct::dispatch(problem, Some(&mut rng)) };
        mirror::Oriented::forward(tabu::Search::new(&graph, graph.sequences(&from), seed).with_mirror(&mirror_graph))
    };
    let (best, _) = run_race(params, lb, first.makespan(), graph.operations(), stop, hooks, started, &result_of, &start);
    result_of(&best)
}

fn result(makespan: i64, lower_bound: i64, schedule: Vec<Vec<job_model::ScheduledOp>>, started: Instant) -> JobShopResult {
    JobShopResult { makespan, lower_bound, optimal: makespan == lower_bound, schedule, solver: SolverInfo { name: NAME.into(), elapsed_s: started.elapsed().as_secs_f64() } }
}

/// The part of a solve both problems share: reports that only ever
/// improve, checkpoints as result documents, and the threads' race.
#[allow(clippy::too_many_arguments)] // one private call site per problem
fn run_race<W: parallel::Walk>(
    params: &Params,
    lb: i64,
    first_makespan: i64,
    operations: usize,
    stop: &AtomicBool,
    hooks: &Hooks,
    started: Instant,
    result_of: &(dyn Fn(&W::Solution) -> JobShopResult + Sync),
    start: &(dyn Fn(usize) -> W + Sync),
) -> (W::Solution, Option<i64>) {
    let on_improve = hooks.on_improve;
    on_improve(Improvement { makespan: first_makespan, lower_bound: lb, elapsed_s: started.elapsed().as_secs_f64() });
    let reported = Mutex::new(first_makespan);
    let report = |makespan: i64| {
        let mut r = reported.lock().expect("never poisoned");
        if makespan < *r {
            *r = makespan;
            on_improve(Improvement { makespan, lower_bound: lb, elapsed_s: started.elapsed().as_secs_f64() });
        }
    };
    let checkpoint = hooks.on_checkpoint.map(|(on_checkpoint, every)| (move |s: &W::Solution| on_checkpoint(result_of(s)), every));
    let checkpoint_ref = checkpoint.as_ref().map(|(f, every)| (f as &(dyn Fn(&W::Solution) + Sync), *every));
    let race = parallel::Race {
        threads: params.threads,
        steps: epoch_steps(operations),
        lower_bound: lb,
        deadline: started + params.time_limit,
        stop,
        report: &report,
        checkpoint: checkpoint_ref,
        first_makespan,
    };
    parallel::race(&race, start)
}
