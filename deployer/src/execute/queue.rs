//! Attributes of an adopted job queue (the plan computed which differ).

use crate::aws::{Aws, failed};
use aws_sdk_sqs::types::QueueAttributeName;

pub async fn set_attributes(aws: &Aws, url: &str, attributes: &[(String, String)]) -> anyhow::Result<()> {
    let mut request = aws.sqs.set_queue_attributes().queue_url(url);
    for (name, value) in attributes {
        request = request.attributes(QueueAttributeName::from(name.as_str()), value);
    }
    request.send().await.map_err(|e| failed("sqs:SetQueueAttributes", e))?;
    Ok(())
}
