//! `cargo xtask deploy [--image URI] [deploy's own arguments]`: build the
//! release artifacts, the worker image when Docker is there, then `deploy`.

use crate::{build, run_checked};
use std::process::Command;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    build: build::Args,
    /// Where to push the worker image (e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/solver-worker:TAG);
    /// must match worker.image in deploy.yaml
    #[arg(long)]
    image: Option<String>,
    /// Arguments for `deploy` (e.g. --yes, --profile, status)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    deploy_args: Vec<String>,
}

fn docker_available() -> bool {
    Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success())
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let artifacts = build::run(&args.build)?;
    match (&args.image, docker_available()) {
        (Some(image), true) => {
            let platform = if args.build.arch == "arm64" { "linux/arm64" } else { "linux/amd64" };
            run_checked(Command::new("docker").args(["build", "--platform", platform, "-t", image, "."]).current_dir(crate::root()))?;
            run_checked(Command::new("docker").args(["push", image]))?;
        }
        (Some(_), false) => eprintln!("note: Docker is not available here: the worker image was not built; the task definition uses worker.image from deploy.yaml"),
        (None, _) => eprintln!("note: no --image given: the worker image was not built; the task definition uses worker.image from deploy.yaml"),
    }
    run_checked(Command::new(artifacts.bin_dir.join("deploy")).arg("--artifacts").arg(&artifacts.dir).args(&args.deploy_args).current_dir(crate::root()))
}
