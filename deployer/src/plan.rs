//! The plan: what `deploy` will do, computed purely from the facts and the
//! settings (no AWS call here), so that `deploy plan` prints exactly the
//! value `deploy` executes, and tests check plans without AWS.
//!
//! A plan is a list of steps in the order they run: the artifacts, the
//! stack (a change set, or `--hotswap`'s direct code updates), the record
//! of the deploy, what the stack cannot set (an adopted queue's attributes,
//! a drifted trigger environment), then the switch of the queue's consumers,
//! old one off before the new one on. The only part AWS computes is a change
//! set's list of resource changes: `Plan::review` takes it in, with what the
//! operator must confirm.

use crate::adopted_queue;
use crate::config::{Names, Settings};
use crate::consumers::{Consumers, Mode};
use crate::discover::{Existing, Network};
use crate::execute::stack::ChangeSet;
use crate::facts::Facts;
use crate::hotswap;
use crate::image::Image;
use crate::repository;
use crate::review::{self, SettingChange};
use crate::stack::{self, Change};
use std::collections::{BTreeMap, HashMap};

/// What happens to the stack.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StackChange {
    UpToDate,
    /// Only Lambda code changed and `--hotswap` was asked: these functions' code is updated directly.
    Hotswap {
        functions: Vec<String>,
    },
    /// Through a change set; `create` for a new stack.
    ChangeSet {
        create: bool,
    },
}

/// One thing `deploy` does, in order. Each names what it changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    CreateArtifactsBucket {
        bucket: String,
    },
    UploadArtifact {
        name: String,
        path: String,
        bucket: String,
        key: String,
    },
    ExecuteChangeSet {
        stack: String,
        create: bool,
    },
    UpdateFunctionCode {
        function: String,
        bucket: String,
        key: String,
    },
    RecordDeploy {
        stack: String,
        fingerprint: String,
    },
    AlignAdoptedQueue {
        url: String,
        attributes: Vec<(String, String)>,
    },
    /// The stack sets these; after a stack change they are checked (the
    /// emulator's updates are partial: MOTO.md), and a hand edit is put right.
    TriggerEnvironment {
        function: String,
        expected: BTreeMap<String, String>,
        drift: Vec<String>,
    },
    ScaleLegacyService {
        cluster: String,
        service: String,
        from: i32,
        to: i32,
    },
    /// Waits (at most `execute::switch::DRAIN_TIMEOUT`) until the legacy
    /// service runs no task: its polling workers hand their jobs back.
    DrainLegacyService {
        cluster: String,
        service: String,
    },
    EnableTrigger {
        function: String,
        queue: String,
        now: Option<String>,
    },
    DisableTrigger {
        function: String,
        queue: String,
        now: String,
    },
}

impl Step {
    /// A step of the switch between the queue's consumers.
    pub fn switches(&self) -> bool {
        matches!(self, Step::ScaleLegacyService { .. } | Step::DrainLegacyService { .. } | Step::EnableTrigger { .. } | Step::DisableTrigger { .. })
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::CreateArtifactsBucket { bucket } => write!(f, "create the artifacts bucket {bucket}"),
            Step::UploadArtifact { path, bucket, key, .. } => write!(f, "upload {path} to s3://{bucket}/{key}"),
            Step::ExecuteChangeSet { stack, create: true } => write!(f, "create stack {stack} through its change set"),
            Step::ExecuteChangeSet { stack, create: false } => write!(f, "update stack {stack} through its change set"),
            Step::UpdateFunctionCode { function, key, .. } => write!(f, "update the code of {function} to {key} (hotswap, no change set)"),
            Step::RecordDeploy { stack, .. } => write!(f, "record this deploy of {stack} (fingerprint and parameters)"),
            Step::AlignAdoptedQueue { url, attributes } => {
                write!(f, "set {} on the adopted queue {url}", attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "))
            }
            Step::TriggerEnvironment { function, drift, .. } if drift.is_empty() => write!(f, "check the environment of {function} after the stack change"),
            Step::TriggerEnvironment { function, drift, .. } => write!(f, "set {} on {function} (they differ from the stack's)", drift.join(", ")),
            Step::ScaleLegacyService { service, from, to, .. } => write!(f, "scale the legacy service {service} from {from} to {to}"),
            Step::DrainLegacyService { service, .. } => write!(f, "wait until the legacy service {service} runs no task (its workers hand their jobs back)"),
            Step::EnableTrigger { now: Some(state), .. } => write!(f, "enable the trigger's mapping ({state})"),
            Step::EnableTrigger { now: None, .. } => write!(f, "enable the trigger's mapping (created disabled by the stack)"),
            Step::DisableTrigger { now, .. } => write!(f, "disable the trigger's mapping ({now})"),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    pub stack: String,
    pub region: String,
    pub image: Image,
    pub image_repository: repository::Facts,
    pub network: Network,
    pub adopted: Existing,
    pub stack_change: StackChange,
    /// The change set's resource changes (after `review`); `None` when no change set runs.
    pub changes: Option<Vec<Change>>,
    /// The stack's parameters that change, before → after, and their users.
    pub settings: Vec<SettingChange>,
    /// What `deploy` asks the operator to confirm (refused without `--yes` off a terminal).
    pub needs_confirmation: Vec<String>,
    /// The consumers now; `deploy` leaves the system on-demand.
    pub mode: Mode,
    /// The switch steps, as text (also among `steps`).
    pub switch: Vec<String>,
    pub steps: Vec<Step>,
    /// Why the plan is as it is where that is not obvious (`--hotswap` not possible).
    pub notes: Vec<String>,
    #[serde(skip)]
    pub parameters: BTreeMap<String, String>,
    #[serde(skip)]
    pub template: String,
}

impl Plan {
    /// Whether `deploy` would change anything.
    pub fn pending(&self) -> bool {
        !self.steps.is_empty()
    }

    /// Takes in the change set AWS made for this plan (`None`: it found
    /// nothing to change) and works out what needs the operator's yes.
    pub fn review(&mut self, change_set: Option<&ChangeSet>) {
        let create = matches!(self.stack_change, StackChange::ChangeSet { create: true });
        match change_set {
            Some(cs) => {
                self.needs_confirmation = review::confirmations(create, &cs.changes, &self.settings, &self.template);
                self.changes = Some(cs.changes.clone());
            }
            None if matches!(self.stack_change, StackChange::ChangeSet { .. }) => {
                // The deploy is still recorded, so the next one knows without a change set.
                self.stack_change = StackChange::UpToDate;
                self.steps.retain(|s| match s {
                    Step::ExecuteChangeSet { .. } => false,
                    Step::TriggerEnvironment { drift, .. } => !drift.is_empty(),
                    _ => true,
                });
                self.notes.push("CloudFormation found nothing to change in the stack".into());
            }
            None => {}
        }
    }
}

/// The environment the trigger must have (the stack sets it; AWS_REGION is Lambda's own).
pub fn trigger_environment(names: &Names, network: &Network) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("ECS_CLUSTER".to_owned(), names.cluster.clone()),
        ("ECS_TASK_DEFINITION".to_owned(), names.task_family.clone()),
        ("ECS_SUBNETS".to_owned(), network.subnets.join(",")),
        ("ECS_SECURITY_GROUPS".to_owned(), network.security_groups.join(",")),
        ("S3_RESULTS_BUCKET".to_owned(), names.bucket.clone()),
    ])
}

/// The variables of `expected` that the function has otherwise.
pub fn environment_drift(have: &HashMap<String, String>, expected: &BTreeMap<String, String>) -> Vec<String> {
    expected.iter().filter(|(k, v)| have.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect()
}

/// The switch to on-demand: the legacy service down, its tasks gone, then
/// the trigger on; each only where the consumers are not so already.
pub fn switch_to_on_demand(names: &Names, consumers: &Consumers) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(s) = &consumers.service {
        if s.desired != 0 {
            steps.push(Step::ScaleLegacyService { cluster: names.cluster.clone(), service: names.service.clone(), from: s.desired, to: 0 });
        }
        if s.desired != 0 || s.running > 0 || s.pending > 0 {
            steps.push(Step::DrainLegacyService { cluster: names.cluster.clone(), service: names.service.clone() });
        }
    }
    match &consumers.mapping {
        Some(m) if m.state == "Enabled" => {}
        mapping => steps.push(Step::EnableTrigger { function: names.trigger_function.clone(), queue: names.queue.clone(), now: mapping.as_ref().map(|m| m.state.clone()) }),
    }
    steps
}

/// `deploy rollback`: the trigger off first, then one polling worker. Both
/// consumers are checked before either is touched: with nothing to roll
/// back to, the trigger stays on rather than the queue going unread.
pub fn rollback(names: &Names, consumers: &Consumers) -> anyhow::Result<Vec<Step>> {
    let Some(service) = &consumers.service else {
        anyhow::bail!("the legacy service {} is not in cluster {}: nothing to roll back to (the trigger stays on)", names.service, names.cluster)
    };
    let Some(mapping) = &consumers.mapping else { anyhow::bail!("no event source mapping for {} on {}: is the stack deployed?", names.trigger_function, names.queue) };
    let mut steps = Vec::new();
    if mapping.state != "Disabled" {
        steps.push(Step::DisableTrigger { function: names.trigger_function.clone(), queue: names.queue.clone(), now: mapping.state.clone() });
    }
    if service.desired != 1 {
        steps.push(Step::ScaleLegacyService { cluster: names.cluster.clone(), service: names.service.clone(), from: service.desired, to: 1 });
    }
    Ok(steps)
}

/// The plan for `deploy` (and `deploy plan`): pure.
pub fn compute(settings: &Settings, facts: &Facts, template: &str, hotswap: bool) -> anyhow::Result<Plan> {
    let names = &settings.names;
    let params = crate::template::parameters(settings, &facts.network, &facts.adopted, &facts.artifacts, &facts.image.pinned);
    let fingerprint = stack::fingerprint(template, &params);
    let update = match &facts.stack {
        None => false,
        Some(s) => stack::check_updatable(s)?,
    };
    let current = update && facts.stack.as_ref().is_some_and(|s| stack::is_current(s, template, &params, facts.record.fingerprint.as_deref()));
    let mut notes = Vec::new();

    let stack_change = if current {
        StackChange::UpToDate
    } else {
        let template_unchanged = facts.stack.as_ref().and_then(|s| s.template.as_deref()).map(str::trim) == Some(template.trim());
        match hotswap.then(|| hotswap::decide(names, facts.record.parameters.as_ref(), template_unchanged, &params)) {
            Some(hotswap::Decision::Code(code)) if !code.is_empty() => StackChange::Hotswap { functions: code.into_iter().map(|(f, _)| f).collect() },
            Some(hotswap::Decision::ChangeSet(why)) => {
                notes.push(format!("no hotswap: {why}; deploying through a change set"));
                StackChange::ChangeSet { create: !update }
            }
            _ => StackChange::ChangeSet { create: !update },
        }
    };

    // Before → after: the record of the last deploy, else what the stack says.
    let before = match (&facts.record.parameters, &facts.stack) {
        (Some(recorded), _) => recorded.clone(),
        (None, Some(s)) if update => s.parameters.clone(),
        _ => BTreeMap::new(),
    };
    let setting_changes = if current { Vec::new() } else { review::setting_changes(&before, &params, template) };

    let mut steps = Vec::new();
    let a = &facts.artifacts;
    let needed: Vec<&crate::artifacts::Zip> = match &stack_change {
        StackChange::UpToDate => Vec::new(),
        StackChange::ChangeSet { .. } => vec![&a.api, &a.trigger],
        StackChange::Hotswap { functions } => {
            [(&names.api_function, &a.api), (&names.trigger_function, &a.trigger)].into_iter().filter(|(f, _)| functions.contains(f)).map(|(_, z)| z).collect()
        }
    };
    if !a.bucket_exists && stack_change != StackChange::UpToDate {
        steps.push(Step::CreateArtifactsBucket { bucket: a.bucket.clone() });
    }
    for z in needed.into_iter().filter(|z| !z.present) {
        steps.push(Step::UploadArtifact { name: z.name.clone(), path: z.path.clone(), bucket: a.bucket.clone(), key: z.key.clone() });
    }
    match &stack_change {
        StackChange::UpToDate => {}
        StackChange::ChangeSet { create } => steps.push(Step::ExecuteChangeSet { stack: names.stack.clone(), create: *create }),
        StackChange::Hotswap { functions } => {
            for (function, zip) in [(&names.api_function, &a.api), (&names.trigger_function, &a.trigger)] {
                if functions.contains(function) {
                    steps.push(Step::UpdateFunctionCode { function: function.clone(), bucket: a.bucket.clone(), key: zip.key.clone() });
                }
            }
        }
    }
    if stack_change != StackChange::UpToDate {
        steps.push(Step::RecordDeploy { stack: names.stack.clone(), fingerprint });
    }
    if let Some(q) = &facts.adopted.queue {
        // The DLQ's ARN is known before the stack makes it, as the template's own `!Sub` knows it.
        let dlq_arn = facts
            .adopted
            .dead_letter_queue
            .as_ref()
            .map_or_else(|| format!("arn:{}:sqs:{}:{}:{}", facts.partition, facts.region, facts.account, names.dead_letter_queue), |d| d.arn.clone());
        let attributes = adopted_queue::differences(&facts.adopted.queue_attributes, &dlq_arn, settings.max_receive_count);
        if !attributes.is_empty() {
            steps.push(Step::AlignAdoptedQueue { url: q.url.clone(), attributes });
        }
    }
    let expected = trigger_environment(names, &facts.network);
    let drift = facts.trigger_environment.as_ref().map(|env| environment_drift(env, &expected)).unwrap_or_default();
    if matches!(stack_change, StackChange::ChangeSet { .. }) || !drift.is_empty() {
        steps.push(Step::TriggerEnvironment { function: names.trigger_function.clone(), expected, drift });
    }
    let switch = switch_to_on_demand(names, &facts.consumers);
    steps.extend(switch.iter().cloned());

    Ok(Plan {
        stack: names.stack.clone(),
        region: facts.region.clone(),
        image: facts.image.clone(),
        image_repository: facts.image_repository.clone(),
        network: facts.network.clone(),
        adopted: facts.adopted.clone(),
        stack_change,
        changes: None,
        settings: setting_changes,
        needs_confirmation: Vec::new(),
        mode: facts.deployed_consumers.as_ref().unwrap_or(&facts.consumers).mode(),
        switch: switch.iter().map(ToString::to_string).collect(),
        steps,
        notes,
        parameters: params,
        template: template.to_owned(),
    })
}

#[cfg(test)]
mod tests;
