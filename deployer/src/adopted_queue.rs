//! A job queue adopted from the old architecture stays outside the stack, so
//! the stack cannot give it the settings the pipeline relies on: a
//! visibility timeout long enough for a polling worker's job, and the
//! redrive to the DLQ that takes what can never be processed. The plan sets
//! them, and only what differs (pure: compared here, set by `execute::queue`).

use aws_sdk_sqs::types::QueueAttributeName as A;
use std::collections::HashMap;

/// The template's `JobQueue.VisibilityTimeout`.
pub const VISIBILITY_TIMEOUT_S: &str = "43200";

/// The attributes read from an adopted queue to compare.
pub const COMPARED: [A; 2] = [A::VisibilityTimeout, A::RedrivePolicy];

/// The attributes to set on an adopted queue, `(name, value)`: those that
/// differ from what it has.
pub fn differences(have: &HashMap<String, String>, dlq_arn: &str, max_receive_count: u32) -> Vec<(String, String)> {
    let want = [
        (A::VisibilityTimeout, VISIBILITY_TIMEOUT_S.to_owned()),
        (A::RedrivePolicy, serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}).to_string()),
    ];
    want.into_iter().filter(|(name, value)| !same(name, have.get(name.as_str()), value)).map(|(name, value)| (name.as_str().to_owned(), value)).collect()
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

    #[test]
    fn only_what_differs_is_set() {
        let aligned: HashMap<String, String> =
            [("VisibilityTimeout".to_owned(), "43200".to_owned()), ("RedrivePolicy".to_owned(), r#"{"deadLetterTargetArn":"arn:q","maxReceiveCount":"5"}"#.to_owned())].into();
        assert!(differences(&aligned, "arn:q", 5).is_empty());
        let old: HashMap<String, String> = [("VisibilityTimeout".to_owned(), "30".to_owned())].into();
        let set = differences(&old, "arn:q", 5);
        assert_eq!(set.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["VisibilityTimeout", "RedrivePolicy"]);
    }
}
