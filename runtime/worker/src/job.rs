//! One job attempt's life in the worker, the same in both modes: load the
//! input and any checkpoint, start the attempt, solve while reporting
//! progress and saving checkpoints, and end it. The worker only turns what
//! happens into lifecycle events; which state follows is `job-model`'s call.

use crate::Shutdown;
use crate::solver::{SolveJob, SolveOutput, Solver};
use job_model::{ErrorInfo, Event, JobRequest, JobShopResult, Progress, Refusal, RunId, State, StatusDoc, keys};
use job_store::{Applied, Store, StoreError};
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
    /// Attempts for a job whose status this worker creates (an old producer's).
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// This worker brought the job to a final state.
    Finished(State),
    /// It was final before this worker could end it.
    AlreadyFinished(State),
    /// Another task is running it (a duplicate task started for the job).
    RunningElsewhere(String),
    /// Asked to stop (SIGTERM) without a cancel: the best answer is saved as
    /// the checkpoint and the job goes on in a new attempt.
    Interrupted,
}

/// How this worker came to the job, which decides who ends an interrupted
/// attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A single-run task: ECS's stop event ends the attempt (the trigger
    /// queues the next one), and a RUNNING job of another task is refused.
    SingleRun,
    /// A polling worker: it gives an interrupted attempt back itself (its
    /// message, handed back, wakes the next one), and may take over a
    /// RUNNING job whose worker died (the message came back).
    Polling,
}

/// Why the solver was stopped before its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    None,
    Cancel,
    /// The job ended elsewhere (a deadline, an operator): nothing to write.
    EndedElsewhere,
}

impl JobContext {
    pub async fn run(&self, run_id: &RunId, inline: Option<JobRequest>, shutdown: &Shutdown, mode: Mode) -> Result<JobEnd, StoreError> {
        let request = match self.load(run_id, inline).await? {
            Ok(r) => r,
            Err(error) => return self.fail(run_id, error).await,
        };
        let checkpoint: Option<serde_json::Value> = self.store.get_json(&keys::checkpoint(run_id)).await.unwrap_or_else(|e| {
            tracing::warn!(%run_id, "checkpoint unreadable, starting afresh: {e}");
            None
        });
        let started = Event::Started { task_arn: self.task_arn.clone(), takeover: mode == Mode::Polling, checkpoint: checkpoint.is_some() };
        let create = || {
            StatusDoc::queued(run_id.clone(), job_store::now()).with_limits(request.time_limit_s, request.max_attempts.unwrap_or(self.max_attempts)).with_capacity(request.capacity)
        };
        let doc = match self.store.apply_or_create(run_id, &started, create).await? {
            Applied::Written(doc) if doc.state == State::Running => doc,
            Applied::Written(doc) => return Ok(JobEnd::Finished(doc.state)),
            Applied::Refused(_, Refusal::Final(state)) => return Ok(JobEnd::AlreadyFinished(state)),
            Applied::Refused(doc, refusal) => return Ok(JobEnd::RunningElsewhere(doc.task_arn.unwrap_or_else(|| refusal.to_string()))),
            Applied::NotFound => return Err(StoreError::Contended { bucket: self.store.bucket().into(), key: keys::status(run_id), attempts: 2 }),
        };
        let attempt = doc.attempt;
        let time_limit_s = doc.remaining_s().unwrap_or(request.time_limit_s);
        tracing::info!(%run_id, attempt, time_limit_s, resumed = checkpoint.is_some(), "running");

        let stop = Arc::new(AtomicBool::new(false));
        let (progress_tx, mut progress_rx) = watch::channel(None::<Progress>);
        let (checkpoint_tx, mut checkpoint_rx) = watch::channel(None::<serde_json::Value>);
        let (solver, solve_stop, solve_request, initial) = (self.solver.clone(), stop.clone(), request.clone(), checkpoint.clone());
        let mut solving = tokio::task::spawn_blocking(move || {
            let job = SolveJob { request: &solve_request, time_limit_s, initial: initial.as_ref() };
            let on_progress = |p| {
                progress_tx.send_replace(Some(p));
            };
            let on_checkpoint = |c| {
                checkpoint_tx.send_replace(Some(c));
            };
            solver.solve(&job, &solve_stop, &on_progress, &on_checkpoint)
        });
        let mut tick = tokio::time::interval(self.progress_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut why = Stop::None;
        let outcome = loop {
            tokio::select! {
                joined = &mut solving => break joined.unwrap_or_else(|e| Err(ErrorInfo::new("SOLVER_PANICKED", e.to_string()))),
                _ = shutdown.wait(), if !stop.load(Ordering::Relaxed) => stop.store(true, Ordering::Relaxed),
                _ = tick.tick() => {
                    if checkpoint_rx.has_changed().unwrap_or(false) {
                        let saved = checkpoint_rx.borrow_and_update().clone();
                        if let Some(c) = saved {
                            self.save_checkpoint(run_id, &c).await;
                        }
                    }
                    let progress = progress_rx.has_changed().unwrap_or(false).then(|| progress_rx.borrow_and_update().clone()).flatten();
                    match self.heartbeat(run_id, attempt, progress).await {
                        Ok(Stop::None) => {}
                        Ok(reason) => {
                            tracing::warn!(%run_id, "stopping the search: {reason:?}");
                            why = reason;
                            stop.store(true, Ordering::Relaxed);
                        }
                        // Progress is best effort; the final write is not.
                        Err(e) => tracing::warn!(%run_id, "status not read or written: {e}"),
                    }
                }
            }
        };
        if why == Stop::EndedElsewhere {
            return Ok(JobEnd::AlreadyFinished(self.store.read_status(run_id).await?.map_or(State::Failed, |(d, _)| d.state)));
        }
        let interrupted = shutdown.requested() && why != Stop::Cancel && !self.cancel_requested(run_id).await?;
        let outcome = outcome.and_then(|out| validate(&request, out));
        if interrupted {
            if let Ok(out) = &outcome {
                self.save_checkpoint(run_id, &out.result).await;
            }
            return self.interrupted(run_id, attempt, mode).await;
        }
        match outcome {
            Ok(out) if why == Stop::Cancel || shutdown.requested() => {
                let key = self.write_result(run_id, attempt, &out).await?;
                self.end(run_id, attempt, Event::Cancelled { result_key: key }).await
            }
            Ok(out) => match self.write_result(run_id, attempt, &out).await? {
                Some(key) => self.end(run_id, attempt, Event::Succeeded { result_key: key, progress: Some(out.progress) }).await,
                None => Ok(JobEnd::RunningElsewhere("a later attempt".into())),
            },
            Err(_) if why == Stop::Cancel => self.end(run_id, attempt, Event::Cancelled { result_key: None }).await,
            Err(error) => self.fail(run_id, error).await,
        }
    }

    /// The request: inline (and then saved as `input.json`, so that a later
    /// attempt or a re-sent message can find it) or from `input.json`.
    /// `Ok(Err(_))` is a job that can never run.
    async fn load(&self, run_id: &RunId, inline: Option<JobRequest>) -> Result<Result<JobRequest, ErrorInfo>, StoreError> {
        if let Some(r) = inline {
            self.store.put_if_absent(&keys::input(run_id), serde_json::to_vec(&r).expect("a request serialises")).await?;
            return Ok(Ok(r));
        }
        Ok(match self.store.get(&keys::input(run_id)).await? {
            None => Err(ErrorInfo::new("INPUT_MISSING", format!("{} does not exist", keys::input(run_id)))),
            Some((bytes, _)) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|v| JobRequest::from_value(v).map_err(|e| e.to_string()))
                .map_err(|e| ErrorInfo::new("INVALID_INPUT", format!("{}: {e}", keys::input(run_id)))),
        })
    }

    /// Records progress when there is new progress, and reads the status
    /// either way: a cancel, or the job ended elsewhere, stops the search.
    async fn heartbeat(&self, run_id: &RunId, attempt: u32, progress: Option<Progress>) -> Result<Stop, StoreError> {
        let applied = self.store.apply_with(run_id, |doc| (doc.attempt == attempt && progress.is_some()).then(|| Event::Heartbeat { progress: progress.clone() })).await?;
        let doc = match applied {
            Applied::Written(doc) | Applied::Refused(doc, _) => doc,
            Applied::NotFound => return Ok(Stop::EndedElsewhere),
        };
        Ok(if doc.state.is_terminal() || doc.attempt != attempt {
            Stop::EndedElsewhere
        } else if doc.cancel_requested {
            Stop::Cancel
        } else {
            Stop::None
        })
    }

    async fn cancel_requested(&self, run_id: &RunId) -> Result<bool, StoreError> {
        Ok(self.store.read_status(run_id).await?.is_some_and(|(d, _)| d.cancel_requested))
    }

    async fn save_checkpoint(&self, run_id: &RunId, result: &serde_json::Value) {
        let bytes = serde_json::to_vec(result).expect("JSON value serialises");
        if let Err(e) = self.store.put(&keys::checkpoint(run_id), bytes).await {
            tracing::warn!(%run_id, "checkpoint not saved: {e}");
        }
    }

    /// `result.json`, written only while this worker's attempt is the job's
    /// current one (a duplicate consumer must not overwrite the answer).
    async fn write_result(&self, run_id: &RunId, attempt: u32, out: &SolveOutput) -> Result<Option<String>, StoreError> {
        match self.store.read_status(run_id).await? {
            Some((doc, _)) if doc.attempt == attempt && !doc.state.is_terminal() => {}
            _ => return Ok(None),
        }
        let key = keys::result(run_id);
        self.store.put(&key, serde_json::to_vec_pretty(&out.result).expect("JSON value serialises")).await?;
        Ok(Some(key))
    }

    /// SIGTERM without a cancel: a single-run task leaves the attempt to
    /// ECS's stop event; a polling worker gives it back itself.
    async fn interrupted(&self, run_id: &RunId, attempt: u32, mode: Mode) -> Result<JobEnd, StoreError> {
        tracing::warn!(%run_id, attempt, "interrupted: the best answer is saved and the job goes on in a new attempt");
        if mode == Mode::Polling {
            let error = ErrorInfo::new("INTERRUPTED", "the polling worker was stopped (SIGTERM); the job continues from its checkpoint");
            let checkpoint = self.store.has_checkpoint(run_id).await?;
            let task_arn = self.task_arn.clone();
            self.store.apply_with(run_id, |doc| (doc.attempt == attempt).then(|| Event::TaskStopped { task_arn: task_arn.clone(), error: error.clone(), checkpoint })).await?;
        }
        Ok(JobEnd::Interrupted)
    }

    async fn fail(&self, run_id: &RunId, error: ErrorInfo) -> Result<JobEnd, StoreError> {
        tracing::error!(%run_id, "failed: {error}");
        let event = Event::Failed { error };
        let applied = self.store.apply_or_create(run_id, &event, || StatusDoc::queued(run_id.clone(), job_store::now())).await?;
        Ok(end_of(applied))
    }

    async fn end(&self, run_id: &RunId, attempt: u32, event: Event) -> Result<JobEnd, StoreError> {
        let applied = self.store.apply_with(run_id, |doc| (doc.attempt == attempt).then(|| event.clone())).await?;
        let end = end_of(applied);
        tracing::info!(%run_id, "{end:?}");
        Ok(end)
    }
}

fn end_of(applied: Applied) -> JobEnd {
    match applied {
        Applied::Written(doc) => JobEnd::Finished(doc.state),
        Applied::Refused(doc, _) if doc.state.is_terminal() => JobEnd::AlreadyFinished(doc.state),
        Applied::Refused(doc, refusal) => JobEnd::RunningElsewhere(doc.task_arn.unwrap_or_else(|| refusal.to_string())),
        Applied::NotFound => JobEnd::AlreadyFinished(State::Failed),
    }
}

/// A job-shop or flexible job-shop answer must be a real schedule of its
/// problem, whoever solved it.
fn validate(request: &JobRequest, out: SolveOutput) -> Result<SolveOutput, ErrorInfo> {
    let Ok(problem) = request.problem() else { return Ok(out) };
    let result: JobShopResult =
        serde_json::from_value(out.result.clone()).map_err(|e| ErrorInfo::new("INVALID_RESULT", format!("the solver's result is not a job-shop result document: {e}")))?;
    problem.check(&result).map_err(|e| ErrorInfo::new("INVALID_RESULT", format!("the solver's schedule is not valid: {e}")))?;
    Ok(out)
}
