//! `deploy doctor`: the old runbook's troubleshooting section ("the task does
//! not start", "the task fails at once", "the old service still runs") as
//! checks against the account, each with what was found and, when it fails,
//! the fix. It only reads; nothing is changed.
//!
//! A check that cannot read what it needs fails with the reason (a missing
//! permission is a finding too), and the checks that depend on a missing
//! part (the trigger function, the task definition) are skipped, not failed
//! twice.

use crate::aws::{Aws, failed};
use crate::config::{Names, Settings};
use crate::consumers::{self, Mode};
use crate::iam_policy::{self, Decision};
use crate::status::TaskInfo;
use aws_sdk_ecs::types::DesiredStatus;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not checked: what it needs is missing (another check says why) or
    /// outside what `deploy` can see (an image in another registry).
    Skip,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub id: &'static str,
    pub outcome: Outcome,
    pub detail: String,
    /// What to do, when it failed.
    pub fix: Option<String>,
}

impl Check {
    fn pass(id: &'static str, detail: impl Into<String>) -> Self {
        Self { id, outcome: Outcome::Pass, detail: detail.into(), fix: None }
    }
    fn fail(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { id, outcome: Outcome::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn skip(id: &'static str, detail: impl Into<String>) -> Self {
        Self { id, outcome: Outcome::Skip, detail: detail.into(), fix: None }
    }
    fn unreadable(id: &'static str, e: &anyhow::Error) -> Self {
        Self::fail(id, format!("could not be read: {e:#}"), "run doctor with credentials that can read it (the error names the action)")
    }
}

#[derive(Debug, serde::Serialize)]
pub struct DoctorReport {
    pub stack: String,
    pub region: String,
    pub healthy: bool,
    pub checks: Vec<Check>,
}

/// The trigger's environment variables that name the resources it drives.
const ENV_NAMES: [&str; 6] = ["ECS_CLUSTER", "ECS_TASK_DEFINITION", "ECS_SUBNETS", "ECS_SECURITY_GROUPS", "S3_RESULTS_BUCKET", "SQS_QUEUE_URL"];

const REDEPLOY: &str = "run `deploy`: it sets the trigger's environment from the stack";

pub async fn doctor(aws: &Aws, settings: &Settings) -> anyhow::Result<DoctorReport> {
    let n = &settings.names;
    let mut checks = vec![stack_check(aws, n).await];
    let trigger = aws.lambda.get_function_configuration().function_name(&n.trigger_function).send().await;
    let trigger = match trigger {
        Ok(conf) => Some((conf.environment().and_then(|e| e.variables()).cloned().unwrap_or_default(), conf.role().unwrap_or_default().to_owned())),
        Err(e) => {
            let missing = job_store::aws::describe(&e).contains("ResourceNotFound");
            checks.push(if missing {
                Check::fail("trigger-environment", format!("the trigger function {} does not exist", n.trigger_function), "run `deploy`")
            } else {
                Check::unreadable("trigger-environment", &failed("lambda:GetFunctionConfiguration", e))
            });
            None
        }
    };
    let task_definition = match aws.ecs.describe_task_definition().task_definition(&n.task_family).send().await {
        Ok(out) => Ok(out.task_definition().cloned()),
        // ECS's answer for a family with no active revision.
        Err(e) if e.code() == Some("ClientException") => Ok(None),
        Err(e) => Err(failed("ecs:DescribeTaskDefinition", e)),
    };
    if let Some((env, role)) = &trigger {
        checks.push(match expected_environment(aws, settings).await {
            Ok(expected) => environment_check(env, &expected),
            Err(e) => Check::unreadable("trigger-environment", &e),
        });
        checks.push(network_check(aws, env).await.unwrap_or_else(|e| Check::unreadable("network", &e)));
        checks.push(match &task_definition {
            Ok(Some(td)) => permissions_check(aws, &n.stack, role, td).await.unwrap_or_else(|e| Check::unreadable("trigger-permissions", &e)),
            Ok(None) | Err(_) => Check::skip("trigger-permissions", "no task definition to check against (see task-image)"),
        });
    } else {
        for id in ["network", "trigger-permissions"] {
            checks.push(Check::skip(id, "no trigger function to read it from"));
        }
    }
    checks.extend(mode_checks(aws, n).await.unwrap_or_else(|e| vec![Check::unreadable("trigger-mapping", &e)]));
    checks.push(match &task_definition {
        Ok(Some(td)) => image_check(aws, n, td).await,
        Ok(None) => Check::fail("task-image", format!("the task family {} has no active revision", n.task_family), "run `deploy`"),
        Err(e) => Check::unreadable("task-image", e),
    });
    checks.extend(queue_checks(aws, n).await);
    checks.push(match crate::status::tasks(aws, settings, DesiredStatus::Stopped).await {
        Ok(tasks) => failed_tasks_check(&tasks, &n.container),
        Err(e) => Check::unreadable("recent-failed-tasks", &e),
    });
    Ok(DoctorReport { stack: n.stack.clone(), region: aws.region.clone(), healthy: checks.iter().all(|c| c.outcome != Outcome::Fail), checks })
}

async fn stack_check(aws: &Aws, n: &Names) -> Check {
    match crate::stack::describe(aws, &n.stack).await {
        Ok(None) => Check::fail("stack", format!("no stack {} in {}", n.stack, aws.region), "run `deploy` (or pass --config / --region for another copy)"),
        Ok(Some(s)) => {
            let status = s.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
            if status.ends_with("_COMPLETE") && !status.contains("ROLLBACK") {
                Check::pass("stack", format!("{} {status}", n.stack))
            } else if status.ends_with("_IN_PROGRESS") {
                Check::fail("stack", format!("{} is {status}", n.stack), "wait for it to settle, then run doctor again")
            } else {
                let reason = s.stack_status_reason().map(|r| format!(": {r}")).unwrap_or_default();
                Check::fail("stack", format!("{} is {status}{reason}", n.stack), "run `deploy` (it says which resource failed and why)")
            }
        }
        Err(e) => Check::unreadable("stack", &e),
    }
}

/// What the trigger's environment must say: the configured names, the
/// queue's URL, and the network the last deploy gave the stack.
async fn expected_environment(aws: &Aws, settings: &Settings) -> anyhow::Result<BTreeMap<&'static str, String>> {
    let n = &settings.names;
    let mut expected = BTreeMap::from([("ECS_CLUSTER", n.cluster.clone()), ("ECS_TASK_DEFINITION", n.task_family.clone()), ("S3_RESULTS_BUCKET", n.bucket.clone())]);
    if let Some(url) = crate::queues::url_of(aws, &n.queue).await? {
        expected.insert("SQS_QUEUE_URL", url);
    }
    // The emulator's DescribeStacks keeps a stack's first parameters
    // (MOTO.md), so the record of the last deploy comes first.
    let parameters = match crate::record::read(aws, &n.stack).await.parameters {
        Some(p) => p,
        None => crate::stack::describe(aws, &n.stack)
            .await?
            .map(|s| s.parameters().iter().filter_map(|p| Some((p.parameter_key()?.to_owned(), p.parameter_value()?.to_owned()))).collect())
            .unwrap_or_default(),
    };
    for (var, parameter) in [("ECS_SUBNETS", "Subnets"), ("ECS_SECURITY_GROUPS", "SecurityGroups")] {
        if let Some(v) = parameters.get(parameter) {
            expected.insert(var, v.clone());
        }
    }
    Ok(expected)
}

fn environment_check(env: &HashMap<String, String>, expected: &BTreeMap<&'static str, String>) -> Check {
    let mut wrong = Vec::new();
    for name in ENV_NAMES {
        match (env.get(name).filter(|v| !v.is_empty()), expected.get(name)) {
            (None, _) => wrong.push(format!("{name} is not set")),
            (Some(v), Some(want)) if !same_value(name, v, want) => wrong.push(format!("{name} is {v} but the stack has {want}")),
            _ => {}
        }
    }
    if wrong.is_empty() {
        Check::pass("trigger-environment", format!("{} variables set as the stack says", ENV_NAMES.len()))
    } else {
        Check::fail("trigger-environment", wrong.join("; "), REDEPLOY)
    }
}

/// A queue URL names the queue by its last two segments (account, name);
/// its host varies (`sqs.REGION.amazonaws.com`, the legacy
/// `queue.amazonaws.com`, and on the emulator the endpoint's address where
/// CloudFormation's `Ref` gives the AWS form).
fn same_value(name: &str, value: &str, want: &str) -> bool {
    fn tail(url: &str) -> Vec<&str> {
        url.trim_end_matches('/').rsplitn(3, '/').take(2).collect()
    }
    value == want || (name == "SQS_QUEUE_URL" && tail(value) == tail(want))
}

fn list(value: Option<&String>) -> Vec<String> {
    value.map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

/// The subnets and security groups RunTask will be given exist, in one VPC.
async fn network_check(aws: &Aws, env: &HashMap<String, String>) -> anyhow::Result<Check> {
    const ID: &str = "network";
    let (subnets, groups) = (list(env.get("ECS_SUBNETS")), list(env.get("ECS_SECURITY_GROUPS")));
    if subnets.is_empty() || groups.is_empty() {
        return Ok(Check::fail(ID, "the trigger names no subnets or no security groups", REDEPLOY));
    }
    let filter = |name: &str, values: &[String]| aws_sdk_ec2::types::Filter::builder().name(name).set_values(Some(values.to_vec())).build();
    let found = aws.ec2.describe_subnets().filters(filter("subnet-id", &subnets)).send().await.map_err(|e| failed("ec2:DescribeSubnets", e))?;
    let subnet_vpcs: HashMap<String, String> = found.subnets().iter().filter_map(|s| Some((s.subnet_id()?.to_owned(), s.vpc_id()?.to_owned()))).collect();
    let found = aws.ec2.describe_security_groups().filters(filter("group-id", &groups)).send().await.map_err(|e| failed("ec2:DescribeSecurityGroups", e))?;
    let group_vpcs: HashMap<String, String> = found.security_groups().iter().filter_map(|g| Some((g.group_id()?.to_owned(), g.vpc_id()?.to_owned()))).collect();
    let fix = "name existing ones of one VPC in deploy.yaml (network.subnets, network.security_groups) or remove both to use the default VPC's, then run `deploy`";
    let missing: Vec<&String> = subnets.iter().filter(|s| !subnet_vpcs.contains_key(*s)).chain(groups.iter().filter(|g| !group_vpcs.contains_key(*g))).collect();
    if !missing.is_empty() {
        let missing: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Ok(Check::fail(ID, format!("the trigger's {} do not exist in {}", missing.join(", "), aws.region), fix));
    }
    let mut vpcs: Vec<&String> = subnet_vpcs.values().chain(group_vpcs.values()).collect();
    vpcs.sort();
    vpcs.dedup();
    if vpcs.len() > 1 {
        let by_vpc: Vec<String> = subnets.iter().map(|s| format!("{s} in {}", subnet_vpcs[s])).chain(groups.iter().map(|g| format!("{g} in {}", group_vpcs[g]))).collect();
        return Ok(Check::fail(ID, format!("the subnets and security groups are in {} VPCs: {}", vpcs.len(), by_vpc.join(", ")), fix));
    }
    Ok(Check::pass(ID, format!("{} subnet(s) and {} security group(s) in {}", subnets.len(), groups.len(), vpcs[0])))
}

/// The trigger's role may RunTask the family and pass the task's two roles.
async fn permissions_check(aws: &Aws, stack: &str, role_arn: &str, td: &aws_sdk_ecs::types::TaskDefinition) -> anyhow::Result<Check> {
    const ID: &str = "trigger-permissions";
    let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let documents = role_documents(aws, role).await?;
    let task_definition = td.task_definition_arn().unwrap_or_default();
    let mut passed: Vec<String> = [td.task_role_arn(), td.execution_role_arn()].into_iter().flatten().map(str::to_owned).collect();
    if passed.is_empty() {
        // The emulator's CloudFormation registers the task definition
        // without its roles (MOTO.md): check the stack's two task roles,
        // which on AWS are the ones the task definition names.
        passed = stack_task_roles(aws, stack).await?;
    }
    let mut wanted = vec![("ecs:RunTask", task_definition.to_owned())];
    wanted.extend(passed.into_iter().map(|r| ("iam:PassRole", r)));
    let refused: Vec<String> = wanted
        .iter()
        .filter_map(|(action, resource)| match iam_policy::decide(&documents, action, resource) {
            Decision::Allowed => None,
            Decision::NotAllowed => Some(format!("{action} on {resource} is not allowed")),
            Decision::Denied => Some(format!("{action} on {resource} is denied")),
        })
        .collect();
    if refused.is_empty() {
        let family = task_definition.rsplit('/').next().unwrap_or(task_definition);
        let detail = format!(
            "role {role} allows ecs:RunTask on {family} and iam:PassRole on its {} role(s) ({} policy document(s) read; conditions not evaluated)",
            wanted.len() - 1,
            documents.len()
        );
        return Ok(Check::pass(ID, detail));
    }
    Ok(Check::fail(
        ID,
        format!("role {role}: {}", refused.join("; ")),
        "run `deploy` (the stack's TriggerRole grants both); if it did, look for a hand edit or a Deny in the role's policies",
    ))
}

async fn stack_task_roles(aws: &Aws, stack: &str) -> anyhow::Result<Vec<String>> {
    let out = aws.cfn.list_stack_resources().stack_name(stack).send().await.map_err(|e| failed("cloudformation:ListStackResources", e))?;
    let mut arns = Vec::new();
    for r in out.stack_resource_summaries().iter().filter(|r| matches!(r.logical_resource_id(), Some("TaskRole" | "TaskExecutionRole"))) {
        let Some(name) = r.physical_resource_id() else { continue };
        let role = aws.iam.get_role().role_name(name).send().await.map_err(|e| failed("iam:GetRole", e))?;
        arns.extend(role.role().map(|r| r.arn().to_owned()));
    }
    Ok(arns)
}

/// Every policy document on a role: inline, then attached managed ones.
async fn role_documents(aws: &Aws, role: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut documents = Vec::new();
    let inline = aws.iam.list_role_policies().role_name(role).send().await.map_err(|e| failed("iam:ListRolePolicies", e))?;
    for name in inline.policy_names() {
        let out = aws.iam.get_role_policy().role_name(role).policy_name(name).send().await.map_err(|e| failed("iam:GetRolePolicy", e))?;
        documents.push(iam_policy::parse_document(out.policy_document())?);
    }
    let attached = aws.iam.list_attached_role_policies().role_name(role).send().await.map_err(|e| failed("iam:ListAttachedRolePolicies", e))?;
    for arn in attached.attached_policies().iter().filter_map(|p| p.policy_arn()) {
        let policy = aws.iam.get_policy().policy_arn(arn).send().await.map_err(|e| failed("iam:GetPolicy", e))?;
        let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else { continue };
        let out = aws.iam.get_policy_version().policy_arn(arn).version_id(version).send().await.map_err(|e| failed("iam:GetPolicyVersion", e))?;
        if let Some(text) = out.policy_version().and_then(|v| v.document()) {
            documents.push(iam_policy::parse_document(text)?);
        }
    }
    Ok(documents)
}

/// The queue's consumers: in on-demand mode the mapping is enabled and the
/// legacy service is at 0 with no task left; after a rollback the reverse.
async fn mode_checks(aws: &Aws, n: &Names) -> anyhow::Result<Vec<Check>> {
    let mapping = consumers::mapping(aws, n).await?;
    let service = consumers::service(aws, n).await?;
    Ok(consumer_checks(consumers::mode(mapping.as_ref(), service.as_ref()), mapping.as_ref().map(|m| m.state.as_str()), service.as_ref(), n))
}

fn consumer_checks(mode: Mode, mapping_state: Option<&str>, service: Option<&consumers::ServiceCounts>, n: &Names) -> Vec<Check> {
    let counts = service.map_or_else(|| "no legacy service".to_owned(), |s| format!("{} desired, {} running, {} pending", s.desired, s.running, s.pending));
    let mapping = match (mode, mapping_state) {
        (_, None) => Check::fail("trigger-mapping", format!("no event source mapping from {} to {}", n.queue, n.trigger_function), "run `deploy`"),
        (Mode::OnDemand | Mode::Both, Some(state)) => Check::pass("trigger-mapping", format!("{state} (on-demand mode)")),
        (Mode::Polling, Some(state)) => Check::pass("trigger-mapping", format!("{state}: rolled back to polling on purpose; `deploy` switches to on-demand")),
        (Mode::Neither, Some(state)) => Check::fail(
            "trigger-mapping",
            format!("{state}, and the legacy service is at 0: nothing consumes the queue"),
            "run `deploy` (on-demand) or `deploy rollback` (polling)",
        ),
    };
    let legacy = match (mode, service) {
        (Mode::Both, _) => Check::fail(
            "legacy-service",
            format!("{}: {counts}, beside the enabled trigger: two consumers of one queue", n.service),
            "run `deploy` (scales it to 0) or `deploy rollback` (disables the trigger)",
        ),
        (Mode::OnDemand, Some(s)) if s.running + s.pending > 0 => Check::fail(
            "legacy-service",
            format!("{}: {counts}: its tasks are still stopping", n.service),
            format!("wait up to 2 minutes; if they stay, `aws ecs describe-services --cluster {} --services {}` says why", n.cluster, n.service),
        ),
        (_, None) => Check::pass("legacy-service", "no legacy service (nothing to roll back to)"),
        (_, Some(_)) => Check::pass("legacy-service", format!("{}: {counts}", n.service)),
    };
    vec![mapping, legacy]
}

/// The image of the family's newest active revision can be pulled.
async fn image_check(aws: &Aws, n: &Names, td: &aws_sdk_ecs::types::TaskDefinition) -> Check {
    const ID: &str = "task-image";
    let revision = format!("{}:{}", n.task_family, td.revision());
    let Some(image) = td.container_definitions().iter().find(|c| c.name() == Some(n.container.as_str())).and_then(|c| c.image()) else {
        return Check::fail(ID, format!("{revision} has no container {}", n.container), "run `deploy`");
    };
    match crate::image::resolve(aws, image).await {
        Ok(i) if i.checked => Check::pass(ID, format!("{revision} runs {image}, present in ECR")),
        Ok(_) => Check::skip(ID, format!("{revision} runs {image}, outside this account's ECR: not checked")),
        Err(e) => Check::fail(ID, format!("{revision}: {e:#}"), "push the image, or deploy with --image naming one that exists"),
    }
}

async fn queue_checks(aws: &Aws, n: &Names) -> Vec<Check> {
    let queue = match crate::queues::url_of(aws, &n.queue).await {
        Ok(Some(url)) => match crate::queues::depth(aws, &url).await {
            Ok((visible, in_flight)) => Check::pass("queue", format!("{}: {visible} waiting, {in_flight} in flight", n.queue)),
            Err(e) => Check::unreadable("queue", &e),
        },
        Ok(None) => Check::fail("queue", format!("no queue {}", n.queue), "run `deploy`"),
        Err(e) => Check::unreadable("queue", &e),
    };
    let dlq = match crate::queues::url_of(aws, &n.dead_letter_queue).await {
        Ok(Some(url)) => match crate::queues::depth(aws, &url).await {
            Ok((0, 0)) => Check::pass("dead-letter-queue", format!("{}: empty", n.dead_letter_queue)),
            Ok((visible, in_flight)) => Check::fail(
                "dead-letter-queue",
                format!("{}: {} message(s) that failed every delivery (trigger.max_receive_count)", n.dead_letter_queue, visible + in_flight),
                format!(
                    "read them (`aws sqs receive-message --queue-url {url}`), see their jobs with `deploy status`, then move them back with `aws sqs start-message-move-task --source-arn <the DLQ's ARN>`"
                ),
            ),
            Err(e) => Check::unreadable("dead-letter-queue", &e),
        },
        Ok(None) => Check::fail("dead-letter-queue", format!("no queue {}", n.dead_letter_queue), "run `deploy`"),
        Err(e) => Check::unreadable("dead-letter-queue", &e),
    };
    vec![queue, dlq]
}

/// Whether a stopped task ended as a task should: its worker exited 0, or
/// ECS stopped it for a reason that is not a fault of the deployment (a Spot
/// reclaim, the reconciler's own stop; the job lifecycle retries those).
fn failed_task(t: &TaskInfo) -> bool {
    if t.exit_code == Some(0) || t.stop_code.as_deref() == Some("SpotInterruption") {
        return false;
    }
    let reason = t.stopped_reason.as_deref().unwrap_or_default();
    !(reason.starts_with("stopped by the reconciler") || reason.starts_with("Scaling activity initiated by"))
}

fn failed_tasks_check(stopped: &[TaskInfo], container: &str) -> Check {
    const ID: &str = "recent-failed-tasks";
    let failed: Vec<&TaskInfo> = stopped.iter().filter(|t| failed_task(t)).collect();
    if failed.is_empty() {
        return Check::pass(ID, format!("{} task(s) stopped recently, none failed", stopped.len()));
    }
    let lines: Vec<String> = failed
        .iter()
        .take(5)
        .map(|t| {
            let task = t.task_arn.rsplit('/').next().unwrap_or(&t.task_arn);
            let job = t.run_id.as_deref().map_or_else(String::new, |id| format!(" (run {id})"));
            let code = t.stop_code.as_deref().map_or_else(String::new, |c| format!(" [{c}]"));
            let exit = t.exit_code.map_or_else(String::new, |c| format!("; {container} exited with {c}"));
            let why = t.container_reason.as_deref().map_or_else(String::new, |r| format!("; {r}"));
            format!("{task}{job}: {}{code}{exit}{why}", t.stopped_reason.as_deref().unwrap_or("no reason given"))
        })
        .collect();
    let more = if failed.len() > lines.len() { format!(" (and {} more)", failed.len() - lines.len()) } else { String::new() };
    let oom = failed.iter().any(|t| t.exit_code == Some(137) || [&t.stopped_reason, &t.container_reason].iter().any(|r| r.as_deref().is_some_and(|r| r.contains("OutOfMemory"))));
    let fix = if oom {
        "a task ran out of memory: raise worker.memory (or worker.memory_on_oom) in deploy.yaml and run `deploy`"
    } else {
        "read the task's log (`deploy logs RUN_ID`); CannotPullContainerError: see task-image; ResourceInitializationError: the subnets need a route to ECR and S3 (assign_public_ip or VPC endpoints)"
    };
    Check::fail(ID, format!("{} of {} recently stopped task(s) failed: {}{more}", failed.len(), stopped.len(), lines.join(" | ")), fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(exit: Option<i32>, stop_code: Option<&str>, reason: &str) -> TaskInfo {
        TaskInfo {
            task_arn: "arn:aws:ecs:us-east-1:1:task/c/abc".into(),
            run_id: Some("job-1".into()),
            group: None,
            started_by: None,
            last_status: Some("STOPPED".into()),
            age_s: Some(60),
            stop_code: stop_code.map(Into::into),
            stopped_reason: Some(reason.into()),
            exit_code: exit,
            container_reason: None,
        }
    }

    #[test]
    fn a_task_that_exited_0_or_lost_its_spot_capacity_did_not_fail() {
        let ok = [
            task(Some(0), Some("EssentialContainerExited"), "Essential container in task exited"),
            task(None, Some("SpotInterruption"), "Your Spot Task was interrupted."),
            task(None, None, "stopped by the reconciler: job CANCELLED"),
        ];
        let check = failed_tasks_check(&ok, "worker");
        assert_eq!(check.outcome, Outcome::Pass, "{check:?}");
        let mut all = ok.to_vec();
        all.push(task(Some(137), Some("EssentialContainerExited"), "Essential container in task exited"));
        all.push(task(None, Some("TaskFailedToStart"), "CannotPullContainerError: pull image manifest has been retried 5 time(s)"));
        let check = failed_tasks_check(&all, "worker");
        assert_eq!(check.outcome, Outcome::Fail);
        assert!(check.detail.starts_with("2 of 5") && check.detail.contains("CannotPullContainerError") && check.detail.contains("exited with 137"), "{}", check.detail);
        assert!(check.fix.unwrap().contains("worker.memory"), "137 is the OOM kill");
    }

    #[test]
    fn the_consumers_are_judged_by_mode() {
        let n = Settings::resolve(Default::default()).unwrap().names;
        let counts = |desired, running| consumers::ServiceCounts { desired, running, pending: 0 };
        let outcomes = |mode, state, s: Option<consumers::ServiceCounts>| consumer_checks(mode, state, s.as_ref(), &n).iter().map(|c| c.outcome).collect::<Vec<_>>();
        assert_eq!(outcomes(Mode::OnDemand, Some("Enabled"), Some(counts(0, 0))), [Outcome::Pass, Outcome::Pass]);
        assert_eq!(outcomes(Mode::OnDemand, Some("Enabled"), Some(counts(0, 1))), [Outcome::Pass, Outcome::Fail], "still draining");
        assert_eq!(outcomes(Mode::Polling, Some("Disabled"), Some(counts(1, 1))), [Outcome::Pass, Outcome::Pass], "a rollback is a mode, not a fault");
        assert_eq!(outcomes(Mode::Both, Some("Enabled"), Some(counts(1, 1))), [Outcome::Pass, Outcome::Fail]);
        assert_eq!(outcomes(Mode::Neither, Some("Disabled"), Some(counts(0, 0))), [Outcome::Fail, Outcome::Pass]);
        assert_eq!(outcomes(Mode::Neither, None, None), [Outcome::Fail, Outcome::Pass]);
    }

    #[test]
    fn the_environment_names_what_is_missing_or_different() {
        let expected = BTreeMap::from([("ECS_SUBNETS", "subnet-a,subnet-b".to_owned()), ("ECS_CLUSTER", "c".to_owned())]);
        let mut env: HashMap<String, String> = ENV_NAMES.iter().map(|n| ((*n).to_owned(), "x".to_owned())).collect();
        env.insert("ECS_SUBNETS".into(), "subnet-a,subnet-b".into());
        env.insert("ECS_CLUSTER".into(), "c".into());
        assert_eq!(environment_check(&env, &expected).outcome, Outcome::Pass);
        assert!(same_value("SQS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q", "http://127.0.0.1:5000/1/q"));
        assert!(!same_value("SQS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q", "https://sqs.us-east-1.amazonaws.com/1/q-old"));
        assert!(!same_value("ECS_CLUSTER", "a/1/q", "b/1/q"), "only queue URLs compare by their tail");
        env.insert("ECS_SUBNETS".into(), "subnet-zzz".into());
        env.remove("SQS_QUEUE_URL");
        let check = environment_check(&env, &expected);
        assert_eq!(check.outcome, Outcome::Fail);
        assert!(check.detail.contains("ECS_SUBNETS is subnet-zzz but the stack has subnet-a,subnet-b") && check.detail.contains("SQS_QUEUE_URL is not set"), "{}", check.detail);
    }
}
