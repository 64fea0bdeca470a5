use crate::aws::{Aws, failed};

/// Deletes every object (and version) in `bucket`, then the bucket.
pub async fn empty_and_delete(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
    if aws.s3.head_bucket().bucket(bucket).send().await.is_err() {
        return Ok(());
    }
    let mut pages = aws.s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failed(&format!("s3:ListObjectsV2 {bucket}"), e))?;
        for obj in page.contents() {
            if let Some(key) = obj.key() {
                aws.s3.delete_object().bucket(bucket).key(key).send().await.map_err(|e| failed(&format!("s3:DeleteObject {bucket}/{key}"), e))?;
            }
        }
    }
    aws.s3.delete_bucket().bucket(bucket).send().await.map_err(|e| failed(&format!("s3:DeleteBucket {bucket}"), e))?;
    Ok(())
}
