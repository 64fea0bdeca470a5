use crate::aws::{Aws, failed};
use crate::config::Settings;
use crate::errors::DeployError;
use crate::progress::ResourceProgress;

#[derive(Debug, serde::Serialize)]
pub struct DestroyReport {
    pub stack: String,
    pub deleted: bool,
    pub results_bucket: String,
    pub results_deleted: bool,
    /// Never deleted here: every stage's task definitions pin its images.
    pub image_repository: String,
}

pub async fn destroy(aws: &Aws, settings: &Settings, delete_results: bool) -> anyhow::Result<DestroyReport> {
    let n = &settings.names;
    if crate::stack::describe(aws, &n.stack).await?.is_none() {
        return Err(DeployError::NotDeployed { stack: n.stack.clone(), region: aws.region.clone() }.into());
    }
    let since = aws_smithy_types::DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() - 5);
    aws.cfn.delete_stack().stack_name(&n.stack).send().await.map_err(|e| failed("cloudformation:DeleteStack", e))?;
    let mut progress = ResourceProgress::on_stderr();
    crate::execute::stack::follow(aws, &n.stack, since, &mut progress).await?;
    progress.finish();
    // The bucket is retained by the stack (DeletionPolicy: Retain).
    if delete_results {
        crate::buckets::empty_and_delete(aws, &n.bucket).await?;
    }
    crate::execute::artifacts::remove_bucket(aws, &crate::artifacts::bucket_name(&n.stack, &aws.account, &aws.region)).await?;
    Ok(DestroyReport {
        stack: n.stack.clone(),
        deleted: true,
        results_bucket: n.bucket.clone(),
        results_deleted: delete_results,
        image_repository: settings.image_repository.clone(),
    })
}
