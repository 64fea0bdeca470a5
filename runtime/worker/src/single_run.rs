use crate::Shutdown;
use crate::job::{JobContext, JobEnd, Mode};
use job_model::{RunId, State};
use std::process::ExitCode;

/// Exit code of a task interrupted mid-job: its job goes on in a new attempt.
pub const EXIT_INTERRUPTED: u8 = 75;

/// Runs one job and says by the exit code how it went: 0 when it ended well
/// (or was already ended, or cancelled with its best answer saved), 1 when
/// the job failed, 75 when it was interrupted and continues elsewhere.
pub async fn run(ctx: &JobContext, run_id: &RunId, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    let end = ctx.run(run_id, None, shutdown, Mode::SingleRun).await?;
    // A job that ended was logged where it ended (`JobContext::end`).
    if matches!(end, JobEnd::Interrupted) {
        tracing::info!(%run_id, "interrupted: the job goes on in a new attempt");
    }
    Ok(match end {
        JobEnd::Finished(State::Failed) => ExitCode::FAILURE,
        JobEnd::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
        JobEnd::RunningElsewhere(arn) => {
            tracing::warn!(%run_id, "already running as {arn}: this duplicate task exits without solving");
            ExitCode::SUCCESS
        }
        _ => ExitCode::SUCCESS,
    })
}
