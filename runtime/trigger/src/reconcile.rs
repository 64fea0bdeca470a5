//! The reconciler: every minute (an EventBridge schedule), every job that
//! has not ended is checked against what ECS and SQS say, and repaired when
//! an event or a message was lost on the way:
//!
//! - its task stopped but the stop event never came: the attempt ends as
//!   the event would have ended it (a new attempt, or the job's end);
//! - it waits for a trigger (QUEUED, or a new attempt) past its lease: its
//!   message was lost or hidden, so it is re-sent (a late duplicate finds
//!   the job claimed and is dropped);
//! - its hard deadline passed: its task is stopped, then it ends TIMEOUT
//!   with its best answer;
//! - a cancel was not honoured in time: its task is stopped.
//!
//! It reads the active index (`index/active/`), never the whole `jobs/`
//! prefix, so its cost follows the jobs in flight, not the history.

use crate::Trigger;
use crate::stopped::{Container, TaskDetail, classify};
use job_model::lifecycle::QUEUED_LEASE;
use job_model::{ErrorInfo, Event, RunId, State, StatusDoc};
use job_store::Applied;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;

/// Re-sends after which a job that never got going fails (each re-send was
/// received, yet the job did not move: something is broken for it).
pub const MAX_RESENDS: u32 = 5;
/// An index entry with no status is a submission that died half-way.
const ORPHAN_ENTRY_S: i64 = 600;
const PARALLEL: usize = 8;

/// What ECS says of a job's task.
#[derive(Debug, Clone)]
pub enum TaskView {
    Alive,
    Stopped(TaskDetail),
    /// ECS no longer knows it (stopped tasks are kept about an hour).
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Nothing,
    LeaveIndex,
    TaskEnded { task_arn: String },
    StopTask { task_arn: String, why: &'static str },
    DeadlinePassed,
    Resend,
    GiveUp(ErrorInfo),
}

/// What to do about one job. Pure: the facts in, the repair out.
pub fn plan(doc: &StatusDoc, task: Option<&TaskView>, now: OffsetDateTime, backlog: bool) -> Action {
    if doc.state.is_terminal() {
        return Action::LeaveIndex;
    }
    let past_deadline = doc.deadline.is_some_and(|d| d <= now);
    if let Some(arn) = &doc.task_arn {
        return match task {
            Some(TaskView::Stopped(_) | TaskView::Missing) => Action::TaskEnded { task_arn: arn.clone() },
            _ if past_deadline => Action::StopTask { task_arn: arn.clone(), why: "the job's deadline passed" },
            _ if doc.cancel_requested && doc.lease_until.is_some_and(|l| l <= now) => Action::StopTask { task_arn: arn.clone(), why: "the job was cancelled" },
            _ => Action::Nothing,
        };
    }
    if past_deadline {
        return Action::DeadlinePassed;
    }
    let waiting = doc.state == State::Queued || doc.state == State::Starting;
    let lease = doc.lease_until.unwrap_or(doc.updated_at + QUEUED_LEASE);
    if !waiting || lease > now || doc.claimed_until.is_some_and(|c| c > now) {
        return Action::Nothing;
    }
    if doc.resends >= MAX_RESENDS {
        return Action::GiveUp(ErrorInfo::new(
            "NEVER_STARTED",
            format!("the job was re-sent {} times and never started; see the trigger's log (aws logs tail /aws/lambda/<trigger>)", doc.resends),
        ));
    }
    // Messages waiting to be received: consumers are behind (polling mode
    // works through a backlog one job at a time), not lost.
    if doc.state == State::Queued && backlog {
        return Action::Nothing;
    }
    Action::Resend
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub active: usize,
    pub resent: Vec<String>,
    pub ended: Vec<String>,
    pub stopped: Vec<String>,
    pub removed: usize,
    /// Slots of the cap on running tasks whose holder was gone.
    pub slots_freed: usize,
    pub errors: Vec<String>,
}

impl Trigger {
    pub async fn reconcile(&self) -> Result<Report, String> {
        let entries = self.store.active_jobs().await.map_err(|e| e.to_string())?;
        let backlog = self.backlog().await;
        let mut docs = Vec::new();
        let mut report = Report { active: entries.len(), ..Report::default() };
        let now = job_store::now();
        for (run_id, written) in entries {
            match self.store.read_status(&run_id).await {
                Ok(Some((doc, _))) => docs.push(doc),
                Ok(None) if now.unix_timestamp() - written > ORPHAN_ENTRY_S => {
                    self.store.leave_active_index(&run_id).await;
                    report.removed += 1;
                }
                Ok(None) => {}
                Err(e) => report.errors.push(format!("{run_id}: {e}")),
            }
        }
        let tasks = Arc::new(self.describe_tasks(docs.iter().filter_map(|d| d.task_arn.clone()).collect(), &mut report.errors).await);

        let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        let mut set = tokio::task::JoinSet::new();
        for doc in docs {
            let (this, tasks, limit) = (self.clone(), tasks.clone(), limit.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let task = doc.task_arn.as_ref().and_then(|a| tasks.get(a));
                let action = plan(&doc, task, job_store::now(), backlog);
                let done = this.act(&doc.run_id, &action, task).await;
                (doc.run_id, action, done)
            });
        }
        while let Some(joined) = set.join_next().await {
            let Ok((run_id, action, done)) = joined else { continue };
            match (&action, done) {
                (_, Ok(None)) => {}
                (_, Err(e)) => report.errors.push(format!("{run_id}: {e}")),
                (Action::LeaveIndex, Ok(Some(_))) => report.removed += 1,
                (Action::Resend, Ok(Some(what))) => report.resent.push(what),
                (Action::StopTask { .. }, Ok(Some(what))) => report.stopped.push(what),
                (_, Ok(Some(what))) => report.ended.push(what),
            }
        }
        // After the repairs, so that a task found gone has ended its attempt.
        report.slots_freed = self.sweep_slots(job_store::now().unix_timestamp(), &mut report.errors).await;
        Ok(report)
    }

    /// Carries one repair out; `None` when there was nothing to do after
    /// all (the job moved on since it was read).
    async fn act(&self, run_id: &RunId, action: &Action, task: Option<&TaskView>) -> Result<Option<String>, String> {
        match action {
            Action::Nothing => Ok(None),
            Action::LeaveIndex => {
                self.store.leave_active_index(run_id).await;
                Ok(Some(run_id.to_string()))
            }
            Action::TaskEnded { task_arn } => {
                let error = match task {
                    Some(TaskView::Stopped(detail)) => classify(detail, &self.config.container),
                    _ => ErrorInfo::new("TASK_STOPPED", format!("task {task_arn} is gone and no stop event came (found by the reconciler)")),
                };
                self.task_ended(run_id, task_arn, error).await.map(|(what, changed)| changed.then_some(what))
            }
            Action::StopTask { task_arn, why } => {
                self.ecs
                    .stop_task()
                    .cluster(&self.config.cluster)
                    .task(task_arn)
                    .reason(format!("stopped by the reconciler: {why}"))
                    .send()
                    .await
                    .map_err(|e| job_store::aws::describe(&e))?;
                Ok(Some(format!("{run_id}: stopped {task_arn}: {why}")))
            }
            Action::DeadlinePassed => {
                let checkpoint = self.store.has_checkpoint(run_id).await.map_err(|e| e.to_string())?;
                let applied = self.store.apply(run_id, &Event::DeadlinePassed { checkpoint }).await.map_err(|e| e.to_string())?;
                Ok(matches!(applied, Applied::Written(_)).then(|| format!("{run_id}: {}", describe_applied(&applied))))
            }
            Action::Resend => {
                let now = job_store::now();
                let applied = self.store.apply_with(run_id, |doc| (plan(doc, None, now, false) == Action::Resend).then_some(Event::Resent)).await.map_err(|e| e.to_string())?;
                let Applied::Written(doc) = applied else { return Ok(None) };
                self.wake_up(run_id, time::Duration::ZERO).await?;
                Ok(Some(format!("{run_id}: re-sent ({} {}, re-send {})", doc.state, doc.attempt, doc.resends)))
            }
            Action::GiveUp(error) => {
                let now = job_store::now();
                let applied = self
                    .store
                    .apply_with(run_id, |doc| matches!(plan(doc, None, now, false), Action::GiveUp(_)).then(|| Event::Failed { error: error.clone() }))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(matches!(applied, Applied::Written(_)).then(|| format!("{run_id}: {}", describe_applied(&applied))))
            }
        }
    }

    /// Whether the job queue has messages waiting to be received.
    async fn backlog(&self) -> bool {
        let Some(url) = &self.config.queue_url else { return false };
        let out = self.sqs.get_queue_attributes().queue_url(url).attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages).send().await;
        match out {
            Ok(out) => out
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 0),
            Err(e) => {
                tracing::warn!("could not read the queue's depth: {}", job_store::aws::describe(&e));
                true // unknown: do not flood the queue with re-sends
            }
        }
    }

    async fn describe_tasks(&self, arns: Vec<String>, errors: &mut Vec<String>) -> HashMap<String, TaskView> {
        let mut views = HashMap::new();
        for chunk in arns.chunks(100) {
            let out = match self.ecs.describe_tasks().cluster(&self.config.cluster).set_tasks(Some(chunk.to_vec())).send().await {
                Ok(out) => out,
                Err(e) => {
                    errors.push(format!("DescribeTasks: {}", job_store::aws::describe(&e)));
                    continue;
                }
            };
            for t in out.tasks() {
                let Some(arn) = t.task_arn() else { continue };
                let view = if t.last_status() == Some("STOPPED") { TaskView::Stopped(detail_of(t)) } else { TaskView::Alive };
                views.insert(arn.to_owned(), view);
            }
            for f in out.failures() {
                if let (Some(arn), Some("MISSING")) = (f.arn(), f.reason()) {
                    views.insert(arn.to_owned(), TaskView::Missing);
                }
            }
        }
        views
    }
}

/// The same facts as the stop event's detail, from DescribeTasks.
fn detail_of(t: &aws_sdk_ecs::types::Task) -> TaskDetail {
    TaskDetail {
        task_arn: t.task_arn().unwrap_or_default().to_owned(),
        last_status: t.last_status().unwrap_or_default().to_owned(),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
        overrides: Default::default(),
        containers: t
            .containers()
            .iter()
            .map(|c| Container { name: c.name().unwrap_or_default().to_owned(), exit_code: c.exit_code().map(i64::from), reason: c.reason().map(str::to_owned) })
            .collect(),
    }
}

fn describe_applied(applied: &Applied) -> String {
    match applied {
        Applied::Written(doc) => format!("{}{}", doc.state, doc.error.as_ref().map(|e| format!(" ({})", e.code)).unwrap_or_default()),
        Applied::Refused(doc, refusal) => format!("{} ({refusal})", doc.state),
        Applied::NotFound => "no status".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use job_model::lifecycle::Event as E;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    fn at(s: i64) -> OffsetDateTime {
        T0 + time::Duration::seconds(s)
    }

    fn queued() -> StatusDoc {
        StatusDoc::queued(RunId::parse("r1").unwrap(), T0).with_limits(60.0, 3)
    }

    fn running() -> StatusDoc {
        let d = queued().apply(&E::Claim, at(1)).unwrap();
        let d = d.apply(&E::Launched { task_arn: "t1".into(), capacity: None, memory_mib: None, slot: None }, at(2)).unwrap();
        d.apply(&E::Started { task_arn: Some("t1".into()), takeover: false, checkpoint: false }, at(3)).unwrap()
    }

    #[test]
    fn a_waiting_job_is_re_sent_after_its_lease_unless_consumers_are_behind() {
        assert_eq!(plan(&queued(), None, at(60), false), Action::Nothing);
        assert_eq!(plan(&queued(), None, at(301), false), Action::Resend);
        assert_eq!(plan(&queued(), None, at(301), true), Action::Nothing);
        let claimed = queued().apply(&E::Claim, at(1)).unwrap();
        assert_eq!(plan(&claimed, None, at(100), false), Action::Nothing, "a live claim is left to its invocation");
        assert_eq!(plan(&claimed, None, at(400), true), Action::Resend, "a dead claim is re-sent even behind a backlog");
        let mut tired = queued();
        tired.resends = MAX_RESENDS;
        assert!(matches!(plan(&tired, None, at(301), false), Action::GiveUp(e) if e.code == "NEVER_STARTED"));
    }

    #[test]
    fn a_task_that_is_gone_ends_its_attempt_and_a_live_one_is_left_alone() {
        let d = running();
        assert_eq!(plan(&d, Some(&TaskView::Alive), at(10), false), Action::Nothing);
        assert_eq!(plan(&d, Some(&TaskView::Missing), at(10), false), Action::TaskEnded { task_arn: "t1".into() });
        assert_eq!(plan(&d, Some(&TaskView::Stopped(TaskDetail::default())), at(10), false), Action::TaskEnded { task_arn: "t1".into() });
    }

    #[test]
    fn a_deadline_stops_the_task_first_then_ends_a_job_without_one() {
        let d = running();
        let late = d.deadline.unwrap() + time::Duration::seconds(1);
        assert!(matches!(plan(&d, Some(&TaskView::Alive), late, false), Action::StopTask { .. }));
        let mut waiting = d.apply(&E::TaskStopped { task_arn: Some("t1".into()), error: ErrorInfo::new("X", "x"), checkpoint: false }, at(10)).unwrap();
        waiting.deadline = Some(at(20));
        assert_eq!(plan(&waiting, None, at(21), false), Action::DeadlinePassed);
    }

    #[test]
    fn an_unhonoured_cancel_stops_the_task_after_its_grace() {
        let d = running().apply(&E::CancelRequested { checkpoint: false }, at(10)).unwrap();
        assert_eq!(plan(&d, Some(&TaskView::Alive), at(20), false), Action::Nothing);
        assert!(matches!(plan(&d, Some(&TaskView::Alive), at(10 + 121), false), Action::StopTask { why: "the job was cancelled", .. }));
    }
}
