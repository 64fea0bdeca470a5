//! The two consumers of the queue and the switch between them: the trigger's
//! event source mapping (on-demand) and the legacy service (polling). Exactly
//! one of them is on after `deploy` or `deploy rollback`.

use crate::aws::{Aws, failed};
use crate::config::Names;
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Mapping {
    pub uuid: String,
    pub state: String,
    pub batch_size: Option<i32>,
}

pub async fn queue_url(aws: &Aws, names: &Names) -> anyhow::Result<Option<String>> {
    queue_url_of(aws, &names.queue).await
}

pub async fn queue_url_of(aws: &Aws, name: &str) -> anyhow::Result<Option<String>> {
    match aws.sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => Ok(out.queue_url().map(str::to_owned)),
        Err(e) if job_store::aws::describe(&e).contains("NonExistentQueue") || job_store::aws::describe(&e).contains("does not exist") => Ok(None),
        Err(e) => Err(failed("sqs:GetQueueUrl", e)),
    }
}

/// The named attributes of the queue at `url` (absent ones are left out).
pub async fn queue_attributes(aws: &Aws, url: &str, names: &[QueueAttributeName]) -> anyhow::Result<HashMap<QueueAttributeName, String>> {
    let out = aws.sqs.get_queue_attributes().queue_url(url).set_attribute_names(Some(names.to_vec())).send().await.map_err(|e| failed("sqs:GetQueueAttributes", e))?;
    Ok(out.attributes().cloned().unwrap_or_default())
}

pub async fn queue_arn(aws: &Aws, url: &str) -> anyhow::Result<String> {
    queue_attributes(aws, url, &[QueueAttributeName::QueueArn]).await?.remove(&QueueAttributeName::QueueArn).ok_or_else(|| anyhow::anyhow!("queue {url} has no ARN"))
}

/// The trigger's mapping from the job queue.
pub async fn mapping(aws: &Aws, names: &Names) -> anyhow::Result<Option<Mapping>> {
    let Some(url) = queue_url(aws, names).await? else { return Ok(None) };
    let arn = queue_arn(aws, &url).await?;
    let out = aws
        .lambda
        .list_event_source_mappings()
        .function_name(&names.trigger_function)
        .event_source_arn(&arn)
        .send()
        .await
        .map_err(|e| failed("lambda:ListEventSourceMappings", e))?;
    Ok(out.event_source_mappings().first().map(|m| Mapping {
        uuid: m.uuid().unwrap_or_default().to_owned(),
        state: m.state().unwrap_or_default().to_owned(),
        batch_size: m.batch_size(),
    }))
}

/// Enables or disables the trigger's mapping; no call when it already is.
pub async fn set_trigger(aws: &Aws, names: &Names, enabled: bool) -> anyhow::Result<Option<String>> {
    let Some(m) = mapping(aws, names).await? else { return Ok(None) };
    if m.state == if enabled { "Enabled" } else { "Disabled" } {
        return Ok(Some(m.state));
    }
    let out = aws.lambda.update_event_source_mapping().uuid(&m.uuid).enabled(enabled).send().await.map_err(|e| failed("lambda:UpdateEventSourceMapping", e))?;
    Ok(out.state().map(str::to_owned))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceCounts {
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
}

pub async fn service(aws: &Aws, names: &Names) -> anyhow::Result<Option<ServiceCounts>> {
    service_counts(&aws.ecs, &names.cluster, &names.service).await
}

async fn service_counts(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> anyhow::Result<Option<ServiceCounts>> {
    let out = match ecs.describe_services().cluster(cluster).services(service).send().await {
        Ok(out) => out,
        Err(e) if job_store::aws::describe(&e).contains("ClusterNotFound") => return Ok(None),
        Err(e) => return Err(failed("ecs:DescribeServices", e)),
    };
    Ok(out.services().iter().find(|s| s.status() == Some("ACTIVE")).map(|s| ServiceCounts { desired: s.desired_count(), running: s.running_count(), pending: s.pending_count() }))
}

/// Sets the legacy service's desired count; no call when it already is.
pub async fn set_service(aws: &Aws, names: &Names, desired: i32) -> anyhow::Result<Option<ServiceCounts>> {
    match service(aws, names).await? {
        None => return Ok(None),
        Some(s) if s.desired == desired => return Ok(Some(s)),
        Some(_) => {}
    }
    aws.ecs.update_service().cluster(&names.cluster).service(&names.service).desired_count(desired).send().await.map_err(|e| failed("ecs:UpdateService", e))?;
    service(aws, names).await
}

/// How long `deploy` waits for the legacy service's tasks to stop after
/// scaling it to 0: a polling worker puts its job back on SIGTERM (with its
/// checkpoint), and ECS gives it at most 120 s (`stopTimeout`) before SIGKILL.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Waits until the legacy service runs no task (none pending either), so the
/// trigger never starts consuming while a polling worker still does. At the
/// timeout it fails, and the caller leaves the trigger off.
///
/// On the emulator this returns at once: moto sets `runningCount` to the
/// desired count as soon as it changes (the local plane's polling workers
/// are processes moto does not count).
pub async fn drain(ecs: &aws_sdk_ecs::Client, names: &Names, timeout: std::time::Duration, poll: std::time::Duration) -> anyhow::Result<Option<ServiceCounts>> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match service_counts(ecs, &names.cluster, &names.service).await? {
            Some(s) if s.running > 0 || s.pending > 0 => {
                if tokio::time::Instant::now() >= deadline {
                    anyhow::bail!(
                        "the legacy service {} still runs {} task(s) ({} pending) {} s after it was scaled to 0: the trigger stays disabled so that two consumers never overlap\nhelp: find out why with `aws ecs describe-services --cluster {} --services {}`, then run `deploy` again",
                        names.service,
                        s.running,
                        s.pending,
                        timeout.as_secs(),
                        names.cluster,
                        names.service
                    );
                }
                tokio::time::sleep(poll).await;
            }
            counts => return Ok(counts),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    OnDemand,
    Polling,
    /// Both consume the queue: the state the old runbook's rollback left.
    Both,
    /// Nothing consumes the queue: jobs wait.
    Neither,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::OnDemand => "on-demand",
            Mode::Polling => "polling",
            Mode::Both => "both (trigger AND polling service consume the queue: run `deploy` or `deploy rollback`)",
            Mode::Neither => "neither (nothing consumes the queue: run `deploy` or `deploy rollback`)",
        })
    }
}

pub fn mode(mapping: Option<&Mapping>, service: Option<&ServiceCounts>) -> Mode {
    let trigger_on = mapping.is_some_and(|m| matches!(m.state.as_str(), "Enabled" | "Enabling" | "Updating" | "Creating"));
    let polling_on = service.is_some_and(|s| s.desired > 0);
    match (trigger_on, polling_on) {
        (true, false) => Mode::OnDemand,
        (false, true) => Mode::Polling,
        (true, true) => Mode::Both,
        (false, false) => Mode::Neither,
    }
}

/// Environment the trigger must have (AWS_REGION is Lambda's own, reserved).
pub async fn verify_trigger_environment(aws: &Aws, names: &Names, expected: &[(&str, String)]) -> anyhow::Result<Vec<String>> {
    let conf = aws.lambda.get_function_configuration().function_name(&names.trigger_function).send().await.map_err(|e| failed("lambda:GetFunctionConfiguration", e))?;
    let mut vars = conf.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    let mut fixed = Vec::new();
    for (k, v) in expected {
        if vars.get(*k) != Some(v) {
            vars.insert((*k).to_owned(), v.clone());
            fixed.push((*k).to_owned());
        }
    }
    if !fixed.is_empty() {
        // The stack sets these; a partial update (the emulator applies only
        // some properties, MOTO.md) or a hand edit is put right here.
        aws.lambda
            .update_function_configuration()
            .function_name(&names.trigger_function)
            .environment(aws_sdk_lambda::types::Environment::builder().set_variables(Some(vars)).build())
            .send()
            .await
            .map_err(|e| failed("lambda:UpdateFunctionConfiguration", e))?;
    }
    Ok(fixed)
}

pub async fn api_url(aws: &Aws, names: &Names) -> Option<String> {
    aws.lambda.get_function_url_config().function_name(&names.api_function).send().await.ok().map(|o| o.function_url().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::types::Service;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::time::Duration;

    fn names() -> Names {
        crate::config::Settings::load(std::path::Path::new("/nonexistent/deploy.yaml"), None).unwrap().names
    }

    fn counts(running: i32) -> DescribeServicesOutput {
        DescribeServicesOutput::builder().services(Service::builder().status("ACTIVE").desired_count(0).running_count(running).pending_count(0).build()).build()
    }

    // ECS's running count lags behind the desired count while tasks stop;
    // the emulator's never does, hence a mocked ECS here.
    #[tokio::test]
    async fn the_drain_waits_for_the_last_polling_task_to_stop() {
        let two = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| counts(2));
        let one = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| counts(1));
        let none = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| counts(0));
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, &[&two, &one, &none]);
        let drained = drain(&ecs, &names(), Duration::from_secs(5), Duration::from_millis(1)).await.unwrap().unwrap();
        assert_eq!(drained.running, 0);
        assert_eq!((two.num_calls(), one.num_calls(), none.num_calls()), (1, 1, 1));
    }

    #[tokio::test]
    async fn a_task_that_does_not_stop_ends_the_drain_with_what_to_do() {
        let stuck = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| counts(1));
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&stuck]);
        let error = drain(&ecs, &names(), Duration::from_millis(20), Duration::from_millis(5)).await.unwrap_err().to_string();
        assert!(error.contains("still runs 1 task(s)") && error.contains("the trigger stays disabled") && error.contains("aws ecs describe-services"), "{error}");
        assert!(stuck.num_calls() >= 2);
    }
}
