//! The deployer's artifacts bucket and the Lambda zips in it.

use crate::aws::{Aws, failed};

pub async fn create_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
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

/// Uploads the zip at `path` under `key`, refusing a file that changed
/// since the plan named it by its content.
pub async fn upload(aws: &Aws, bucket: &str, key: &str, name: &str, path: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("failed to read {path}: {e}"))?;
    anyhow::ensure!(crate::artifacts::key_of(name, &bytes) == key, "{path} changed after the plan was made: run `deploy` again");
    aws.s3.put_object().bucket(bucket).key(key).body(bytes.into()).send().await.map_err(|e| failed(&format!("s3:PutObject s3://{bucket}/{key}"), e))?;
    Ok(())
}

/// Empties and removes the artifacts bucket (on `destroy`).
pub async fn remove_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
    crate::buckets::empty_and_delete(aws, bucket).await
}
