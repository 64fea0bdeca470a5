//! The flexible job-shop search on all 171 shared instances, warm starts,
//! and job-shops given as flexible job-shops.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use job_model::{FlexibleJobShop, JobShop, check_flexible_schedule};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// `../shared/data/fjsp` beside the clone, or under `SHARED_DATA`.
fn data_dir() -> std::path::PathBuf {
    std::env::var_os("SHARED_DATA").map_or_else(|| std::path::PathBuf::from("../../../shared/data"), Into::into).join("fjsp")
}

fn instance(name: &str) -> FlexibleJobShop {
    FlexibleJobShop::parse_fjs(&std::fs::read_to_string(data_dir().join("instances").join(name)).unwrap()).unwrap()
}

fn params(ms: u64, threads: usize) -> jobshop::Params {
    jobshop::Params { time_limit: Duration::from_millis(ms), threads, seed: 7 }
}

#[test]
fn every_shared_instance_gets_a_valid_schedule_and_a_true_bound() {
    let bounds: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data_dir().join("bounds.json")).unwrap()).unwrap();
    let bounds = bounds.as_array().unwrap();
    assert_eq!(bounds.len(), 171);
    for known in bounds {
        let name = known["name"].as_str().unwrap();
        let problem = instance(name);
        let improvements = Mutex::new(Vec::new());
        let result = jobshop::flexible::solve(&problem, &params(100, 1), &AtomicBool::new(false), &|i| improvements.lock().unwrap().push(i.makespan));
        check_flexible_schedule(&problem, &result).unwrap_or_else(|e| panic!("{name}: {e}"));
        let improvements = improvements.into_inner().unwrap();
        assert!(improvements.windows(2).all(|w| w[1] < w[0]), "{name}: each improvement improves");
        assert_eq!(improvements.last(), Some(&result.makespan), "{name}: the last improvement is the answer");
        assert!(result.lower_bound <= known["upper_bound"].as_i64().unwrap(), "{name}: our bound {} is above a known schedule", result.lower_bound);
        assert!(result.solver.elapsed_s < 2.0, "{name}: {} s for a 100 ms limit", result.solver.elapsed_s);
    }
}

#[test]
fn a_warm_start_is_never_worse_than_its_schedule_and_checkpoints_are_valid() {
    for name in ["brandimarte-mk07", "dauzere-05a", "hurink-rdata-la26"] {
        let problem = instance(name);
        let checkpoints = Mutex::new(Vec::new());
        let on_checkpoint = |r: job_model::JobShopResult| checkpoints.lock().unwrap().push(r);
        let hooks = jobshop::Hooks { on_improve: &|_| {}, on_checkpoint: Some((&on_checkpoint, Duration::from_millis(50))) };
        let first = jobshop::flexible::solve_from(&problem, &params(500, 2), None, &AtomicBool::new(false), &hooks);
        for c in checkpoints.into_inner().unwrap() {
            check_flexible_schedule(&problem, &c).unwrap_or_else(|e| panic!("{name}: checkpoint: {e}"));
        }
        let hooks = jobshop::Hooks { on_improve: &|_| {}, on_checkpoint: None };
        // So short that the search barely moves: what comes back is the start.
        let resumed = jobshop::flexible::solve_from(&problem, &params(1, 2), Some(&first), &AtomicBool::new(false), &hooks);
        check_flexible_schedule(&problem, &resumed).unwrap();
        assert!(resumed.makespan <= first.makespan, "{name}: resumed at {} from {}", resumed.makespan, first.makespan);
        // An invalid initial schedule is ignored, not trusted.
        let mut broken = first.clone();
        broken.schedule[0][0].duration += 1;
        let fresh = jobshop::flexible::solve_from(&problem, &params(50, 1), Some(&broken), &AtomicBool::new(false), &hooks);
        check_flexible_schedule(&problem, &fresh).unwrap();
    }
}

#[test]
fn a_jobshop_given_as_a_flexible_jobshop_is_solved_as_well() {
    // Relative to the package, where cargo runs its tests.
    let text = std::fs::read_to_string("../../xtask/data/ft10.txt").unwrap();
    let classic = JobShop::parse_orlib(&text).unwrap();
    let flexible = FlexibleJobShop::parse_fjs(&format!(
        "{} {}\n{}",
        classic.jobs.len(),
        classic.machines,
        classic.jobs.iter().map(|j| format!("{} {}\n", j.len(), j.iter().map(|o| format!("1 {} {}", o.machine, o.duration)).collect::<Vec<_>>().join(" "))).collect::<String>()
    ))
    .unwrap();
    // Deterministic per seed: the same epochs, cut by the same limit.
    let p = jobshop::Params { time_limit: Duration::from_secs(2), threads: 1, seed: 3 };
    let a = jobshop::solve(&classic, &p, &AtomicBool::new(false), &|_| {});
    let b = jobshop::flexible::solve(&flexible, &p, &AtomicBool::new(false), &|_| {});
    check_flexible_schedule(&flexible, &b).unwrap();
    assert_eq!(a.lower_bound, b.lower_bound);
    assert!(b.makespan <= a.makespan + a.makespan / 100, "as flexible {} against {} as a job-shop", b.makespan, a.makespan);
}
