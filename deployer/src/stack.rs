//! The CloudFormation stack: plan through a change set, execute, follow its
//! events, and say which resource failed and why.

use crate::aws::{Aws, failed};
use crate::errors::DeployError;
use crate::progress::ResourceProgress;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, Stack, TemplateStage};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Planned {
    NoChanges,
    ChangeSet { name: String, create: bool, changes: Vec<Change> },
}

pub async fn describe(aws: &Aws, stack: &str) -> anyhow::Result<Option<Stack>> {
    match aws.cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(e) if job_store::aws::describe(&e).contains("does not exist") => Ok(None),
        Err(e) => Err(failed(&format!("cloudformation:DescribeStacks {stack}"), e)),
    }
}

pub async fn resource_ids(aws: &Aws, stack: &str) -> anyhow::Result<Vec<String>> {
    let out = aws.cfn.list_stack_resources().stack_name(stack).send().await.map_err(|e| failed("cloudformation:ListStackResources", e))?;
    Ok(out.stack_resource_summaries().iter().filter_map(|r| r.logical_resource_id().map(str::to_owned)).collect())
}

/// The template the stack was last deployed with, as it was given.
pub async fn deployed_template(aws: &Aws, stack_name: &str) -> anyhow::Result<Option<String>> {
    let current = aws.cfn.get_template().stack_name(stack_name).template_stage(TemplateStage::Original).send().await.map_err(|e| failed("cloudformation:GetTemplate", e))?;
    Ok(current.template_body().map(str::to_owned))
}

/// Refuses a stack that cannot take a change set, saying what to do instead.
fn check_updatable(stack: &Stack) -> Result<bool, DeployError> {
    let status = stack.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
    let bad = |help: &str| Err(DeployError::StackInBadState { stack: stack.stack_name().unwrap_or_default().into(), status: status.clone(), help: help.into() });
    match status.as_str() {
        "REVIEW_IN_PROGRESS" => Ok(false),
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "DELETE_FAILED" => {
            bad("its creation failed and was rolled back; run `deploy destroy`, fix the cause shown in its events, then `deploy`")
        }
        "UPDATE_ROLLBACK_FAILED" => bad("run `aws cloudformation continue-update-rollback --stack-name <stack>`, then `deploy` again"),
        s if s.ends_with("_IN_PROGRESS") => bad("another operation is running on it; wait for it to finish (`deploy status`), then run `deploy` again"),
        _ => Ok(true),
    }
}

/// What a deploy of this template and these parameters is, in one word: the
/// last successful deploy's is recorded beside the artifacts.
pub fn fingerprint(template: &str, params: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(template.trim().as_bytes());
    for (k, v) in params {
        h.update(format!("\n{k}={v}").as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `recorded`: the fingerprint of the last successful deploy, if any.
pub async fn plan(aws: &Aws, stack_name: &str, template: &str, params: &BTreeMap<String, String>, recorded: Option<&str>) -> anyhow::Result<Planned> {
    let existing = describe(aws, stack_name).await?;
    let update = match &existing {
        None => false,
        Some(stack) => check_updatable(stack)?,
    };
    if update && let Some(stack) = &existing {
        // The same template and parameters as deployed: nothing to do, and no
        // change set to create (the emulator would not refuse an empty one).
        let current = deployed_template(aws, stack_name).await?;
        let deployed: BTreeMap<String, String> =
            stack.parameters().iter().filter_map(|p| Some((p.parameter_key()?.to_owned(), p.parameter_value().unwrap_or_default().to_owned()))).collect();
        if current.as_deref().map(str::trim) == Some(template.trim()) && &deployed == params {
            return Ok(Planned::NoChanges);
        }
        // The emulator keeps a stack's old parameters after an update
        // (partial updates, MOTO.md), so the comparison above misses there;
        // the recorded fingerprint of the last successful deploy does not.
        if recorded == Some(fingerprint(template, params).as_str()) {
            return Ok(Planned::NoChanges);
        }
    }
    // Unique per call: two plans in one second (a plan then `plan --json`,
    // two CI jobs) made one name twice, and discarding one left the other.
    let name = format!("deploy-{}-{}", time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000, std::process::id());
    let parameters: Vec<Parameter> = params.iter().map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build()).collect();
    aws.cfn
        .create_change_set()
        .stack_name(stack_name)
        .change_set_name(&name)
        .change_set_type(if update { ChangeSetType::Update } else { ChangeSetType::Create })
        .template_body(template)
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityIam)
        .description("deploy: on-demand solver pipeline")
        .send()
        .await
        .map_err(|e| failed("cloudformation:CreateChangeSet", e))?;

    let mut changes = Vec::new();
    for _ in 0..600 {
        let out = aws.cfn.describe_change_set().stack_name(stack_name).change_set_name(&name).send().await.map_err(|e| failed("cloudformation:DescribeChangeSet", e))?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                for c in out.changes() {
                    if let Some(rc) = c.resource_change() {
                        changes.push(Change {
                            action: rc.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                            logical_id: rc.logical_resource_id().unwrap_or_default().to_owned(),
                            resource_type: rc.resource_type().unwrap_or_default().to_owned(),
                            replacement: rc.replacement().map(|r| r.as_str().to_owned()),
                        });
                    }
                }
                return Ok(Planned::ChangeSet { name, create: !update, changes });
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or("no reason given").to_owned();
                let _ = aws.cfn.delete_change_set().stack_name(stack_name).change_set_name(&name).send().await;
                if reason.contains("didn't contain changes") || reason.contains("No updates are to be performed") {
                    return Ok(Planned::NoChanges);
                }
                return Err(DeployError::ChangeSetFailed { stack: stack_name.into(), reason }.into());
            }
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    anyhow::bail!("change set {name} was not ready after 10 minutes")
}

/// Drops a change set that was only shown (`deploy plan`), so that a stack
/// created by a plan alone does not linger in REVIEW_IN_PROGRESS.
pub async fn discard(aws: &Aws, stack_name: &str, change_set: &str, create: bool) -> anyhow::Result<()> {
    aws.cfn.delete_change_set().stack_name(stack_name).change_set_name(change_set).send().await.map_err(|e| failed("cloudformation:DeleteChangeSet", e))?;
    if create {
        aws.cfn.delete_stack().stack_name(stack_name).send().await.map_err(|e| failed("cloudformation:DeleteStack", e))?;
    }
    Ok(())
}

pub async fn execute(aws: &Aws, stack_name: &str, change_set: &str, progress: &mut ResourceProgress) -> anyhow::Result<String> {
    let started = aws_smithy_types::DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() - 5);
    aws.cfn.execute_change_set().stack_name(stack_name).change_set_name(change_set).send().await.map_err(|e| failed("cloudformation:ExecuteChangeSet", e))?;
    follow(aws, stack_name, started, progress).await
}

/// Shows events until the stack settles; the final status, or the failures.
pub async fn follow(aws: &Aws, stack_name: &str, since: aws_smithy_types::DateTime, progress: &mut ResourceProgress) -> anyhow::Result<String> {
    let mut seen = HashSet::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    loop {
        let stack = describe(aws, stack_name).await?;
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
