//! Lambda init cost of the real programs: size, and time from process start
//! to the first handled event (through the same Runtime API as Lambda's).
//! `cargo xtask build`, then `cargo xtask test --bench lambda_init` (the
//! harness itself need not be optimised; `cargo bench` works too but builds
//! the SDK once more). Release binaries are used when `cargo xtask build`
//! made them, else debug ones. Figures: BENCHMARKS.md.
//! The events touch no AWS service, so only start-up is measured.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use local_plane::lambda_host::LambdaHost;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let release = target.join("x86_64-unknown-linux-gnu/release").join(name);
    if release.exists() { release } else { target.join("debug").join(name) }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env: Vec<(String, String)> = [
        ("S3_RESULTS_BUCKET", "bench"),
        ("SQS_QUEUE_URL", "http://127.0.0.1:9/q"),
        ("ECS_CLUSTER", "c"),
        ("ECS_TASK_DEFINITION", "t"),
        ("ECS_SUBNETS", "subnet-1"),
        ("ECS_SECURITY_GROUPS", "sg-1"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let url_event = serde_json::from_str::<serde_json::Value>(include_str!("../../runtime/testkit/fixtures/function-url-post.json"))?;
    let mut not_found = url_event.clone();
    not_found["rawPath"] = "/nowhere".into();
    let cases = [("solver-api", not_found), ("solver-trigger", serde_json::json!({"Records": []}))];
    let logs = std::env::temp_dir().join("lambda-init-bench");
    std::fs::create_dir_all(&logs)?;
    println!("{:<16} {:>10} {:>14} {:>14}   (binary)", "program", "size MiB", "init+1st ms", "median of 7");
    for (name, event) in cases {
        let path = binary(name);
        let size = std::fs::metadata(&path)?.len() as f64 / 1_048_576.0;
        let mut times = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            let host = LambdaHost::start(name, &path, env.clone(), Duration::from_secs(10), logs.join(format!("{name}.log")), None).await?;
            host.invoke(&event).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            host.stop().await;
        }
        let first = times[0];
        times.sort_by(f64::total_cmp);
        println!("{name:<16} {size:>10.1} {first:>14.1} {:>14.1}   ({})", times[3], path.display());
    }
    Ok(())
}
