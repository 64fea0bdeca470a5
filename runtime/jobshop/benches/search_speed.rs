//! Tabu search iterations per second, single thread, at fixed work: each
//! instance's first 300,000 iterations from the dispatching rule's schedule
//! (the same path every run: the search is a function of its seed).
//!
//! `cargo bench -p jobshop --bench search_speed` (release profile); leave
//! the machine otherwise idle. The instances are from the tuning side of
//! BENCHMARKS.md's split, across sizes: 15x10 to 50x15.

use std::time::Instant;

const STEPS: u64 = 300_000;
const INSTANCES: [&str; 6] = ["la21", "dmu45", "dmu53", "ta39", "dmu69", "dmu73"];

fn main() {
    let dir = std::env::var_os("SHARED_DATA").map_or_else(|| std::path::PathBuf::from("../../../shared/data"), Into::into).join("jobshop/instances");
    println!("{:<8} {:>10} {:>12} {:>14} {:>10}", "instance", "operations", "iterations", "iterations/s", "makespan");
    for name in INSTANCES {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (set SHARED_DATA)", path.display()));
        let problem = job_model::JobShop::parse_orlib(&text).expect("a valid instance");
        let operations: usize = problem.jobs.iter().map(Vec::len).sum();
        let started = Instant::now();
        let makespan = jobshop::search_steps(&problem, STEPS, 1);
        let rate = STEPS as f64 / started.elapsed().as_secs_f64();
        println!("{name:<8} {operations:>10} {STEPS:>12} {rate:>14.0} {makespan:>10}");
    }
}
