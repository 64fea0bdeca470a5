//! `cargo xtask <task>`: the project's chores, one module per task.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod build;
mod demo;
mod deploy;
mod local;
mod python;
mod test;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, test, deploy and run the on-demand solver pipeline")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Every test (installs the pinned emulator and linters on first use)
    Test {
        /// Extra arguments for `cargo test`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Release Lambda zips (bootstrap inside) and the worker binary, in dist/
    Build(build::Args),
    /// Build, then run `deploy` with those artifacts (and the worker image when Docker is there)
    Deploy(deploy::Args),
    /// The whole system on this machine (emulator + real stack + local data plane) until Ctrl-C
    Local,
    /// `local`, one job over HTTP followed to its result, `deploy status`, then stop
    Demo,
}

fn main() -> ExitCode {
    let result = match Cli::parse().task {
        Task::Test { args } => test::run(&args),
        Task::Build(args) => build::run(&args).map(|_| ()),
        Task::Deploy(args) => deploy::run(&args),
        Task::Local => local::run(),
        Task::Demo => demo::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root, from this crate's manifest directory as `cargo run`
/// gives it now. The compile-time value can name another clone: the build
/// cache is shared between clones, and cargo keeps a binary whose sources are
/// older than it, wherever they were built.
pub fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().expect("xtask lives in the workspace root").to_path_buf()
}

/// Where builds and tools are cached, outside the clone so a fresh clone reuses them.
pub fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/scheduling-solver")
}

pub fn cargo() -> std::process::Command {
    cargo_like(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `program` (cargo, or a wrapper that runs it) in the root, with the
/// environment cargo should see.
pub fn cargo_like(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.current_dir(root());
    // `cargo run` gave this process variables about xtask itself (and a
    // library path into the target dir). Passed on, build scripts that watch
    // the environment rerun, and the AWS SDK is rebuilt whenever a plain
    // `cargo build` and an xtask build alternate.
    for (key, value) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        let from_cargo_run = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_PACKAGE"].iter().any(|p| key_text.starts_with(p));
        let target_libs = key_text == "LD_LIBRARY_PATH" && value.to_string_lossy().contains("target");
        if from_cargo_run || target_libs {
            cmd.env_remove(&key);
        }
    }
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        cmd.env("CARGO_TARGET_DIR", cache_dir().join("target"));
    }
    cmd
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| cache_dir().join("target"), PathBuf::from)
}

pub fn run_checked(cmd: &mut std::process::Command) -> anyhow::Result<()> {
    let status = cmd.status().map_err(|e| anyhow::anyhow!("failed to start {:?}: {e}", cmd.get_program()))?;
    anyhow::ensure!(status.success(), "{:?} failed with {status}", cmd.get_program());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap checks a command's definition only when it is used: every task's
    /// arguments are checked here, so none panics on a user's first call.
    #[test]
    fn every_task_parses_its_arguments() {
        Cli::command().debug_assert();
        for args in [&["cargo xtask", "deploy", "--image", "x", "--", "--yes"][..], &["cargo xtask", "build", "--arch", "arm64"], &["cargo xtask", "test", "--", "-q"]] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}
