//! The commands that change the system, each as facts → plan → execution:
//! `deploy` (and `deploy plan`, which stops before executing) and
//! `deploy rollback`. What they print is read after the steps ran.

use crate::aws::Aws;
use crate::config::Settings;
use crate::consumers::{self, Mode, ServiceCounts};
use crate::discover::{Existing, Network};
use crate::execute::{self, stack::ChangeSet};
use crate::image::Image;
use crate::plan::{self, Plan, StackChange};
use crate::progress::ResourceProgress;
use crate::stack::Change;
use crate::{facts, repository};
use std::path::Path;

/// The plan, with its change set made (so AWS's list of resource changes is
/// in it) and still waiting; `None` when the stack needs none.
async fn prepare(aws: &Aws, settings: &Settings, artifacts_dir: &Path, template: &str, hotswap: bool) -> anyhow::Result<(Plan, Option<ChangeSet>)> {
    let facts = facts::gather(aws, settings, artifacts_dir).await?;
    let mut plan = plan::compute(settings, &facts, template, hotswap)?;
    let change_set = match plan.stack_change {
        StackChange::ChangeSet { create } => execute::stack::create(aws, &plan.stack, template, &plan.parameters, create).await?,
        StackChange::UpToDate | StackChange::Hotswap { .. } => None,
    };
    plan.review(change_set.as_ref());
    Ok((plan, change_set))
}

/// `deploy plan`: the plan, not executed (its change set deleted again).
pub async fn plan(aws: &Aws, settings: &Settings, artifacts_dir: &Path, template: &str, hotswap: bool) -> anyhow::Result<Plan> {
    let (plan, change_set) = prepare(aws, settings, artifacts_dir, template, hotswap).await?;
    if let Some(cs) = &change_set {
        execute::stack::discard(aws, cs).await?;
    }
    Ok(plan)
}

#[derive(Debug, serde::Serialize)]
pub struct DeployReport {
    pub stack: String,
    pub region: String,
    pub stack_status: Option<String>,
    pub changed: bool,
    pub changes: Vec<Change>,
    /// Functions whose code `--hotswap` updated directly, without a change set.
    pub hotswapped: Vec<String>,
    pub uploaded: Vec<String>,
    /// Every step carried out, in order.
    pub steps: Vec<String>,
    pub image: Image,
    pub image_repository: repository::Facts,
    pub task_definition: Option<String>,
    pub network: Network,
    pub adopted: Existing,
    pub api_url: Option<String>,
    pub api_public: bool,
    pub queue_url: Option<String>,
    pub bucket: String,
    pub trigger_env_fixed: Vec<String>,
    /// Attributes set on an adopted job queue.
    pub queue_fixed: Vec<String>,
    pub trigger_state: Option<String>,
    pub legacy_service: Option<ServiceCounts>,
    pub mode: Mode,
    pub roles: Vec<RoleInfo>,
}

/// A role the stack made and its inline policies, for a reviewer's eye.
#[derive(Debug, serde::Serialize)]
pub struct RoleInfo {
    pub logical_id: String,
    pub role_name: String,
    pub inline_policies: Vec<String>,
}

async fn roles(aws: &Aws, stack_name: &str) -> anyhow::Result<Vec<RoleInfo>> {
    let out = aws.cfn.list_stack_resources().stack_name(stack_name).send().await.map_err(|e| crate::aws::failed("cloudformation:ListStackResources", e))?;
    let mut roles = Vec::new();
    for r in out.stack_resource_summaries().iter().filter(|r| r.resource_type() == Some("AWS::IAM::Role")) {
        let name = r.physical_resource_id().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
        // Shown, not fatal: the stack is already deployed, and a deployer that
        // works through a CloudFormation service role may lack this read.
        let policies = match aws.iam.list_role_policies().role_name(&name).send().await {
            Ok(p) => p.policy_names().to_vec(),
            Err(e) => vec![format!("(could not list: {:#})", crate::aws::failed("iam:ListRolePolicies", e))],
        };
        roles.push(RoleInfo { logical_id: r.logical_resource_id().unwrap_or_default().to_owned(), role_name: name, inline_policies: policies });
    }
    Ok(roles)
}

/// The task definition revision the family runs now (`family:N`).
async fn task_definition(aws: &Aws, family: &str) -> Option<String> {
    let out = aws.ecs.describe_task_definition().task_definition(family).send().await.ok()?;
    let td = out.task_definition()?;
    Some(format!("{}:{}", td.family()?, td.revision()))
}

pub async fn deploy(aws: &Aws, settings: &Settings, artifacts_dir: &Path, template: &str, yes: bool, hotswap: bool) -> anyhow::Result<DeployReport> {
    let names = &settings.names;
    let mut progress = ResourceProgress::on_stderr();
    let (plan, change_set) = prepare(aws, settings, artifacts_dir, template, hotswap).await?;
    for note in &plan.notes {
        progress.note(note);
    }
    if !plan.needs_confirmation.is_empty()
        && let Err(refused) = crate::confirm(yes, &format!("deploy stack {}, which {}", plan.stack, plan.needs_confirmation.join("; and ")))
    {
        // Nothing of the refused plan is left behind.
        if let Some(cs) = &change_set {
            execute::stack::discard(aws, cs).await?;
        }
        return Err(refused);
    }
    let outcome = execute::deploy(aws, names, &plan, change_set.as_ref(), &mut progress).await?;
    progress.finish();

    // What was deployed, as it is now.
    let consumers = consumers::read(aws, names).await?;
    let stack_status = match &outcome.stack_status {
        Some(s) => Some(s.clone()),
        None => crate::stack::describe(aws, names.stack.as_str()).await?.and_then(|s| s.stack_status().map(|s| s.as_str().to_owned())),
    };
    Ok(DeployReport {
        stack: plan.stack.clone(),
        region: plan.region.clone(),
        stack_status,
        changed: outcome.stack_changed || !outcome.hotswapped.is_empty() || !outcome.trigger_env_fixed.is_empty() || !outcome.queue_fixed.is_empty(),
        changes: plan.changes.clone().unwrap_or_default(),
        hotswapped: outcome.hotswapped,
        uploaded: outcome.uploaded,
        steps: outcome.done,
        image: plan.image.clone(),
        image_repository: plan.image_repository.clone(),
        task_definition: task_definition(aws, &names.task_family).await,
        network: plan.network.clone(),
        adopted: plan.adopted.clone(),
        api_url: crate::discover::api_url(aws, &names.api_function).await,
        api_public: settings.api_public,
        queue_url: crate::queues::url_of(aws, &names.queue).await?,
        bucket: names.bucket.clone(),
        trigger_env_fixed: outcome.trigger_env_fixed,
        queue_fixed: outcome.queue_fixed,
        trigger_state: consumers.mapping.as_ref().map(|m| m.state.clone()),
        mode: consumers.mode(),
        legacy_service: consumers.service,
        roles: roles(aws, &names.stack).await?,
    })
}

#[derive(Debug, serde::Serialize)]
pub struct SwitchReport {
    pub mode: Mode,
    pub steps: Vec<String>,
    pub trigger_state: Option<String>,
    pub legacy_service: Option<ServiceCounts>,
}

/// `deploy rollback`: the trigger off first, then one polling worker, so
/// that at no moment do both consume the queue.
pub async fn rollback(aws: &Aws, settings: &Settings) -> anyhow::Result<SwitchReport> {
    let names = &settings.names;
    let steps = plan::rollback(names, &consumers::read(aws, names).await?)?;
    let mut progress = ResourceProgress::on_stderr();
    let outcome = execute::run(aws, names, &steps, None, &Default::default(), &mut progress).await?;
    progress.finish();
    let after = consumers::read(aws, names).await?;
    Ok(SwitchReport { mode: after.mode(), steps: outcome.done, trigger_state: after.mapping.map(|m| m.state), legacy_service: after.service })
}
