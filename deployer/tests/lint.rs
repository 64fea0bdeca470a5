//! The templates and the Dockerfile pass their linters (installed by
//! `cargo xtask test` into the tools environment).

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use std::path::{Path, PathBuf};
use std::process::Command;

fn tool(name: &str) -> PathBuf {
    std::env::var_os("TOOLS_BIN").map_or_else(|| PathBuf::from(name), |d| Path::new(&d).join(name))
}

fn root() -> PathBuf {
    testkit::workspace_root()
}

fn passes(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{:?} ({e}): run the tests with `cargo xtask test`", cmd.get_program()));
    assert!(out.status.success(), "{:?} found problems:\n{}\n{}", cmd.get_program(), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn templates_pass_cfn_lint() {
    passes(Command::new(tool("cfn-lint")).arg(root().join("stacks/solver.yaml")));
}

#[test]
fn templates_pass_checkov_or_say_why_not() {
    passes(Command::new(tool("checkov")).args(["--quiet", "--compact", "--skip-download", "--framework", "cloudformation", "-f"]).arg(root().join("stacks/solver.yaml")));
}

#[test]
fn the_dockerfile_passes_hadolint() {
    passes(Command::new(tool("hadolint")).arg(root().join("Dockerfile")));
}
