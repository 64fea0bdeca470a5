//! `cargo xtask local`: the whole system on this machine, no AWS account.
//! moto's server on a free port, the real stack deployed into it by `deploy`,
//! and the local data plane running the real binaries until Ctrl-C.

use crate::{build, cargo, python, run_checked, target_dir};
use anyhow::Context;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Everything `local` started; dropping it stops all of it.
pub struct Local {
    pub endpoint: String,
    pub api_url: String,
    pub bin_dir: PathBuf,
    pub work_dir: PathBuf,
    moto: Child,
    plane: Child,
}

impl Drop for Local {
    fn drop(&mut self) {
        // SIGTERM lets the plane stop its workers and mark their tasks.
        let _ = Command::new("kill").args(["-TERM", &self.plane.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && matches!(self.plane.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.plane.kill();
        let _ = self.plane.wait();
        let _ = self.moto.kill();
        let _ = self.moto.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn step(text: &str) {
    eprintln!("==> {text}");
}

impl Local {
    /// The environment that points `deploy status` and the AWS CLI at it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "local".into()),
            ("AWS_SECRET_ACCESS_KEY", "local".into()),
        ]
    }

    pub fn deploy(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(self.bin_dir.join("deploy"))
            .envs(self.env())
            .arg("--yes")
            .arg("--artifacts")
            .arg(self.work_dir.join("dist"))
            .args(args)
            .stderr(Stdio::inherit())
            .output()
            .context("running deploy")?;
        anyhow::ensure!(out.status.success(), "deploy {args:?} failed");
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The worker image recorded in the emulator's ECR, where `docker push`
    /// would leave it on AWS: the emulator has no registry, and locally the
    /// worker runs as a process, so a manifest stands for the image.
    fn record_image(&self) -> anyhow::Result<()> {
        let aws = |args: &[&str]| {
            Command::new(python::bin("aws")).envs(self.env()).args(["--endpoint-url", &self.endpoint]).args(args).stdout(Stdio::null()).status().context("running the AWS CLI")
        };
        // The repository as on AWS: `deploy repository`'s own stack.
        self.deploy(&["repository"])?;
        let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001"},"layers":[]}"#;
        let status = aws(&["ecr", "put-image", "--repository-name", "solver-worker", "--image-tag", "latest", "--image-manifest", manifest])?;
        anyhow::ensure!(status.success(), "could not record the worker image in the emulator's ECR");
        Ok(())
    }
}

pub fn start() -> anyhow::Result<Local> {
    python::ensure()?;
    step("building the programs (debug)");
    // The whole workspace with its tests: the same feature set as `cargo
    // xtask test`, so the two share one build cache instead of two.
    run_checked(cargo().args(["build", "--workspace", "--all-targets"]))?;
    let bin_dir = target_dir().join("debug");
    let work_dir = std::env::temp_dir().join(format!("scheduling-solver-local-{}", std::process::id()));
    let dist = work_dir.join("dist");
    std::fs::create_dir_all(&dist)?;
    // The same zips as for AWS (`bootstrap` inside), from the debug build.
    for name in ["solver-api", "solver-trigger"] {
        build::zip_bootstrap(&bin_dir.join(name), &dist.join(format!("{name}.zip")))?;
    }

    let port = free_port()?;
    step(&format!("starting the emulator (moto) on 127.0.0.1:{port}"));
    let moto_log = std::fs::File::create(work_dir.join("moto.log"))?;
    let mut moto = Command::new(python::bin(python::MOTO_LAUNCHER)).args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(moto_log.try_clone()?).stderr(moto_log).spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() >= deadline {
            // A `Child` is not stopped by being dropped: no process left behind.
            let _ = moto.kill();
            let _ = moto.wait();
            anyhow::bail!("moto did not start: see {}", work_dir.join("moto.log").display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");

    // From here on `local` owns both processes: any error drops and stops them.
    let mut local = Local { endpoint: endpoint.clone(), api_url: String::new(), bin_dir: bin_dir.clone(), work_dir: work_dir.clone(), moto, plane: Command::new("true").spawn()? };
    step("deploying the stack into the emulator");
    local.record_image()?;
    let report = local.deploy(&[])?;
    eprint!("{report}");

    step("starting the local data plane");
    let mut plane = Command::new(bin_dir.join("local-plane"))
        .args(["--endpoint", &endpoint, "--bin-dir"])
        .arg(&bin_dir)
        .arg("--log-dir")
        .arg(work_dir.join("logs"))
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdout = BufReader::new(plane.stdout.take().context("plane stdout")?);
    let mut first = String::new();
    stdout.read_line(&mut first)?;
    // Keep draining it: a closed pipe would fail the plane's later writes.
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    local.plane = plane;
    local.api_url = first.trim().strip_prefix("api ").context("the data plane did not start: see its output")?.to_owned();
    Ok(local)
}

pub fn run() -> anyhow::Result<()> {
    let local = start()?;
    println!();
    println!("the system runs locally; Ctrl-C stops everything");
    println!("  console: {}/   (submit a job, watch it solve, its schedule as a Gantt chart)", local.api_url);
    println!("  API:     {}   (POST /runs, GET /runs/{{run_id}}, GET /runs/{{run_id}}/result)", local.api_url);
    println!("  logs:    {}", local.work_dir.join("logs").display());
    println!(
        "  try:     curl -s -X POST {}/runs -d '{{\"problem\":{{\"kind\":\"jobshop\",\"format\":\"orlib\",\"text\":\"2 2\\n0 3 1 2\\n1 4 0 1\\n\"}},\"time_limit_s\":5}}'",
        local.api_url
    );
    println!("  status:  env {} {} status", local.env().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "), local.bin_dir.join("deploy").display());
    std::io::stdout().flush()?;
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })?;
    let _ = rx.recv();
    eprintln!("stopping: workers get SIGTERM and save their best answers");
    drop(local);
    Ok(())
}
