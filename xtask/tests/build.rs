//! `cargo xtask build` and `cargo xtask deploy` run as a user types them:
//! the binaries that run on AWS ask for no glibc newer than Amazon Linux
//! 2023's 2.34 (whatever this machine's is), and `xtask deploy` hands
//! `deploy` the image it was given, which `deploy` pins by digest.
//! The debug profile keeps it to one more build of the workspace; which
//! glibc symbols a program links does not depend on the profile.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use std::io::Read;
use std::path::Path;
use std::process::Command;

/// The highest `GLIBC_x.y` version the binary's dynamic symbols need, as
/// binutils' readelf lists them (not the xtask's own check, which it tests).
fn glibc_needed(binary: &Path) -> (u32, u32) {
    let out = Command::new("readelf").args(["--version-info", "--wide"]).arg(binary).output().expect("readelf (binutils)");
    assert!(out.status.success(), "readelf {}: {}", binary.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let versions: Vec<(u32, u32)> = text
        .split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let v: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            let mut parts = v.split('.').filter_map(|p| p.parse().ok());
            Some((parts.next()?, parts.next()?))
        })
        .collect();
    assert!(!versions.is_empty(), "{} links no glibc at all: not the dynamic build Lambda runs", binary.display());
    versions.into_iter().max().unwrap()
}

fn unzip_bootstrap(zip: &Path, to: &Path) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut bootstrap = archive.by_name("bootstrap").unwrap();
    assert_eq!(bootstrap.unix_mode().map(|m| m & 0o111), Some(0o111), "bootstrap is executable");
    let mut bytes = Vec::new();
    bootstrap.read_to_end(&mut bytes).unwrap();
    std::fs::write(to, bytes).unwrap();
}

fn xtask(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).envs(env.iter().map(|(k, v)| (*k, v))).output().unwrap();
    assert!(out.status.success(), "cargo xtask {args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn the_build_needs_at_most_al2023_s_glibc_and_xtask_deploy_deploys_the_given_image() {
    let out_dir = std::env::temp_dir().join(testkit::unique("xtask-build"));
    let out = out_dir.to_str().unwrap();
    xtask(&["build", "--dev", "--out", out], &[]);
    for name in ["solver-api", "solver-trigger"] {
        unzip_bootstrap(&out_dir.join(format!("{name}.zip")), &out_dir.join(name));
    }
    for name in ["solver-api", "solver-trigger", "solver-worker"] {
        let needed = glibc_needed(&out_dir.join(name));
        assert!(needed <= (2, 34), "{name} needs glibc {}.{}: Lambda's provided.al2023 has 2.34", needed.0, needed.1);
    }

    let moto = testkit::Moto::start();
    let digest = tokio::runtime::Runtime::new().unwrap().block_on(moto.push_image("solver-worker", "v7"));
    let image = format!("123456789012.dkr.ecr.{}.amazonaws.com/solver-worker:v7", testkit::REGION);
    let mut env: Vec<(&str, String)> = moto.env().into_iter().collect();
    env.push(("AWS_DEFAULT_REGION", testkit::REGION.into()));
    let config = out_dir.join("none.yaml");
    let deployed = xtask(&["deploy", "--dev", "--out", out, "--image", &image, "--no-image-build", "--", "--yes", "--json", "--config", config.to_str().unwrap()], &env);
    let report: serde_json::Value = serde_json::from_slice(&deployed.stdout).unwrap();
    let text = report.to_string();
    assert!(text.contains(&digest), "the deployed image is pinned by the pushed digest {digest}: {text}");
    let stderr = String::from_utf8_lossy(&deployed.stderr);
    assert!(stderr.contains("--no-image-build: the worker image was not built"), "{stderr}");
    std::fs::remove_dir_all(&out_dir).unwrap();
}
