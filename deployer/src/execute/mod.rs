//! The executor: carries out a plan's steps in order, reporting each, and
//! stops at the first that fails (what ran is said, what did not is not
//! half-done). Every call that changes AWS during a deploy or rollback is in
//! this module's children, each named for what it changes.

pub mod artifacts;
pub mod functions;
pub mod queue;
pub mod record;
pub mod stack;
pub mod switch;

use crate::aws::Aws;
use crate::config::Names;
use crate::consumers::ServiceCounts;
use crate::plan::{Plan, Step};
use crate::progress::ResourceProgress;
use stack::ChangeSet;
use std::collections::BTreeMap;

/// What the steps did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Outcome {
    /// Each step carried out, as the plan words it.
    pub done: Vec<String>,
    /// After an executed change set.
    pub stack_status: Option<String>,
    pub uploaded: Vec<String>,
    pub hotswapped: Vec<String>,
    pub queue_fixed: Vec<String>,
    pub trigger_env_fixed: Vec<String>,
    pub stack_changed: bool,
    pub legacy_service: Option<ServiceCounts>,
    pub trigger_state: Option<String>,
}

/// Runs `steps`; `change_set` is the one made for the plan's
/// `ExecuteChangeSet` step, `parameters` what `RecordDeploy` records.
pub async fn run(
    aws: &Aws,
    names: &Names,
    steps: &[Step],
    change_set: Option<&ChangeSet>,
    parameters: &BTreeMap<String, String>,
    progress: &mut ResourceProgress,
) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    for step in steps {
        progress.note(&format!("→ {step}"));
        match step {
            Step::CreateArtifactsBucket { bucket } => artifacts::create_bucket(aws, bucket).await?,
            Step::UploadArtifact { name, path, bucket, key } => {
                artifacts::upload(aws, bucket, key, name, path).await?;
                out.uploaded.push(key.clone());
            }
            Step::ExecuteChangeSet { .. } => {
                let Some(cs) = change_set else { anyhow::bail!("internal: the plan executes a change set that was not made") };
                out.stack_status = Some(stack::execute(aws, cs, progress).await?);
                out.stack_changed = true;
            }
            Step::UpdateFunctionCode { function, bucket, key } => {
                functions::update_code(aws, function, bucket, key).await?;
                out.hotswapped.push(function.clone());
            }
            Step::RecordDeploy { stack, fingerprint } => record::write(aws, stack, fingerprint, parameters).await?,
            Step::AlignAdoptedQueue { url, attributes } => {
                queue::set_attributes(aws, url, attributes).await?;
                out.queue_fixed = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            }
            Step::TriggerEnvironment { function, expected, .. } => out.trigger_env_fixed = functions::align_environment(aws, function, expected).await?,
            Step::ScaleLegacyService { to, .. } => out.legacy_service = switch::set_service(aws, names, *to).await?,
            Step::DrainLegacyService { .. } => {
                out.legacy_service = switch::drain(&aws.ecs, names, switch::DRAIN_TIMEOUT, std::time::Duration::from_secs(5)).await?;
            }
            Step::EnableTrigger { .. } => out.trigger_state = Some(switch::set_trigger(aws, names, true).await?),
            Step::DisableTrigger { .. } => out.trigger_state = Some(switch::set_trigger(aws, names, false).await?),
        }
        out.done.push(step.to_string());
    }
    Ok(out)
}

/// Runs a whole deploy plan (its change set, if any, already made and reviewed).
pub async fn deploy(aws: &Aws, names: &Names, plan: &Plan, change_set: Option<&ChangeSet>, progress: &mut ResourceProgress) -> anyhow::Result<Outcome> {
    if plan.steps.is_empty() {
        progress.note(&format!("stack {} is up to date, and the system on-demand: nothing to do", plan.stack));
    } else if plan.steps.iter().all(Step::switches) {
        progress.note(&format!("stack {} is up to date", plan.stack));
    }
    run(aws, names, &plan.steps, change_set, &plan.parameters, progress).await
}
