use crate::{cargo, python, run_checked};

/// Every test of the workspace, with the pinned emulator on hand.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    python::ensure()?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace"]).args(args).env("MOTO_SERVER", python::bin("moto_server")).env("TOOLS_BIN", python::venv().join("bin"));
    run_checked(&mut cmd)
}
