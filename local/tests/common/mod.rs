//! What the local system's tests share: the programs, a deploy into moto,
//! and a job's life over HTTP.
#![allow(dead_code)]

use job_model::{JobRequest, JobShopResult};
use local_plane::{LocalSystem, Options, http};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use testkit::{Moto, eventually};

/// The local system on an emulator of its own: the stack deployed (with
/// `config` as its deploy.yaml when given) over a stand-in worker image,
/// and the reconciler every 5 s (on AWS, every minute). The workers' logs
/// are in `dist/logs`.
pub async fn local_system(name: &str, config: Option<&str>) -> (Moto, PathBuf, LocalSystem) {
    let moto = Moto::start();
    let dist = artifacts(name);
    if let Some(config) = config {
        std::fs::write(dist.join("deploy.yaml"), config).unwrap();
    }
    moto.push_image("solver-worker", "latest").await;
    assert_eq!(deploy(&moto, &dist, &[])["mode"], "on-demand");
    let mut options = Options::defaults(moto.endpoint.clone(), bin_dir(), dist.join("logs"));
    options.reconcile_every = Duration::from_secs(5);
    let system = LocalSystem::start(options).await.unwrap();
    (moto, dist, system)
}

/// The `RUN_ID` of a worker process, from its environment.
pub fn run_id_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|&b| b == 0).find_map(|kv| kv.strip_prefix(b"RUN_ID=").map(|v| String::from_utf8_lossy(v).into_owned()))
}

/// `target/debug`, where cargo put this workspace's programs for the tests.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    for bin in ["solver-api", "solver-trigger", "solver-worker", "deploy"] {
        assert!(dir.join(bin).exists(), "{} not built: run `cargo xtask test` (it builds the whole workspace)", dir.join(bin).display());
    }
    dir
}

/// `deploy` with `dist/deploy.yaml` as its configuration (every default
/// when the test wrote none).
pub fn deploy(moto: &Moto, dist: &std::path::Path, args: &[&str]) -> Value {
    let out = Command::new(bin_dir().join("deploy"))
        .env_clear()
        .envs(moto.env())
        .arg("--yes")
        .arg("--json")
        .arg("--artifacts")
        .arg(dist)
        .arg("--config")
        .arg(dist.join("deploy.yaml"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "deploy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub async fn submit(api: &str, request: &Value) -> String {
    let (status, body) = http::call(api, "POST", "/runs", Some(request.to_string().as_bytes())).await.unwrap();
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_owned()
}

pub async fn finished(api: &str, run_id: &str) -> Value {
    eventually(&format!("{run_id} to finish"), Duration::from_secs(180), || async {
        let (_, body) = http::call(api, "GET", &format!("/runs/{run_id}"), None).await.ok()?;
        let doc: Value = serde_json::from_slice(&body).ok()?;
        matches!(doc["state"].as_str(), Some("SUCCEEDED" | "FAILED" | "CANCELLED")).then_some(doc)
    })
    .await
}

pub async fn checked_result(api: &str, run_id: &str, request: &Value) -> JobShopResult {
    let (status, body) = http::call(api, "GET", &format!("/runs/{run_id}/result"), None).await.unwrap();
    assert_eq!(status, 200);
    let result: JobShopResult = serde_json::from_slice(&body).unwrap();
    JobRequest::from_value(request.clone()).unwrap().problem().unwrap().check(&result).unwrap();
    result
}

/// The process whose environment has `RUN_ID=run_id`: the job's worker.
pub fn worker_pid(run_id: &str) -> Option<i32> {
    let wanted = format!("RUN_ID={run_id}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let environ = std::fs::read(entry.path().join("environ")).ok()?;
        environ.split(|&b| b == 0).any(|kv| kv == wanted.as_bytes()).then_some(pid)
    })
}

pub async fn task_counts(ecs: &aws_sdk_ecs::Client) -> (usize, usize) {
    let mut counts = [0; 2];
    for (i, s) in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Stopped].into_iter().enumerate() {
        counts[i] = ecs.list_tasks().cluster("scheduling-solver-cluster").desired_status(s).send().await.unwrap().task_arns().len();
    }
    (counts[0], counts[1])
}

/// The Lambda zips `deploy` uploads, made from the test build's programs.
pub fn artifacts(name: &str) -> PathBuf {
    let bins = bin_dir();
    let dist = std::env::temp_dir().join(testkit::unique(name));
    std::fs::create_dir_all(&dist).unwrap();
    for name in ["solver-api", "solver-trigger"] {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(dist.join(format!("{name}.zip"))).unwrap());
        zip.start_file("bootstrap", zip::write::SimpleFileOptions::default().unix_permissions(0o755)).unwrap();
        zip.write_all(&std::fs::read(bins.join(name)).unwrap()).unwrap();
        zip.finish().unwrap();
    }
    dist
}
