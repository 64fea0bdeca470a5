//! Every returned schedule is real: all 148 shared instances, a short limit.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use job_model::{JobShop, check_schedule};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `../shared/data/jobshop` beside the clone, or under `SHARED_DATA`.
fn data_dir() -> std::path::PathBuf {
    std::env::var_os("SHARED_DATA").map_or_else(|| std::path::PathBuf::from("../../../shared/data"), Into::into).join("jobshop")
}

fn instances() -> Vec<(String, JobShop)> {
    let dir = data_dir().join("instances");
    let mut all: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), JobShop::parse_orlib(&std::fs::read_to_string(&p).unwrap()).unwrap()))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn every_shared_instance_gets_a_valid_schedule_and_a_true_bound() {
    let bounds: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data_dir().join("bounds.json")).unwrap()).unwrap();
    let all = instances();
    assert_eq!(all.len(), 148);
    for (name, problem) in all {
        // Two threads: the second searches the mirrored instance, whose
        // schedules come back reflected and must check as the original's.
        let params = jobshop::Params { time_limit: Duration::from_millis(100), threads: 2, seed: 7 };
        let improvements = Mutex::new(Vec::new());
        let result = jobshop::solve(&problem, &params, &AtomicBool::new(false), &|i| improvements.lock().unwrap().push(i.makespan));
        check_schedule(&problem, &result).unwrap_or_else(|e| panic!("{name}: {e}"));
        let improvements = improvements.into_inner().unwrap();
        assert!(improvements.windows(2).all(|w| w[1] < w[0]), "{name}: each improvement improves");
        assert_eq!(improvements.last(), Some(&result.makespan), "{name}: the last improvement is the answer");
        let known = bounds.as_array().unwrap().iter().find(|b| b["name"] == name.as_str()).unwrap_or_else(|| panic!("{name} in bounds.json"));
        assert!(result.lower_bound <= known["upper_bound"].as_i64().unwrap(), "{name}: our bound {} is above a known schedule", result.lower_bound);
    }
}

#[test]
fn stop_returns_the_best_so_far_at_once() {
    let (_, problem) = instances().into_iter().find(|(n, _)| n == "ta41").unwrap();
    let stop = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let result = std::thread::scope(|s| {
        let h = s.spawn(|| jobshop::solve(&problem, &jobshop::Params { time_limit: Duration::from_secs(60), threads: 2, seed: 1 }, &stop, &|_| {}));
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap()
    });
    assert!(started.elapsed() < Duration::from_secs(5));
    check_schedule(&problem, &result).unwrap();
}

#[test]
fn a_proven_optimum_ends_the_search_early() {
    let problem = JobShop::parse_orlib("2 2\n0 3 1 2\n1 4 0 1\n").unwrap();
    let result = jobshop::solve(&problem, &jobshop::Params { time_limit: Duration::from_secs(30), threads: 2, seed: 1 }, &AtomicBool::new(false), &|_| {});
    assert_eq!((result.makespan, result.lower_bound, result.optimal), (6, 6, true));
    assert!(result.solver.elapsed_s < 1.0);
}

#[test]
fn checkpoints_are_valid_and_a_resumed_search_is_never_worse_than_its_checkpoint() {
    let (_, problem) = instances().into_iter().find(|(n, _)| n == "ta21").unwrap();
    let checkpoints = Mutex::new(Vec::new());
    let on_checkpoint = |r: job_model::JobShopResult| checkpoints.lock().unwrap().push(r);
    let hooks = jobshop::Hooks { on_improve: &|_| {}, on_checkpoint: Some((&on_checkpoint, Duration::from_millis(50))) };
    let params = jobshop::Params { time_limit: Duration::from_millis(600), threads: 2, seed: 3 };
    let first = jobshop::solve_from(&problem, &params, None, &AtomicBool::new(false), &hooks);
    let checkpoints = checkpoints.into_inner().unwrap();
    assert!(!checkpoints.is_empty(), "no checkpoint in 600 ms");
    for c in &checkpoints {
        check_schedule(&problem, c).unwrap();
    }
    assert!(checkpoints.windows(2).all(|w| w[1].makespan < w[0].makespan), "each checkpoint improves");
    assert!(checkpoints.last().unwrap().makespan >= first.makespan);

    // A new attempt from the first run's answer, with a different seed: it
    // starts where that one ended and cannot end worse.
    let seen = Mutex::new(Vec::new());
    let hooks = jobshop::Hooks { on_improve: &|i| seen.lock().unwrap().push(i.makespan), on_checkpoint: None };
    let params = jobshop::Params { time_limit: Duration::from_millis(300), threads: 1, seed: 99 };
    let resumed = jobshop::solve_from(&problem, &params, Some(&first), &AtomicBool::new(false), &hooks);
    check_schedule(&problem, &resumed).unwrap();
    assert_eq!(seen.into_inner().unwrap()[0], first.makespan, "the resumed search starts from the checkpoint");
    assert!(resumed.makespan <= first.makespan);

    // A checkpoint that is not a schedule of the problem is ignored.
    let mut broken = first.clone();
    broken.schedule[0][0].start += 1_000_000;
    let ignored = jobshop::solve_from(&problem, &params, Some(&broken), &AtomicBool::new(false), &jobshop::Hooks { on_improve: &|_| {}, on_checkpoint: None });
    check_schedule(&problem, &ignored).unwrap();
}
