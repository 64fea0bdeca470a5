use crate::job::{JobContext, JobEnd, Takeover};
use crate::Shutdown;
use job_model::{RunId, State};
use std::process::ExitCode;

/// Runs one job and says by the exit code how it went: 0 when it ended well
/// (or was already ended, or stopped with its best answer saved), 1 when the
/// job failed.
pub async fn run(ctx: &JobContext, run_id: &RunId, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    let end = ctx.run(run_id, None, shutdown, Takeover::Refused).await?;
    tracing::info!(%run_id, "{end:?}");
    Ok(match end {
        JobEnd::Finished(State::Failed) => ExitCode::FAILURE,
        JobEnd::RunningElsewhere(arn) => {
            tracing::warn!(%run_id, "already running as {arn}: this duplicate task exits without solving");
            ExitCode::SUCCESS
        }
        _ => ExitCode::SUCCESS,
    })
}
