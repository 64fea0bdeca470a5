//! The trigger's event source mapping, played locally: while the emulator
//! says the mapping is Enabled, receive up to its batch size from its queue,
//! invoke the trigger with the SQS event, delete what succeeded, and leave the
//! reported failures to their (trigger-set) visibility.

use crate::lambda_host::LambdaHost;
use std::sync::Arc;
use std::time::Duration;

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
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await?;
    let messages = received.messages();
    if messages.is_empty() {
        return Ok(false);
    }
    // Disabled while the receive waited: hand the batch back untouched, as a
    // disabled mapping stops delivering.
    let still = lambda.list_event_source_mappings().function_name(&trigger.name).send().await?;
    if !still.event_source_mappings().iter().any(|m| m.uuid() == mapping.uuid() && m.state() == Some("Enabled")) {
        for m in messages {
            if let Some(handle) = m.receipt_handle() {
                sqs.change_message_visibility().queue_url(&url).receipt_handle(handle).visibility_timeout(0).send().await?;
            }
        }
        return Ok(false);
    }
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

