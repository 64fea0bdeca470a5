use crate::{cargo, python, run_checked};

/// Formatting and lints first (a failure there fails the run), then every
/// test of the workspace with the pinned emulator on hand.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    python::ensure()?;
    run_checked(cargo().args(["fmt", "--all", "--check"])).map_err(|e| e.context("`cargo fmt --all --check` found unformatted code: run `cargo fmt --all`"))?;
    run_checked(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])).map_err(|e| e.context("clippy found warnings"))?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace"]).args(args).env("MOTO_SERVER", python::bin(python::MOTO_LAUNCHER)).env("TOOLS_BIN", python::venv().join("bin"));
    run_checked(&mut cmd)
}
