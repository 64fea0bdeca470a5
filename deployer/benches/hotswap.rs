//! The same code-only change deployed two ways against the emulator:
//! `deploy --hotswap` (UpdateFunctionCode, then wait until active) and a
//! plain `deploy` (a change set). `cargo xtask test --bench hotswap`; the
//! figures go to BENCHMARKS.md. On AWS both take longer (a change set's
//! Lambda update is usually tens of seconds); the emulator shows what the
//! path itself costs, with the same calls.

#![allow(clippy::unwrap_used)] // a bench states its expectations by unwrapping

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn write_api_zip(dir: &Path, name: &str, version: usize) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join(format!("{name}.zip"))).unwrap());
    zip.start_file("bootstrap", zip::write::SimpleFileOptions::default().unix_permissions(0o755)).unwrap();
    zip.write_all(format!("#!/bin/sh\necho {name} {version}\n").as_bytes()).unwrap();
    zip.finish().unwrap();
}

fn deploy(moto: &testkit::Moto, dir: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_deploy"))
        .env_clear()
        .envs(moto.env())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("--artifacts")
        .arg(dir)
        .arg("--config")
        .arg(dir.join("none.yaml"))
        .args(["--json"])
        .args(args)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(out.status.success(), "deploy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["changed"], true, "each round deploys a change: {report}");
    elapsed
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    const ROUNDS: usize = 5;
    let moto = testkit::Moto::start();
    tokio::runtime::Runtime::new().unwrap().block_on(moto.push_image("solver-worker", "latest"));
    let dir = std::env::temp_dir().join(testkit::unique("hotswap-bench"));
    std::fs::create_dir_all(&dir).unwrap();
    write_api_zip(&dir, "solver-api", 0);
    write_api_zip(&dir, "solver-trigger", 0);
    let mut version = 0;
    let mut next = |dir: &Path| {
        version += 1;
        write_api_zip(dir, "solver-api", version);
    };
    next(&dir);
    deploy(&moto, &dir, &[]);
    let (mut hot, mut full) = (Vec::new(), Vec::new());
    // Alternated, so that a slower emulator late in the run weighs on both.
    for _ in 0..ROUNDS {
        next(&dir);
        hot.push(deploy(&moto, &dir, &["--hotswap"]));
        next(&dir);
        full.push(deploy(&moto, &dir, &[]));
    }
    println!("code-only change of solver-api, {ROUNDS} rounds each, alternated, on the emulator:");
    println!("| path | median | min | max |\n|---|---|---|---|");
    for (name, xs) in [("deploy --hotswap", hot), ("deploy (change set)", full)] {
        let (min, max) = (*xs.iter().min().unwrap(), *xs.iter().max().unwrap());
        println!("| {name} | {:.2} s | {:.2} s | {:.2} s |", median(xs).as_secs_f64(), min.as_secs_f64(), max.as_secs_f64());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
