//! Runs an existing solver as a child process: the job request as JSON on
//! stdin, the result JSON on stdout. The time limit is enforced (SIGTERM at
//! the limit plus a grace period, SIGKILL after that), and a failure reports
//! the tail of its stderr.
//!
//! The request it reads is the client's, with `time_limit_s` set to this
//! attempt's share and, when an earlier attempt saved one, `initial`: that
//! attempt's best result document, which a solver may start from or ignore.
//! It runs with a cleared environment (no task-role credentials, nothing
//! but `PATH`, `HOME`, `LANG`, `TZ`, `TMPDIR` and `SOLVER_*`), and at most
//! `MAX_OUTPUT` bytes of its stdout are read.

use super::{SolveJob, SolveOutput, Solver};
use job_model::{ErrorInfo, Progress};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Time past the job's limit before the solver is asked to stop, and time
/// after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(10);
const STDERR_TAIL: usize = 2048;
/// A result larger than this is not a schedule but a runaway solver.
const MAX_OUTPUT: u64 = 64 * 1024 * 1024;
const KEPT_VARIABLES: [&str; 5] = ["PATH", "HOME", "LANG", "TZ", "TMPDIR"];

pub struct External {
    command: String,
}

impl External {
    pub fn new(command: String) -> Self {
        Self { command }
    }
}

impl Solver for External {
    fn name(&self) -> String {
        format!("external: {}", self.command)
    }

    fn solve(&self, job: &SolveJob, stop: &AtomicBool, _progress: &(dyn Fn(Progress) + Sync), _checkpoint: &(dyn Fn(serde_json::Value) + Sync)) -> Result<SolveOutput, ErrorInfo> {
        let started = Instant::now();
        let kept = std::env::vars().filter(|(k, _)| KEPT_VARIABLES.contains(&k.as_str()) || k.starts_with("SOLVER_"));
        // Its own process group, so that signals reach whatever the command
        // forks (a shell wrapper, a Python launcher), not just the shell.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .process_group(0)
            .env_clear()
            .envs(kept)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ErrorInfo::new("SOLVER_NOT_STARTED", format!("could not start `{}`: {e}", self.command)))?;
        let mut request = serde_json::to_value(job.request).map_err(|e| ErrorInfo::new("INTERNAL", e.to_string()))?;
        request["time_limit_s"] = job.time_limit_s.into();
        if let Some(initial) = job.initial {
            request["initial"] = initial.clone();
        }
        let input = serde_json::to_vec(&request).map_err(|e| ErrorInfo::new("INTERNAL", e.to_string()))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Writer and readers on their own threads: a solver that prints while
        // it still reads must not deadlock against a full pipe.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut rest = stdout.take(MAX_OUTPUT + 1);
            let _ = rest.read_to_end(&mut buf);
            // Drain the rest so the solver is not blocked on a full pipe.
            let _ = std::io::copy(rest.get_mut(), &mut std::io::sink());
            buf
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            let from = buf.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(&buf[from..]).into_owned()
        });

        let limit = Duration::from_secs_f64(job.time_limit_s.max(0.0)) + GRACE;
        let group = Pid::from_raw(-i32::try_from(child.id()).unwrap_or(i32::MAX));
        let mut term_sent: Option<(Instant, &str)> = None;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| ErrorInfo::new("SOLVER_FAILED", e.to_string()))? {
                break status;
            }
            match term_sent {
                None if stop.load(Ordering::Relaxed) => {
                    let _ = kill(group, Signal::SIGTERM);
                    term_sent = Some((Instant::now(), "stopped"));
                }
                None if started.elapsed() > limit => {
                    let _ = kill(group, Signal::SIGTERM);
                    term_sent = Some((Instant::now(), "time limit"));
                }
                Some((at, _)) if at.elapsed() > GRACE => {
                    let _ = kill(group, Signal::SIGKILL);
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Anything the command left behind would hold the pipes open.
        let _ = kill(group, Signal::SIGKILL);
        let _ = writer.join();
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        if stdout.len() as u64 > MAX_OUTPUT {
            return Err(ErrorInfo::new("SOLVER_BAD_OUTPUT", format!("`{}` printed more than {MAX_OUTPUT} bytes on stdout", self.command)));
        }
        let parsed = serde_json::from_slice::<serde_json::Value>(&stdout);
        let elapsed_s = started.elapsed().as_secs_f64();
        match (status.success(), parsed, term_sent) {
            (_, Ok(result), Some((_, "stopped"))) | (true, Ok(result), _) => {
                let objective = result.get("makespan").and_then(serde_json::Value::as_i64);
                let bound = result.get("lower_bound").and_then(serde_json::Value::as_i64);
                Ok(SolveOutput { result, progress: Progress { best_objective: objective, lower_bound: bound, elapsed_s } })
            }
            (_, _, Some((_, "time limit"))) => {
                Err(ErrorInfo::new("SOLVER_TIMEOUT", format!("`{}` ran past its time limit of {} s and was stopped; stderr: {}", self.command, job.time_limit_s, stderr.trim())))
            }
            (true, Err(e), _) => Err(ErrorInfo::new("SOLVER_BAD_OUTPUT", format!("`{}` printed no JSON result on stdout ({e}); stderr: {}", self.command, stderr.trim()))),
            (false, _, _) => Err(ErrorInfo::new("SOLVER_FAILED", format!("`{}` exited with {status}; stderr: {}", self.command, stderr.trim()))),
        }
    }
}
