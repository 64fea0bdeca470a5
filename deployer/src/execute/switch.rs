//! The switch between the queue's two consumers: the trigger's mapping
//! turned on or off, the legacy service scaled, and the wait for its tasks
//! to stop. The plan puts these in the order that leaves a gap, never an
//! overlap; each call is made only when the state differs.

use crate::aws::{Aws, failed};
use crate::config::Names;
use crate::consumers::{self, ServiceCounts};

/// Enables or disables the trigger's mapping; the state it is left in.
pub async fn set_trigger(aws: &Aws, names: &Names, enabled: bool) -> anyhow::Result<String> {
    let Some(m) = consumers::mapping(aws, names).await? else {
        anyhow::bail!("no event source mapping for {} on queue {}: the stack makes it; run `deploy`", names.trigger_function, names.queue)
    };
    if m.state == if enabled { "Enabled" } else { "Disabled" } {
        return Ok(m.state);
    }
    let out = aws.lambda.update_event_source_mapping().uuid(&m.uuid).enabled(enabled).send().await.map_err(|e| failed("lambda:UpdateEventSourceMapping", e))?;
    Ok(out.state().unwrap_or_default().to_owned())
}

/// Sets the legacy service's desired count; its counts after.
pub async fn set_service(aws: &Aws, names: &Names, desired: i32) -> anyhow::Result<Option<ServiceCounts>> {
    match consumers::service(aws, names).await? {
        None => return Ok(None),
        Some(s) if s.desired == desired => return Ok(Some(s)),
        Some(_) => {}
    }
    aws.ecs.update_service().cluster(&names.cluster).service(&names.service).desired_count(desired).send().await.map_err(|e| failed("ecs:UpdateService", e))?;
    consumers::service(aws, names).await
}

/// How long `deploy` waits for the legacy service's tasks to stop after
/// scaling it to 0: a polling worker puts its job back on SIGTERM (with its
/// checkpoint), and ECS gives it at most 120 s (`stopTimeout`) before SIGKILL.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Waits until the legacy service runs no task (none pending either), so the
/// trigger never starts consuming while a polling worker still does. At the
/// timeout it fails, and the executor stops before the trigger is enabled.
///
/// On the emulator this returns at once: moto sets `runningCount` to the
/// desired count as soon as it changes (the local plane's polling workers
/// are processes moto does not count).
pub async fn drain(ecs: &aws_sdk_ecs::Client, names: &Names, timeout: std::time::Duration, poll: std::time::Duration) -> anyhow::Result<Option<ServiceCounts>> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match consumers::service_counts(ecs, &names.cluster, &names.service).await? {
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
