//! The results bucket's layout. Every key is built here from a [`RunId`], so
//! no program formats a key by hand.

use crate::RunId;

pub const JOBS_PREFIX: &str = "jobs/";

pub fn input(run_id: &RunId) -> String {
    format!("{JOBS_PREFIX}{run_id}/input.json")
}

pub fn status(run_id: &RunId) -> String {
    format!("{JOBS_PREFIX}{run_id}/status.json")
}

pub fn result(run_id: &RunId) -> String {
    format!("{JOBS_PREFIX}{run_id}/result.json")
}

/// The best answer so far of a running job, saved while it solves, so that
/// a new attempt continues from it and a stopped job still has a result.
pub fn checkpoint(run_id: &RunId) -> String {
    format!("{JOBS_PREFIX}{run_id}/checkpoint.json")
}

/// One small object per job that has not ended: what the reconciler reads,
/// so its cost follows the active jobs, not the whole history under `jobs/`.
pub const ACTIVE_PREFIX: &str = "index/active/";

pub fn active(run_id: &RunId) -> String {
    format!("{ACTIVE_PREFIX}{run_id}")
}

pub fn run_id_of_active_key(key: &str) -> Option<RunId> {
    RunId::parse(key.strip_prefix(ACTIVE_PREFIX)?).ok()
}

/// One small object per ended job, named so that S3 lists the newest first
/// (its end time, counted down): the recent jobs without a listing of all
/// of `jobs/`.
pub const ENDED_PREFIX: &str = "index/ended/";

pub fn ended(run_id: &RunId, ended_at_ms: i64) -> String {
    let countdown = 9_999_999_999_999_i64.saturating_sub(ended_at_ms.max(0));
    format!("{ENDED_PREFIX}{countdown:013}-{run_id}")
}

pub fn run_id_of_ended_key(key: &str) -> Option<RunId> {
    let (_, run_id) = key.strip_prefix(ENDED_PREFIX)?.split_once('-')?;
    RunId::parse(run_id).ok()
}

/// When the job of an ended-index key ended (Unix milliseconds).
pub fn ended_at_of_key(key: &str) -> Option<i64> {
    let (countdown, _) = key.strip_prefix(ENDED_PREFIX)?.split_once('-')?;
    Some(9_999_999_999_999_i64 - countdown.parse::<i64>().ok()?)
}

/// The cap on running tasks as objects: a launch holds `index/slots/{k}`
/// (`k` below the cap), created with `If-None-Match: *`, so that triggers
/// running at once can never hold more slots than the cap, whatever ECS's
/// eventually consistent task listing says.
pub const SLOTS_PREFIX: &str = "index/slots/";

pub fn slot(k: u32) -> String {
    format!("{SLOTS_PREFIX}{k:05}")
}

pub fn slot_of_key(key: &str) -> Option<u32> {
    key.strip_prefix(SLOTS_PREFIX)?.parse().ok()
}

/// One object per job waiting for a slot, named by its submission time so
/// that S3 lists the longest-waiting first: a freed slot goes to it.
pub const WAITING_PREFIX: &str = "index/waiting/";

pub fn waiting(run_id: &RunId, created_at_ms: i64) -> String {
    format!("{WAITING_PREFIX}{:013}-{run_id}", created_at_ms.max(0))
}

pub fn run_id_of_waiting_key(key: &str) -> Option<RunId> {
    let (_, run_id) = key.strip_prefix(WAITING_PREFIX)?.split_once('-')?;
    RunId::parse(run_id).ok()
}

/// The run id a `jobs/{run_id}/status.json` key belongs to, if it is one.
pub fn run_id_of_status_key(key: &str) -> Option<RunId> {
    let rest = key.strip_prefix(JOBS_PREFIX)?.strip_suffix("/status.json")?;
    RunId::parse(rest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_contract() {
        let id = RunId::parse("r1").unwrap();
        assert_eq!(input(&id), "jobs/r1/input.json");
        assert_eq!(status(&id), "jobs/r1/status.json");
        assert_eq!(result(&id), "jobs/r1/result.json");
        assert_eq!(run_id_of_status_key("jobs/r1/status.json"), Some(id.clone()));
        assert_eq!(run_id_of_status_key("jobs/r1/result.json"), None);
        assert_eq!(run_id_of_status_key("jobs/../status.json"), None);
        assert_eq!(checkpoint(&id), "jobs/r1/checkpoint.json");
        assert_eq!(run_id_of_active_key(&active(&id)), Some(id.clone()));
        assert_eq!(run_id_of_active_key("index/active/../x"), None);
        let (older, newer) = (ended(&id, 1_000), ended(&id, 2_000));
        assert!(newer < older, "the newest sorts first");
        assert_eq!(run_id_of_ended_key(&newer), Some(id.clone()));
        assert_eq!(ended_at_of_key(&newer), Some(2_000));
        assert_eq!(run_id_of_ended_key("index/ended/0000000000001-../x"), None);
        assert_eq!(slot_of_key(&slot(7)), Some(7));
        assert!(slot(2) < slot(10), "slots list in order");
        assert_eq!(slot_of_key("index/slots/x"), None);
        assert!(waiting(&id, 1_000) < waiting(&id, 2_000), "the longest waiting sorts first");
        assert_eq!(run_id_of_waiting_key(&waiting(&id, 5)), Some(id.clone()));
    }
}
