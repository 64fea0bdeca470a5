//! Plans checked as values: facts in, steps out, no AWS.

use super::*;
use crate::artifacts::{Artifacts, Zip};
use crate::consumers::{Mapping, ServiceCounts};
use crate::queues::QueueRef;
use crate::record::Record;
use crate::stack::Deployed;

const TEMPLATE: &str = crate::template::SOLVER_TEMPLATE;

fn settings(yaml: &str) -> Settings {
    Settings::resolve(serde_yaml::from_str::<Option<crate::config::RawConfig>>(yaml).unwrap().unwrap_or_default()).unwrap()
}

fn zip(name: &str, present: bool) -> Zip {
    Zip { name: name.into(), path: format!("dist/{name}.zip"), key: format!("lambda/{name}-abc.zip"), present }
}

fn on_demand() -> Consumers {
    Consumers { mapping: Some(Mapping { uuid: "m".into(), state: "Enabled".into(), batch_size: Some(10) }), service: Some(ServiceCounts { desired: 0, running: 0, pending: 0 }) }
}

fn polling() -> Consumers {
    Consumers { mapping: Some(Mapping { uuid: "m".into(), state: "Disabled".into(), batch_size: Some(10) }), service: Some(ServiceCounts { desired: 1, running: 1, pending: 0 }) }
}

/// A fresh account: nothing deployed, nothing to adopt.
fn fresh() -> Facts {
    Facts {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        partition: "aws".into(),
        network: Network { subnets: vec!["subnet-1".into(), "subnet-2".into()], security_groups: vec!["sg-1".into()], source: "vpc-1".into() },
        stack: None,
        record: Record::default(),
        adopted: Existing::default(),
        image: Image { requested: "r/solver-worker:latest".into(), pinned: "r/solver-worker@sha256:1".into(), checked: true },
        image_repository: repository::Facts {
            repository: "solver-worker".into(),
            stack: "solver-worker-image-repository".into(),
            owner: repository::Owner::Stack { stack: "solver-worker-image-repository".into() },
            uri: "r/solver-worker".into(),
        },
        artifacts: Artifacts { bucket: "artifacts".into(), bucket_exists: false, api: zip("solver-api", false), trigger: zip("solver-trigger", false) },
        consumers: Consumers::default(),
        deployed_consumers: None,
        trigger_environment: None,
    }
}

/// The facts right after `deploy` ran with these settings on `fresh()`.
fn deployed(s: &Settings) -> Facts {
    let mut f = fresh();
    let params = crate::template::parameters(s, &f.network, &f.adopted, &f.artifacts, &f.image.pinned);
    f.stack = Some(Deployed {
        name: s.names.stack.clone(),
        status: "CREATE_COMPLETE".into(),
        status_reason: None,
        parameters: params.clone(),
        template: Some(TEMPLATE.into()),
        resources: vec!["JobQueue".into(), "TriggerMapping".into()],
    });
    f.record = Record { fingerprint: Some(stack::fingerprint(TEMPLATE, &params)), parameters: Some(params) };
    f.artifacts.bucket_exists = true;
    f.artifacts.api.present = true;
    f.artifacts.trigger.present = true;
    f.consumers = on_demand();
    f.trigger_environment = Some(trigger_environment(&s.names, &f.network).into_iter().collect());
    f
}

fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::CreateArtifactsBucket { .. } => "bucket",
            Step::UploadArtifact { .. } => "upload",
            Step::ExecuteChangeSet { .. } => "change-set",
            Step::UpdateFunctionCode { .. } => "code",
            Step::RecordDeploy { .. } => "record",
            Step::AlignAdoptedQueue { .. } => "queue",
            Step::TriggerEnvironment { .. } => "environment",
            Step::ScaleLegacyService { .. } => "scale",
            Step::DrainLegacyService { .. } => "drain",
            Step::EnableTrigger { .. } => "enable",
            Step::DisableTrigger { .. } => "disable",
        })
        .collect()
}

#[test]
fn a_fresh_account_gets_everything_in_order_and_the_trigger_last() {
    let s = settings("");
    let plan = compute(&s, &fresh(), TEMPLATE, false).unwrap();
    assert_eq!(plan.stack_change, StackChange::ChangeSet { create: true });
    assert_eq!(kinds(&plan), ["bucket", "upload", "upload", "change-set", "record", "environment", "enable"]);
    assert_eq!(plan.mode, Mode::Neither);
    assert!(plan.pending());
    assert!(plan.settings.iter().all(|c| c.before.is_none()), "a new stack has no before");
}

#[test]
fn an_unchanged_system_has_nothing_to_do() {
    let s = settings("");
    let plan = compute(&s, &deployed(&s), TEMPLATE, false).unwrap();
    assert_eq!(plan.stack_change, StackChange::UpToDate);
    assert!(plan.steps.is_empty(), "{:?}", plan.steps);
    assert!(!plan.pending());
    assert_eq!(plan.mode, Mode::OnDemand);
}

#[test]
fn after_a_rollback_the_plan_switches_back_old_consumer_off_before_the_new_one_on() {
    let s = settings("");
    let mut facts = deployed(&s);
    facts.consumers = polling();
    let plan = compute(&s, &facts, TEMPLATE, false).unwrap();
    assert_eq!(plan.stack_change, StackChange::UpToDate, "no stack change, yet pending");
    assert_eq!(kinds(&plan), ["scale", "drain", "enable"]);
    assert!(plan.pending());
    assert_eq!(plan.mode, Mode::Polling);
    assert_eq!(plan.switch[0], "scale the legacy service solver-worker from 1 to 0");
}

#[test]
fn a_service_scaled_down_with_tasks_still_running_is_drained_before_the_trigger_goes_on() {
    let s = settings("");
    let mut facts = deployed(&s);
    facts.consumers =
        Consumers { mapping: Some(Mapping { uuid: "m".into(), state: "Disabled".into(), batch_size: None }), service: Some(ServiceCounts { desired: 0, running: 1, pending: 0 }) };
    assert_eq!(kinds(&compute(&s, &facts, TEMPLATE, false).unwrap()), ["drain", "enable"]);
}

#[test]
fn the_old_system_is_adopted_its_queue_aligned_after_the_stack_and_switched_off_before_the_trigger() {
    let s = settings("");
    let mut facts = fresh();
    facts.adopted = Existing {
        cluster: true,
        service: true,
        bucket: false,
        queue: Some(QueueRef { url: "https://sqs/123456789012/scheduling-solver-jobs".into(), arn: "arn:aws:sqs:us-east-1:123456789012:scheduling-solver-jobs".into() }),
        dead_letter_queue: None,
        queue_attributes: [("VisibilityTimeout".to_owned(), "30".to_owned())].into(),
    };
    facts.consumers = Consumers { mapping: None, service: Some(ServiceCounts { desired: 1, running: 1, pending: 0 }) };
    let plan = compute(&s, &facts, TEMPLATE, false).unwrap();
    assert_eq!(kinds(&plan), ["bucket", "upload", "upload", "change-set", "record", "queue", "environment", "scale", "drain", "enable"]);
    let Some(Step::AlignAdoptedQueue { attributes, .. }) = plan.steps.iter().find(|s| matches!(s, Step::AlignAdoptedQueue { .. })) else { unreachable!() };
    assert_eq!(attributes[0], ("VisibilityTimeout".to_owned(), "43200".to_owned()));
    assert!(attributes[1].1.contains("arn:aws:sqs:us-east-1:123456789012:scheduling-solver-jobs-dlq"), "the DLQ the stack makes: {attributes:?}");
    assert_eq!(plan.parameters["CreateService"], "false");
    assert_eq!(plan.parameters["ExistingQueueUrl"], "https://sqs/123456789012/scheduling-solver-jobs");
    assert_eq!(plan.mode, Mode::Polling);
}

#[test]
fn a_changed_setting_is_a_change_set_with_before_and_after() {
    let s = settings("");
    let facts = deployed(&s);
    let changed = settings("trigger:\n  batch_size: 5\n");
    let plan = compute(&changed, &facts, TEMPLATE, false).unwrap();
    assert_eq!(plan.stack_change, StackChange::ChangeSet { create: false });
    assert_eq!(kinds(&plan), ["change-set", "record", "environment"]);
    assert_eq!(plan.settings.len(), 1);
    assert_eq!((plan.settings[0].name.as_str(), plan.settings[0].before.as_deref(), plan.settings[0].after.as_str()), ("BatchSize", Some("10"), "5"));
}

#[test]
fn a_template_change_alone_is_pending() {
    let s = settings("");
    let plan = compute(&s, &deployed(&s), &format!("{TEMPLATE}\n# a comment changes the template\n"), false).unwrap();
    assert_eq!(plan.stack_change, StackChange::ChangeSet { create: false });
    assert!(plan.settings.is_empty());
    assert!(plan.pending());
}

#[test]
fn hotswap_updates_only_the_changed_code_and_anything_else_goes_through_a_change_set() {
    let s = settings("");
    let mut facts = deployed(&s);
    facts.artifacts.api = Zip { key: "lambda/solver-api-new.zip".into(), present: false, ..zip("solver-api", false) };
    let plan = compute(&s, &facts, TEMPLATE, true).unwrap();
    assert_eq!(plan.stack_change, StackChange::Hotswap { functions: vec!["scheduling-solver-api".into()] });
    assert_eq!(kinds(&plan), ["upload", "code", "record"]);
    let without = compute(&s, &facts, TEMPLATE, false).unwrap();
    assert_eq!(kinds(&without), ["upload", "change-set", "record", "environment"], "without --hotswap, a change set");
    let other = compute(&settings("trigger:\n  batch_size: 3\n"), &facts, TEMPLATE, true).unwrap();
    assert_eq!(other.stack_change, StackChange::ChangeSet { create: false });
    assert_eq!(other.notes, ["no hotswap: settings besides the code changed: BatchSize; deploying through a change set"]);
}

#[test]
fn a_hand_edited_trigger_environment_is_put_right_without_a_stack_change() {
    let s = settings("");
    let mut facts = deployed(&s);
    facts.trigger_environment.as_mut().unwrap().insert("ECS_SUBNETS".into(), "subnet-gone".into());
    let plan = compute(&s, &facts, TEMPLATE, false).unwrap();
    assert_eq!(plan.steps.len(), 1);
    let Step::TriggerEnvironment { drift, .. } = &plan.steps[0] else { panic!("{:?}", plan.steps) };
    assert_eq!(drift, &["ECS_SUBNETS"]);
}

#[test]
fn a_renamed_queue_shows_the_mode_now_under_the_old_names_and_enables_the_new_mapping() {
    let s = settings("");
    let mut facts = deployed(&s);
    let renamed = settings("names:\n  queue: other-jobs\n");
    facts.deployed_consumers = Some(on_demand());
    facts.consumers = Consumers { mapping: None, service: on_demand().service };
    let mut plan = compute(&renamed, &facts, TEMPLATE, false).unwrap();
    assert_eq!(plan.mode, Mode::OnDemand, "the mode now");
    assert_eq!(kinds(&plan), ["change-set", "record", "environment", "enable"]);
    let change_set = ChangeSet { stack: "scheduling-solver".into(), name: "cs".into(), create: false, changes: vec![] };
    plan.review(Some(&change_set));
    assert!(
        plan.needs_confirmation.iter().any(|n| n.starts_with("renames JobQueue (AWS::SQS::Queue) by QueueName scheduling-solver-jobs → other-jobs")),
        "{:?}",
        plan.needs_confirmation
    );
}

#[test]
fn a_change_set_with_nothing_in_it_leaves_only_the_record() {
    let s = settings("");
    let mut facts = deployed(&s);
    facts.record = Record::default();
    facts.stack.as_mut().unwrap().parameters.insert("BatchSize".into(), "9".into());
    let mut plan = compute(&s, &facts, TEMPLATE, false).unwrap();
    assert_eq!(kinds(&plan), ["change-set", "record", "environment"]);
    plan.review(None);
    assert_eq!(plan.stack_change, StackChange::UpToDate);
    assert_eq!(kinds(&plan), ["record"]);
}

#[test]
fn a_stack_that_cannot_take_a_change_set_refuses_the_plan() {
    let s = settings("");
    let mut facts = deployed(&s);
    facts.stack.as_mut().unwrap().status = "ROLLBACK_COMPLETE".into();
    let refused = compute(&s, &facts, TEMPLATE, false).unwrap_err().to_string();
    assert!(refused.contains("ROLLBACK_COMPLETE") && refused.contains("deploy destroy"), "{refused}");
}

#[test]
fn rollback_checks_both_consumers_then_turns_the_trigger_off_before_the_service_on() {
    let names = settings("").names;
    assert_eq!(
        rollback(&names, &on_demand()).unwrap().iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["disable the trigger's mapping (Enabled)", "scale the legacy service solver-worker from 0 to 1"]
    );
    assert!(rollback(&names, &polling()).unwrap().is_empty(), "already polling");
    let no_service = Consumers { service: None, ..on_demand() };
    assert!(rollback(&names, &no_service).unwrap_err().to_string().contains("nothing to roll back to (the trigger stays on)"));
    let no_mapping = Consumers { mapping: None, ..on_demand() };
    assert!(rollback(&names, &no_mapping).unwrap_err().to_string().contains("is the stack deployed?"));
}
