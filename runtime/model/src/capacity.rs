//! Which Fargate capacity an attempt runs on. Spot costs about 70% less and
//! may be taken back with two minutes' warning, which the worker survives by
//! saving its checkpoint; `spot-first` uses it until a job has been
//! interrupted too often, so a long job is never starved.

use crate::StatusDoc;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capacity {
    OnDemand,
    Spot,
}

impl Capacity {
    pub fn as_str(self) -> &'static str {
        match self {
            Capacity::OnDemand => "on-demand",
            Capacity::Spot => "spot",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityPolicy {
    OnDemand,
    Spot,
    SpotFirst,
}

impl CapacityPolicy {
    pub const NAMES: &str = "on-demand, spot or spot-first";

    const ALL: [CapacityPolicy; 3] = [Self::OnDemand, Self::Spot, Self::SpotFirst];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The name in deploy.yaml, requests and the trigger's `CAPACITY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnDemand => "on-demand",
            Self::Spot => "spot",
            Self::SpotFirst => "spot-first",
        }
    }

    /// What a request may ask for within what the deploy allows: a deploy
    /// that runs on-demand only (no Spot there, or none wanted) keeps it.
    pub fn within(self, deploy: CapacityPolicy) -> CapacityPolicy {
        if deploy == CapacityPolicy::OnDemand { CapacityPolicy::OnDemand } else { self }
    }
}

/// The code an attempt ends with when Spot took its task back.
pub const SPOT_INTERRUPTION: &str = "SPOT_INTERRUPTION";
/// The code an attempt ends with when its container was killed for memory.
pub const OUT_OF_MEMORY: &str = "OUT_OF_MEMORY";

/// The task memory (MiB) of the job's next launch: after the n-th attempt
/// killed for memory, the n-th size of `steps` (the last one beyond); `None`
/// (the task definition's) before any.
pub fn memory_for_next_attempt(doc: &StatusDoc, steps: &[u32]) -> Option<u32> {
    let killed = doc.attempts.iter().filter(|a| a.end.as_ref().is_some_and(|e| e.code == OUT_OF_MEMORY)).count();
    (killed > 0).then(|| steps.get(killed - 1).or(steps.last()).copied()).flatten()
}

/// The capacity of the job's next launch: `spot-first` moves to on-demand
/// once Spot has interrupted the job `max_spot_interruptions` times.
pub fn for_next_attempt(doc: &StatusDoc, policy: CapacityPolicy, max_spot_interruptions: u32) -> Capacity {
    match policy {
        CapacityPolicy::OnDemand => Capacity::OnDemand,
        CapacityPolicy::Spot => Capacity::Spot,
        CapacityPolicy::SpotFirst => {
            let interrupted = doc.attempts.iter().filter(|a| a.capacity == Some(Capacity::Spot) && a.end.as_ref().is_some_and(|e| e.code == SPOT_INTERRUPTION)).count();
            if interrupted >= max_spot_interruptions as usize { Capacity::OnDemand } else { Capacity::Spot }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorInfo, Event, RunId};
    use time::macros::datetime;

    #[test]
    fn spot_first_moves_to_on_demand_after_enough_interruptions() {
        let t = datetime!(2026-01-01 0:00 UTC);
        let mut d = StatusDoc::queued(RunId::parse("r").unwrap(), t).with_limits(100.0, 5);
        assert_eq!(for_next_attempt(&d, CapacityPolicy::SpotFirst, 1), Capacity::Spot);
        d = d.apply(&Event::Claim, t).unwrap();
        d = d.apply(&Event::Launched { task_arn: "t1".into(), capacity: Some(Capacity::Spot), memory_mib: None, slot: None }, t).unwrap();
        d = d.apply(&Event::Started { task_arn: Some("t1".into()), takeover: false, checkpoint: false }, t).unwrap();
        // A stop that is not Spot's does not count.
        let other = d.apply(&Event::TaskStopped { task_arn: Some("t1".into()), error: ErrorInfo::new("OUT_OF_MEMORY", "x"), checkpoint: false }, t).unwrap();
        assert_eq!(for_next_attempt(&other, CapacityPolicy::SpotFirst, 1), Capacity::Spot);
        let spot = d.apply(&Event::TaskStopped { task_arn: Some("t1".into()), error: ErrorInfo::new(SPOT_INTERRUPTION, "x"), checkpoint: true }, t).unwrap();
        assert_eq!(for_next_attempt(&spot, CapacityPolicy::SpotFirst, 1), Capacity::OnDemand);
        assert_eq!(for_next_attempt(&spot, CapacityPolicy::SpotFirst, 2), Capacity::Spot);
        assert_eq!(for_next_attempt(&spot, CapacityPolicy::Spot, 1), Capacity::Spot);
        assert_eq!(CapacityPolicy::Spot.within(CapacityPolicy::OnDemand), CapacityPolicy::OnDemand);
        // Memory grows one step per attempt killed for memory, and stays at the last.
        assert_eq!(memory_for_next_attempt(&other, &[4096, 8192]), Some(4096));
        assert_eq!(memory_for_next_attempt(&spot, &[4096, 8192]), None);
        assert_eq!(memory_for_next_attempt(&other, &[]), None);
        let mut twice = other.clone();
        twice.attempts.push(twice.attempts[0].clone());
        twice.attempts.push(twice.attempts[0].clone());
        assert_eq!(memory_for_next_attempt(&twice, &[4096, 8192]), Some(8192));
        assert_eq!(CapacityPolicy::OnDemand.within(CapacityPolicy::SpotFirst), CapacityPolicy::OnDemand);
        for p in CapacityPolicy::ALL {
            assert_eq!(CapacityPolicy::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str(), "the serde name is the same");
        }
    }
}
