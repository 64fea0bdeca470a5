//! The Lambda zips: found in the artifacts directory, uploaded to the
//! deployer's own bucket under a content address, skipped when already there.

use crate::aws::{Aws, failed};
use crate::errors::DeployError;
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Uploaded {
    pub bucket: String,
    pub api_key: String,
    pub trigger_key: String,
    /// Keys that were not in the bucket before this run.
    pub new: Vec<String>,
}

/// One bucket per account and region, made before the stack (the stack's
/// Lambdas read their code from it).
pub fn bucket_name(stack: &str, account: &str, region: &str) -> String {
    let mut name = format!("{stack}-artifacts-{account}-{region}").to_ascii_lowercase();
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// Uploads what is missing; with `dry_run`, only computes the keys (`plan`
/// changes nothing).
pub async fn upload(aws: &Aws, stack: &str, dir: &Path, dry_run: bool) -> anyhow::Result<Uploaded> {
    let bucket = bucket_name(stack, &aws.account, &aws.region);
    if !dry_run {
        ensure_bucket(aws, &bucket).await?;
    }
    let mut new = Vec::new();
    let mut keys = Vec::new();
    for name in ["solver-api", "solver-trigger"] {
        let path = dir.join(format!("{name}.zip"));
        let bytes = std::fs::read(&path).map_err(|_| DeployError::MissingArtifact { path: path.display().to_string() })?;
        let digest: String = Sha256::digest(&bytes).iter().take(12).map(|b| format!("{b:02x}")).collect();
        let key = format!("lambda/{name}-{digest}.zip");
        let exists = aws.s3.head_object().bucket(&bucket).key(&key).send().await.is_ok();
        if !exists && !dry_run {
            aws.s3.put_object().bucket(&bucket).key(&key).body(bytes.into()).send().await.map_err(|e| failed(&format!("s3:PutObject s3://{bucket}/{key}"), e))?;
            new.push(key.clone());
        }
        keys.push(key);
    }
    Ok(Uploaded { bucket, api_key: keys[0].clone(), trigger_key: keys[1].clone(), new })
}

async fn ensure_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
    if aws.s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let mut create = aws.s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that refuses a location constraint.
    if aws.region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(aws.region.as_str())).build(),
        );
    }
    create.send().await.map_err(|e| failed(&format!("s3:CreateBucket {bucket}"), e))?;
    aws.s3
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| failed(&format!("s3:PutPublicAccessBlock {bucket}"), e))?;
    Ok(())
}

/// Empties and removes the artifacts bucket (on `destroy`).
pub async fn remove_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
    crate::buckets::empty_and_delete(aws, bucket).await
}

fn fingerprint_key(stack: &str) -> String {
    format!("stacks/{stack}/last-deploy.sha256")
}

pub async fn recorded_fingerprint(aws: &Aws, stack: &str) -> Option<String> {
    let bucket = bucket_name(stack, &aws.account, &aws.region);
    let out = aws.s3.get_object().bucket(&bucket).key(fingerprint_key(stack)).send().await.ok()?;
    let bytes = out.body.collect().await.ok()?.into_bytes();
    String::from_utf8(bytes.to_vec()).ok()
}

fn parameters_key(stack: &str) -> String {
    format!("stacks/{stack}/last-deploy-parameters.json")
}

/// The parameters of the last successful deploy, for the plan's
/// before → after (the emulator's DescribeStacks keeps the first ones).
pub async fn recorded_parameters(aws: &Aws, stack: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let bucket = bucket_name(stack, &aws.account, &aws.region);
    let out = aws.s3.get_object().bucket(&bucket).key(parameters_key(stack)).send().await.ok()?;
    serde_json::from_slice(&out.body.collect().await.ok()?.into_bytes()).ok()
}

pub async fn record_deploy(aws: &Aws, stack: &str, fingerprint: &str, parameters: &std::collections::BTreeMap<String, String>) -> anyhow::Result<()> {
    let bucket = bucket_name(stack, &aws.account, &aws.region);
    for (key, body) in [(fingerprint_key(stack), fingerprint.as_bytes().to_vec()), (parameters_key(stack), serde_json::to_vec(parameters)?)] {
        aws.s3.put_object().bucket(&bucket).key(&key).body(body.into()).send().await.map_err(|e| failed(&format!("s3:PutObject s3://{bucket}/{key}"), e))?;
    }
    Ok(())
}
