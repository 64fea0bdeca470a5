//! Tabu search iterations per second, single thread, at fixed work: each
//! instance's first 300,000 iterations from the dispatching rule's schedule
//! (the same path every run: the search is a function of its seed).
//!
//! Then the flexible job-shop search's, likewise, on six FJSP instances
//! (fewer iterations: each weighs every alternative of the critical
//! operations).
//!
//! `cargo bench -p jobshop --bench search_speed` (release profile); leave
//! the machine otherwise idle. The instances are from the tuning side of
//! BENCHMARKS.md's split, across sizes: 15x10 to 50x15, and 200 to 500
//! flexible operations.

use std::time::Instant;

const STEPS: u64 = 300_000;
const INSTANCES: [&str; 6] = ["la21", "dmu45", "dmu53", "ta39", "dmu69", "dmu73"];
/// Flexible job-shop instances from the tuning side of the FJSP split
/// (`bench/fjsp.py`'s `tuning_set`), across families and sizes, and the
/// iterations each runs: an iteration there weighs every alternative of
/// the critical operations, up to tens of times a job-shop iteration.
const FLEXIBLE: [(&str, u64); 6] = [
    ("barnes-seti5xyz", 100_000),
    ("hurink-vdata-la30", 100_000),
    ("brandimarte-mk09", 50_000),
    ("hurink-edata-abz9", 100_000),
    ("dauzere-13a", 30_000),
    ("behnke-lar04_4", 20_000),
];

fn main() {
    let shared = std::env::var_os("SHARED_DATA").map_or_else(|| std::path::PathBuf::from("../../../shared/data"), Into::into);
    let read = |dir: &str, name: &str| {
        let path = shared.join(dir).join("instances").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (set SHARED_DATA)", path.display()))
    };
    println!("{:<18} {:>10} {:>12} {:>14} {:>10}", "instance", "operations", "iterations", "iterations/s", "makespan");
    for name in INSTANCES {
        let problem = job_model::JobShop::parse_orlib(&read("jobshop", name)).expect("a valid instance");
        let operations = problem.jobs.iter().map(Vec::len).sum();
        report(name, operations, STEPS, || jobshop::search_steps(&problem, STEPS, 1));
    }
    for (name, steps) in FLEXIBLE {
        let problem = job_model::FlexibleJobShop::parse_fjs(&read("fjsp", name)).expect("a valid instance");
        let operations = problem.jobs.iter().map(Vec::len).sum();
        report(name, operations, steps, || jobshop::flexible::search_steps(&problem, steps, 1));
    }
}

/// Times `search` (`steps` iterations) and prints its line.
fn report(name: &str, operations: usize, steps: u64, search: impl FnOnce() -> i64) {
    let started = Instant::now();
    let makespan = search();
    let rate = steps as f64 / started.elapsed().as_secs_f64();
    println!("{name:<18} {operations:>10} {steps:>12} {rate:>14.0} {makespan:>10}");
}
