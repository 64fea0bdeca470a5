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

pub trait Solver: Send + Sync {
    fn name(&self) -> String;

    /// Solves within the request's time limit; returns early, with the best
    /// answer so far, once `stop` is set. `progress` receives improvements.
    fn solve(&self, request: &JobRequest, stop: &AtomicBool, progress: &(dyn Fn(Progress) + Sync)) -> Result<SolveOutput, ErrorInfo>;
}

pub fn from_config(config: &Config) -> Arc<dyn Solver> {
    match &config.solver_command {
        Some(command) => Arc::new(External::new(command.clone())),
        None => Arc::new(Builtin { threads: config.threads }),
    }
}
