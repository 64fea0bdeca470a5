//! The stack's template (built into the binary, or another file for tests)
//! and the parameters computed for it.

use crate::artifacts::Artifacts;
use crate::config::Settings;
use crate::discover::{Existing, Network};
use std::collections::BTreeMap;

pub const SOLVER_TEMPLATE: &str = include_str!("../../stacks/solver.yaml");

/// `image` is the worker image as the task definition gets it (resolved and
/// pinned by `image::resolve`).
pub fn parameters(s: &Settings, network: &Network, existing: &Existing, artifacts: &Artifacts, image: &str) -> BTreeMap<String, String> {
    let n = &s.names;
    let yes_no = |b: bool| if b { "true" } else { "false" }.to_owned();
    BTreeMap::from([
        ("QueueName".into(), n.queue.clone()),
        ("DeadLetterQueueName".into(), n.dead_letter_queue.clone()),
        ("ExistingQueueUrl".into(), existing.queue.as_ref().map(|q| q.url.clone()).unwrap_or_default()),
        ("AdoptDeadLetterQueue".into(), yes_no(existing.dead_letter_queue.is_some())),
        ("MaxReceiveCount".into(), s.max_receive_count.to_string()),
        ("MaxAttempts".into(), s.max_attempts.to_string()),
        ("WorkerCapacity".into(), s.capacity.as_str().into()),
        ("SpotInterruptionsMax".into(), s.spot_interruptions_max.to_string()),
        ("MaxRunningTasks".into(), s.max_running_tasks.to_string()),
        ("MemoryOnOom".into(), s.memory_on_oom.iter().map(u32::to_string).collect::<Vec<_>>().join(",")),
        ("TriggerFunctionName".into(), n.trigger_function.clone()),
        ("ApiFunctionName".into(), n.api_function.clone()),
        ("ClusterName".into(), n.cluster.clone()),
        ("CreateCluster".into(), yes_no(!existing.cluster)),
        ("TaskFamily".into(), n.task_family.clone()),
        ("ContainerName".into(), n.container.clone()),
        ("ServiceName".into(), n.service.clone()),
        ("CreateService".into(), yes_no(!existing.service)),
        ("BucketName".into(), n.bucket.clone()),
        ("CreateBucket".into(), yes_no(!existing.bucket)),
        ("ArtifactsBucket".into(), artifacts.bucket.clone()),
        ("ApiCodeKey".into(), artifacts.api.key.clone()),
        ("TriggerCodeKey".into(), artifacts.trigger.key.clone()),
        ("Architecture".into(), s.architecture.clone()),
        ("WorkerImage".into(), image.to_owned()),
        ("WorkerCpu".into(), s.worker_cpu.to_string()),
        ("WorkerMemory".into(), s.worker_memory.to_string()),
        ("Subnets".into(), network.subnets.join(",")),
        ("SecurityGroups".into(), network.security_groups.join(",")),
        ("AssignPublicIp".into(), if s.assign_public_ip { "ENABLED" } else { "DISABLED" }.into()),
        ("ApiAuthType".into(), if s.api_public { "NONE" } else { "AWS_IAM" }.into()),
        ("CorsOrigins".into(), s.cors_origins.join(",")),
        ("BatchSize".into(), s.batch_size.to_string()),
        ("MaxConcurrency".into(), s.max_concurrency.to_string()),
        ("LogRetentionDays".into(), s.log_retention_days.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use serde_yaml::Value;

    fn resources() -> serde_yaml::Mapping {
        let template: Value = serde_yaml::from_str(super::SOLVER_TEMPLATE).unwrap();
        template["Resources"].as_mapping().unwrap().clone()
    }

    /// The statements of a role's inline policies.
    fn statements(role: &Value) -> Vec<Value> {
        role["Properties"]["Policies"].as_sequence().unwrap().iter().flat_map(|p| p["PolicyDocument"]["Statement"].as_sequence().unwrap().clone()).collect()
    }

    /// On AWS a missing key reads as 403 without `s3:ListBucket`, not 404:
    /// the emulator checks no IAM, so the template itself is checked here.
    #[test]
    fn every_runtime_role_may_list_the_jobs_and_the_indexes() {
        let resources = resources();
        for role in ["ApiRole", "TriggerRole", "TaskRole"] {
            let list = statements(&resources[role]).into_iter().find(|s| s["Action"] == "s3:ListBucket").unwrap_or_else(|| panic!("{role} has no s3:ListBucket"));
            let prefixes: Vec<&str> = list["Condition"]["StringLike"]["s3:prefix"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
            assert_eq!(prefixes, ["jobs/*", "index/*"], "{role}: listing scoped to the jobs and the indexes");
        }
    }

    #[test]
    fn a_public_api_grants_both_function_url_permissions_and_nothing_wider() {
        let resources = resources();
        let url = &resources["PublicApiPermission"]["Properties"];
        assert_eq!((url["Action"].as_str(), url["FunctionUrlAuthType"].as_str()), (Some("lambda:InvokeFunctionUrl"), Some("NONE")));
        let invoke = &resources["PublicApiInvokePermission"]["Properties"];
        assert_eq!((invoke["Action"].as_str(), invoke["InvokedViaFunctionUrl"].as_bool()), (Some("lambda:InvokeFunction"), Some(true)), "invoke only through the URL");
        assert!(!resources["ApiFunction"]["Properties"]["ReservedConcurrentExecutions"].is_null(), "a public API has a concurrency bound");
    }
}
