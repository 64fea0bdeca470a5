//! The flexible job-shop: the same anytime, multi-threaded search as the
//! job-shop's (see `parallel`), with machine reassignment among its moves.
//! A problem whose every operation has one alternative is a job-shop and
//! is solved by the job-shop search.

mod bound;
pub(crate) mod construct;
pub(crate) mod search;

pub use bound::lower_bound;
use job_model::{FlexibleJobShop, JobShopResult, ScheduledOp, check_flexible_schedule};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::{Hooks, Params, rng, run_race};

/// [`crate::search_steps`] for a flexible job-shop (with more than one
/// alternative somewhere): one search thread's first `steps` iterations
/// from the list scheduler's schedule, for `benches/search_speed.rs`.
#[doc(hidden)]
pub fn search_steps(problem: &FlexibleJobShop, steps: u64, seed: u64) -> i64 {
    use crate::parallel::Walk;
    let inst = search::Instance::new(problem);
    let mut search = search::Search::new(&inst, construct::dispatch(problem, None), seed);
    search.run(steps, 0, &mut || true, &mut |_| {});
    search.best_makespan()
}

/// [`crate::solve`] for a flexible job-shop.
pub fn solve(problem: &FlexibleJobShop, params: &Params, stop: &AtomicBool, on_improve: &(dyn Fn(crate::Improvement) + Sync)) -> JobShopResult {
    solve_from(problem, params, None, stop, &Hooks { on_improve, on_checkpoint: None })
}

/// [`crate::solve_from`] for a flexible job-shop: continues from `initial`
/// when it is a valid schedule of `problem`, so the answer is never worse.
pub fn solve_from(problem: &FlexibleJobShop, params: &Params, initial: Option<&JobShopResult>, stop: &AtomicBool, hooks: &Hooks) -> JobShopResult {
    if let Some(jobshop) = problem.to_jobshop() {
        // The same result shape, and with one alternative per operation
        // the same validity: a checkpoint carries over as it is.
        return crate::solve_from(&jobshop, params, initial, stop, hooks);
    }
    let started = Instant::now();
    let lb = lower_bound(problem);
    let inst = search::Instance::new(problem);
    let resumed = initial.filter(|r| check_flexible_schedule(problem, r).is_ok()).and_then(|r| {
        let ops = r.schedule.iter().flatten();
        inst.solution_of(ops.clone().map(|o| o.machine).collect(), &ops.map(|o| o.start).collect::<Vec<_>>())
    });
    let first = resumed.unwrap_or_else(|| construct::dispatch(problem, None));
    let result_of = |s: &search::Solution| {
        let starts = inst.starts(s);
        let mut o = 0;
        let schedule = starts
            .iter()
            .map(|job| {
                job.iter()
                    .map(|&start| {
                        let op = ScheduledOp { machine: s.machine[o], start, duration: s.dur[o] };
                        o += 1;
                        op
                    })
                    .collect()
            })
            .collect();
        crate::result(s.makespan, lb, schedule, started)
    };
    let start = |t: usize| {
        let seed = params.seed.wrapping_add(t as u64);
        let from = if t == 0 { first.clone() } else { construct::dispatch(problem, Some(&mut rng::Rng::new(seed ^ 0x5EED))) };
        search::Search::new(&inst, from, seed).share_exact(t, params.threads)
    };
    // An iteration weighs every alternative of the critical operations.
    let alternatives: usize = problem.jobs.iter().flatten().map(|o| o.alternatives.len()).sum();
    let (best, proven) = run_race(params, lb, first.makespan, alternatives, stop, hooks, started, &result_of, &start);
    // The exact step may have proven more than the bound the race began with.
    let mut result = result_of(&best);
    if let Some(proven) = proven.filter(|&p| p > result.lower_bound) {
        result.lower_bound = proven.min(result.makespan);
        result.optimal = result.lower_bound == result.makespan;
    }
    result
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An instance file of `../shared/data/fjsp` (or under `SHARED_DATA`).
    pub fn data(name: &str) -> std::path::PathBuf {
        std::env::var_os("SHARED_DATA").map_or_else(|| std::path::PathBuf::from("../../../shared/data"), Into::into).join("fjsp/instances").join(name)
    }

    /// Barnes' mt10c1 (ft10 with a copy of one machine, its pool) is solved
    /// to its optimum, 927 (closed in the literature), and the exact step
    /// proves it: on one thread by its whole search, on two by each
    /// thread's share. The solve ends there, long before its limit.
    #[test]
    fn a_pooled_instance_is_solved_and_proven_optimal() {
        let p = FlexibleJobShop::parse_fjs(&std::fs::read_to_string(data("barnes-mt10c1")).unwrap()).unwrap();
        for threads in [1, 2] {
            let params = Params { time_limit: std::time::Duration::from_secs(600), threads, seed: 1 };
            let r = solve(&p, &params, &AtomicBool::new(false), &|_| {});
            check_flexible_schedule(&p, &r).expect("a valid schedule");
            assert_eq!((r.makespan, r.lower_bound, r.optimal), (927, 927, true), "{threads} threads");
        }
    }
}
