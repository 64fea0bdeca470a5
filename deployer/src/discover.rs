//! Read-only look-ups before anything changes: the network tasks run in,
//! legacy resources that already exist outside the stack, and the functions'
//! settings that `deploy` checks.
//! Architecture invariant: nothing here mutates AWS.

use crate::aws::{Aws, failed};
use crate::config::Settings;
use crate::errors::DeployError;
use crate::queues::{self, QueueRef};
use aws_sdk_ec2::types::Filter;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Network {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// Where they came from: "deploy.yaml" or the default VPC's id.
    pub source: String,
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

pub async fn network(aws: &Aws, settings: &Settings) -> anyhow::Result<Network> {
    if let (Some(subnets), Some(security_groups)) = (&settings.subnets, &settings.security_groups) {
        return Ok(Network { subnets: subnets.clone(), security_groups: security_groups.clone(), source: "deploy.yaml".into() });
    }
    let vpcs = aws.ec2.describe_vpcs().filters(filter("isDefault", "true")).send().await.map_err(|e| failed("ec2:DescribeVpcs", e))?;
    let Some(vpc) = vpcs.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_owned) else {
        return Err(DeployError::NoDefaultVpc { region: aws.region.clone() }.into());
    };
    let subnets = match &settings.subnets {
        Some(s) => s.clone(),
        None => {
            let out =
                aws.ec2.describe_subnets().filters(filter("vpc-id", &vpc)).filters(filter("default-for-az", "true")).send().await.map_err(|e| failed("ec2:DescribeSubnets", e))?;
            let mut ids: Vec<String> = out.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
            ids.sort();
            if ids.is_empty() {
                return Err(DeployError::NoDefaultSubnets { vpc, region: aws.region.clone() }.into());
            }
            ids
        }
    };
    let security_groups = match &settings.security_groups {
        Some(g) => g.clone(),
        None => {
            let out = aws
                .ec2
                .describe_security_groups()
                .filters(filter("vpc-id", &vpc))
                .filters(filter("group-name", "default"))
                .send()
                .await
                .map_err(|e| failed("ec2:DescribeSecurityGroups", e))?;
            out.security_groups().iter().filter_map(|g| g.group_id().map(str::to_owned)).take(1).collect()
        }
    };
    anyhow::ensure!(!security_groups.is_empty(), "the default VPC {vpc} has no `default` security group: set network.security_groups in deploy.yaml");
    Ok(Network { subnets, security_groups, source: vpc })
}

/// What of the old architecture exists outside the stack, to adopt rather
/// than fail on or duplicate.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Existing {
    pub cluster: bool,
    pub service: bool,
    /// The results bucket, kept by an earlier `destroy` or made by hand.
    pub bucket: bool,
    /// The job queue and its DLQ (the old architecture made the queue).
    pub queue: Option<QueueRef>,
    pub dead_letter_queue: Option<QueueRef>,
    /// The adopted queue's attributes that the pipeline sets (`adopted_queue::COMPARED`).
    #[serde(skip)]
    pub queue_attributes: HashMap<String, String>,
}

pub async fn existing_outside_stack(aws: &Aws, settings: &Settings, stack_resources: &[String]) -> anyhow::Result<Existing> {
    let n = &settings.names;
    let mut existing = Existing::default();
    if !stack_resources.iter().any(|r| r == "Cluster") {
        let out = aws.ecs.describe_clusters().clusters(&n.cluster).send().await.map_err(|e| failed("ecs:DescribeClusters", e))?;
        existing.cluster = out.clusters().iter().any(|c| c.status() == Some("ACTIVE"));
    }
    if !stack_resources.iter().any(|r| r == "LegacyService") && existing.cluster {
        let out = aws.ecs.describe_services().cluster(&n.cluster).services(&n.service).send().await.map_err(|e| failed("ecs:DescribeServices", e))?;
        existing.service = out.services().iter().any(|s| s.status() == Some("ACTIVE"));
    }
    if !stack_resources.iter().any(|r| r == "ResultsBucket") {
        existing.bucket = aws.s3.head_bucket().bucket(&n.bucket).send().await.is_ok();
    }
    if !stack_resources.iter().any(|r| r == "JobQueue") {
        existing.queue = queues::find(aws, &n.queue).await?;
        if let Some(q) = &existing.queue {
            let attrs = queues::attributes(aws, &q.url, &crate::adopted_queue::COMPARED).await?;
            existing.queue_attributes = attrs.into_iter().map(|(k, v)| (k.as_str().to_owned(), v)).collect();
        }
    }
    if !stack_resources.iter().any(|r| r == "DeadLetterQueue") {
        existing.dead_letter_queue = queues::find(aws, &n.dead_letter_queue).await?;
    }
    Ok(existing)
}

/// The API function's URL (none on the emulator: MOTO.md).
pub async fn api_url(aws: &Aws, function: &str) -> Option<String> {
    aws.lambda.get_function_url_config().function_name(function).send().await.ok().map(|o| o.function_url().to_owned())
}

/// The function's environment variables; `None` when it does not exist.
pub async fn environment(aws: &Aws, function: &str) -> anyhow::Result<Option<HashMap<String, String>>> {
    match aws.lambda.get_function_configuration().function_name(function).send().await {
        Ok(conf) => Ok(Some(conf.environment().and_then(|e| e.variables()).cloned().unwrap_or_default())),
        Err(e) if job_store::aws::describe(&e).contains("ResourceNotFound") => Ok(None),
        Err(e) => Err(failed("lambda:GetFunctionConfiguration", e)),
    }
}
