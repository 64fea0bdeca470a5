//! `deploy` and `deploy plan`: compute the whole plan first (network,
//! artifacts, parameters, change set), then execute it and the post-steps.

use crate::aws::Aws;
use crate::config::Settings;
use crate::discover::{self, Existing, Network};
use crate::image::{self, Image};
use crate::progress::ResourceProgress;
use crate::review::{self, SettingChange};
use crate::stack::{self, Change, Planned};
use crate::switch::{self, Mode, ServiceCounts};
use crate::{artifacts, hotswap, repository, template};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, serde::Serialize)]
pub struct PlanReport {
    pub stack: String,
    pub region: String,
    pub image: Image,
    pub image_repository: repository::Facts,
    pub network: Network,
    pub adopted: Existing,
    pub changes: Option<Vec<Change>>,
    /// The stack's parameters that change, before → after, and their users.
    pub settings: Vec<SettingChange>,
    /// What `deploy` would ask the operator to confirm (refused without `--yes` off a terminal).
    pub needs_confirmation: Vec<String>,
    /// The consumers now; `deploy` leaves the system on-demand.
    pub mode: Mode,
    /// What `deploy` would switch, besides the stack (empty: nothing).
    pub switch: Vec<String>,
}

impl PlanReport {
    /// Whether `deploy` would change anything: the stack, or the mode.
    pub fn pending(&self) -> bool {
        self.changes.is_some() || !self.switch.is_empty()
    }
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
    pub image: Image,
    pub image_repository: repository::Facts,
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

struct Prepared {
    network: Network,
    adopted: Existing,
    image: Image,
    image_repository: repository::Facts,
    params: BTreeMap<String, String>,
    uploaded: Vec<String>,
}

async fn prepare(aws: &Aws, settings: &Settings, artifacts_dir: &Path, dry_run: bool) -> anyhow::Result<Prepared> {
    let network = discover::network(aws, settings).await?;
    let in_stack = match stack::describe(aws, &settings.names.stack).await? {
        Some(_) => stack::resource_ids(aws, &settings.names.stack).await?,
        None => Vec::new(),
    };
    let adopted = discover::existing_outside_stack(aws, settings, &in_stack).await?;
    // Before anything is uploaded or changed: a worker image that cannot be
    // pulled is refused here, not found out at the first job.
    let requested = settings.worker_image.clone().unwrap_or_else(|| image::default_image(aws, &settings.image_repository));
    let image = image::resolve(aws, &requested).await?;
    let image_repository = repository::facts(aws, settings).await?;
    let uploaded = artifacts::upload(aws, &settings.names.stack, artifacts_dir, dry_run).await?;
    let params = template::parameters(settings, &network, &adopted, &uploaded, &image.pinned);
    Ok(Prepared { network, adopted, image, image_repository, params, uploaded: uploaded.new })
}

/// The consumers' names as the last deploy set them (its recorded
/// parameters), else the configured ones.
fn deployed_names(names: &crate::config::Names, recorded: Option<&std::collections::BTreeMap<String, String>>) -> crate::config::Names {
    let mut current = names.clone();
    if let Some(p) = recorded {
        for (key, name) in [
            ("QueueName", &mut current.queue),
            ("TriggerFunctionName", &mut current.trigger_function),
            ("ClusterName", &mut current.cluster),
            ("ServiceName", &mut current.service),
        ] {
            if let Some(v) = p.get(key) {
                v.clone_into(name);
            }
        }
    }
    current
}

pub async fn plan(aws: &Aws, settings: &Settings, artifacts_dir: &Path, template_body: &str) -> anyhow::Result<PlanReport> {
    let p = prepare(aws, settings, artifacts_dir, true).await?;
    let recorded = artifacts::recorded_fingerprint(aws, &settings.names.stack).await;
    let (changes, review) = match stack::plan(aws, &settings.names.stack, template_body, &p.params, recorded.as_deref()).await? {
        Planned::NoChanges => (None, (Vec::new(), Vec::new())),
        Planned::ChangeSet { name, create, changes } => {
            stack::discard(aws, &settings.names.stack, &name, create).await?;
            let review = review_of(aws, settings, template_body, &p.params, create, &changes).await?;
            (Some(changes), review)
        }
    };
    let (setting_changes, needs_confirmation) = review;
    let names = &settings.names;
    // What consumes the queue now is found under the last deploy's names: a
    // renamed queue or trigger does not exist yet under the new ones.
    let current = deployed_names(names, artifacts::recorded_parameters(aws, &names.stack).await.as_ref());
    let (mapping, service) = (switch::mapping(aws, &current).await?, switch::service(aws, &current).await?);
    let mode = switch::mode(mapping.as_ref(), service.as_ref());
    let mut to_switch = Vec::new();
    if let Some(s) = service.as_ref().filter(|s| s.desired != 0) {
        to_switch.push(format!("scale the legacy service {} from {} to 0", names.service, s.desired));
    }
    match &mapping {
        Some(m) if m.state != "Enabled" => to_switch.push(format!("enable the trigger's mapping ({})", m.state)),
        None => to_switch.push("enable the trigger's mapping (created by the stack)".to_owned()),
        Some(_) => {}
    }
    Ok(PlanReport {
        stack: names.stack.clone(),
        region: aws.region.clone(),
        image: p.image,
        image_repository: p.image_repository,
        network: p.network,
        adopted: p.adopted,
        changes,
        settings: setting_changes,
        needs_confirmation,
        mode,
        switch: to_switch,
    })
}

/// The settings that change and what needs a yes, for a planned change set.
async fn review_of(
    aws: &Aws,
    settings: &Settings,
    template_body: &str,
    params: &BTreeMap<String, String>,
    create: bool,
    changes: &[Change],
) -> anyhow::Result<(Vec<SettingChange>, Vec<String>)> {
    let before = match artifacts::recorded_parameters(aws, &settings.names.stack).await {
        Some(recorded) => recorded,
        None if create => BTreeMap::new(),
        None => stack::describe(aws, &settings.names.stack)
            .await?
            .map(|s| s.parameters().iter().filter_map(|p| Some((p.parameter_key()?.to_owned(), p.parameter_value().unwrap_or_default().to_owned()))).collect())
            .unwrap_or_default(),
    };
    let setting_changes = review::setting_changes(&before, params, template_body);
    let needs = review::confirmations(create, changes, &setting_changes, template_body);
    Ok((setting_changes, needs))
}

/// `Some`: the functions to update directly; `None`: a change set is needed
/// (and the reason was shown).
async fn hotswap_plan(
    aws: &Aws,
    settings: &Settings,
    template_body: &str,
    params: &BTreeMap<String, String>,
    progress: &ResourceProgress,
) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let stack_name = &settings.names.stack;
    let deployed = match stack::describe(aws, stack_name).await? {
        Some(_) => stack::deployed_template(aws, stack_name).await?,
        None => None,
    };
    let before = artifacts::recorded_parameters(aws, stack_name).await;
    let unchanged = deployed.as_deref().map(str::trim) == Some(template_body.trim());
    match hotswap::decide(&settings.names, before.as_ref(), unchanged, params) {
        hotswap::Decision::Code(code) => Ok(Some(code)),
        hotswap::Decision::ChangeSet(why) => {
            progress.note(&format!("no hotswap: {why}; deploying through a change set"));
            Ok(None)
        }
    }
}

pub async fn deploy(aws: &Aws, settings: &Settings, artifacts_dir: &Path, template_body: &str, yes: bool, hotswap: bool) -> anyhow::Result<DeployReport> {
    let names = &settings.names;
    let p = prepare(aws, settings, artifacts_dir, false).await?;
    let mut progress = ResourceProgress::on_stderr();
    let recorded = artifacts::recorded_fingerprint(aws, &names.stack).await;
    let swap = if hotswap { hotswap_plan(aws, settings, template_body, &p.params, &progress).await? } else { None };
    let mut hotswapped = Vec::new();
    let planned = match swap {
        Some(code) => {
            progress.note(&format!("hotswap: updating the code of {} function(s), no change set", code.len()));
            let bucket = artifacts::bucket_name(&names.stack, &aws.account, &aws.region);
            hotswapped = hotswap::update(aws, &bucket, &code).await?;
            artifacts::record_deploy(aws, &names.stack, &stack::fingerprint(template_body, &p.params), &p.params).await?;
            Planned::NoChanges
        }
        None => stack::plan(aws, &names.stack, template_body, &p.params, recorded.as_deref()).await?,
    };
    let (changed, changes, stack_status) = match planned {
        Planned::NoChanges => {
            if hotswapped.is_empty() {
                progress.note(&format!("stack {} is up to date", names.stack));
            }
            (false, Vec::new(), stack::describe(aws, &names.stack).await?.and_then(|s| s.stack_status().map(|s| s.as_str().to_owned())))
        }
        Planned::ChangeSet { name, create, changes } => {
            let (_, needs) = review_of(aws, settings, template_body, &p.params, create, &changes).await?;
            if !needs.is_empty()
                && let Err(refused) = crate::confirm(yes, &format!("deploy stack {}, which {}", names.stack, needs.join("; and ")))
            {
                // Nothing of the refused plan is left behind.
                stack::discard(aws, &names.stack, &name, create).await?;
                return Err(refused);
            }
            progress.note(&format!("{} stack {} ({} changes)", if create { "creating" } else { "updating" }, names.stack, changes.len()));
            let status = stack::execute(aws, &names.stack, &name, &mut progress).await?;
            artifacts::record_deploy(aws, &names.stack, &stack::fingerprint(template_body, &p.params), &p.params).await?;
            (true, changes, Some(status))
        }
    };

    // Post-steps: always run, so a deploy also repairs drift and switches
    // the system (back) to on-demand.
    let queue_url = switch::queue_url(aws, names).await?;
    let queue_fixed = match &p.adopted.queue {
        Some(q) => crate::adopted_queue::align(aws, settings, &q.url).await?,
        None => Vec::new(),
    };
    let expected_env = [
        ("ECS_CLUSTER", names.cluster.clone()),
        ("ECS_TASK_DEFINITION", names.task_family.clone()),
        ("ECS_SUBNETS", p.network.subnets.join(",")),
        ("ECS_SECURITY_GROUPS", p.network.security_groups.join(",")),
        ("S3_RESULTS_BUCKET", names.bucket.clone()),
    ];
    let trigger_env_fixed = switch::verify_trigger_environment(aws, names, &expected_env).await?;
    // The service down first, then the trigger on: at no moment do both
    // consume the queue (the mirror of `rollback`).
    let legacy_service = match switch::set_service(aws, names, 0).await? {
        Some(s) if s.running > 0 || s.pending > 0 => {
            progress.note(&format!("waiting for the legacy service's {} task(s) to stop before enabling the trigger", s.running + s.pending));
            switch::drain(&aws.ecs, names, switch::DRAIN_TIMEOUT, std::time::Duration::from_secs(5)).await?
        }
        counts => counts,
    };
    let trigger_state = switch::set_trigger(aws, names, true).await?;
    progress.finish();
    let mapping = switch::mapping(aws, names).await?;
    Ok(DeployReport {
        stack: names.stack.clone(),
        region: aws.region.clone(),
        stack_status,
        changed: changed || !hotswapped.is_empty() || !trigger_env_fixed.is_empty() || !queue_fixed.is_empty(),
        hotswapped,
        changes,
        uploaded: p.uploaded,
        image: p.image,
        image_repository: p.image_repository,
        network: p.network,
        adopted: p.adopted,
        api_url: switch::api_url(aws, names).await,
        api_public: settings.api_public,
        queue_url,
        bucket: names.bucket.clone(),
        trigger_env_fixed,
        queue_fixed,
        trigger_state,
        mode: switch::mode(mapping.as_ref(), legacy_service.as_ref()),
        legacy_service,
        roles: roles(aws, &names.stack).await?,
    })
}

#[derive(Debug, serde::Serialize)]
pub struct SwitchReport {
    pub mode: Mode,
    pub trigger_state: Option<String>,
    pub legacy_service: Option<ServiceCounts>,
}

/// `deploy rollback`: the trigger off first, then one polling worker, so
/// that at no moment do both consume the queue.
pub async fn rollback(aws: &Aws, settings: &Settings) -> anyhow::Result<SwitchReport> {
    let names = &settings.names;
    // Both consumers checked before either is touched: a rollback with
    // nothing to roll back to leaves the trigger on, not the queue unread.
    anyhow::ensure!(
        switch::service(aws, names).await?.is_some(),
        "the legacy service {} is not in cluster {}: nothing to roll back to (the trigger stays on)",
        names.service,
        names.cluster
    );
    anyhow::ensure!(switch::mapping(aws, names).await?.is_some(), "no event source mapping for {} on {}: is the stack deployed?", names.trigger_function, names.queue);
    let trigger_state = switch::set_trigger(aws, names, false).await?;
    let legacy_service = switch::set_service(aws, names, 1).await?;
    let mapping = switch::mapping(aws, names).await?;
    Ok(SwitchReport { mode: switch::mode(mapping.as_ref(), legacy_service.as_ref()), trigger_state, legacy_service })
}
