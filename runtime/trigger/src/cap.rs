//! The cap on running tasks (`MAX_RUNNING_TASKS`): a burst of submissions
//! starts at most that many tasks; the rest wait, QUEUED with the reason
//! shown, and are looked at again in `WAIT` (their message re-sent with a
//! delay, so waiting never counts towards the DLQ nor costs an attempt).
//!
//! Each invocation counts the tasks it may start before its batch: with
//! several invocations at once, up to (concurrent invocations - 1) × batch
//! size tasks beyond the cap can start (the mapping's MaximumConcurrency
//! and batch size bound it).

use crate::Trigger;
use aws_sdk_ecs::types::DesiredStatus;
use std::sync::atomic::{AtomicI64, Ordering};

/// How long a job that found no free slot waits before it is looked at again.
pub const WAIT: time::Duration = time::Duration::seconds(30);

/// The launches one batch may make.
pub struct Slots {
    pub cap: u32,
    pub running: u32,
    left: AtomicI64,
}

impl Slots {
    pub fn new(cap: u32, running: u32) -> Self {
        Self { cap, running, left: AtomicI64::new(i64::from(cap) - i64::from(running)) }
    }

    /// Takes one slot; `false` when none is left.
    pub fn take(&self) -> bool {
        self.left.fetch_sub(1, Ordering::SeqCst) > 0
    }

    pub fn reason(&self) -> String {
        format!("waiting for capacity: {} of {} tasks running (limits.max_running_tasks)", self.running.max(self.cap), self.cap)
    }
}

impl Trigger {
    /// The slots for a batch, or `None` without a cap (or when the count
    /// cannot be read: RunTask then decides, rather than nothing running).
    pub(crate) async fn slots(&self) -> Option<Slots> {
        let cap = self.config.max_running_tasks?;
        let mut running = 0u32;
        let mut pages = self.ecs.list_tasks().cluster(&self.config.cluster).started_by(&self.config.started_by).desired_status(DesiredStatus::Running).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => running += u32::try_from(page.task_arns().len()).unwrap_or(u32::MAX),
                Err(e) => {
                    tracing::warn!("could not count running tasks, launching without the cap: {}", job_store::aws::describe(&e));
                    return None;
                }
            }
        }
        Some(Slots::new(cap, running))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slots_run_out_at_the_cap() {
        let s = super::Slots::new(3, 1);
        assert!(s.take() && s.take());
        assert!(!s.take() && !s.take());
        assert!(s.reason().contains("3 of 3"), "{}", s.reason());
        assert!(!super::Slots::new(2, 5).take(), "over the cap already");
    }
}
