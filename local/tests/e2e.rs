//! The whole system on this machine: the real stack deployed into moto by
//! `deploy`, the real binaries run by the local data plane, jobs over HTTP.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

mod common;

use common::{checked_result, deploy, finished, submit, task_counts, worker_pid};
use local_plane::{LocalSystem, Options, http};
use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Moto, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_system_runs_jobs_on_demand_and_in_polling_mode() {
    job_store::init_logging();
    let moto = Moto::start();
    let bins = common::bin_dir();
    let dist = common::artifacts("local-e2e");
    moto.push_image("solver-worker", "latest").await;
    assert_eq!(deploy(&moto, &dist, &[])["mode"], "on-demand");
    let system = LocalSystem::start(Options::defaults(moto.endpoint.clone(), bins.clone(), dist.join("logs"))).await.unwrap();
    let api = system.api_addr.clone();
    let ecs = job_store::aws::ecs_client(&moto.sdk().await);

    // One job, on demand: a task is started for it and stopped after it.
    let ft06 = json!({"problem": {"kind": "jobshop", "format": "orlib", "text": testkit::instance("ft06")}, "time_limit_s": 2});
    let id = submit(&api, &ft06).await;
    let doc = finished(&api, &id).await;
    assert_eq!(doc["state"], "SUCCEEDED", "{doc}");
    assert!(doc["task_arn"].as_str().unwrap().contains(":task/"), "the worker recorded its task");
    checked_result(&api, &id, &ft06).await;
    eventually("the task to be STOPPED", Duration::from_secs(30), || async { (task_counts(&ecs).await == (0, 1)).then_some(()) }).await;

    // Twenty at once: twenty results, twenty stopped tasks, none left running.
    let small = json!({"problem": {"kind": "jobshop", "jobs": [[{"machine": 0, "duration": 3}, {"machine": 1, "duration": 2}], [{"machine": 1, "duration": 4}, {"machine": 0, "duration": 1}]]}, "time_limit_s": 5});
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(submit(&api, &small).await);
    }
    for id in &ids {
        assert_eq!(finished(&api, id).await["state"], "SUCCEEDED");
        assert_eq!(checked_result(&api, id, &small).await.makespan, 6);
    }
    eventually("21 stopped tasks, none running", Duration::from_secs(60), || async { (task_counts(&ecs).await == (0, 21)).then_some(()) }).await;

    // A flexible job-shop in the benchmark sets' text: the result's machines
    // are alternatives of their operations (`checked_result` proves it).
    let mk01 = std::fs::read_to_string(testkit::shared_data().join("fjsp/instances/brandimarte-mk01")).unwrap();
    let flexible = json!({"problem": {"kind": "flexible_jobshop", "format": "fjs", "text": mk01}, "time_limit_s": 2});
    let id = submit(&api, &flexible).await;
    assert_eq!(finished(&api, &id).await["state"], "SUCCEEDED");
    assert!(checked_result(&api, &id, &flexible).await.makespan >= 40, "mk01's optimum is 40");
    eventually("22 stopped tasks", Duration::from_secs(30), || async { (task_counts(&ecs).await == (0, 22)).then_some(()) }).await;

    // A task killed mid-job (as the out-of-memory killer does): ECS's
    // task-stopped event reaches the trigger, which ends the attempt with the
    // reason and starts a new one, continuing from the checkpoint.
    let long = json!({"problem": {"kind": "jobshop", "format": "orlib", "text": testkit::instance("ta41")}, "time_limit_s": 12});
    let id = submit(&api, &long).await;
    eventually("the long job to run", Duration::from_secs(60), || async {
        let (_, body) = http::call(&api, "GET", &format!("/runs/{id}"), None).await.ok()?;
        (serde_json::from_slice::<Value>(&body).ok()?["state"] == "RUNNING").then_some(())
    })
    .await;
    let pid = worker_pid(&id).expect("the worker process of the job");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let doc = finished(&api, &id).await;
    assert_eq!((doc["state"].as_str(), doc["attempt"].as_u64()), (Some("SUCCEEDED"), Some(2)), "{doc}");
    let first = &doc["attempts"][0];
    assert_eq!(first["end"]["code"], "TASK_STOPPED", "{doc}");
    assert!(first["end"]["message"].as_str().unwrap().contains("exited with 137"), "{doc}");
    checked_result(&api, &id, &long).await;
    eventually("24 stopped tasks", Duration::from_secs(30), || async { (task_counts(&ecs).await == (0, 24)).then_some(()) }).await;

    // Rollback: the polling worker solves it, no task is started.
    assert_eq!(deploy(&moto, &dist, &["rollback"])["mode"], "polling");
    // A mapping being disabled may still deliver what it already received
    // (on AWS too): give the local one its poll interval.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let id = submit(&api, &small).await;
    assert_eq!(finished(&api, &id).await["state"], "SUCCEEDED");
    assert_eq!(task_counts(&ecs).await, (0, 24), "no task for a job in polling mode");

    // And back: on-demand again. The polling worker gets SIGTERM, finishes
    // its in-flight long poll and hands back anything it received, so the
    // next job is launched as a task whichever consumer saw it first.
    assert_eq!(deploy(&moto, &dist, &[])["mode"], "on-demand");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let id = submit(&api, &small).await;
    assert_eq!(finished(&api, &id).await["state"], "SUCCEEDED");
    eventually("a task for it", Duration::from_secs(60), || async { (task_counts(&ecs).await == (0, 25)).then_some(()) }).await;

    system.shutdown().await;
}
