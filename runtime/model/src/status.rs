//! The status document (`jobs/{run_id}/status.json`). How it changes is
//! decided in one place, [`crate::lifecycle`]; this module is its shape.

use crate::{ErrorInfo, RunId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Queued,
    Starting,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 6] = [State::Queued, State::Starting, State::Running, State::Succeeded, State::Failed, State::Cancelled];

    pub fn is_terminal(self) -> bool {
        matches!(self, State::Succeeded | State::Failed | State::Cancelled)
    }

    /// Position in the life of an attempt; the terminal states share the last one.
    pub fn rank(self) -> u8 {
        match self {
            State::Queued => 0,
            State::Starting => 1,
            State::Running => 2,
            State::Succeeded | State::Failed | State::Cancelled => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "QUEUED",
            State::Starting => "STARTING",
            State::Running => "RUNNING",
            State::Succeeded => "SUCCEEDED",
            State::Failed => "FAILED",
            State::Cancelled => "CANCELLED",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Progress {
    pub best_objective: Option<i64>,
    pub lower_bound: Option<i64>,
    pub elapsed_s: f64,
}

/// One try at running the job: its task, when it ran, and why it ended when
/// that was not the end of the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: u32,
    pub task_arn: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub launched_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<OffsetDateTime>,
    /// Wall time from RUNNING to its end: what counts against the time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<ErrorInfo>,
    /// Fargate capacity it ran on (on-demand or Spot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::Capacity>,
    /// Task memory (MiB) when the launch raised it after an out-of-memory
    /// stop; absent: the task definition's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// The slot of the cap on running tasks its task held (`keys::slot`),
    /// freed when the task is known to have stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
}

fn default_max_attempts() -> u32 {
    crate::lifecycle::DEFAULT_MAX_ATTEMPTS
}

/// The contract's fields first (DESIGN.md), then what the lifecycle keeps:
/// older documents without those fields read with their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusDoc {
    pub run_id: RunId,
    pub state: State,
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub task_arn: Option<String>,
    pub progress: Option<Progress>,
    pub error: Option<ErrorInfo>,
    pub result_key: Option<String>,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_s: Option<f64>,
    /// The capacity the request asked for (the deploy's when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::CapacityPolicy>,
    /// Solving time of the attempts that ended without ending the job.
    #[serde(default)]
    pub solved_s: f64,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    #[serde(default)]
    pub cancel_requested: bool,
    /// Past this the reconciler stops the job (TIMEOUT), its best answer kept.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub deadline: Option<OffsetDateTime>,
    /// Whoever acts next on a waiting job promised to before this; past it the
    /// reconciler acts instead (re-sends the job's message).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<OffsetDateTime>,
    /// A trigger invocation is launching the current attempt until then.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<OffsetDateTime>,
    /// Launch claims so far: with the attempt, it makes each RunTask token new.
    #[serde(default)]
    pub launches: u32,
    /// Messages the reconciler re-sent for this job.
    #[serde(default)]
    pub resends: u32,
    /// Why a job that could run waits (for example the cap on running tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// The best objective and bound over the job's solving time (all
    /// attempts together), one point per change, at most
    /// `lifecycle::MAX_HISTORY` (thinned evenly past that): what the
    /// console draws.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Progress>,
}

impl StatusDoc {
    /// A new job, waiting for its message to reach a consumer.
    pub fn queued(run_id: RunId, now: OffsetDateTime) -> Self {
        Self {
            run_id,
            state: State::Queued,
            attempt: 1,
            created_at: now,
            updated_at: now,
            task_arn: None,
            progress: None,
            error: None,
            result_key: None,
            max_attempts: crate::lifecycle::DEFAULT_MAX_ATTEMPTS,
            time_limit_s: None,
            capacity: None,
            solved_s: 0.0,
            attempts: Vec::new(),
            cancel_requested: false,
            deadline: None,
            lease_until: Some(now + crate::lifecycle::QUEUED_LEASE),
            claimed_until: None,
            launches: 0,
            resends: 0,
            waiting: None,
            history: Vec::new(),
        }
    }

    /// The limits of the request the job was submitted with.
    pub fn with_limits(mut self, time_limit_s: f64, max_attempts: u32) -> Self {
        self.time_limit_s = Some(time_limit_s);
        self.max_attempts = max_attempts.clamp(1, crate::lifecycle::MAX_ATTEMPTS_CAP);
        self
    }

    /// The capacity the request asked for.
    pub fn with_capacity(mut self, capacity: Option<crate::CapacityPolicy>) -> Self {
        self.capacity = capacity;
        self
    }

    /// Solving time left for the next attempt, when the limit is known.
    pub fn remaining_s(&self) -> Option<f64> {
        self.time_limit_s.map(|t| (t - self.solved_s).max(0.0))
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a status document always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn doc() -> StatusDoc {
        StatusDoc::queued(RunId::parse("r1").unwrap(), datetime!(2026-01-01 0:00 UTC))
    }

    #[test]
    fn serialises_to_the_contract_shape() {
        let v: serde_json::Value = serde_json::from_slice(&doc().to_json()).unwrap();
        assert_eq!(v["state"], "QUEUED");
        assert_eq!(v["attempt"], 1);
        assert_eq!(v["created_at"], "2026-01-01T00:00:00Z");
        assert!(v["task_arn"].is_null());
        for k in ["run_id", "updated_at", "progress", "error", "result_key"] {
            assert!(v.get(k).is_some(), "{k} missing");
        }
    }

    #[test]
    fn documents_written_before_the_lifecycle_fields_still_read() {
        let old = r#"{"run_id":"r1","state":"RUNNING","attempt":1,"created_at":"2026-01-01T00:00:00Z",
            "updated_at":"2026-01-01T00:00:00Z","task_arn":null,"progress":null,"error":null,"result_key":null}"#;
        let d: StatusDoc = serde_json::from_str(old).unwrap();
        assert_eq!((d.state, d.max_attempts, d.attempts.len(), d.cancel_requested), (State::Running, 3, 0, false));
    }
}
