//! The two consumers of the job queue, as they are now: the trigger's event
//! source mapping (on-demand) and the legacy service (polling), and the mode
//! they make together. Read-only: the switch between them is a plan's steps,
//! carried out by `execute::switch`.

use crate::aws::{Aws, failed};
use crate::config::Names;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mapping {
    pub uuid: String,
    pub state: String,
    pub batch_size: Option<i32>,
}

impl Mapping {
    /// On, or on its way to being on.
    pub fn consumes(&self) -> bool {
        matches!(self.state.as_str(), "Enabled" | "Enabling" | "Updating" | "Creating")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceCounts {
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
}

/// Both consumers under one set of names; `None` where one does not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Consumers {
    pub mapping: Option<Mapping>,
    pub service: Option<ServiceCounts>,
}

impl Consumers {
    pub fn mode(&self) -> Mode {
        mode(self.mapping.as_ref(), self.service.as_ref())
    }
}

pub async fn read(aws: &Aws, names: &Names) -> anyhow::Result<Consumers> {
    Ok(Consumers { mapping: mapping(aws, names).await?, service: service(aws, names).await? })
}

/// The trigger's mapping from the job queue.
pub async fn mapping(aws: &Aws, names: &Names) -> anyhow::Result<Option<Mapping>> {
    let Some(url) = crate::queues::url_of(aws, &names.queue).await? else { return Ok(None) };
    let arn = crate::queues::arn(aws, &url).await?;
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

pub async fn service(aws: &Aws, names: &Names) -> anyhow::Result<Option<ServiceCounts>> {
    service_counts(&aws.ecs, &names.cluster, &names.service).await
}

pub async fn service_counts(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> anyhow::Result<Option<ServiceCounts>> {
    let out = match ecs.describe_services().cluster(cluster).services(service).send().await {
        Ok(out) => out,
        Err(e) if job_store::aws::describe(&e).contains("ClusterNotFound") => return Ok(None),
        Err(e) => return Err(failed("ecs:DescribeServices", e)),
    };
    Ok(out.services().iter().find(|s| s.status() == Some("ACTIVE")).map(|s| ServiceCounts { desired: s.desired_count(), running: s.running_count(), pending: s.pending_count() }))
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
    let trigger_on = mapping.is_some_and(Mapping::consumes);
    let polling_on = service.is_some_and(|s| s.desired > 0);
    match (trigger_on, polling_on) {
        (true, false) => Mode::OnDemand,
        (false, true) => Mode::Polling,
        (true, true) => Mode::Both,
        (false, false) => Mode::Neither,
    }
}
