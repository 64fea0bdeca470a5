//! A worker task that stopped without ending its job: killed for memory, its
//! image not pulled, its host reclaimed. The worker cannot say so itself, so
//! EventBridge hands the trigger ECS's "Task State Change" event for every
//! stopped worker task, and a job that is not yet terminal ends FAILED with
//! the reason ECS gave. Without this its status would stay STARTING or
//! RUNNING for ever, and the job would be lost without a word (its message was
//! deleted when the task started).

use crate::Trigger;
use job_model::{ErrorInfo, RunId};
use job_store::{Update, UpdateOutcome};
use serde::Deserialize;

pub const DETAIL_TYPE: &str = "ECS Task State Change";

/// The fields of the event this needs (EventBridge's envelope, ECS's detail).
#[derive(Debug, Deserialize)]
pub struct TaskStateChange {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: TaskDetail,
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    #[serde(default)]
    pub container_overrides: Vec<ContainerOverride>,
}

#[derive(Debug, Deserialize)]
pub struct ContainerOverride {
    pub name: String,
    #[serde(default)]
    pub environment: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
pub struct KeyValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Trigger {
    /// Ends the job of a stopped single-run task FAILED unless it already
    /// ended; `Ok` says what was done, `Err` asks EventBridge to retry.
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
        let error = ErrorInfo::new("TASK_STOPPED", describe(d, &self.config.container));
        let outcome = self
            .store
            .update_status(&run_id, |doc| {
                // A later attempt's task is not this one's to fail.
                let ours = doc.task_arn.as_deref().is_none_or(|arn| arn == d.task_arn);
                if doc.state.is_terminal() || !ours {
                    return Update::Keep;
                }
                let mut next = doc.clone();
                next.fail(error.clone(), job_store::now()).map_or(Update::Keep, |()| Update::Write(next))
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(match outcome {
            UpdateOutcome::Written(_) => format!("{run_id} FAILED: {error}"),
            UpdateOutcome::Kept(doc) => format!("{run_id} is {} (task {}): nothing to do", doc.state, doc.task_arn.as_deref().unwrap_or("none")),
            UpdateOutcome::NotFound => format!("{run_id} has no status: nothing to do"),
        })
    }
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
    }
}
