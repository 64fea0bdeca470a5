//! Read-only look-ups of SQS queues by name: their URL, ARN and attributes.
//! Discovery, the plan's facts, `status` and `doctor` all read queues this way.

use crate::aws::{Aws, failed};
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueRef {
    pub url: String,
    pub arn: String,
}

pub async fn url_of(aws: &Aws, name: &str) -> anyhow::Result<Option<String>> {
    match aws.sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => Ok(out.queue_url().map(str::to_owned)),
        Err(e) if job_store::aws::describe(&e).contains("NonExistentQueue") || job_store::aws::describe(&e).contains("does not exist") => Ok(None),
        Err(e) => Err(failed("sqs:GetQueueUrl", e)),
    }
}

/// The named attributes of the queue at `url` (absent ones are left out).
pub async fn attributes(aws: &Aws, url: &str, names: &[QueueAttributeName]) -> anyhow::Result<HashMap<QueueAttributeName, String>> {
    let out = aws.sqs.get_queue_attributes().queue_url(url).set_attribute_names(Some(names.to_vec())).send().await.map_err(|e| failed("sqs:GetQueueAttributes", e))?;
    Ok(out.attributes().cloned().unwrap_or_default())
}

pub async fn arn(aws: &Aws, url: &str) -> anyhow::Result<String> {
    attributes(aws, url, &[QueueAttributeName::QueueArn]).await?.remove(&QueueAttributeName::QueueArn).ok_or_else(|| anyhow::anyhow!("queue {url} has no ARN"))
}

/// The queue of that name, if it exists.
pub async fn find(aws: &Aws, name: &str) -> anyhow::Result<Option<QueueRef>> {
    let Some(url) = url_of(aws, name).await? else { return Ok(None) };
    let arn = arn(aws, &url).await?;
    Ok(Some(QueueRef { url, arn }))
}

/// `(waiting, in flight)` messages.
pub async fn depth(aws: &Aws, url: &str) -> anyhow::Result<(i64, i64)> {
    use QueueAttributeName as A;
    let attrs = attributes(aws, url, &[A::ApproximateNumberOfMessages, A::ApproximateNumberOfMessagesNotVisible]).await?;
    let get = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok((get(A::ApproximateNumberOfMessages), get(A::ApproximateNumberOfMessagesNotVisible)))
}
