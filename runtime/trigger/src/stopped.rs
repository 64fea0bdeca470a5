//! A worker task that stopped without ending its job: killed for memory, its
//! image not pulled, its host reclaimed, a Spot interruption. The worker
//! cannot always say so itself, so EventBridge hands the trigger ECS's "Task
//! State Change" event for every stopped worker task, and the job's attempt
//! ends with the reason ECS gave: a new attempt (from the job's checkpoint)
//! while attempts are left, else the job ends. The reconciler finds the
//! same stops by asking ECS, for events that never arrive.

use crate::Trigger;
use job_model::{ErrorInfo, Event, QueueMessage, RunId, State};
use job_store::Applied;
use serde::Deserialize;

pub const DETAIL_TYPE: &str = "ECS Task State Change";

/// The fields of the event this needs (EventBridge's envelope, ECS's detail).
#[derive(Debug, Clone, Deserialize)]
pub struct TaskStateChange {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: TaskDetail,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDetail {
    pub task_arn: String,
    pub last_status: String,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    #[serde(default)]
    pub stop_code: Option<String>,
    #[serde(default)]
    pub overrides: Overrides,
    #[serde(default)]
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    #[serde(default)]
    pub container_overrides: Vec<ContainerOverride>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContainerOverride {
    pub name: String,
    #[serde(default)]
    pub environment: Vec<KeyValue>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KeyValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Trigger {
    /// Ends the attempt of a stopped single-run task unless its job already
    /// ended: a new attempt is queued, or the job ends with the reason ECS
    /// gave. `Ok` says what was done, `Err` asks EventBridge to retry.
    pub async fn handle_task_stopped(&self, event: &TaskStateChange) -> Result<String, String> {
        let d = &event.detail;
        if d.last_status != "STOPPED" {
            return Ok(format!("{} is {}, not stopped", d.task_arn, d.last_status));
        }
        let run_id = d
            .overrides
            .container_overrides
            .iter()
            .filter(|c| c.name == self.config.container)
            .flat_map(|c| &c.environment)
            .find(|kv| kv.name == "RUN_ID")
            .map(|kv| RunId::parse(&kv.value));
        let run_id = match run_id {
            None => return Ok(format!("{} ran no single job (a polling worker)", d.task_arn)),
            Some(Err(e)) => return Ok(format!("{} had a RUN_ID the trigger never sets: {e}", d.task_arn)),
            Some(Ok(id)) => id,
        };
        self.task_ended(&run_id, &d.task_arn, classify(d, &self.config.container)).await.map(|(what, _)| what)
    }

    /// The job's current task is gone: apply that to the job, and wake the
    /// job's next attempt up when there is one. Says what was done, and
    /// whether the job changed (it may have moved on meanwhile).
    pub(crate) async fn task_ended(&self, run_id: &RunId, task_arn: &str, error: ErrorInfo) -> Result<(String, bool), String> {
        let checkpoint = self.store.has_checkpoint(run_id).await.map_err(|e| e.to_string())?;
        let event = Event::TaskStopped { task_arn: Some(task_arn.to_owned()), error: error.clone(), checkpoint };
        let applied = self.store.apply(run_id, &event).await.map_err(|e| e.to_string())?;
        // The task's slot of the cap is free now, whether or not the job
        // had already ended (a worker that finished ends its job first).
        if let Applied::Written(doc) | Applied::Refused(doc, _) = &applied {
            self.free_slot_of(doc, task_arn).await;
        }
        let changed = matches!(applied, Applied::Written(_));
        let what = match applied {
            Applied::Written(doc) if doc.state == State::Starting => {
                let delay = job_model::lifecycle::retry_delay(doc.attempt);
                match self.wake_up(run_id, delay).await {
                    Ok(()) => format!("{run_id}: {error}; attempt {} of {} in {} s", doc.attempt, doc.max_attempts, delay.whole_seconds()),
                    // The status promised a relaunch by its lease: the
                    // reconciler re-sends the message if this one is lost.
                    Err(e) => format!("{run_id}: {error}; attempt {} queued, but its message was not sent ({e}): the reconciler will", doc.attempt),
                }
            }
            Applied::Written(doc) => format!("{run_id} {}: {}", doc.state, doc.error.as_ref().map_or_else(|| "its best answer kept".into(), ToString::to_string)),
            Applied::Refused(doc, refusal) => format!("{run_id} is {} (task {}): nothing to do ({refusal})", doc.state, doc.task_arn.as_deref().unwrap_or("none")),
            Applied::NotFound => format!("{run_id} has no status: nothing to do"),
        };
        Ok((what, changed))
    }

    /// A message that makes the trigger look at the job again after `delay`
    /// (SQS delays a message by at most 15 minutes).
    pub(crate) async fn wake_up(&self, run_id: &RunId, delay: time::Duration) -> Result<(), String> {
        let url = self.config.queue_url.as_deref().ok_or("SQS_QUEUE_URL is not set in the trigger's environment: run `deploy` again")?;
        let body = QueueMessage { run_id: run_id.clone(), request: None }.to_body();
        let delay = i32::try_from(delay.whole_seconds().clamp(0, 900)).unwrap_or(900);
        self.sqs.send_message().queue_url(url).message_body(body).delay_seconds(delay).send().await.map(|_| ()).map_err(|e| job_store::aws::describe(&e))
    }
}

/// ECS's account of a stopped task, as an error code the status and the
/// retry decision use: memory, Spot, a failed start, or any other stop.
pub(crate) fn classify(d: &TaskDetail, container: &str) -> ErrorInfo {
    let message = describe(d, container);
    let c = d.containers.iter().find(|c| c.name == container);
    let oom = c.is_some_and(|c| c.reason.as_deref().is_some_and(|r| r.starts_with("OutOfMemoryError")));
    let code = match d.stop_code.as_deref() {
        _ if oom => "OUT_OF_MEMORY",
        Some("SpotInterruption") => "SPOT_INTERRUPTION",
        Some("TaskFailedToStart") => "TASK_FAILED_TO_START",
        _ => "TASK_STOPPED",
    };
    ErrorInfo::new(code, message)
}

/// What an operator needs to know first: ECS's reason, the exit code (137
/// is the kernel's OOM kill), and the container's own reason.
fn describe(d: &TaskDetail, container: &str) -> String {
    let task = d.task_arn.rsplit('/').next().unwrap_or(&d.task_arn);
    let mut text = format!("task {task} stopped before the job ended: {}", d.stopped_reason.as_deref().unwrap_or("no reason given"));
    if let Some(code) = &d.stop_code {
        text.push_str(&format!(" ({code})"));
    }
    if let Some(c) = d.containers.iter().find(|c| c.name == container) {
        if let Some(exit) = c.exit_code {
            text.push_str(&format!("; container {} exited with {exit}", c.name));
            if exit == 137 {
                text.push_str(" (killed: out of memory? raise worker.memory in deploy.yaml)");
            }
        }
        if let Some(reason) = &c.reason {
            text.push_str(&format!("; {reason}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_event_parses_and_reads_well() {
        let event: TaskStateChange = serde_json::from_str(include_str!("../../testkit/fixtures/ecs-task-stopped.json")).unwrap();
        assert_eq!(event.detail_type, DETAIL_TYPE);
        let text = describe(&event.detail, "worker");
        assert!(text.contains("Essential container in task exited (EssentialContainerExited)"), "{text}");
        assert!(text.contains("exited with 137 (killed: out of memory?"), "{text}");
        assert_eq!(classify(&event.detail, "worker").code, "TASK_STOPPED");
    }

    #[test]
    fn memory_spot_and_start_failures_have_their_own_codes() {
        let mut d = TaskDetail { task_arn: "arn:t/1".into(), last_status: "STOPPED".into(), ..TaskDetail::default() };
        d.stop_code = Some("SpotInterruption".into());
        assert_eq!(classify(&d, "worker").code, "SPOT_INTERRUPTION");
        d.stop_code = Some("TaskFailedToStart".into());
        assert_eq!(classify(&d, "worker").code, "TASK_FAILED_TO_START");
        d.stop_code = Some("EssentialContainerExited".into());
        d.containers = vec![Container { name: "worker".into(), exit_code: Some(137), reason: Some("OutOfMemoryError: Container killed due to memory usage".into()) }];
        assert_eq!(classify(&d, "worker").code, "OUT_OF_MEMORY");
    }
}
