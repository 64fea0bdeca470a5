//! `GET /runs?limit=&cursor=`: recent jobs for the console, from the two
//! indexes (never a listing of all of `jobs/`): the first page has the jobs
//! not ended (newest first, at most `MAX_ACTIVE`) and the newest ended ones;
//! each next page the ended ones after its cursor.

use crate::Api;
use crate::respond::{error, json};
use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use job_model::{RunId, StatusDoc, keys};
use serde_json::json;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// Unfinished jobs shown on the first page at most.
pub const MAX_ACTIVE: usize = 100;

/// The query's `limit` and `cursor`, or why they cannot be used (an error
/// code and message).
fn parse_query(raw: &str) -> Result<(usize, Option<String>), (&'static str, String)> {
    let (mut limit, mut cursor) = (DEFAULT_LIMIT, None);
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| ("INVALID_FIELD", format!("limit {value:?}: give a whole number from 1 to {MAX_LIMIT}")))?;
            }
            // A cursor is the tail of an ended-index key: digits, a dash, a run id.
            "cursor" if keys::run_id_of_ended_key(&format!("{}{value}", keys::ENDED_PREFIX)).is_some() => cursor = Some(value.to_owned()),
            "cursor" => return Err(("INVALID_CURSOR", "cursor: pass the next_cursor of the page before, unchanged".into())),
            other => return Err(("UNKNOWN_FIELD", format!("unknown query parameter {other:?}; use limit and cursor"))),
        }
    }
    Ok((limit, cursor))
}

/// What the list shows of a job: the status document's own fields, fewer.
fn summary(doc: &StatusDoc) -> serde_json::Value {
    let full = serde_json::to_value(doc).unwrap_or_default();
    json!({
        "run_id": full["run_id"],
        "state": full["state"],
        "attempt": full["attempt"],
        "created_at": full["created_at"],
        "updated_at": full["updated_at"],
        "best_objective": full["progress"]["best_objective"],
        "lower_bound": full["progress"]["lower_bound"],
        "waiting": full["waiting"],
        "error_code": full["error"]["code"],
    })
}

pub async fn list_runs(api: &Api, req: &LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
    let (limit, cursor) = match parse_query(req.raw_query_string.as_deref().unwrap_or_default()) {
        Ok(q) => q,
        Err((code, message)) => return error(400, code, message),
    };
    let mut run_ids: Vec<RunId> = Vec::new();
    if cursor.is_none() {
        match api.store.active_jobs().await {
            Ok(mut active) => {
                active.sort_by_key(|(_, written)| std::cmp::Reverse(*written));
                run_ids.extend(active.into_iter().take(MAX_ACTIVE).map(|(id, _)| id));
            }
            Err(e) => return unavailable(&e),
        }
    }
    let next_cursor = match api.store.ended_page(cursor.as_deref(), limit).await {
        Ok((ended, next)) => {
            run_ids.extend(ended.into_iter().filter(|id| !run_ids.contains(id)).collect::<Vec<_>>());
            next
        }
        Err(e) => return unavailable(&e),
    };
    match api.store.read_many(run_ids).await {
        Ok(docs) => json(200, &json!({"runs": docs.iter().map(summary).collect::<Vec<_>>(), "next_cursor": next_cursor})),
        Err(e) => unavailable(&e),
    }
}

fn unavailable(e: &job_store::StoreError) -> LambdaFunctionUrlResponse {
    tracing::error!(error = %e, "storage unavailable while listing runs");
    error(503, "STORAGE_UNAVAILABLE", "storage is unavailable; try again")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_checked_field_by_field() {
        assert_eq!(parse_query("").unwrap(), (DEFAULT_LIMIT, None));
        assert_eq!(parse_query("limit=5&cursor=9999999999999-r1").unwrap(), (5, Some("9999999999999-r1".into())));
        for bad in ["limit=0", "limit=101", "limit=x", "cursor=../x", "cursor=", "page=2"] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
