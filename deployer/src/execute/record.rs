//! Writes the record of a successful deploy (`record` reads it).

use crate::aws::{Aws, failed};
use crate::record::{fingerprint_key, parameters_key};
use std::collections::BTreeMap;

pub async fn write(aws: &Aws, stack: &str, fingerprint: &str, parameters: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let bucket = crate::artifacts::bucket_name(stack, &aws.account, &aws.region);
    for (key, body) in [(fingerprint_key(stack), fingerprint.as_bytes().to_vec()), (parameters_key(stack), serde_json::to_vec(parameters)?)] {
        aws.s3.put_object().bucket(&bucket).key(&key).body(body.into()).send().await.map_err(|e| failed(&format!("s3:PutObject s3://{bucket}/{key}"), e))?;
    }
    Ok(())
}
