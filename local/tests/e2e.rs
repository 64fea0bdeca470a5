//! The whole system on this machine: the real stack deployed into moto by
//! `deploy`, the real binaries run by the local data plane, jobs over HTTP.

use job_model::{JobRequest, JobShopResult, check_schedule};
use local_plane::{LocalSystem, Options, http};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use testkit::{Moto, eventually};

/// `target/debug`, where cargo put this workspace's programs for the tests.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    for bin in ["solver-api", "solver-trigger", "solver-worker", "deploy"] {
        assert!(dir.join(bin).exists(), "{} not built: run `cargo xtask test` (it builds the whole workspace)", dir.join(bin).display());
    }
    dir
}

fn deploy(moto: &Moto, dist: &std::path::Path, args: &[&str]) -> Value {
    let out = Command::new(bin_dir().join("deploy"))
        .env_clear()
        .envs(moto.env())
        .arg("--yes")
        .arg("--json")
        .arg("--artifacts")
        .arg(dist)
        .arg("--config")
        .arg(dist.join("none.yaml"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "deploy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn submit(api: &str, request: &Value) -> String {
    let (status, body) = http::call(api, "POST", "/runs", Some(request.to_string().as_bytes())).await.unwrap();
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_owned()
}

async fn finished(api: &str, run_id: &str) -> Value {
    eventually(&format!("{run_id} to finish"), Duration::from_secs(180), || async {
        let (_, body) = http::call(api, "GET", &format!("/runs/{run_id}"), None).await.ok()?;
        let doc: Value = serde_json::from_slice(&body).ok()?;
        matches!(doc["state"].as_str(), Some("SUCCEEDED" | "FAILED" | "CANCELLED")).then_some(doc)
    })
    .await
}

async fn checked_result(api: &str, run_id: &str, request: &Value) -> JobShopResult {
    let (status, body) = http::call(api, "GET", &format!("/runs/{run_id}/result"), None).await.unwrap();
    assert_eq!(status, 200);
    let result: JobShopResult = serde_json::from_slice(&body).unwrap();
    check_schedule(&JobRequest::from_value(request.clone()).unwrap().jobshop().unwrap(), &result).unwrap();
    result
}

/// The process whose environment has `RUN_ID=run_id`: the job's worker.
fn worker_pid(run_id: &str) -> Option<i32> {
    let wanted = format!("RUN_ID={run_id}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let environ = std::fs::read(entry.path().join("environ")).ok()?;
        environ.split(|&b| b == 0).any(|kv| kv == wanted.as_bytes()).then_some(pid)
    })
}

async fn task_counts(ecs: &aws_sdk_ecs::Client) -> (usize, usize) {
    let mut counts = [0; 2];
    for (i, s) in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Stopped].into_iter().enumerate() {
        counts[i] = ecs.list_tasks().cluster("scheduling-solver-cluster").desired_status(s).send().await.unwrap().task_arns().len();
    }
    (counts[0], counts[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_system_runs_jobs_on_demand_and_in_polling_mode() {
    job_store::init_logging();
    let moto = Moto::start();
    let bins = bin_dir();
    let dist = std::env::temp_dir().join(testkit::unique("local-e2e"));
    std::fs::create_dir_all(&dist).unwrap();
    for name in ["solver-api", "solver-trigger"] {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(dist.join(format!("{name}.zip"))).unwrap());
        zip.start_file("bootstrap", zip::write::SimpleFileOptions::default().unix_permissions(0o755)).unwrap();
        zip.write_all(&std::fs::read(bins.join(name)).unwrap()).unwrap();
        zip.finish().unwrap();
    }
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

    // A task killed mid-job (as the out-of-memory killer does): ECS's
    // task-stopped event reaches the trigger, which fails the job with the
    // reason instead of leaving it RUNNING for ever.
    let long = json!({"problem": {"kind": "jobshop", "format": "orlib", "text": testkit::instance("ta41")}, "time_limit_s": 120});
    let id = submit(&api, &long).await;
    eventually("the long job to run", Duration::from_secs(60), || async {
        let (_, body) = http::call(&api, "GET", &format!("/runs/{id}"), None).await.ok()?;
        (serde_json::from_slice::<Value>(&body).ok()?["state"] == "RUNNING").then_some(())
    })
    .await;
    let pid = worker_pid(&id).expect("the worker process of the job");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let doc = finished(&api, &id).await;
    assert_eq!((doc["state"].as_str(), doc["error"]["code"].as_str()), (Some("FAILED"), Some("TASK_STOPPED")), "{doc}");
    assert!(doc["error"]["message"].as_str().unwrap().contains("exited with 137"), "{doc}");
    eventually("22 stopped tasks", Duration::from_secs(30), || async { (task_counts(&ecs).await == (0, 22)).then_some(()) }).await;

    // Rollback: the polling worker solves it, no task is started.
    assert_eq!(deploy(&moto, &dist, &["rollback"])["mode"], "polling");
    // A mapping being disabled may still deliver what it already received
    // (on AWS too): give the local one its poll interval.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let id = submit(&api, &small).await;
    assert_eq!(finished(&api, &id).await["state"], "SUCCEEDED");
    assert_eq!(task_counts(&ecs).await, (0, 22), "no task for a job in polling mode");

    // And back: on-demand again. The polling worker gets SIGTERM, finishes
    // its in-flight long poll and hands back anything it received, so the
    // next job is launched as a task whichever consumer saw it first.
    assert_eq!(deploy(&moto, &dist, &[])["mode"], "on-demand");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let id = submit(&api, &small).await;
    assert_eq!(finished(&api, &id).await["state"], "SUCCEEDED");
    eventually("a task for it", Duration::from_secs(60), || async { (task_counts(&ecs).await == (0, 23)).then_some(()) }).await;

    system.shutdown().await;
}
