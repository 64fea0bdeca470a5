//! Read-only look-ups before anything changes: the network tasks run in, and
//! legacy resources that already exist outside the stack.
//! Architecture invariant: nothing here mutates AWS.

use crate::aws::{Aws, failed};
use crate::config::Settings;
use crate::errors::DeployError;
use aws_sdk_ec2::types::Filter;

#[derive(Debug, Clone, serde::Serialize)]
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
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Existing {
    pub cluster: bool,
    pub service: bool,
    /// The results bucket, kept by an earlier `destroy` or made by hand.
    pub bucket: bool,
    /// The job queue and its DLQ (the old architecture made the queue).
    pub queue: Option<QueueRef>,
    pub dead_letter_queue: Option<QueueRef>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueRef {
    pub url: String,
    pub arn: String,
}

async fn queue(aws: &Aws, name: &str) -> anyhow::Result<Option<QueueRef>> {
    let Some(url) = crate::switch::queue_url_of(aws, name).await? else { return Ok(None) };
    let arn = crate::switch::queue_arn(aws, &url).await?;
    Ok(Some(QueueRef { url, arn }))
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
        existing.queue = queue(aws, &n.queue).await?;
    }
    if !stack_resources.iter().any(|r| r == "DeadLetterQueue") {
        existing.dead_letter_queue = queue(aws, &n.dead_letter_queue).await?;
    }
    Ok(existing)
}
