use crate::Trigger;
use aws_sdk_ecs::types::{AssignPublicIp, AwsVpcConfiguration, ContainerOverride, KeyValuePair, LaunchType, NetworkConfiguration, TaskOverride};
use job_model::{ErrorInfo, RunId};
use sha2::{Digest, Sha256};

pub const STARTED_BY_DEFAULT: &str = "scheduling-solver-sqs-trigger";

pub enum Launched {
    Task(String),
    Failed(ErrorInfo),
}

/// RunTask's `clientToken` (at most 64 characters): the same job and attempt
/// always give the same token, so a retried call within 24 hours on AWS
/// returns the task already started instead of a second one.
pub fn idempotency_token(run_id: &RunId, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{run_id}:{attempt}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn env(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

impl Trigger {
    pub(crate) async fn run_task(&self, run_id: &RunId, attempt: u32) -> Launched {
        let c = &self.config;
        let network = match AwsVpcConfiguration::builder()
            .set_subnets(Some(c.subnets.clone()))
            .set_security_groups(Some(c.security_groups.clone()))
            .assign_public_ip(if c.assign_public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled })
            .build()
        {
            Ok(n) => n,
            Err(e) => return Launched::Failed(ErrorInfo::new("RUN_TASK_FAILED", e.to_string())),
        };
        let overrides = TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(&c.container)
                    .environment(env("RUN_ID", run_id.as_str()))
                    .environment(env("SINGLE_RUN_MODE", "true"))
                    .build(),
            )
            .build();
        let result = self
            .ecs
            .run_task()
            .cluster(&c.cluster)
            .task_definition(&c.task_definition)
            .launch_type(LaunchType::Fargate)
            .count(1)
            .started_by(&c.started_by)
            .client_token(idempotency_token(run_id, attempt))
            .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(network).build())
            .overrides(overrides)
            .send()
            .await;
        match result {
            Ok(out) => {
                if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
                    return Launched::Task(arn.to_owned());
                }
                let reasons: Vec<String> = out
                    .failures()
                    .iter()
                    .map(|f| format!("{} ({})", f.reason().unwrap_or("unknown"), f.detail().or(f.arn()).unwrap_or("-")))
                    .collect();
                let message = if reasons.is_empty() { "RunTask returned no task and no failure".into() } else { reasons.join("; ") };
                Launched::Failed(ErrorInfo::new("RUN_TASK_FAILURES", format!("ECS could not start the task: {message}")))
            }
            Err(e) => Launched::Failed(ErrorInfo::new("RUN_TASK_FAILED", format!("ECS RunTask failed: {}", job_store::aws::describe(&e)))),
        }
    }
}
