//! A job's life as one pure state machine: an [`Event`] (a fact someone
//! observed: a claim, a launch, a stopped task, a cancel) applied to a status
//! document gives the next document or a [`Refusal`] that says why not.
//!
//! The API, the trigger, the reconciler and the worker only turn what they
//! see into events and write the outcome with a conditional S3 write; none of
//! them sets status fields by hand. The rules that make that safe:
//!
//! - a terminal state (SUCCEEDED, FAILED, CANCELLED) is final;
//! - `(attempt, state)` only grows: within an attempt the state moves
//!   forward, and a new attempt (after its task was lost) starts again at
//!   STARTING with `attempt + 1`;
//! - `updated_at` never goes back, whatever the writer's clock says.

use crate::status::{Attempt, Progress, State, StatusDoc};
use crate::{ErrorInfo, keys};
use time::{Duration, OffsetDateTime};

pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// A request or deploy may ask for more attempts, up to this.
pub const MAX_ATTEMPTS_CAP: u32 = 10;
/// How long a new job may wait for a trigger before the reconciler re-sends
/// its message (the message may have been lost or hidden).
pub const QUEUED_LEASE: Duration = Duration::minutes(5);
/// How long a trigger invocation owns the launch it claimed.
pub const LAUNCH_LEASE: Duration = Duration::seconds(120);
/// After a re-send, how long before the reconciler looks again.
pub const RESEND_LEASE: Duration = Duration::minutes(5);
/// Slack on top of a promised retry time before the reconciler steps in.
pub const LEASE_SLACK: Duration = Duration::minutes(2);
/// Points of progress history a status keeps.
pub const MAX_HISTORY: usize = 100;
/// How long a running worker has to honour a cancel before its task is stopped.
pub const CANCEL_GRACE: Duration = Duration::minutes(2);

/// Wait before attempt `next` is launched: 15 s, 60 s, 240 s, then 15 min.
pub fn retry_delay(next_attempt: u32) -> Duration {
    let exp = next_attempt.saturating_sub(2).min(3);
    Duration::seconds((15i64 << (2 * exp)).min(900))
}

/// The hard deadline of a job that starts running now: twice its time limit
/// and a quarter of an hour, room for retries and relaunches.
pub fn deadline_for(started: OffsetDateTime, time_limit_s: f64) -> OffsetDateTime {
    started + Duration::seconds_f64(2.0 * time_limit_s) + Duration::minutes(15)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A trigger takes the launch of the current attempt.
    Claim,
    /// RunTask started `task_arn` for the current attempt, on `capacity`,
    /// holding `slot` of the cap on running tasks (`keys::slot`).
    Launched {
        task_arn: String,
        capacity: Option<crate::Capacity>,
        memory_mib: Option<u32>,
        slot: Option<u32>,
    },
    /// RunTask did not start a task: wait `retry_in` and try again, or (None)
    /// it never will, and the job fails.
    LaunchFailed {
        error: ErrorInfo,
        retry_in: Option<Duration>,
    },
    /// A worker starts solving. `takeover`: it may take a RUNNING job over
    /// from a dead worker (polling mode), which begins a new attempt.
    Started {
        task_arn: Option<String>,
        takeover: bool,
        checkpoint: bool,
    },
    /// A running worker reports it is alive, with its best so far.
    Heartbeat {
        progress: Option<Progress>,
    },
    Succeeded {
        result_key: String,
        progress: Option<Progress>,
    },
    /// The job cannot succeed (invalid input, solver error, a message that
    /// can never be run): final, never retried.
    Failed {
        error: ErrorInfo,
    },
    /// The current attempt's task ended without ending the job (killed,
    /// out of memory, Spot interruption, lost host, image not pulled), or its
    /// worker gave the attempt back. `checkpoint`: a saved best answer exists.
    TaskStopped {
        task_arn: Option<String>,
        error: ErrorInfo,
        checkpoint: bool,
    },
    CancelRequested {
        checkpoint: bool,
    },
    /// The worker honoured a cancel, its best answer (if any) saved.
    Cancelled {
        result_key: Option<String>,
    },
    /// The reconciler re-sent the job's message.
    Resent,
    /// No launch now (the cap on running tasks is reached): the job waits,
    /// with `reason` shown, and its message comes back after `retry_in`.
    /// It costs no attempt.
    Waiting {
        reason: String,
        retry_in: Duration,
    },
    /// The hard deadline passed while no task runs the job.
    DeadlinePassed {
        checkpoint: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the job is already {0}; a final state is final")]
    Final(State),
    #[error("the job already has task {0}")]
    AlreadyLaunched(String),
    #[error("another invocation is launching the job")]
    LaunchInProgress,
    #[error("the job runs as task {0}")]
    RunningElsewhere(String),
    #[error("task {0} is not the job's current task")]
    NotTheCurrentTask(String),
    #[error("the job is {0}, not in a state this event applies to")]
    NotApplicable(State),
}

impl StatusDoc {
    /// The document after `event`, or why the event does not apply. Pure.
    pub fn apply(&self, event: &Event, now: OffsetDateTime) -> Result<StatusDoc, Refusal> {
        if self.state.is_terminal() {
            return Err(Refusal::Final(self.state));
        }
        let mut next = self.clone();
        next.updated_at = now.max(self.updated_at);
        let launching = self.state == State::Starting && self.task_arn.is_none();
        let claim_live = self.claimed_until.is_some_and(|t| t > now);
        match event {
            Event::Claim => match self.state {
                _ if self.cancel_requested && self.task_arn.is_none() => next.end(State::Cancelled, Some(cancelled()), None, now),
                State::Queued => next.claim(now),
                State::Starting if self.task_arn.is_some() => return Err(Refusal::AlreadyLaunched(self.task_arn.clone().unwrap_or_default())),
                State::Starting if claim_live => return Err(Refusal::LaunchInProgress),
                State::Starting => next.claim(now),
                State::Running => return Err(Refusal::AlreadyLaunched(self.task_arn.clone().unwrap_or_default())),
                _ => return Err(Refusal::NotApplicable(self.state)),
            },
            Event::Launched { task_arn, capacity, memory_mib, slot } => {
                if !launching {
                    return match &self.task_arn {
                        Some(arn) if arn == task_arn => Ok(self.clone()),
                        Some(arn) => Err(Refusal::AlreadyLaunched(arn.clone())),
                        None => Err(Refusal::NotApplicable(self.state)),
                    };
                }
                next.task_arn = Some(task_arn.clone());
                next.claimed_until = None;
                next.error = None;
                next.lease_until = None;
                let record = next.current_attempt_mut();
                record.task_arn = Some(task_arn.clone());
                record.launched_at = Some(now);
                record.capacity = *capacity;
                record.memory_mib = *memory_mib;
                record.slot = *slot;
            }
            Event::LaunchFailed { error, retry_in } => {
                if !launching {
                    return Err(Refusal::NotApplicable(self.state));
                }
                match retry_in {
                    Some(delay) => {
                        next.error = Some(error.clone());
                        next.claimed_until = None;
                        next.lease_until = Some(now + *delay + LEASE_SLACK);
                    }
                    None => next.end(State::Failed, Some(error.clone()), None, now),
                }
            }
            Event::Started { task_arn, takeover, checkpoint } => {
                if self.cancel_requested {
                    next.end(State::Cancelled, Some(cancelled()), checkpoint.then(|| keys::result(&self.run_id)), now);
                    return Ok(next);
                }
                if self.state == State::Running {
                    match (&self.task_arn, task_arn) {
                        (Some(current), Some(mine)) if current == mine => return Ok(self.clone()),
                        (current, _) if !takeover => return Err(Refusal::RunningElsewhere(current.clone().unwrap_or_default())),
                        _ => {
                            // The previous holder died without a word (its
                            // message came back): its attempt ends here.
                            let why = ErrorInfo::new("TAKEN_OVER", "the worker stopped without ending the job; another worker took it over");
                            next.close_attempt(Some(why.clone()), now);
                            next.attempt += 1;
                            next.error = Some(why);
                        }
                    }
                }
                next.state = State::Running;
                if task_arn.is_some() {
                    next.task_arn = task_arn.clone();
                }
                next.claimed_until = None;
                next.lease_until = None;
                let task = next.task_arn.clone();
                let record = next.current_attempt_mut();
                record.task_arn = task;
                record.started_at = Some(now);
                if next.deadline.is_none()
                    && let Some(limit) = next.time_limit_s
                {
                    next.deadline = Some(deadline_for(now, limit));
                }
            }
            Event::Heartbeat { progress } => {
                if self.state != State::Running {
                    return Err(Refusal::NotApplicable(self.state));
                }
                if let Some(p) = progress {
                    next.note_progress(p);
                }
            }
            Event::Succeeded { result_key, progress } => {
                if let Some(p) = progress {
                    next.note_progress(p);
                }
                next.end(State::Succeeded, None, Some(result_key.clone()), now);
            }
            Event::Failed { error } => next.end(State::Failed, Some(error.clone()), None, now),
            Event::TaskStopped { task_arn, error, checkpoint } => {
                if self.state == State::Queued || launching || self.task_arn != *task_arn {
                    return Err(Refusal::NotTheCurrentTask(task_arn.clone().unwrap_or_default()));
                }
                next.close_attempt(Some(error.clone()), now);
                let ran = next.attempts.last().and_then(|a| a.ran_s).unwrap_or(0.0);
                next.solved_s += ran;
                let result = checkpoint.then(|| keys::result(&self.run_id));
                let out_of_time = next.remaining_s().is_some_and(|r| r <= 0.5);
                if self.cancel_requested {
                    next.end(State::Cancelled, Some(cancelled()), result, now);
                } else if self.deadline.is_some_and(|d| d <= now) {
                    next.end(State::Failed, Some(timeout(self.deadline)), result, now);
                } else if out_of_time && *checkpoint {
                    // The whole time limit was used, across attempts: the
                    // best answer saved is the job's answer.
                    next.end(State::Succeeded, None, result, now);
                } else if self.attempt < self.max_attempts {
                    next.state = State::Starting;
                    next.attempt += 1;
                    next.task_arn = None;
                    next.claimed_until = None;
                    next.error = Some(error.clone());
                    next.lease_until = Some(now + retry_delay(next.attempt) + LEASE_SLACK);
                } else {
                    let why = ErrorInfo::new(error.code.clone(), format!("{} (attempt {} of {}, no attempt left)", error.message, self.attempt, self.max_attempts));
                    next.end(State::Failed, Some(why), result, now);
                }
            }
            Event::CancelRequested { checkpoint } => {
                // Nothing runs it (no task, no worker, no launch under way).
                if self.state != State::Running && self.task_arn.is_none() && !claim_live {
                    next.end(State::Cancelled, Some(cancelled()), checkpoint.then(|| keys::result(&self.run_id)), now);
                } else {
                    next.cancel_requested = true;
                    next.lease_until = Some(now + CANCEL_GRACE);
                }
            }
            Event::Cancelled { result_key } => next.end(State::Cancelled, Some(cancelled()), result_key.clone(), now),
            Event::Resent => {
                if !(self.state == State::Queued || launching) || claim_live {
                    return Err(Refusal::NotApplicable(self.state));
                }
                next.resends += 1;
                next.lease_until = Some(now + RESEND_LEASE);
            }
            Event::Waiting { reason, retry_in } => {
                if !(self.state == State::Queued || launching) || claim_live {
                    return Err(Refusal::NotApplicable(self.state));
                }
                next.waiting = Some(reason.clone());
                next.lease_until = Some(now + *retry_in + LEASE_SLACK);
            }
            Event::DeadlinePassed { checkpoint } => {
                if let Some(arn) = &self.task_arn {
                    return Err(Refusal::RunningElsewhere(arn.clone()));
                }
                next.end(State::Failed, Some(timeout(self.deadline)), checkpoint.then(|| keys::result(&self.run_id)), now);
            }
        }
        Ok(next)
    }

    /// Whether applying `event` makes the job end with a result taken from
    /// its checkpoint: the caller copies the checkpoint to `result.json`
    /// before it writes the status.
    pub fn ends_from_checkpoint(&self, event: &Event) -> bool {
        self.state.is_terminal()
            && self.result_key.is_some()
            && matches!(event, Event::TaskStopped { .. } | Event::CancelRequested { .. } | Event::DeadlinePassed { .. } | Event::Started { .. })
    }

    /// The latest progress, and a point of the history when it changed.
    fn note_progress(&mut self, p: &Progress) {
        self.progress = Some(p.clone());
        let moved = self.history.last().is_none_or(|last| (last.best_objective, last.lower_bound) != (p.best_objective, p.lower_bound));
        if moved {
            self.history.push(Progress { elapsed_s: self.solved_s + p.elapsed_s, ..p.clone() });
            if self.history.len() > MAX_HISTORY {
                // Every second point goes, the newest stays: the history keeps
                // its span at half the resolution.
                let last = self.history.pop();
                let mut i = 0;
                self.history.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.history.extend(last);
            }
        }
    }

    fn claim(&mut self, now: OffsetDateTime) {
        self.state = State::Starting;
        self.waiting = None;
        self.claimed_until = Some(now + LAUNCH_LEASE);
        self.lease_until = Some(now + LAUNCH_LEASE + LEASE_SLACK);
        self.launches += 1;
    }

    fn current_attempt_mut(&mut self) -> &mut Attempt {
        if self.attempts.last().is_none_or(|a| a.attempt != self.attempt) {
            self.attempts.push(Attempt {
                attempt: self.attempt,
                task_arn: None,
                launched_at: None,
                started_at: None,
                ended_at: None,
                ran_s: None,
                end: None,
                capacity: None,
                memory_mib: None,
                slot: None,
            });
        }
        self.attempts.last_mut().expect("just pushed")
    }

    fn close_attempt(&mut self, end: Option<ErrorInfo>, now: OffsetDateTime) {
        if self.attempts.last().is_none_or(|a| a.attempt != self.attempt) && self.task_arn.is_none() {
            return; // never launched: nothing ran
        }
        let record = self.current_attempt_mut();
        if record.ended_at.is_none() {
            record.ended_at = Some(now);
            record.ran_s = record.started_at.map(|s| (now - s).as_seconds_f64().max(0.0));
            record.end = end;
        }
    }

    fn end(&mut self, state: State, error: Option<ErrorInfo>, result_key: Option<String>, now: OffsetDateTime) {
        self.close_attempt(error.clone().filter(|_| state != State::Succeeded), now);
        self.state = state;
        self.error = error;
        if result_key.is_some() {
            self.result_key = result_key;
        }
        self.claimed_until = None;
        self.lease_until = None;
        self.waiting = None;
    }
}

fn cancelled() -> ErrorInfo {
    ErrorInfo::new("CANCELLED", "cancelled by request; result.json holds the best answer found, when there is one")
}

fn timeout(deadline: Option<OffsetDateTime>) -> ErrorInfo {
    let when = deadline.and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok()).unwrap_or_else(|| "its deadline".into());
    ErrorInfo::new("TIMEOUT", format!("the job was still not done at its deadline ({when}); result.json holds the best answer found, when there is one"))
}

#[cfg(test)]
mod tests;
