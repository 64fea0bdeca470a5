use job_model::RunId;
use job_store::env::{self, EnvError};
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Mode {
    SingleRun { run_id: RunId },
    Polling { queue_url: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub bucket: String,
    /// An external solver command (`sh -c`); the built-in solver when unset.
    pub solver_command: Option<String>,
    /// How often progress is written to the status document at most.
    pub progress_interval: Duration,
    pub threads: usize,
    /// Attempts for a job this worker creates the status of (`MAX_ATTEMPTS`).
    pub max_attempts: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        let single = env::flag("SINGLE_RUN_MODE", "true for one job per task (on-demand), false to poll the queue (legacy)")?;
        let mode = if single {
            let raw = env::required("RUN_ID", "the job to run; the trigger sets it in the container overrides")?;
            let run_id = RunId::parse(&raw).map_err(|e| EnvError::Malformed { name: "RUN_ID", value: raw, hint: e.to_string().into() })?;
            Mode::SingleRun { run_id }
        } else {
            Mode::Polling { queue_url: env::required("SQS_QUEUE_URL", "the job queue's URL, needed in polling mode")? }
        };
        let progress_interval = match env::optional("PROGRESS_INTERVAL_S") {
            None => Duration::from_secs(5),
            Some(raw) => raw.parse::<f64>().ok().filter(|s| *s > 0.0 && s.is_finite()).map(Duration::from_secs_f64).ok_or(EnvError::Malformed {
                name: "PROGRESS_INTERVAL_S",
                value: raw,
                hint: "seconds, more than 0".into(),
            })?,
        };
        let threads = match env::optional("SOLVER_THREADS") {
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Some(raw) => raw.parse().ok().filter(|&n| n >= 1).ok_or(EnvError::Malformed { name: "SOLVER_THREADS", value: raw, hint: "a whole number, at least 1".into() })?,
        };
        Ok(Self {
            mode,
            bucket: env::required("S3_RESULTS_BUCKET", "the results bucket's name")?,
            solver_command: env::optional("SOLVER_COMMAND"),
            progress_interval,
            threads,
            max_attempts: env::number("MAX_ATTEMPTS", 1, job_model::lifecycle::MAX_ATTEMPTS_CAP)?.unwrap_or(job_model::lifecycle::DEFAULT_MAX_ATTEMPTS),
        })
    }
}
