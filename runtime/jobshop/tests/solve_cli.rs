//! The `solve` command as a user types it, for both formats.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use job_model::{FlexibleJobShop, JobShop, JobShopResult, check_flexible_schedule, check_schedule};
use std::process::Command;

const SOLVE: &str = env!("CARGO_BIN_EXE_solve");

fn shared(path: &str) -> std::path::PathBuf {
    std::env::var_os("SHARED_DATA").map_or_else(|| std::path::PathBuf::from("../../../shared/data"), Into::into).join(path)
}

fn solve(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(SOLVE).args(args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn solve_reads_fjs_with_the_flag_and_orlib_without() {
    let mk01 = shared("fjsp/instances/brandimarte-mk01");
    let (ok, out, err) = solve(&[mk01.to_str().unwrap(), "--format", "fjs", "--time-limit", "0.5", "--json"]);
    assert!(ok, "{err}");
    let result: JobShopResult = serde_json::from_str(&out).unwrap();
    check_flexible_schedule(&FlexibleJobShop::parse_fjs(&std::fs::read_to_string(&mk01).unwrap()).unwrap(), &result).unwrap();

    let ft06 = shared("jobshop/instances/ft06");
    let (ok, out, err) = solve(&[ft06.to_str().unwrap(), "--time-limit", "0.5", "--json"]);
    assert!(ok, "{err}");
    check_schedule(&JobShop::parse_orlib(&std::fs::read_to_string(&ft06).unwrap()).unwrap(), &serde_json::from_str(&out).unwrap()).unwrap();
}

#[test]
fn a_file_in_the_wrong_format_is_refused_with_its_line() {
    // An fjs file read as OR-Library text: its job lines have the wrong length.
    let mk01 = shared("fjsp/instances/brandimarte-mk01");
    let (ok, _, err) = solve(&[mk01.to_str().unwrap(), "--time-limit", "0.5"]);
    assert!(!ok);
    assert!(err.contains("is not a valid instance") && err.contains("line 2"), "{err}");
    let (ok, _, err) = solve(&[mk01.to_str().unwrap(), "--format", "xml"]);
    assert!(!ok);
    assert!(err.contains("fjs"), "the accepted formats are named: {err}");
}
