//! `deploy logs` on the local system: the plane ships each program's output
//! into the emulator's CloudWatch Logs under the names AWS uses, and the
//! command, run as an operator types it, shows one job's lines (every
//! attempt's worker, the API, the trigger) and none of another job's.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

mod common;

use common::{finished, submit, worker_pid};
use local_plane::http;
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::Duration;
use testkit::{Moto, eventually};

fn deploy_logs(moto: &Moto, dist: &std::path::Path, args: &[&str]) -> Output {
    let out = Command::new(common::bin_dir().join("deploy")).env_clear().envs(moto.env()).arg("--config").arg(dist.join("deploy.yaml")).arg("logs").args(args).output().unwrap();
    assert!(out.status.success(), "deploy logs {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_logs_shows_every_attempt_of_one_job_in_time_order_and_nothing_of_another() {
    job_store::init_logging();
    let (moto, dist, system) = common::local_system("local-logs", None).await;
    let api = system.api_addr.clone();

    // Job A loses its first task (killed as the OOM killer does) and ends
    // on its second; job B runs beside it.
    let long = json!({"problem": {"kind": "jobshop", "format": "orlib", "text": testkit::instance("ft10")}, "time_limit_s": 4});
    let a = submit(&api, &long).await;
    let small = json!({"problem": {"kind": "jobshop", "jobs": [[{"machine": 0, "duration": 3}, {"machine": 1, "duration": 2}]]}, "time_limit_s": 1});
    let b = submit(&api, &small).await;
    eventually("job A to run", Duration::from_secs(60), || async {
        let (_, body) = http::call(&api, "GET", &format!("/runs/{a}"), None).await.ok()?;
        (serde_json::from_slice::<Value>(&body).ok()?["state"] == "RUNNING").then_some(())
    })
    .await;
    let pid = eventually("job A's worker", Duration::from_secs(10), || async { worker_pid(&a) }).await;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let doc = finished(&api, &a).await;
    assert_eq!((doc["state"].as_str(), doc["attempt"].as_u64()), (Some("SUCCEEDED"), Some(2)), "{doc}");
    assert_eq!(finished(&api, &b).await["state"], "SUCCEEDED");

    // The last lines reach the emulator within the shipper's second.
    let lines = eventually("job A's lines from every source", Duration::from_secs(20), || async {
        let lines = json_lines(&deploy_logs(&moto, &dist, &[&a, "--json"]));
        let sources: std::collections::BTreeSet<&str> = lines.iter().map(|l| l["source"].as_str().unwrap()).collect();
        let has = |s| sources.contains(s);
        (has("api")
            && has("trigger")
            && has("worker#1")
            && has("worker#2")
            && lines.iter().any(|l| l["source"] == "worker#2" && l["message"].as_str().unwrap().contains("Finished(")))
        .then_some(lines.clone())
    })
    .await;
    let times: Vec<i64> = lines.iter().map(|l| l["timestamp"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order: {times:?}");
    assert!(lines.iter().all(|l| !l["message"].as_str().unwrap().contains(&b)), "nothing of job B in job A's lines");
    let api_lines: Vec<&str> = lines.iter().filter(|l| l["source"] == "api").map(|l| l["message"].as_str().unwrap()).collect();
    assert!(api_lines.iter().any(|m| m.contains("accepted")) && api_lines.iter().all(|m| !m.contains("method=GET")), "status reads are left out: {api_lines:?}");
    let with_reads = json_lines(&deploy_logs(&moto, &dist, &[&a, "--json", "--reads"]));
    assert!(with_reads.iter().any(|l| l["source"] == "api" && l["message"].as_str().unwrap().contains("method=GET")), "--reads keeps them");
    let first = lines.iter().position(|l| l["source"] == "worker#1").unwrap();
    let second = lines.iter().position(|l| l["source"] == "worker#2").unwrap();
    assert!(first < second, "the first attempt's lines come before the second's");

    // As text, for people; and job B's own lines are its own.
    let text = String::from_utf8_lossy(&deploy_logs(&moto, &dist, &[&a]).stdout).into_owned();
    assert!(text.lines().any(|l| l.contains("  worker#2  ") || l.contains(" worker#2 ")), "{text}");
    let b_lines = json_lines(&deploy_logs(&moto, &dist, &[&b, "--json"]));
    assert!(b_lines.iter().any(|l| l["source"] == "worker#1") && b_lines.iter().all(|l| !l["message"].as_str().unwrap().contains(&a)), "{b_lines:?}");

    // --follow on a job still to run: it prints as the job goes and
    // returns by itself once the job has ended.
    let c = submit(&api, &small).await;
    let out = tokio::task::spawn_blocking({
        let (moto_env, dist, c) = (moto.env(), dist.clone(), c.clone());
        move || {
            Command::new(common::bin_dir().join("deploy")).env_clear().envs(moto_env).arg("--config").arg(dist.join("deploy.yaml")).args(["logs", &c, "--follow"]).output().unwrap()
        }
    });
    let out = tokio::time::timeout(Duration::from_secs(90), out).await.expect("--follow returns after the job ends").unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("worker#1") && text.contains("Finished("), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("job {c} ended SUCCEEDED")), "{}", String::from_utf8_lossy(&out.stderr));

    // A run id that is not a job says so.
    let out =
        Command::new(common::bin_dir().join("deploy")).env_clear().envs(moto.env()).arg("--config").arg(dist.join("deploy.yaml")).args(["logs", "no-such-job"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no job no-such-job"), "{}", String::from_utf8_lossy(&out.stderr));
    system.shutdown().await;
}
