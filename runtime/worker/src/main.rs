//! The worker: `SINGLE_RUN_MODE=true` solves `RUN_ID` and exits (on-demand
//! Fargate task); `SINGLE_RUN_MODE=false` long-polls the queue (the legacy
//! ECS service, kept for rollback).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    job_store::init_logging();
    match solver_worker::run_from_env().await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
