//! The cap on running tasks (`MAX_RUNNING_TASKS`): a burst of submissions
//! starts at most that many tasks; the rest wait, QUEUED with the reason
//! shown, and are looked at again in `WAIT` (their message re-sent with a
//! delay, so waiting never counts towards the DLQ nor costs an attempt).
//!
//! A launch holds one of the cap's slots (`job_store::slots`: an object
//! created with `If-None-Match: *`) from before its claim until its task is
//! known to have stopped: the stop event frees it, and the reconciler frees
//! what a lost event or a dead invocation left behind. Invocations running
//! at once therefore never start more tasks than the cap, whatever ECS's
//! task listing shows at that moment. A waiting job also enters a line
//! ordered by submission (`index/waiting/`): a freed slot wakes the job that
//! has waited longest at once, rather than when its message comes back.

use crate::Trigger;
use job_model::{RunId, State, StatusDoc};
use job_store::{SlotHolder, Store};
use std::collections::BTreeSet;
use tokio::sync::Mutex;

/// How long a job that found no free slot waits before it is looked at again.
pub const WAIT: time::Duration = time::Duration::seconds(30);
/// A slot whose holder has not recorded it in its status this long after
/// taking it was left by an invocation that died (a launch records its slot
/// within its record budget of 40 s).
pub const SLOT_GRACE: time::Duration = time::Duration::seconds(120);

/// The cap's slots as one batch sees them: the taken ones are read once per
/// batch and kept up to date as its records take slots.
pub struct Slots {
    pub cap: u32,
    taken: Mutex<BTreeSet<u32>>,
}

impl Slots {
    pub fn new(cap: u32, taken: impl IntoIterator<Item = u32>) -> Self {
        Self { cap, taken: Mutex::new(taken.into_iter().collect()) }
    }

    /// Takes a free slot for `holder`, or `None` when all are held. The
    /// search starts at a place of the job's own, so records taken at once
    /// seldom try the same slot.
    pub async fn take(&self, store: &Store, holder: &SlotHolder) -> Result<Option<u32>, String> {
        let start = holder.run_id.as_str().bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        for i in 0..self.cap {
            let k = (start.wrapping_add(i)) % self.cap;
            if !self.taken.lock().await.insert(k) {
                continue;
            }
            if store.take_slot(k, holder).await.map_err(|e| e.to_string())? {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    pub async fn reason(&self) -> String {
        let taken = self.taken.lock().await.iter().filter(|&&k| k < self.cap).count();
        format!("waiting for capacity: {taken} of {} tasks running (limits.max_running_tasks)", self.cap)
    }
}

impl Trigger {
    /// The slots for a batch, or `None` without a cap (or when they cannot
    /// be read: RunTask then decides, rather than nothing running).
    pub(crate) async fn slots(&self) -> Option<Slots> {
        let cap = self.config.max_running_tasks?;
        match self.store.taken_slots().await {
            Ok(taken) => Some(Slots::new(cap, taken.into_iter().map(|(k, _)| k))),
            Err(e) => {
                tracing::warn!("could not read the cap's slots, launching without the cap: {e}");
                None
            }
        }
    }

    /// Frees the slot the attempt whose task was `task_arn` held, if any.
    pub(crate) async fn free_slot_of(&self, doc: &StatusDoc, task_arn: &str) {
        let Some(attempt) = doc.attempts.iter().find(|a| a.task_arn.as_deref() == Some(task_arn)) else { return };
        let Some(k) = attempt.slot else { return };
        self.free_slot(&doc.run_id, attempt.attempt, k).await;
    }

    /// Frees slot `k` if the attempt holds it, and hands it to the job that
    /// has waited longest. Best effort: the reconciler frees a slot whose
    /// holder is gone, and a waiting job comes back by its own message.
    pub(crate) async fn free_slot(&self, run_id: &RunId, attempt: u32, k: u32) {
        let holder = SlotHolder { run_id: run_id.clone(), attempt };
        match self.store.free_slot(k, &holder).await {
            Ok(true) => self.wake_longest_waiting().await,
            Ok(false) => {}
            Err(e) => tracing::warn!(%run_id, "could not free slot {k}: {e}"),
        }
    }

    /// Wakes the first job of the waiting line that still waits; entries of
    /// jobs that moved on are dropped on the way.
    async fn wake_longest_waiting(&self) {
        let line = match self.store.waiting_line(10).await {
            Ok(line) => line,
            Err(e) => return tracing::warn!("could not read the waiting line: {e}"),
        };
        for (key, run_id) in line {
            let waits = matches!(self.store.read_status(&run_id).await, Ok(Some((doc, _))) if matches!(doc.state, State::Queued | State::Starting) && doc.task_arn.is_none() && doc.waiting.is_some());
            // Out of the line either way: if the slot is gone again by the
            // time it is looked at, waiting puts it back in its place.
            if let Err(e) = self.store.delete(&key).await {
                tracing::warn!(%run_id, "could not remove {key}: {e}");
            }
            if waits {
                if let Err(e) = self.wake_up(&run_id, time::Duration::ZERO).await {
                    tracing::warn!(%run_id, "could not wake the job up for a free slot: {e}");
                }
                return;
            }
        }
    }

    /// Frees every slot whose holder no longer needs it: its job ended or
    /// moved to another attempt, its attempt ended, or (past the grace) its
    /// attempt never recorded the slot: the invocation died between taking
    /// it and launching. Returns how many were freed.
    pub(crate) async fn sweep_slots(&self, now: i64, errors: &mut Vec<String>) -> usize {
        if self.config.max_running_tasks.is_none() {
            return 0;
        }
        let taken = match self.store.taken_slots().await {
            Ok(taken) => taken,
            Err(e) => {
                errors.push(format!("slots: {e}"));
                return 0;
            }
        };
        let mut freed = 0;
        for (k, written) in taken {
            let past_grace = now - written >= self.config.slot_grace.whole_seconds();
            match self.slot_use(k).await {
                Ok(SlotUse::Held | SlotUse::Free) => {}
                Ok(SlotUse::NotYetRecorded) if !past_grace => {}
                Ok(_) => match self.store.free_slot_unchecked(k).await {
                    Ok(()) => freed += 1,
                    Err(e) => errors.push(format!("slot {k}: {e}")),
                },
                Err(e) => errors.push(format!("slot {k}: {e}")),
            }
        }
        freed
    }

    /// What slot `k` is to its holder. A task the reconciler found gone has
    /// just ended its attempt, so its slot reads as no longer needed.
    async fn slot_use(&self, k: u32) -> Result<SlotUse, String> {
        let Some(holder) = self.store.slot_holder(k).await.map_err(|e| e.to_string())? else { return Ok(SlotUse::Free) };
        let Some(holder) = holder else { return Ok(SlotUse::NotYetRecorded) };
        let Some((doc, _)) = self.store.read_status(&holder.run_id).await.map_err(|e| e.to_string())? else { return Ok(SlotUse::NotYetRecorded) };
        if doc.state.is_terminal() || doc.attempt != holder.attempt {
            return Ok(SlotUse::Done);
        }
        Ok(match doc.attempts.iter().find(|a| a.attempt == holder.attempt) {
            Some(a) if a.ended_at.is_some() => SlotUse::Done,
            Some(a) if a.slot == Some(k) => SlotUse::Held,
            _ => SlotUse::NotYetRecorded,
        })
    }
}

enum SlotUse {
    Free,
    /// Its attempt's task holds it.
    Held,
    /// Taken, but no attempt says so yet: a launch in progress, or one that
    /// died (an unreadable holder counts here too).
    NotYetRecorded,
    /// Its holder is done with it.
    Done,
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_reason_counts_the_slots_under_the_cap() {
        let s = super::Slots::new(3, [0, 1, 2, 7]);
        assert!(s.reason().await.contains("3 of 3"), "{}", s.reason().await);
    }
}
