//! One job's life in the worker, the same in both modes: load the input,
//! claim RUNNING, solve while writing progress, write the result, end in a
//! terminal state with a reason.

use crate::Shutdown;
use crate::solver::{SolveOutput, Solver};
use job_model::{ErrorInfo, JobRequest, JobShopResult, Progress, RunId, State, StatusDoc, check_schedule, keys};
use job_store::{Store, StoreError, Update, UpdateOutcome};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

pub struct JobContext {
    pub store: Store,
    pub solver: Arc<dyn Solver>,
    pub progress_interval: Duration,
    /// This task's ARN (ECS metadata), when running on ECS.
    pub task_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// This worker brought the job to a terminal state.
    Finished(State),
    /// It was terminal before this worker started.
    AlreadyFinished(State),
    /// Another task is running it (a duplicate task started for the job).
    RunningElsewhere(String),
}

/// Who may take a RUNNING job over: the polling worker re-running a message
/// whose previous holder died, but never a second on-demand task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    Allowed,
    Refused,
}

impl JobContext {
    pub async fn run(&self, run_id: &RunId, inline: Option<JobRequest>, shutdown: &Shutdown, takeover: Takeover) -> Result<JobEnd, StoreError> {
        let request = match inline {
            Some(r) => r,
            None => match self.store.get(&keys::input(run_id)).await? {
                None => return self.fail(run_id, ErrorInfo::new("INPUT_MISSING", format!("{} does not exist", keys::input(run_id)))).await,
                Some((bytes, _)) => match serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| e.to_string()).and_then(|v| JobRequest::from_value(v).map_err(|e| e.to_string())) {
                    Ok(r) => r,
                    Err(e) => return self.fail(run_id, ErrorInfo::new("INVALID_INPUT", format!("{}: {e}", keys::input(run_id)))).await,
                },
            },
        };

        match self.claim(run_id, takeover).await? {
            Some(end) => return Ok(end),
            None => tracing::info!(%run_id, "running"),
        }

        let stop = Arc::new(AtomicBool::new(false));
        let (progress_tx, mut progress_rx) = watch::channel(None::<Progress>);
        let solver = self.solver.clone();
        let solve_stop = stop.clone();
        let solve_request = request.clone();
        let mut solving = tokio::task::spawn_blocking(move || {
            solver.solve(&solve_request, &solve_stop, &|p| {
                progress_tx.send_replace(Some(p));
            })
        });
        let mut tick = tokio::time::interval(self.progress_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let outcome = loop {
            tokio::select! {
                joined = &mut solving => break joined.unwrap_or_else(|e| Err(ErrorInfo::new("SOLVER_PANICKED", e.to_string()))),
                _ = shutdown.wait(), if !stop.load(Ordering::Relaxed) => stop.store(true, Ordering::Relaxed),
                _ = tick.tick() => {
                    if !progress_rx.has_changed().unwrap_or(false) {
                        continue;
                    }
                    let Some(progress) = progress_rx.borrow_and_update().clone() else { continue };
                    if let Err(e) = self.write_progress(run_id, progress, &stop).await {
                        // Progress is best effort; the final write is not.
                        tracing::warn!(%run_id, "progress not recorded: {e}");
                    }
                }
            }
        };
        let stopped = shutdown.requested();
        match outcome.and_then(|out| validate(&request, out)) {
            Ok(out) => self.finish(run_id, out, stopped).await,
            Err(error) => self.fail(run_id, error).await,
        }
    }

    /// QUEUED/STARTING (or, with takeover, an orphaned RUNNING) → RUNNING.
    /// `Some(end)` when this worker must not run the job.
    async fn claim(&self, run_id: &RunId, takeover: Takeover) -> Result<Option<JobEnd>, StoreError> {
        for _ in 0..2 {
            let mut refusal = None;
            let outcome = self
                .store
                .update_status(run_id, |doc| {
                    refusal = None;
                    if doc.state.is_terminal() {
                        refusal = Some(JobEnd::AlreadyFinished(doc.state));
                        return Update::Keep;
                    }
                    let mut next = doc.clone();
                    if doc.state == State::Running {
                        let other = doc.task_arn.as_deref().filter(|arn| Some(*arn) != self.task_arn.as_deref());
                        if let (Some(other), Takeover::Refused) = (other, takeover) {
                            refusal = Some(JobEnd::RunningElsewhere(other.to_owned()));
                            return Update::Keep;
                        }
                        next.attempt += 1;
                    }
                    next.transition(State::Running, job_store::now()).expect("forward to RUNNING");
                    if self.task_arn.is_some() {
                        next.task_arn = self.task_arn.clone();
                    }
                    next.error = None;
                    Update::Write(next)
                })
                .await?;
            match outcome {
                UpdateOutcome::Written(_) => return Ok(None),
                UpdateOutcome::Kept(_) => return Ok(refusal),
                // A job put on the queue by an old producer has no status yet.
                UpdateOutcome::NotFound => {
                    self.store.create_status(&StatusDoc::queued(run_id.clone(), job_store::now())).await?;
                }
            }
        }
        Err(StoreError::Contended { bucket: self.store.bucket().into(), key: keys::status(run_id), attempts: 2 })
    }

    async fn write_progress(&self, run_id: &RunId, progress: Progress, stop: &AtomicBool) -> Result<(), StoreError> {
        let outcome = self
            .store
            .update_status(run_id, |doc| {
                if doc.state != State::Running {
                    return Update::Keep;
                }
                let mut next = doc.clone();
                next.progress = Some(progress.clone());
                next.updated_at = job_store::now().max(doc.updated_at);
                Update::Write(next)
            })
            .await?;
        // Ended from outside (cancelled by an operator): stop solving.
        if let UpdateOutcome::Kept(doc) = outcome
            && doc.state.is_terminal()
        {
            tracing::warn!(%run_id, "job became {} while running: stopping", doc.state);
            stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn finish(&self, run_id: &RunId, out: SolveOutput, stopped: bool) -> Result<JobEnd, StoreError> {
        let result_key = keys::result(run_id);
        self.store.put(&result_key, serde_json::to_vec_pretty(&out.result).expect("JSON value serialises")).await?;
        let (state, error) = if stopped {
            (State::Cancelled, Some(ErrorInfo::new("STOPPED", "the task was asked to stop (SIGTERM); result.json holds the best answer found before that")))
        } else {
            (State::Succeeded, None)
        };
        self.end(run_id, state, error, Some(result_key), Some(out.progress)).await
    }

    async fn fail(&self, run_id: &RunId, error: ErrorInfo) -> Result<JobEnd, StoreError> {
        tracing::error!(%run_id, "failed: {error}");
        self.end(run_id, State::Failed, Some(error), None, None).await
    }

    async fn end(&self, run_id: &RunId, state: State, error: Option<ErrorInfo>, result_key: Option<String>, progress: Option<Progress>) -> Result<JobEnd, StoreError> {
        let outcome = self
            .store
            .update_status(run_id, |doc| {
                let mut next = doc.clone();
                if next.transition(state, job_store::now()).is_err() {
                    return Update::Keep;
                }
                next.error = error.clone();
                next.result_key = result_key.clone();
                if progress.is_some() {
                    next.progress = progress.clone();
                }
                Update::Write(next)
            })
            .await?;
        Ok(match outcome {
            UpdateOutcome::Written(doc) => {
                tracing::info!(%run_id, "ended {}", doc.state);
                JobEnd::Finished(doc.state)
            }
            UpdateOutcome::Kept(doc) => JobEnd::AlreadyFinished(doc.state),
            UpdateOutcome::NotFound => {
                let mut doc = StatusDoc::queued(run_id.clone(), job_store::now());
                doc.transition(state, job_store::now()).expect("QUEUED → terminal is forward");
                doc.error = error;
                doc.result_key = result_key;
                self.store.create_status(&doc).await?;
                JobEnd::Finished(state)
            }
        })
    }
}

/// A job-shop answer must be a real schedule of its problem, whoever solved it.
fn validate(request: &JobRequest, out: SolveOutput) -> Result<SolveOutput, ErrorInfo> {
    let Ok(problem) = request.jobshop() else { return Ok(out) };
    let result: JobShopResult = serde_json::from_value(out.result.clone())
        .map_err(|e| ErrorInfo::new("INVALID_RESULT", format!("the solver's result is not a job-shop result document: {e}")))?;
    check_schedule(&problem, &result).map_err(|e| ErrorInfo::new("INVALID_RESULT", format!("the solver's schedule is not valid: {e}")))?;
    Ok(out)
}
