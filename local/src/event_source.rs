//! The trigger's event source mapping, played locally: while the emulator
//! says the mapping is Enabled, receive up to its batch size from its queue,
//! invoke the trigger with the SQS event, delete what succeeded, and leave the
//! reported failures to their (trigger-set) visibility.
//!
//! Where this plays the mapping differently from AWS (not the trigger, whose
//! code is the production code): AWS's poller receives with the queue's
//! visibility (12 hours). Here a receive asks for `RECEIVE_VISIBILITY_S`, so
//! that a receive whose answer is lost (moto under load answering an
//! attempt the SDK then retries) costs two minutes, not 12 hours; on AWS
//! the reconciler re-sends such a job after its lease. And a failure of this
//! plane's own calls hands the batch back at once instead of leaving it in
//! flight.

use crate::lambda_host::LambdaHost;
use std::sync::Arc;
use std::time::Duration;

/// Longer than the trigger's 60 s timeout, so a live invocation never sees
/// its records delivered again.
const RECEIVE_VISIBILITY_S: i32 = 120;

pub async fn run(lambda: aws_sdk_lambda::Client, sqs: aws_sdk_sqs::Client, trigger: Arc<LambdaHost>) {
    loop {
        match poll_once(&lambda, &sqs, &trigger).await {
            Ok(true) => {}
            Ok(false) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(e) => {
                tracing::warn!("event source mapping: {e:#}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// `true` when a batch was handled.
async fn poll_once(lambda: &aws_sdk_lambda::Client, sqs: &aws_sdk_sqs::Client, trigger: &LambdaHost) -> anyhow::Result<bool> {
    let out = lambda.list_event_source_mappings().function_name(&trigger.name).send().await?;
    let Some(mapping) = out.event_source_mappings().iter().find(|m| m.state() == Some("Enabled")) else { return Ok(false) };
    let arn = mapping.event_source_arn().unwrap_or_default().to_owned();
    let name = arn.rsplit(':').next().unwrap_or_default();
    let url = sqs.get_queue_url().queue_name(name).send().await?.queue_url().unwrap_or_default().to_owned();
    let batch = mapping.batch_size().unwrap_or(10).clamp(1, 10);
    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(batch)
        .wait_time_seconds(1)
        .visibility_timeout(RECEIVE_VISIBILITY_S)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("ReceiveMessage failed (what it may have received is back in {RECEIVE_VISIBILITY_S} s): {}", job_store::aws::describe(&e)))?;
    let messages = received.messages();
    if messages.is_empty() {
        return Ok(false);
    }
    let hand_back = || async {
        for m in messages {
            if let Some(handle) = m.receipt_handle() {
                let _ = sqs.change_message_visibility().queue_url(&url).receipt_handle(handle).visibility_timeout(0).send().await;
            }
        }
    };
    // Disabled while the receive waited: hand the batch back untouched, as a
    // disabled mapping stops delivering.
    let still = match lambda.list_event_source_mappings().function_name(&trigger.name).send().await {
        Ok(still) => still,
        Err(e) => {
            hand_back().await;
            return Err(e.into());
        }
    };
    if !still.event_source_mappings().iter().any(|m| m.uuid() == mapping.uuid() && m.state() == Some("Enabled")) {
        hand_back().await;
        return Ok(false);
    }
    // A failed invocation leaves the batch in flight, as on AWS.
    let response = trigger.invoke(&job_store::aws::sqs_event(messages, &arn, crate::REGION)).await?;
    let failed: Vec<&str> = response["batchItemFailures"].as_array().into_iter().flatten().filter_map(|f| f["itemIdentifier"].as_str()).collect();
    for m in messages {
        if !failed.contains(&m.message_id().unwrap_or_default())
            && let Some(handle) = m.receipt_handle()
        {
            sqs.delete_message().queue_url(&url).receipt_handle(handle).send().await?;
        }
    }
    Ok(true)
}
