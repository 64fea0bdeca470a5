//! `cargo xtask deploy [--image URI] [deploy's own arguments]`: build the
//! release artifacts, build and push the worker image when Docker is there,
//! then run `deploy` with that image by the digest the push gave it (`deploy`
//! checks it in ECR).

use crate::{build, python, run_checked};
use anyhow::Context;
use std::process::{Command, Stdio};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    build: build::Args,
    /// The worker image to build, push and deploy (e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/solver-worker:TAG);
    /// without it, `deploy` uses worker.image from deploy.yaml (or the solver-worker repository's `latest`)
    #[arg(long)]
    image: Option<String>,
    /// Deploy --image as it is in the registry (built and pushed elsewhere, e.g. by CI), without building it here
    #[arg(long, requires = "image")]
    no_image_build: bool,
    /// Arguments for `deploy` (e.g. --yes, --profile, status)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    deploy_args: Vec<String>,
}

fn docker_available() -> bool {
    Command::new("docker").arg("info").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com` and the repository, for an ECR image.
fn ecr_parts(image: &str) -> Option<(&str, &str, &str)> {
    let (registry, path) = image.split_once('/')?;
    let region = registry.strip_suffix(".amazonaws.com")?.split('.').nth(3)?;
    registry.contains(".dkr.ecr.").then_some(())?;
    let repository = path.split(['@', ':']).next()?;
    Some((registry, region, repository))
}

/// Builds the image and pushes it; for ECR, logs Docker in with the AWS
/// CLI's credentials (the repository exists: `run` made it first).
fn build_and_push(image: &str, arch: &str, profile: Option<&str>) -> anyhow::Result<()> {
    let platform = if arch == "arm64" { "linux/arm64" } else { "linux/amd64" };
    run_checked(Command::new("docker").args(["build", "--platform", platform, "-t", image, "."]).current_dir(crate::root()))?;
    if let Some((registry, region, repository)) = ecr_parts(image) {
        python::ensure()?;
        let aws = || {
            let mut c = Command::new(python::bin("aws"));
            c.args(["--region", region]);
            if let Some(p) = profile {
                c.args(["--profile", p]);
            }
            c
        };
        let exists = aws().args(["ecr", "describe-repositories", "--repository-names", repository]).stdout(Stdio::null()).stderr(Stdio::null()).status()?.success();
        anyhow::ensure!(exists, "ECR has no repository {repository} in {region}: `deploy repository` makes the configured one (worker.image names another)");
        let password = aws().args(["ecr", "get-login-password"]).output().context("aws ecr get-login-password")?;
        anyhow::ensure!(password.status.success(), "aws ecr get-login-password failed: are AWS credentials set?");
        let mut login = Command::new("docker").args(["login", "--username", "AWS", "--password-stdin", registry]).stdin(Stdio::piped()).spawn()?;
        std::io::Write::write_all(login.stdin.as_mut().context("docker login stdin")?, &password.stdout)?;
        anyhow::ensure!(login.wait()?.success(), "docker login to {registry} failed");
    }
    run_checked(Command::new("docker").args(["push", image]))?;
    let size = Command::new("docker").args(["image", "inspect", "--format", "{{.Size}}", image]).output()?;
    if let Ok(bytes) = String::from_utf8_lossy(&size.stdout).trim().parse::<u64>() {
        #[allow(clippy::cast_precision_loss)] // a size in MiB, for people
        let mib = bytes as f64 / 1_048_576.0;
        eprintln!("worker image {image}: {mib:.1} MiB");
    }
    Ok(())
}

/// The image by the digest the registry gave it on push (`REPO@sha256:…`),
/// so `deploy` runs exactly what was built here, whatever the tag names later.
fn pushed_digest(image: &str) -> anyhow::Result<String> {
    let out = Command::new("docker").args(["image", "inspect", "--format", "{{json .RepoDigests}}", image]).output().context("docker image inspect")?;
    anyhow::ensure!(out.status.success(), "docker image inspect {image} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    let digests: Vec<String> = serde_json::from_slice(&out.stdout).context("docker image inspect's RepoDigests")?;
    by_digest(image, &digests).ok_or_else(|| anyhow::anyhow!("docker knows no digest of {image} in its registry after the push (RepoDigests: {digests:?})"))
}

/// Of an image's `RepoDigests`, the one of the repository `image` names.
fn by_digest(image: &str, repo_digests: &[String]) -> Option<String> {
    let without_tag = match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => image,
    };
    let repository = image.split_once('@').map_or(without_tag, |(repo, _)| repo);
    repo_digests.iter().find(|d| d.split_once('@').is_some_and(|(repo, _)| repo == repository)).cloned()
}

/// The options of `deploy`'s own arguments that choose the account, region,
/// configuration and stage, for the `deploy repository` run before the push.
fn global_args(deploy_args: &[String]) -> Vec<String> {
    const WITH_VALUE: [&str; 4] = ["--profile", "--region", "--config", "--stage"];
    let mut out = Vec::new();
    let mut args = deploy_args.iter();
    while let Some(a) = args.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            out.push(a.clone());
            out.extend(args.next().cloned());
        } else if WITH_VALUE.iter().any(|w| a.starts_with(&format!("{w}="))) {
            out.push(a.clone());
        }
    }
    out
}

/// The value of `--name VALUE` or `--name=VALUE` among `deploy`'s arguments.
fn option_value(deploy_args: &[String], name: &str) -> Option<String> {
    let global = global_args(deploy_args);
    let mut args = global.iter();
    while let Some(a) = args.next() {
        if a == name {
            return args.next().cloned();
        }
        if let Some(v) = a.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')) {
            return Some(v.to_owned());
        }
    }
    None
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let artifacts = build::run(&args.build)?;
    let mut deploy = Command::new(artifacts.bin_dir.join("deploy"));
    deploy.arg("--artifacts").arg(&artifacts.dir);
    match (&args.image, !args.no_image_build && docker_available()) {
        (Some(image), true) => {
            // The same credentials as `deploy` for the registry.
            let profile = option_value(&args.deploy_args, "--profile");
            // The repository before the push: its own stack, or the old
            // system's, adopted (`deploy repository`). Another registry's
            // repository is not ours to make.
            if ecr_parts(image).is_some() {
                let mut repository = Command::new(artifacts.bin_dir.join("deploy"));
                run_checked(repository.args(global_args(&args.deploy_args)).arg("repository").current_dir(crate::root()))?;
            }
            build_and_push(image, &args.build.arch, profile.as_deref())?;
            let pinned = pushed_digest(image)?;
            eprintln!("pushed {image} as {pinned}");
            deploy.args(["--image", &pinned]);
        }
        (Some(image), false) => {
            let why = if args.no_image_build { "--no-image-build" } else { "Docker is not available here" };
            eprintln!("note: {why}: the worker image was not built; deploying {image} as it is in the registry (deploy checks it exists)");
            deploy.args(["--image", image]);
        }
        (None, _) => eprintln!("note: no --image given: the worker image was not built; deploy uses worker.image from deploy.yaml and checks it exists"),
    }
    run_checked(deploy.args(&args.deploy_args).current_dir(crate::root()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_repository_step_gets_the_account_and_stage_options_and_nothing_else() {
        let given: Vec<String> = ["--yes", "--profile", "prod", "--stage=staging", "--json", "status", "--region", "eu-west-1"].map(String::from).to_vec();
        assert_eq!(super::global_args(&given), ["--profile", "prod", "--stage=staging", "--region", "eu-west-1"]);
        assert_eq!(super::option_value(&given, "--profile").as_deref(), Some("prod"));
        assert_eq!(super::option_value(&["--profile=dev".to_owned()], "--profile").as_deref(), Some("dev"), "the = form too (docker login uses it)");
        assert_eq!(super::option_value(&given, "--config"), None);
    }

    #[test]
    fn the_pushed_image_is_named_by_its_own_repository_s_digest() {
        let digests = ["ghcr.io/acme/solver@sha256:aaa".to_owned(), "123456789012.dkr.ecr.eu-west-1.amazonaws.com/solver-worker@sha256:bbb".to_owned()];
        let ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/solver-worker";
        assert_eq!(super::by_digest(&format!("{ecr}:v1"), &digests), Some(format!("{ecr}@sha256:bbb")));
        assert_eq!(super::by_digest(ecr, &digests), Some(format!("{ecr}@sha256:bbb")), "no tag");
        assert_eq!(
            super::by_digest("localhost:5000/solver:v1", &["localhost:5000/solver@sha256:ccc".to_owned()]).as_deref(),
            Some("localhost:5000/solver@sha256:ccc"),
            "a registry port is not a tag"
        );
        assert_eq!(super::by_digest("localhost:5000/solver", &["localhost:5000/solver@sha256:ccc".to_owned()]).as_deref(), Some("localhost:5000/solver@sha256:ccc"));
        assert_eq!(super::by_digest("other/repo:v1", &digests), None);
    }

    #[test]
    fn ecr_images_name_their_registry_region_and_repository() {
        assert_eq!(
            super::ecr_parts("123456789012.dkr.ecr.eu-west-1.amazonaws.com/solver-worker:v1"),
            Some(("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "eu-west-1", "solver-worker"))
        );
        assert_eq!(super::ecr_parts("ghcr.io/acme/solver:v1"), None);
    }
}
