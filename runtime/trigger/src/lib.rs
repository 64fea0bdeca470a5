//! The Trigger Lambda: an SQS batch in, at most one Fargate task per job
//! attempt out, and an `SQSBatchResponse` naming the messages to try again.
//! It also takes EventBridge's events for stopped worker tasks (`stopped`:
//! the attempt ends, a new one is queued or the job ends), and its schedule
//! (`reconcile`: every job not ended, checked against ECS and SQS).
//!
//! One task per attempt comes from the status document, not from RunTask's
//! `clientToken` alone: the token lasts 24 hours on AWS and the emulator
//! ignores it, while the conditional claim in S3 holds for ever.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod backoff;
pub mod cap;
mod config;
mod launch;
mod message;
pub mod reconcile;
mod stopped;

pub use backoff::backoff_seconds;
pub use config::Config;
pub use launch::{LaunchError, STARTED_BY_DEFAULT, idempotency_token};
pub use message::Outcome;
pub use stopped::TaskStateChange;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use job_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Time for one record's work, and then for handing it back, inside the
/// trigger function's 60 s timeout: an invocation that times out would hide
/// its whole batch, launched records included, for the queue's 12 hours.
const RECORD_BUDGET: std::time::Duration = std::time::Duration::from_secs(40);
const HAND_BACK_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// EventBridge's `detail-type` for a schedule's event.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

#[derive(Clone)]
pub struct Trigger {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) ecs: aws_sdk_ecs::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    queue_urls: Arc<Mutex<HashMap<String, String>>>,
}

impl Trigger {
    pub fn new(config: Config, s3: aws_sdk_s3::Client, ecs: aws_sdk_ecs::Client, sqs: aws_sdk_sqs::Client) -> Self {
        let store = Store::new(s3, &config.bucket);
        Self { config: Arc::new(config), store, ecs, sqs, queue_urls: Arc::default() }
    }

    /// Any event the trigger is sent: an SQS batch from the event source
    /// mapping, or a task state change from EventBridge.
    pub async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, String> {
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event).map_err(|e| format!("not an SQS event: {e}"))?;
            return serde_json::to_value(self.handle_batch(batch).await).map_err(|e| e.to_string());
        }
        if event.get("detail-type").and_then(|t| t.as_str()) == Some(SCHEDULED_EVENT) {
            let report = self.reconcile().await.inspect_err(|e| tracing::error!("reconcile: {e}"))?;
            tracing::info!(active = report.active, resent = ?report.resent, ended = ?report.ended, stopped = ?report.stopped, removed = report.removed, slots_freed = report.slots_freed, errors = ?report.errors, "reconciled");
            return serde_json::to_value(report).map_err(|e| e.to_string());
        }
        if event.get("detail-type").and_then(|t| t.as_str()) == Some(stopped::DETAIL_TYPE) {
            let change: TaskStateChange = serde_json::from_value(event).map_err(|e| format!("not an ECS task state change: {e}"))?;
            let done = self.handle_task_stopped(&change).await.inspect_err(|e| tracing::error!("task {}: will be retried: {e}", change.detail.task_arn))?;
            tracing::info!("{done}");
            return Ok(serde_json::json!({ "done": done }));
        }
        Err(format!("unexpected event (not an SQS batch, an ECS task state change or a schedule): {}", event.to_string().chars().take(200).collect::<String>()))
    }

    /// Handles every record concurrently; a record that must be tried again is
    /// first given a short visibility (the queue's own is 12 hours), then
    /// reported as a batch item failure.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let slots = Arc::new(self.slots().await);
        let mut tasks = tokio::task::JoinSet::new();
        for record in event.records {
            let this = self.clone();
            let slots = slots.clone();
            tasks.spawn(async move {
                let id = record.message_id.clone().unwrap_or_default();
                // A record not handled in time is handed back with a short
                // visibility rather than left to the queue's 12 hours when the
                // invocation times out (the function's timeout is 60 s).
                let outcome = match tokio::time::timeout(RECORD_BUDGET, this.handle_record(&record, slots.as_ref().as_ref())).await {
                    Ok(outcome) => outcome,
                    Err(_) => Outcome::Retry { delay_s: 30, reason: format!("not handled within {} s", RECORD_BUDGET.as_secs()) },
                };
                match &outcome {
                    Outcome::Done(what) => tracing::info!(message_id = %id, "{what}"),
                    Outcome::Retry { reason, .. } => tracing::warn!(message_id = %id, "will retry: {reason}"),
                    Outcome::Malformed { reason } => tracing::error!(message_id = %id, "malformed, sending towards the DLQ: {reason}"),
                }
                let visibility = match &outcome {
                    Outcome::Done(_) => return None,
                    Outcome::Retry { delay_s, .. } => *delay_s,
                    // Seen again at once, so it reaches maxReceiveCount and the
                    // DLQ in seconds instead of 12-hour steps.
                    Outcome::Malformed { .. } => 0,
                };
                match tokio::time::timeout(HAND_BACK_BUDGET, this.set_visibility(&record, visibility)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(message_id = %id, "could not shorten visibility to {visibility}s: {e}"),
                    Err(_) => tracing::error!(message_id = %id, "could not shorten visibility to {visibility}s within {} s", HAND_BACK_BUDGET.as_secs()),
                }
                Some(id)
            });
        }
        let mut response = SqsBatchResponse::default();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Some(id)) => {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
                Ok(None) => {}
                Err(e) => tracing::error!("record handler panicked: {e}"),
            }
        }
        response
    }

    async fn set_visibility(&self, record: &aws_lambda_events::event::sqs::SqsMessage, seconds: i32) -> Result<(), String> {
        let arn = record.event_source_arn.as_deref().ok_or("record has no eventSourceARN")?;
        let handle = record.receipt_handle.as_deref().ok_or("record has no receiptHandle")?;
        let url = self.queue_url(arn).await?;
        self.sqs.change_message_visibility().queue_url(url).receipt_handle(handle).visibility_timeout(seconds).send().await.map(|_| ()).map_err(|e| job_store::aws::describe(&e))
    }

    /// `arn:aws:sqs:REGION:ACCOUNT:NAME` to its URL, asked of SQS once per
    /// queue and instance (the URL's host differs by partition and endpoint).
    async fn queue_url(&self, arn: &str) -> Result<String, String> {
        if let Some(url) = self.queue_urls.lock().expect("queue url cache").get(arn) {
            return Ok(url.clone());
        }
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, "sqs", _, account, name] = parts[..] else {
            return Err(format!("{arn} is not an SQS queue ARN"));
        };
        let out = self.sqs.get_queue_url().queue_name(name).queue_owner_aws_account_id(account).send().await.map_err(|e| job_store::aws::describe(&e))?;
        let url = out.queue_url().ok_or("GetQueueUrl returned no URL")?.to_owned();
        self.queue_urls.lock().expect("queue url cache").insert(arn.to_owned(), url.clone());
        Ok(url)
    }
}
