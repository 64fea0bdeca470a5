//! RunTask for one attempt, and what its refusal means: worth trying again,
//! or never going to work as deployed. Decided by the error's code, never by
//! its message text.

use crate::Trigger;
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride, KeyValuePair, LaunchType, NetworkConfiguration, TaskOverride};
use job_model::{Capacity, ErrorInfo, RunId};
use sha2::{Digest, Sha256};

pub const STARTED_BY_DEFAULT: &str = "scheduling-solver-sqs-trigger";

#[derive(Debug, Clone, PartialEq)]
pub enum LaunchError {
    /// Throttling, no capacity, a service fault, a timeout: try again later.
    Transient(ErrorInfo),
    /// Invalid parameters, access denied, a missing cluster or task
    /// definition: it fails the same way until someone changes the deploy.
    Permanent(ErrorInfo),
}

/// RunTask's `clientToken` (at most 64 characters): the same claim always
/// gives the same token, so an SDK retry of the call returns the task
/// already started instead of a second one; a new attempt or a new claim
/// after a failure gets a new token (ECS refuses a reused token whose
/// parameters changed, for example after a deploy's new task definition).
pub fn idempotency_token(run_id: &RunId, attempt: u32, launch: u32) -> String {
    let digest = Sha256::digest(format!("{run_id}:{attempt}:{launch}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// ECS error codes after which the same call can succeed later.
fn transient_code(code: &str) -> bool {
    matches!(code, "ThrottlingException" | "ServerException" | "ServiceUnavailableException" | "LimitExceededException" | "ConflictException" | "RequestLimitExceeded")
}

/// `failures[].reason` values of RunTask that are about capacity or load
/// (`RESOURCE:*`, `AGENT`, capacity shortages), not about the request.
fn transient_failure(reason: &str) -> bool {
    !matches!(reason, "MISSING" | "INACTIVE")
}

fn env(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

impl Trigger {
    /// RunTask on `capacity`; a Spot launch that fails for any reason but
    /// throttling (no Spot capacity, a cluster without the Spot provider) is
    /// made again at once on-demand, so no job waits for Spot.
    pub(crate) async fn run_task_with_fallback(
        &self,
        run_id: &RunId,
        attempt: u32,
        launch: u32,
        capacity: Capacity,
        memory: Option<u32>,
    ) -> Result<(String, Capacity), LaunchError> {
        match self.run_task(run_id, attempt, launch, capacity, memory).await {
            Err(LaunchError::Transient(e) | LaunchError::Permanent(e)) if capacity == Capacity::Spot && e.code != "ThrottlingException" => {
                tracing::warn!(%run_id, attempt, "no Spot launch ({e}): launching on-demand");
                self.run_task(run_id, attempt, launch, Capacity::OnDemand, memory).await.map(|arn| (arn, Capacity::OnDemand))
            }
            other => other.map(|arn| (arn, capacity)),
        }
    }

    /// RunTask for one attempt; `memory` (MiB) overrides the task's and the
    /// container's memory (after an out-of-memory stop).
    pub(crate) async fn run_task(&self, run_id: &RunId, attempt: u32, launch: u32, capacity: Capacity, memory: Option<u32>) -> Result<String, LaunchError> {
        let c = &self.config;
        let network = AwsVpcConfiguration::builder()
            .set_subnets(Some(c.subnets.clone()))
            .set_security_groups(Some(c.security_groups.clone()))
            .assign_public_ip(if c.assign_public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled })
            .build()
            .map_err(|e| LaunchError::Permanent(ErrorInfo::new("INVALID_NETWORK", e.to_string())))?;
        let container = ContainerOverride::builder()
            .name(&c.container)
            .environment(env("RUN_ID", run_id.as_str()))
            .environment(env("SINGLE_RUN_MODE", "true"))
            // What the task runs on, for its logs (and for the local plane,
            // whose emulator records no capacity provider).
            .environment(env("CAPACITY", capacity.as_str()))
            .set_memory(memory.and_then(|m| i32::try_from(m).ok()));
        let overrides = TaskOverride::builder().container_overrides(container.build()).set_memory(memory.map(|m| m.to_string())).build();
        let request = self.ecs.run_task().cluster(&c.cluster).task_definition(&c.task_definition);
        let request = match capacity {
            Capacity::OnDemand => request.launch_type(LaunchType::Fargate),
            Capacity::Spot => request.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()
                    .map_err(|e| LaunchError::Permanent(ErrorInfo::new("INVALID_CAPACITY", e.to_string())))?,
            ),
        };
        let result = request
            .count(1)
            .started_by(&c.started_by)
            // The capacity is part of the token: a fallback is a new request.
            .client_token(idempotency_token(run_id, attempt, launch * 2 + u32::from(capacity == Capacity::OnDemand)))
            .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(network).build())
            .overrides(overrides)
            .send()
            .await;
        match result {
            Ok(out) => {
                if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
                    return Ok(arn.to_owned());
                }
                let failures = out.failures();
                let reasons: Vec<String> = failures.iter().map(|f| format!("{} ({})", f.reason().unwrap_or("unknown"), f.detail().or(f.arn()).unwrap_or("-"))).collect();
                let message = if reasons.is_empty() { "RunTask returned no task and no failure".into() } else { reasons.join("; ") };
                let error = ErrorInfo::new("RUN_TASK_FAILURES", format!("ECS could not start the task: {message}"));
                if failures.iter().all(|f| transient_failure(f.reason().unwrap_or_default())) { Err(LaunchError::Transient(error)) } else { Err(LaunchError::Permanent(error)) }
            }
            Err(e) => {
                let described = job_store::aws::describe(&e);
                match e.as_service_error().and_then(|s| s.code()) {
                    Some(code) if !transient_code(code) => {
                        Err(LaunchError::Permanent(ErrorInfo::new(code, format!("ECS RunTask refused the launch: {described}; {}", hint(code)))))
                    }
                    Some(code) => Err(LaunchError::Transient(ErrorInfo::new(code, format!("ECS RunTask failed: {described}")))),
                    // No answer (timeout, connection): the service may be fine.
                    None => Err(LaunchError::Transient(ErrorInfo::new("RUN_TASK_FAILED", format!("ECS RunTask failed: {described}")))),
                }
            }
        }
    }
}

fn hint(code: &str) -> &'static str {
    match code {
        "AccessDeniedException" => "the trigger's role lacks ecs:RunTask or iam:PassRole: run `deploy` again",
        "ClusterNotFoundException" => "the cluster in ECS_CLUSTER does not exist: run `deploy` again",
        "InvalidParameterException" | "ClientException" => "check the subnets, security groups and task definition in deploy.yaml, then run `deploy`",
        _ => "see the message; the job will not be retried",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_per_attempt_and_claim_and_fit_ecs() {
        let id = RunId::parse("r1").unwrap();
        let t = idempotency_token(&id, 1, 1);
        assert_eq!(t, idempotency_token(&id, 1, 1));
        assert_ne!(t, idempotency_token(&id, 2, 1));
        assert_ne!(t, idempotency_token(&id, 1, 2));
        assert!(t.len() <= 64);
    }

    #[test]
    fn errors_are_sorted_by_code() {
        for code in ["ThrottlingException", "ServerException", "ConflictException"] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["AccessDeniedException", "InvalidParameterException", "ClusterNotFoundException", "ClientException", "PlatformUnknownException"] {
            assert!(!transient_code(code), "{code}");
        }
        assert!(transient_failure("Capacity is unavailable at this time. Please try again later or in a different availability zone"));
        assert!(!transient_failure("MISSING"));
    }
}
