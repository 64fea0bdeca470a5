//! Runs an existing solver as a child process: the job request as JSON on
//! stdin, the result JSON on stdout. The time limit is enforced (SIGTERM at
//! the limit plus a grace period, SIGKILL after that), and a failure reports
//! the tail of its stderr.

use super::{SolveOutput, Solver};
use job_model::{ErrorInfo, JobRequest, Progress};
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

    fn solve(&self, request: &JobRequest, stop: &AtomicBool, _progress: &(dyn Fn(Progress) + Sync)) -> Result<SolveOutput, ErrorInfo> {
        let started = Instant::now();
        // Its own process group, so that signals reach whatever the command
        // forks (a shell wrapper, a Python launcher), not just the shell.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ErrorInfo::new("SOLVER_NOT_STARTED", format!("could not start `{}`: {e}", self.command)))?;
        let input = serde_json::to_vec(request).map_err(|e| ErrorInfo::new("INTERNAL", e.to_string()))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Writer and readers on their own threads: a solver that prints while
        // it still reads must not deadlock against a full pipe.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            let from = buf.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(&buf[from..]).into_owned()
        });

        let limit = Duration::from_secs_f64(request.time_limit_s) + GRACE;
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
        let parsed = serde_json::from_slice::<serde_json::Value>(&stdout);
        let elapsed_s = started.elapsed().as_secs_f64();
        match (status.success(), parsed, term_sent) {
            (_, Ok(result), Some((_, "stopped"))) | (true, Ok(result), _) => {
                let objective = result.get("makespan").and_then(serde_json::Value::as_i64);
                let bound = result.get("lower_bound").and_then(serde_json::Value::as_i64);
                Ok(SolveOutput { result, progress: Progress { best_objective: objective, lower_bound: bound, elapsed_s } })
            }
            (_, _, Some((_, "time limit"))) => Err(ErrorInfo::new(
                "SOLVER_TIMEOUT",
                format!("`{}` ran past its time limit of {} s and was stopped; stderr: {}", self.command, request.time_limit_s, stderr.trim()),
            )),
            (true, Err(e), _) => Err(ErrorInfo::new("SOLVER_BAD_OUTPUT", format!("`{}` printed no JSON result on stdout ({e}); stderr: {}", self.command, stderr.trim()))),
            (false, _, _) => Err(ErrorInfo::new("SOLVER_FAILED", format!("`{}` exited with {status}; stderr: {}", self.command, stderr.trim()))),
        }
    }
}
