//! The status document (`jobs/{run_id}/status.json`) and the rule that makes
//! it trustworthy: a state only moves forward, and a terminal state is final.

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
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Succeeded | State::Failed | State::Cancelled)
    }

    /// Position in the life of a job; the terminal states share the last one.
    fn rank(self) -> u8 {
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
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("job is already {0}; a terminal state is final")]
    Terminal(State),
    #[error("job is {from}; it cannot go back to {to}")]
    Backwards { from: State, to: State },
}

impl StatusDoc {
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
        }
    }

    /// Moves to `to` (or stays, to record progress) and stamps `updated_at`.
    /// The stamp never goes back either, whatever the writer's clock says.
    pub fn transition(&mut self, to: State, now: OffsetDateTime) -> Result<(), TransitionError> {
        if self.state.is_terminal() {
            return Err(TransitionError::Terminal(self.state));
        }
        if to.rank() < self.state.rank() {
            return Err(TransitionError::Backwards { from: self.state, to });
        }
        self.state = to;
        self.updated_at = now.max(self.updated_at);
        Ok(())
    }

    /// Ends the job as FAILED with a reason; a no-op error if already terminal.
    pub fn fail(&mut self, error: ErrorInfo, now: OffsetDateTime) -> Result<(), TransitionError> {
        self.transition(State::Failed, now)?;
        self.error = Some(error);
        Ok(())
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
    fn moves_forward_through_the_life_of_a_job() {
        let mut d = doc();
        for s in [State::Starting, State::Starting, State::Running, State::Running, State::Succeeded] {
            d.transition(s, datetime!(2026-01-01 0:01 UTC)).unwrap();
        }
        assert_eq!(d.state, State::Succeeded);
    }

    #[test]
    fn never_moves_backwards_nor_out_of_a_terminal_state() {
        let mut d = doc();
        d.transition(State::Running, datetime!(2026-01-01 0:01 UTC)).unwrap();
        assert_eq!(
            d.transition(State::Starting, datetime!(2026-01-01 0:02 UTC)),
            Err(TransitionError::Backwards { from: State::Running, to: State::Starting })
        );
        d.transition(State::Cancelled, datetime!(2026-01-01 0:03 UTC)).unwrap();
        for s in [State::Queued, State::Running, State::Succeeded, State::Failed, State::Cancelled] {
            assert_eq!(d.transition(s, datetime!(2026-01-01 0:04 UTC)), Err(TransitionError::Terminal(State::Cancelled)));
        }
    }

    #[test]
    fn updated_at_never_goes_back_even_with_a_slow_clock() {
        let mut d = doc();
        d.transition(State::Starting, datetime!(2026-01-01 0:05 UTC)).unwrap();
        d.transition(State::Running, datetime!(2026-01-01 0:01 UTC)).unwrap();
        assert_eq!(d.updated_at, datetime!(2026-01-01 0:05 UTC));
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
}
