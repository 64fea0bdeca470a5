//! One interface for every solver the worker can run: the built-in job-shop
//! solver, or any existing solver command brought along unchanged (job JSON
//! on stdin, result JSON on stdout).

mod builtin;
mod external;

pub use builtin::Builtin;
pub use external::External;

use crate::Config;
use job_model::{ErrorInfo, JobRequest, Progress};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub struct SolveOutput {
    /// The result document, written as `result.json`.
    pub result: serde_json::Value,
    /// The final progress (objective, bound, elapsed) for the status.
    pub progress: Progress,
}

/// One attempt's work.
pub struct SolveJob<'a> {
    pub request: &'a JobRequest,
    /// Solving time for this attempt: the request's limit less what earlier
    /// attempts used, so the job as a whole never solves for longer.
    pub time_limit_s: f64,
    /// The best answer of an earlier attempt (a result document), to
    /// continue from.
    pub initial: Option<&'a serde_json::Value>,
}

pub trait Solver: Send + Sync {
    fn name(&self) -> String;

    /// Solves within `job.time_limit_s`; returns early, with the best answer
    /// so far, once `stop` is set. `progress` receives improvements,
    /// `checkpoint` the best answer (a result document) now and then.
    fn solve(&self, job: &SolveJob, stop: &AtomicBool, progress: &(dyn Fn(Progress) + Sync), checkpoint: &(dyn Fn(serde_json::Value) + Sync)) -> Result<SolveOutput, ErrorInfo>;
}

pub fn from_config(config: &Config) -> Arc<dyn Solver> {
    match &config.solver_command {
        Some(command) => Arc::new(External::new(command.clone())),
        None => Arc::new(Builtin { threads: config.threads }),
    }
}
