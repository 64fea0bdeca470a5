//! Every job ends, exactly once, whatever happens to the system around it:
//! a hundred jobs on the local system while worker processes are killed at
//! random moments, tasks are interrupted as Spot interrupts them, the
//! emulator (the control plane) stops answering for 10 s, stop events are
//! lost and tasks fail to start. Each job must end SUCCEEDED with a valid
//! schedule (CANCELLED where the test cancelled it), none may be left
//! unfinished, and no attempt may be solved by two workers.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

mod common;

use common::{checked_result, finished, run_id_of, submit};
use local_plane::http;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const JOBS: usize = 100;
const WAVE: usize = 20;

/// A small deterministic generator: the same faults at the same steps on
/// every run (their moments still depend on the machine's speed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

async fn state(api: &str, run_id: &str) -> Option<Value> {
    let (_, body) = http::call(api, "GET", &format!("/runs/{run_id}"), None).await.ok()?;
    serde_json::from_slice(&body).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_ends_exactly_once_under_kills_interruptions_a_paused_control_plane_and_lost_events() {
    job_store::init_logging();
    let started = Instant::now();
    let (moto, dist, system) = common::local_system("local-faults", None).await;
    let logs = dist.join("logs");
    let api = system.api_addr.clone();
    let faults = &system.tasks.faults;
    faults.drop_stop_event_every.store(4, Ordering::Relaxed);
    faults.fail_start_every.store(12, Ordering::Relaxed);

    // ft10 never proves its optimum, so each job runs its whole limit; a
    // few small ones finish at once. Five attempts leave room for the
    // faults one job can meet (one kill or interruption, a failed start).
    let ft10 = json!({"problem": {"kind": "jobshop", "format": "orlib", "text": testkit::instance("ft10")}, "time_limit_s": 4, "max_attempts": 5});
    let small = json!({"problem": {"kind": "jobshop", "jobs": [[{"machine": 0, "duration": 3}, {"machine": 1, "duration": 2}], [{"machine": 1, "duration": 4}, {"machine": 0, "duration": 1}]]}, "time_limit_s": 1, "max_attempts": 5});
    let mut rng = Lcg(20261129);
    let mut jobs: Vec<(String, Value)> = Vec::new();
    let mut cancelled: HashSet<String> = HashSet::new();
    let mut hit: HashSet<String> = HashSet::new();
    let (mut kills, mut interrupts, mut paused) = (0, 0, false);
    let deadline = Instant::now() + Duration::from_secs(900);

    let is_final = |d: &Value| matches!(d["state"].as_str(), Some("SUCCEEDED" | "FAILED" | "CANCELLED"));
    let mut unfinished: HashSet<String> = HashSet::new();
    while jobs.len() < JOBS || !unfinished.is_empty() {
        assert!(Instant::now() < deadline, "jobs still unfinished after 15 minutes: {unfinished:?}");
        let mut ended = Vec::new();
        for id in &unfinished {
            if state(&api, id).await.is_some_and(|d| is_final(&d)) {
                ended.push(id.clone());
            }
        }
        for id in ended {
            unfinished.remove(&id);
        }
        // Submit in waves, so that moto is loaded but not drowned.
        if jobs.len() < JOBS && unfinished.len() < WAVE / 2 {
            for _ in 0..WAVE {
                let request = if rng.below(5) == 0 { small.clone() } else { ft10.clone() };
                let id = submit(&api, &request).await;
                unfinished.insert(id.clone());
                jobs.push((id, request));
            }
            // One queued job of each wave cancelled before it gets a task.
            let (id, _) = &jobs[jobs.len() - 1];
            let (status, _) = http::call(&api, "DELETE", &format!("/runs/{id}"), None).await.unwrap();
            assert_eq!(status, 202);
            cancelled.insert(id.clone());
        }
        // The control plane stops answering for 10 s, once, mid-run.
        if !paused && jobs.len() >= 40 {
            paused = true;
            moto.pause();
            tokio::time::sleep(Duration::from_secs(10)).await;
            moto.resume();
        }
        // Faults on running workers: a fifth of the jobs killed, a tenth
        // interrupted as Spot does; each job meets at most one of them.
        for (arn, pid) in system.tasks.running().await {
            let Some(run_id) = run_id_of(pid) else { continue };
            if hit.contains(&run_id) || cancelled.contains(&run_id) || rng.below(3) != 0 {
                continue;
            }
            if kills < JOBS / 5 && (interrupts >= JOBS / 10 || rng.below(3) != 0) {
                if system.tasks.kill(&arn).await {
                    kills += 1;
                    hit.insert(run_id);
                }
            } else if interrupts < JOBS / 10 && system.tasks.interrupt(&arn, Duration::from_secs(3)).await {
                interrupts += 1;
                hit.insert(run_id);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every job ended as it should.
    let mut attempts = 0;
    for (id, request) in &jobs {
        let doc = finished(&api, id).await;
        attempts += doc["attempt"].as_u64().unwrap_or(1);
        if cancelled.contains(id) {
            assert_eq!(doc["state"], "CANCELLED", "{doc}");
        } else {
            assert_eq!(doc["state"], "SUCCEEDED", "{doc}");
            checked_result(&api, id, request).await;
        }
    }
    // No attempt was solved by two workers: each worker logs the attempt it
    // starts solving, once.
    let mut solving: HashMap<(String, String), usize> = HashMap::new();
    for entry in std::fs::read_dir(&logs).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines().filter(|l| l.contains(" running ") && l.contains("attempt=")) {
            let field = |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap_or_default().to_owned();
            *solving.entry((field("run_id="), field("attempt="))).or_default() += 1;
        }
    }
    assert!(solving.len() >= JOBS - cancelled.len(), "the workers' logs name what they ran: {} entries", solving.len());
    let twice: Vec<_> = solving.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "attempts solved by two workers: {twice:?}");

    eprintln!(
        "fault injection: {} jobs ({} cancelled), {kills} workers killed, {interrupts} Spot interruptions, {} stop events dropped, {} tasks failed to start, \
         control plane paused 10 s; {attempts} attempts ({} retries); all ended as expected in {:.0} s",
        jobs.len(),
        cancelled.len(),
        faults.dropped_stop_events.load(Ordering::Relaxed),
        faults.failed_starts.load(Ordering::Relaxed),
        attempts - jobs.len() as u64,
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= JOBS / 5 && interrupts >= JOBS / 20, "the faults were injected: {kills} kills, {interrupts} interruptions");
    system.shutdown().await;
}
