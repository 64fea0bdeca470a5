//! A job queue adopted from the old architecture stays outside the stack, so
//! the stack cannot give it the settings the pipeline relies on: a
//! visibility timeout long enough for a polling worker's job, and the
//! redrive to the DLQ that takes what can never be processed. `deploy` sets
//! them, and only what differs.

use crate::aws::{Aws, failed};
use crate::config::Settings;
use aws_sdk_sqs::types::QueueAttributeName as A;

/// The template's `JobQueue.VisibilityTimeout`.
pub const VISIBILITY_TIMEOUT_S: &str = "43200";

/// Brings the adopted queue at `url` in line; returns the attributes changed.
pub async fn align(aws: &Aws, settings: &Settings, url: &str) -> anyhow::Result<Vec<String>> {
    let Some(dlq_url) = crate::switch::queue_url_of(aws, &settings.names.dead_letter_queue).await? else {
        anyhow::bail!("the dead-letter queue {} is missing after the stack update: run `deploy` again", settings.names.dead_letter_queue);
    };
    let dlq_arn = crate::switch::queue_arn(aws, &dlq_url).await?;
    let want = [
        (A::VisibilityTimeout, VISIBILITY_TIMEOUT_S.to_owned()),
        (A::RedrivePolicy, serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}).to_string()),
    ];
    let have = crate::switch::queue_attributes(aws, url, &[A::VisibilityTimeout, A::RedrivePolicy]).await?;
    let mut changed = Vec::new();
    let mut request = aws.sqs.set_queue_attributes().queue_url(url);
    for (name, value) in want {
        if !same(&name, have.get(&name), &value) {
            changed.push(format!("{}={value}", name.as_str()));
            request = request.attributes(name, value);
        }
    }
    if !changed.is_empty() {
        request.send().await.map_err(|e| failed("sqs:SetQueueAttributes", e))?;
    }
    Ok(changed)
}

/// Redrive policies are JSON whose key order and number formatting vary.
fn same(name: &A, have: Option<&String>, want: &str) -> bool {
    let Some(have) = have else { return false };
    if *name != A::RedrivePolicy {
        return have == want;
    }
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
    match (parse(have), parse(want)) {
        (Some(h), Some(w)) => {
            h["deadLetterTargetArn"] == w["deadLetterTargetArn"] && h["maxReceiveCount"].to_string().trim_matches('"') == w["maxReceiveCount"].to_string().as_str()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_uses_the_same_visibility_timeout() {
        assert!(crate::template::SOLVER_TEMPLATE.contains(&format!("VisibilityTimeout: {VISIBILITY_TIMEOUT_S}")));
    }

    #[test]
    fn redrive_policies_compare_by_meaning() {
        let want = r#"{"deadLetterTargetArn":"arn:q","maxReceiveCount":10}"#;
        assert!(same(&A::RedrivePolicy, Some(&r#"{"maxReceiveCount":"10","deadLetterTargetArn":"arn:q"}"#.to_owned()), want));
        assert!(!same(&A::RedrivePolicy, Some(&r#"{"deadLetterTargetArn":"arn:other","maxReceiveCount":10}"#.to_owned()), want));
        assert!(!same(&A::RedrivePolicy, None, want));
    }
}
