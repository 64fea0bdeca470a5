//! The record of the last successful deploy, kept beside the artifacts: its
//! fingerprint (template and parameters in one word) and its parameters.
//!
//! Why a record: the emulator's DescribeStacks keeps a stack's first
//! parameters after an update (MOTO.md), so neither "is anything to do?"
//! nor the plan's before → after can be read from the stack there. On AWS
//! the record agrees with the stack. Written by `execute::record`.

use crate::aws::Aws;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    pub fingerprint: Option<String>,
    pub parameters: Option<BTreeMap<String, String>>,
}

pub fn fingerprint_key(stack: &str) -> String {
    format!("stacks/{stack}/last-deploy.sha256")
}

pub fn parameters_key(stack: &str) -> String {
    format!("stacks/{stack}/last-deploy-parameters.json")
}

async fn object(aws: &Aws, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let out = aws.s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    Some(out.body.collect().await.ok()?.into_bytes().to_vec())
}

/// What is recorded for `stack`; nothing when it was never deployed (or by
/// a `deploy` older than the record).
pub async fn read(aws: &Aws, stack: &str) -> Record {
    let bucket = crate::artifacts::bucket_name(stack, &aws.account, &aws.region);
    Record {
        fingerprint: object(aws, &bucket, &fingerprint_key(stack)).await.and_then(|b| String::from_utf8(b).ok()),
        parameters: object(aws, &bucket, &parameters_key(stack)).await.and_then(|b| serde_json::from_slice(&b).ok()),
    }
}
