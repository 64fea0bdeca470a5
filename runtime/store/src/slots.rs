//! The cap on running tasks, kept in the bucket: one object per slot
//! (`keys::slot`), created with `If-None-Match: *` by the launch that takes
//! it and deleted when its task is known to have stopped. Two triggers can
//! never hold the same slot, so however many invocations run at once no
//! more tasks start than the cap allows, and no count of ECS's (eventually
//! consistent) task listing is needed to decide.

use crate::{Store, StoreError};
use job_model::{RunId, StatusDoc, keys};
use serde::{Deserialize, Serialize};

/// Who holds a slot: the job's attempt whose task it counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotHolder {
    pub run_id: RunId,
    pub attempt: u32,
}

impl Store {
    /// The slots taken now, each with when it was taken (Unix seconds).
    pub async fn taken_slots(&self) -> Result<Vec<(u32, i64)>, StoreError> {
        let mut found = Vec::new();
        for (key, written) in self.list(keys::SLOTS_PREFIX).await? {
            if let Some(k) = keys::slot_of_key(&key) {
                found.push((k, written));
            }
        }
        Ok(found)
    }

    /// Takes slot `k` for `holder`; `false` when someone holds it.
    pub async fn take_slot(&self, k: u32, holder: &SlotHolder) -> Result<bool, StoreError> {
        let body = serde_json::to_vec(holder).unwrap_or_default();
        self.put_if_absent(&keys::slot(k), body).await
    }

    /// The holder of slot `k`; `None` when it is free. A slot whose object
    /// cannot be read as a holder is reported as held by nobody known.
    pub async fn slot_holder(&self, k: u32) -> Result<Option<Option<SlotHolder>>, StoreError> {
        Ok(self.get(&keys::slot(k)).await?.map(|(bytes, _)| serde_json::from_slice(&bytes).ok()))
    }

    /// Frees slot `k` if `holder` holds it (a slot taken over by someone
    /// else since is left alone); `true` when it was freed.
    pub async fn free_slot(&self, k: u32, holder: &SlotHolder) -> Result<bool, StoreError> {
        match self.slot_holder(k).await? {
            Some(Some(h)) if &h == holder => {
                self.delete(&keys::slot(k)).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Frees slot `k` whoever holds it (the reconciler, for a holder that is
    /// gone).
    pub async fn free_slot_unchecked(&self, k: u32) -> Result<(), StoreError> {
        self.delete(&keys::slot(k)).await
    }

    /// Puts a job in the line for the next free slot (best effort: a job
    /// missing there still comes back by its own delayed message).
    pub async fn enter_waiting_line(&self, doc: &StatusDoc) {
        let key = keys::waiting(&doc.run_id, created_ms(doc));
        if let Err(e) = self.put(&key, Vec::new()).await {
            tracing::warn!(run_id = %doc.run_id, "could not write {key}: {e}");
        }
    }

    /// The first `limit` jobs of the waiting line, longest waiting first,
    /// with their entries' keys.
    pub async fn waiting_line(&self, limit: usize) -> Result<Vec<(String, RunId)>, StoreError> {
        let (keys, _) = self.list_page(keys::WAITING_PREFIX, None, limit).await?;
        Ok(keys.into_iter().filter_map(|k| Some((k.clone(), keys::run_id_of_waiting_key(&k)?))).collect())
    }
}

fn created_ms(doc: &StatusDoc) -> i64 {
    i64::try_from(doc.created_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
