//! The exact step (`jobshop::exact`) on the machine assignments of
//! schedules the tabu search stopped at on Barnes' seti5 instances (kept by
//! bench/lns_probe.py in bench/results/lns-probe-2026-12-06-schedules.json):
//! from one below each schedule's makespan down, until it proves that the
//! assignment allows nothing shorter. Prints the least makespan found, the
//! nodes, the time, the nodes per second and the nanoseconds per unit of
//! work (what the flexible search's budget for the step counts).
//!
//! `cargo bench -p jobshop --bench exact_speed` (release profile); leave
//! the machine otherwise idle. Each search stops after `LIMIT` seconds
//! (marked "stopped": then only the rate compares across builds).

use std::time::{Duration, Instant};

const KEYS: [&str; 5] = ["seti5x-s1", "seti5x-s2", "seti5xxx-s1", "seti5xxx-s2", "seti5xxx-s3"];
const LIMIT: Duration = Duration::from_secs(60);

fn main() {
    let text = std::fs::read_to_string("../../bench/results/lns-probe-2026-12-06-schedules.json").expect("bench/results/lns-probe-2026-12-06-schedules.json");
    let all: serde_json::Value = serde_json::from_str(&text).expect("the schedules file is JSON");
    println!("{:<12} {:>5} {:>5} {:>8} {:>9} {:>8} {:>8} {:>8}", "schedule", "from", "best", "ended", "nodes", "seconds", "nodes/s", "ns/unit");
    for key in KEYS {
        let result = &all[key]["result"];
        let from = result["makespan"].as_i64().expect("a makespan");
        let jobs: Vec<Vec<(usize, i64)>> = result["schedule"]
            .as_array()
            .expect("jobs")
            .iter()
            .map(|job| {
                let ops = job.as_array().expect("operations");
                ops.iter().map(|op| (op["machine"].as_u64().expect("machine") as usize, op["duration"].as_i64().expect("duration"))).collect()
            })
            .collect();
        let started = Instant::now();
        let (best, ended, work, nodes) = jobshop::exact::improve_jobs(&jobs, from - 1, &mut || started.elapsed() < LIMIT);
        let seconds = started.elapsed().as_secs_f64();
        let best = best.map_or_else(|| "-".to_string(), |b| b.to_string());
        let ended = if ended { "proved" } else { "stopped" };
        println!("{key:<12} {from:>5} {best:>5} {ended:>8} {nodes:>9} {seconds:>8.2} {:>8.0} {:>8.1}", nodes as f64 / seconds, seconds * 1e9 / work as f64);
    }
}
