//! Capacity on the local system: sixty jobs under a cap of five tasks,
//! Spot first, every second Spot task (up to a quarter of the jobs)
//! interrupted as Spot interrupts them. Every job must succeed with a valid
//! schedule, never more than five tasks may run at once, an interrupted
//! job must finish on-demand from its
//! checkpoint within its time limit, and `deploy cost` must match the sum
//! over the attempts the jobs recorded, to the cent.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

mod common;

use common::{checked_result, deploy, run_id_of, submit};
use local_plane::http;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const JOBS: usize = 60;
const CAP: usize = 5;
const TIME_LIMIT_S: f64 = 5.0;
/// Interruptions aimed at: a quarter of the jobs.
const INTERRUPTIONS: usize = JOBS / 4;

async fn status(api: &str, run_id: &str) -> Value {
    let (_, body) = http::call(api, "GET", &format!("/runs/{run_id}"), None).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_first_under_a_cap_finishes_every_job_and_the_bill_adds_up() {
    job_store::init_logging();
    let started = Instant::now();
    let config = format!("worker:\n  capacity: spot-first\n  cpu: 1024\n  memory: 2048\nlimits:\n  max_running_tasks: {CAP}\n");
    let (moto, dist, system) = common::local_system("local-capacity", Some(&config)).await;
    let logs = dist.join("logs");
    let api = system.api_addr.clone();

    let request = json!({"problem": {"kind": "jobshop", "format": "orlib", "text": testkit::instance("ft10")}, "time_limit_s": TIME_LIMIT_S});
    let mut ids = Vec::new();
    for _ in 0..JOBS {
        ids.push(submit(&api, &request).await);
    }

    // Watch how many workers run at once, and interrupt every second task
    // that runs on Spot once its worker has solved for a second (so that it
    // has a checkpoint to hand on), up to `INTERRUPTIONS`.
    let (mut most_running, mut spot_tasks) = (0, 0);
    let mut interrupted: HashSet<String> = HashSet::new();
    let mut to_interrupt: Vec<(String, String, Option<Instant>)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut unfinished: HashSet<String> = ids.iter().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last_look = Instant::now();
    while !unfinished.is_empty() {
        assert!(Instant::now() < deadline, "jobs unfinished after 10 minutes: {unfinished:?}");
        let running = system.tasks.running().await;
        most_running = most_running.max(running.len());
        for (arn, pid) in running {
            if !seen.insert(arn.clone()) {
                continue;
            }
            let Some(run_id) = run_id_of(pid) else { continue };
            let doc = status(&api, &run_id).await;
            if doc["attempts"].as_array().and_then(|a| a.last()).is_some_and(|a| a["capacity"] == "spot") {
                spot_tasks += 1;
                // Every second Spot task until enough were interrupted
                // (some end before their second of solving comes).
                if spot_tasks % 2 == 0 && interrupted.len() + to_interrupt.len() < INTERRUPTIONS {
                    to_interrupt.push((arn, run_id, None));
                }
            }
        }
        let mut still = Vec::new();
        for (arn, run_id, running_since) in std::mem::take(&mut to_interrupt) {
            let doc = status(&api, &run_id).await;
            let running = doc["state"] == "RUNNING" && doc["task_arn"] == arn.as_str();
            let since = running_since.or(running.then(Instant::now));
            if running && since.is_some_and(|t| t.elapsed() >= Duration::from_secs(1)) {
                if system.tasks.interrupt(&arn, Duration::from_secs(3)).await {
                    interrupted.insert(run_id);
                }
            } else if !matches!(doc["state"].as_str(), Some("SUCCEEDED" | "FAILED" | "CANCELLED")) {
                still.push((arn, run_id, since));
            }
        }
        to_interrupt = still;
        // Which jobs ended, looked at every two seconds (the watch above
        // must stay quick).
        if last_look.elapsed() >= Duration::from_secs(2) {
            last_look = Instant::now();
            let mut ended = Vec::new();
            for id in &unfinished {
                if matches!(status(&api, id).await["state"].as_str(), Some("SUCCEEDED" | "FAILED" | "CANCELLED")) {
                    ended.push(id.clone());
                }
            }
            for id in ended {
                unfinished.remove(&id);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    assert!(most_running <= CAP, "{most_running} workers ran at once under a cap of {CAP}");
    assert!(interrupted.len() >= INTERRUPTIONS / 3, "the faults were injected: {} interruptions of {spot_tasks} Spot tasks", interrupted.len());

    // Every job succeeded; an interrupted one went on on-demand, within its limit.
    let mut docs = Vec::new();
    let mut retries = 0;
    for id in &ids {
        let doc = status(&api, id).await;
        assert_eq!(doc["state"], "SUCCEEDED", "{doc}");
        checked_result(&api, id, &request).await;
        let attempts = doc["attempts"].as_array().unwrap();
        retries += attempts.len() - 1;
        if interrupted.contains(id) && attempts.len() > 1 {
            assert_eq!(attempts[0]["capacity"], "spot", "{doc}");
            assert_eq!(attempts[0]["end"]["code"], "SPOT_INTERRUPTION", "{doc}");
            assert_eq!(attempts.last().unwrap()["capacity"], "on-demand", "after an interruption, on-demand: {doc}");
            let solved: f64 = attempts.iter().filter_map(|a| a["ran_s"].as_f64()).sum();
            assert!(solved <= TIME_LIMIT_S + 2.0 * attempts.len() as f64, "the attempts together solved {solved} s of a {TIME_LIMIT_S} s limit: {doc}");
        } else {
            assert_eq!(attempts.len(), 1, "{doc}");
        }
        docs.push(doc);
    }
    let interrupted_then_retried = docs.iter().filter(|d| d["attempts"].as_array().unwrap().len() > 1).count();
    assert!(interrupted_then_retried >= 1, "an interrupted job went on in a new attempt");

    // Each retry continued from the checkpoint its interrupted attempt saved.
    let mut resumed: HashMap<String, bool> = HashMap::new();
    for entry in std::fs::read_dir(&logs).unwrap().flatten() {
        for line in std::fs::read_to_string(entry.path()).unwrap_or_default().lines().filter(|l| l.contains(" running ") && l.contains("attempt=2")) {
            let run_id = line.split_whitespace().find_map(|w| w.strip_prefix("run_id=")).unwrap_or_default().to_owned();
            resumed.insert(run_id, line.contains("resumed=true"));
        }
    }
    assert_eq!(resumed.len(), interrupted_then_retried, "every second attempt ran: {resumed:?}");
    assert!(resumed.values().all(|r| *r), "every second attempt resumed from a checkpoint: {resumed:?}");

    // The bill, from the attempts as recorded: Fargate's per-second billing
    // with its one-minute minimum, at the table's us-east-1 prices.
    let (od, spot) = ((0.04048, 0.004445), (0.04048 * 0.3, 0.004445 * 0.3));
    let (mut expected, mut hours, mut spot_hours) = (0.0, 0.0, 0.0);
    for doc in &docs {
        for a in doc["attempts"].as_array().unwrap() {
            let at = |k: &str| time::OffsetDateTime::parse(a[k].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
            let h = (at("ended_at") - at("launched_at")).as_seconds_f64().max(60.0) / 3600.0;
            let (vcpu, gb) = if a["capacity"] == "spot" { spot } else { od };
            expected += h * (1.0 * vcpu + 2.0 * gb);
            hours += h;
            if a["capacity"] == "spot" {
                spot_hours += h;
            }
        }
    }
    let cost = deploy(&moto, &dist, &["cost", "--since", "1h"]);
    let total = cost["total_usd"].as_f64().unwrap();
    assert_eq!(cost["attempts"].as_u64().unwrap() as usize, JOBS + retries, "{cost}");
    assert!((cost["task_hours"].as_f64().unwrap() - hours).abs() < 1e-6 && (cost["spot_task_hours"].as_f64().unwrap() - spot_hours).abs() < 1e-6, "hours: {cost}");
    assert!((total - (expected * 100.0).round() / 100.0).abs() < 0.005, "deploy cost says {total}, the attempts add up to {expected:.4}: {cost}");

    eprintln!(
        "capacity: {JOBS} jobs, cap {CAP}, spot-first; {spot_tasks} Spot tasks, {} interrupted; {retries} retries (all on-demand); at most {most_running} workers at once; \
         deploy cost {total:.2} USD (spot {:.4}, on-demand {:.4}, saved {:.4}); all SUCCEEDED in {wall:.0} s",
        interrupted.len(),
        cost["spot_usd"].as_f64().unwrap_or(0.0),
        cost["on_demand_usd"].as_f64().unwrap_or(0.0),
        cost["spot_saved_usd"].as_f64().unwrap_or(0.0),
    );
    system.shutdown().await;
}
