use crate::{cargo, python, run_checked};
use anyhow::Context;
use std::path::Path;
use std::process::Command;

/// Chromium and its WebDriver for the console's browser test: `CHROMIUM` and
/// `CHROMEDRIVER` when set (the test reads them too), else Debian's.
fn browser_paths() -> (String, String) {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    (var("CHROMIUM", "/usr/bin/chromium"), var("CHROMEDRIVER", "/usr/bin/chromedriver"))
}

/// Installs Debian's Chromium and chromedriver on first use, as the Python
/// tools are, unless they (or the ones named) are there.
fn ensure_browser() -> anyhow::Result<()> {
    let (chromium, chromedriver) = browser_paths();
    if Path::new(&chromium).exists() && Path::new(&chromedriver).exists() {
        return Ok(());
    }
    eprintln!("installing chromium and chromium-driver with apt-get (first run only)");
    let hint = "the console's browser test needs Debian's chromium and chromium-driver: install them (apt-get install chromium chromium-driver), or name others in CHROMIUM and CHROMEDRIVER";
    run_checked(Command::new("apt-get").args(["update", "-qq"])).context(hint)?;
    run_checked(Command::new("apt-get").args(["install", "-y", "-qq", "chromium", "chromium-driver"]).env("DEBIAN_FRONTEND", "noninteractive")).context(hint)
}

/// Formatting and lints first (a failure there fails the run), then every
/// test of the workspace with the pinned emulator on hand.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    python::ensure()?;
    ensure_browser()?;
    run_checked(cargo().args(["fmt", "--all", "--check"])).map_err(|e| e.context("`cargo fmt --all --check` found unformatted code: run `cargo fmt --all`"))?;
    run_checked(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])).map_err(|e| e.context("clippy found warnings"))?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace"]).args(args).env("MOTO_SERVER", python::bin(python::MOTO_LAUNCHER)).env("TOOLS_BIN", python::venv().join("bin"));
    run_checked(&mut cmd)
}
