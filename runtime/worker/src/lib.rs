//! The worker library: configuration, one job's life (`job`), the two modes,
//! and the solvers it can run.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod job;
mod metadata;
mod polling;
mod shutdown;
mod single_run;
pub mod solver;

pub use config::{Config, Mode};
pub use job::{JobContext, JobEnd, Mode as JobMode};
pub use shutdown::Shutdown;
pub use single_run::EXIT_INTERRUPTED;

use anyhow::Context;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run_from_env() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let shutdown = Shutdown::on_sigterm().context("failed to listen for SIGTERM")?;
    let sdk = job_store::aws::load().await;
    let ctx = JobContext {
        store: job_store::Store::new(job_store::aws::s3_client(&sdk), &config.bucket),
        solver: solver::from_config(&config),
        progress_interval: config.progress_interval,
        task_arn: metadata::task_arn().await,
        max_attempts: config.max_attempts,
    };
    let ctx = Arc::new(ctx);
    match &config.mode {
        Mode::SingleRun { run_id } => single_run::run(&ctx, run_id, &shutdown).await,
        Mode::Polling { queue_url } => {
            polling::run(&ctx, aws_sdk_sqs::Client::new(&sdk), queue_url, &shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
