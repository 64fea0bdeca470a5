//! The exact step (`jobshop::exact`) on the machine assignments of
//! schedules the tabu search stopped at on Barnes' seti5 instances (kept by
//! bench/lns_probe.py in bench/results/lns-probe-2026-12-06-schedules.json):
//! from one below each schedule's makespan down, until it proves that the
//! assignment allows nothing shorter. Prints the least makespan found and
//! the node it was found at, the nodes, the time, the nodes per second and
//! the nanoseconds per unit of work (what the flexible search's budget for
//! the step counts).
//!
//! `cargo bench -p jobshop --bench exact_speed` (release profile); leave
//! the machine otherwise idle. Each search stops after `LIMIT` seconds
//! (marked "stopped": then only the rate compares across builds).
//! `cargo bench -p jobshop --bench exact_speed -- FILE KEY...` runs it on
//! other schedules of that form (`{KEY: {"result": a solver result}}`,
//! as `solve --json` writes and bench/lns_probe.py keeps).
//! With `EXACT_POOLS=INSTANCE.fjs` (the schedules' instance), the step also
//! chooses the machines of the instance's pools (`jobshop::exact::Pools`),
//! as the flexible search has it do. With `EXACT_SPLIT=DEPTH`, each
//! schedule is searched as two shares split at that depth (one line each).

use std::time::{Duration, Instant};

const SCHEDULES: &str = "../../bench/results/lns-probe-2026-12-06-schedules.json";
const KEYS: [&str; 5] = ["seti5x-s1", "seti5x-s2", "seti5xxx-s1", "seti5xxx-s2", "seti5xxx-s3"];
const LIMIT: Duration = Duration::from_secs(60);

fn main() {
    // `cargo bench` passes `--bench` to a harness-less bench: not ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let (file, keys): (&str, Vec<&str>) = match args.split_first() {
        Some((file, keys)) if !keys.is_empty() => (file, keys.iter().map(String::as_str).collect()),
        Some(_) => panic!("usage: exact_speed [FILE KEY...]"),
        None => (SCHEDULES, KEYS.to_vec()),
    };
    let pools = match std::env::var("EXACT_POOLS") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("EXACT_POOLS={path}: {e}"));
            let p = job_model::FlexibleJobShop::parse_fjs(&text).unwrap_or_else(|e| panic!("EXACT_POOLS={path}: {e}"));
            jobshop::exact::Pools::of_problem(&p)
        }
        Err(_) => jobshop::exact::Pools::default(),
    };
    let split = std::env::var("EXACT_SPLIT").ok().map(|d| d.parse::<usize>().unwrap_or_else(|e| panic!("EXACT_SPLIT={d}: not a depth: {e}")));
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let all: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
    println!("{:<12} {:>5} {:>5} {:>9} {:>8} {:>9} {:>8} {:>8} {:>8}", "schedule", "from", "best", "found at", "ended", "nodes", "seconds", "nodes/s", "ns/unit");
    for key in keys {
        let result = &all[key]["result"];
        let from = result["makespan"].as_i64().unwrap_or_else(|| panic!("{file}: no {key}.result.makespan"));
        let jobs = jobshop::exact::jobs_of_result(result).unwrap_or_else(|e| panic!("{file}: {key}.result: {e}"));
        let splits: Vec<Option<(usize, u64, u64)>> = match split {
            Some(depth) => (0..2).map(|share| Some((depth, share, 2))).collect(),
            None => vec![None],
        };
        for split in splits {
            let started = Instant::now();
            let (best, ended, effort) = jobshop::exact::improve_jobs(&jobs, &pools, split, from - 1, &mut || started.elapsed() < LIMIT);
            let seconds = started.elapsed().as_secs_f64();
            let best = best.map_or_else(|| "-".to_string(), |b| b.to_string());
            let ended = if ended { "proved" } else { "stopped" };
            let found_at = if best == "-" { "-".to_string() } else { effort.found_at.to_string() };
            let (nodes, work) = (effort.nodes, effort.work);
            println!("{key:<12} {from:>5} {best:>5} {found_at:>9} {ended:>8} {nodes:>9} {seconds:>8.2} {:>8.0} {:>8.1}", nodes as f64 / seconds, seconds * 1e9 / work as f64);
        }
    }
}
