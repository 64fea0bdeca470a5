//! Change sets: made (to read AWS's own list of resource changes), then
//! executed or discarded; the stack's events followed until it settles, and
//! which resource failed and why when it does not.

use crate::aws::{Aws, failed};
use crate::errors::DeployError;
use crate::progress::ResourceProgress;
use crate::stack::Change;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// A change set made and ready, not executed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChangeSet {
    pub stack: String,
    pub name: String,
    /// A new stack (it is deleted again with the change set when discarded).
    pub create: bool,
    pub changes: Vec<Change>,
}

/// Makes a change set; `None` when CloudFormation finds nothing to change.
pub async fn create(aws: &Aws, stack_name: &str, template: &str, params: &BTreeMap<String, String>, create: bool) -> anyhow::Result<Option<ChangeSet>> {
    // Unique per call: two plans in one second (a plan then `plan --json`,
    // two CI jobs) made one name twice, and discarding one left the other.
    let name = format!("deploy-{}-{}", time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000, std::process::id());
    let parameters: Vec<Parameter> = params.iter().map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build()).collect();
    aws.cfn
        .create_change_set()
        .stack_name(stack_name)
        .change_set_name(&name)
        .change_set_type(if create { ChangeSetType::Create } else { ChangeSetType::Update })
        .template_body(template)
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityIam)
        .description("deploy: on-demand solver pipeline")
        .send()
        .await
        .map_err(|e| failed("cloudformation:CreateChangeSet", e))?;

    for _ in 0..600 {
        let out = aws.cfn.describe_change_set().stack_name(stack_name).change_set_name(&name).send().await.map_err(|e| failed("cloudformation:DescribeChangeSet", e))?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                let changes = out
                    .changes()
                    .iter()
                    .filter_map(|c| c.resource_change())
                    .map(|rc| Change {
                        action: rc.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                        logical_id: rc.logical_resource_id().unwrap_or_default().to_owned(),
                        resource_type: rc.resource_type().unwrap_or_default().to_owned(),
                        replacement: rc.replacement().map(|r| r.as_str().to_owned()),
                    })
                    .collect();
                return Ok(Some(ChangeSet { stack: stack_name.to_owned(), name, create, changes }));
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or("no reason given").to_owned();
                let _ = aws.cfn.delete_change_set().stack_name(stack_name).change_set_name(&name).send().await;
                if reason.contains("didn't contain changes") || reason.contains("No updates are to be performed") {
                    return Ok(None);
                }
                return Err(DeployError::ChangeSetFailed { stack: stack_name.into(), reason }.into());
            }
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    anyhow::bail!("change set {name} was not ready after 10 minutes")
}

/// Drops a change set that was only shown (`deploy plan`) or refused, so
/// that a stack created by a plan alone does not linger in REVIEW_IN_PROGRESS.
pub async fn discard(aws: &Aws, change_set: &ChangeSet) -> anyhow::Result<()> {
    aws.cfn.delete_change_set().stack_name(&change_set.stack).change_set_name(&change_set.name).send().await.map_err(|e| failed("cloudformation:DeleteChangeSet", e))?;
    if change_set.create {
        aws.cfn.delete_stack().stack_name(&change_set.stack).send().await.map_err(|e| failed("cloudformation:DeleteStack", e))?;
    }
    Ok(())
}

/// Executes the change set and follows the stack until it settles.
pub async fn execute(aws: &Aws, change_set: &ChangeSet, progress: &mut ResourceProgress) -> anyhow::Result<String> {
    let started = aws_smithy_types::DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() - 5);
    aws.cfn.execute_change_set().stack_name(&change_set.stack).change_set_name(&change_set.name).send().await.map_err(|e| failed("cloudformation:ExecuteChangeSet", e))?;
    follow(aws, &change_set.stack, started, progress).await
}

/// Shows events until the stack settles; the final status, or the failures.
pub async fn follow(aws: &Aws, stack_name: &str, since: aws_smithy_types::DateTime, progress: &mut ResourceProgress) -> anyhow::Result<String> {
    let mut seen = HashSet::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    loop {
        let stack = crate::stack::describe(aws, stack_name).await?;
        if let Ok(out) = aws.cfn.describe_stack_events().stack_name(stack_name).send().await {
            let mut events: Vec<_> = out.stack_events().iter().filter(|e| e.timestamp().is_some_and(|t| t.secs() >= since.secs())).cloned().collect();
            events.reverse();
            for e in events {
                if !seen.insert(e.event_id().unwrap_or_default().to_owned()) {
                    continue;
                }
                let status = e.resource_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
                let id = e.logical_resource_id().unwrap_or_default();
                let reason = e.resource_status_reason().filter(|r| !r.is_empty());
                if status.ends_with("_FAILED") && id != stack_name {
                    failures.push((id.to_owned(), reason.unwrap_or("no reason given").to_owned()));
                }
                progress.resource(id, e.resource_type().unwrap_or_default(), &status, reason);
            }
        }
        let Some(stack) = stack else {
            return Ok("DELETE_COMPLETE".into());
        };
        let status = stack.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
        // Settled. The emulator reports CREATE_COMPLETE after an update
        // (MOTO.md); any settled, non-failed status is taken as done.
        if !status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS" {
            if status.contains("ROLLBACK") || status.ends_with("_FAILED") {
                if failures.is_empty() {
                    failures.push((stack_name.to_owned(), stack.stack_status_reason().unwrap_or("no reason given").to_owned()));
                }
                return Err(DeployError::StackFailed { stack: stack_name.into(), status, failures }.into());
            }
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
