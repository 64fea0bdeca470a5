//! `cargo xtask demo`: the local system, one job-shop problem (ft10) sent
//! over HTTP, its status followed to the end, the result's makespan and
//! `deploy status` printed, everything stopped.

use crate::local;
use anyhow::Context;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const FT10: &str = include_str!("../data/ft10.txt");

pub fn run() -> anyhow::Result<()> {
    let local = local::start()?;
    let addr = local.api_url.trim_start_matches("http://").to_owned();
    let request = serde_json::json!({"problem": {"kind": "jobshop", "format": "orlib", "text": FT10}, "time_limit_s": 10});
    eprintln!("==> POST {}/runs (ft10, 10 x 10, 10 s limit)", local.api_url);
    let (status, body) = http(&addr, "POST", "/runs", Some(&request.to_string()))?;
    anyhow::ensure!(status == 202, "POST /runs answered {status}: {body}");
    let run_id = serde_json::from_str::<serde_json::Value>(&body)?["run_id"].as_str().context("no run_id in the answer")?.to_owned();
    eprintln!("    run_id {run_id}; watch it in the console: {}/#/runs/{run_id} (`cargo xtask local` keeps the console up)", local.api_url);

    let started = Instant::now();
    let mut last = String::new();
    let doc = loop {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(180), "the job did not finish in 180 s (last state {last})");
        let (_, body) = http(&addr, "GET", &format!("/runs/{run_id}"), None)?;
        let doc: serde_json::Value = serde_json::from_str(&body)?;
        let state = doc["state"].as_str().unwrap_or("?").to_owned();
        let line = format!("{state} {}", doc["progress"]);
        if line != last {
            eprintln!("    {:>5.1}s {state:<10} best {} bound {}", started.elapsed().as_secs_f64(), doc["progress"]["best_objective"], doc["progress"]["lower_bound"]);
            last = line;
        }
        if matches!(state.as_str(), "SUCCEEDED" | "FAILED" | "CANCELLED") {
            break doc;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    anyhow::ensure!(doc["state"] == "SUCCEEDED", "the job ended {}: {}", doc["state"], doc["error"]);
    let (_, body) = http(&addr, "GET", &format!("/runs/{run_id}/result"), None)?;
    let result: serde_json::Value = serde_json::from_str(&body)?;
    println!("ft10 solved: makespan {} (lower bound {}, best known 930) by task {}", result["makespan"], result["lower_bound"], doc["task_arn"]);
    println!("{}", local.deploy(&["status"])?);
    Ok(())
}

/// One HTTP/1.0 request over loopback: `(status, body)`.
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or_default();
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("malformed HTTP response")?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no status")?;
    Ok((status, body.to_owned()))
}
