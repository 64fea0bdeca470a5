//! `deploy status`: what runs now, read from the account (never the config's
//! hopes): mode, tasks with their run ids, queue depths, the legacy service,
//! recent jobs.

use crate::aws::{Aws, failed};
use crate::config::Settings;
use crate::consumers::{self, Mode, ServiceCounts};
use aws_sdk_ecs::types::DesiredStatus;

#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskInfo {
    pub task_arn: String,
    pub run_id: Option<String>,
    /// `service:solver-worker` for the legacy polling service's tasks.
    pub group: Option<String>,
    pub started_by: Option<String>,
    pub last_status: Option<String>,
    pub age_s: Option<i64>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    /// The worker container's exit code and ECS's reason for it (e.g. OutOfMemoryError).
    pub exit_code: Option<i32>,
    pub container_reason: Option<String>,
}

impl TaskInfo {
    /// What the task runs: its job, the polling service, or neither.
    pub fn runs(&self, service: &str) -> String {
        match (&self.run_id, &self.group) {
            (Some(id), _) => format!("run {id}"),
            (None, Some(g)) if g.strip_prefix("service:") == Some(service) => "(polling)".into(),
            _ => "(no RUN_ID)".into(),
        }
    }
}

/// Stopped tasks shown, newest first (ECS keeps them about an hour).
const STOPPED_SHOWN: usize = 10;

#[derive(Debug, serde::Serialize)]
pub struct JobInfo {
    pub run_id: String,
    pub state: String,
    pub updated_at: String,
    pub error: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct StatusReport {
    pub stack: String,
    /// The stage whose copy this is (`--stage`), none for the default one.
    pub stage: Option<String>,
    pub stack_status: Option<String>,
    pub region: String,
    pub mode: Mode,
    pub trigger_state: Option<String>,
    pub legacy_service: Option<ServiceCounts>,
    pub queue: Option<(i64, i64)>,
    pub dead_letter_queue: Option<i64>,
    pub running_tasks: Vec<TaskInfo>,
    /// The task family's tasks stopped in the last hour or so, with ECS's reason.
    pub stopped_tasks: Vec<TaskInfo>,
    /// The legacy service's name, to tell its tasks apart.
    pub service: String,
    pub recent_jobs: Vec<JobInfo>,
    pub api_url: Option<String>,
    /// What solving cost this calendar month so far (UTC), beside the old
    /// polling service over the same days.
    pub month_so_far: Option<MonthCost>,
    /// Parts that could not be read (a missing permission, say): reported
    /// rather than shown as "nothing there".
    pub unreadable: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct MonthCost {
    pub since: String,
    pub jobs: usize,
    pub total_usd: f64,
    pub spot_saved_usd: f64,
    pub polling_service_usd: f64,
}

pub async fn status(aws: &Aws, settings: &Settings) -> anyhow::Result<StatusReport> {
    let n = &settings.names;
    let stack_status = crate::stack::describe(aws, &n.stack).await?.and_then(|s| s.stack_status().map(|s| s.as_str().to_owned()));
    let mapping = consumers::mapping(aws, n).await?;
    let service = consumers::service(aws, n).await?;
    let queue = match crate::queues::url_of(aws, &n.queue).await? {
        Some(url) => Some(crate::queues::depth(aws, &url).await?),
        None => None,
    };
    let mut unreadable = Vec::new();
    let dlq = match crate::queues::url_of(aws, &n.dead_letter_queue).await {
        Ok(Some(url)) => Some(crate::queues::depth(aws, &url).await?.0),
        Ok(None) => None,
        Err(e) => {
            unreadable.push(format!("dead-letter queue: {e:#}"));
            None
        }
    };
    let running_tasks = match tasks(aws, settings, DesiredStatus::Running).await {
        Ok(tasks) => tasks,
        Err(e) => {
            unreadable.push(format!("tasks: {e:#}"));
            Vec::new()
        }
    };
    let stopped_tasks = match tasks(aws, settings, DesiredStatus::Stopped).await {
        Ok(mut tasks) => {
            tasks.sort_by_key(|t| t.age_s.unwrap_or(i64::MAX));
            tasks.truncate(STOPPED_SHOWN);
            tasks
        }
        Err(e) => {
            unreadable.push(format!("stopped tasks: {e:#}"));
            Vec::new()
        }
    };
    let store = job_store::Store::new(aws.s3.clone(), &n.bucket);
    let recent_jobs = match store.recent_statuses(10).await {
        Ok(docs) => docs
            .into_iter()
            .map(|d| JobInfo {
                run_id: d.run_id.to_string(),
                state: d.state.to_string(),
                updated_at: d.updated_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                error: d.error.map(|e| e.to_string()),
            })
            .collect(),
        Err(e) => {
            unreadable.push(format!("recent jobs in s3://{}: {e}", n.bucket));
            Vec::new()
        }
    };
    let month_so_far = match crate::cost::month_so_far(aws, settings).await {
        Ok(c) => Some(MonthCost { since: c.since, jobs: c.jobs, total_usd: c.total_usd, spot_saved_usd: c.spot_saved_usd, polling_service_usd: c.polling_service_usd }),
        Err(e) => {
            unreadable.push(format!("this month's cost: {e:#}"));
            None
        }
    };
    Ok(StatusReport {
        month_so_far,
        stack: n.stack.clone(),
        stage: settings.stage.clone(),
        stack_status,
        region: aws.region.clone(),
        mode: consumers::mode(mapping.as_ref(), service.as_ref()),
        trigger_state: mapping.map(|m| m.state),
        legacy_service: service,
        queue,
        dead_letter_queue: dlq,
        running_tasks,
        stopped_tasks,
        service: n.service.clone(),
        recent_jobs,
        api_url: crate::discover::api_url(aws, &n.api_function).await,
        unreadable,
    })
}

/// Every task of the worker's family in `desired` state: all pages, other
/// families on a shared cluster left out.
pub(crate) async fn tasks(aws: &Aws, settings: &Settings, desired: DesiredStatus) -> anyhow::Result<Vec<TaskInfo>> {
    let n = &settings.names;
    let mut arns = Vec::new();
    let mut pages = aws.ecs.list_tasks().cluster(&n.cluster).family(&n.task_family).desired_status(desired).into_paginator().send();
    while let Some(page) = pages.next().await {
        arns.extend(page.map_err(|e| failed("ecs:ListTasks", e))?.task_arns().iter().cloned());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut infos = Vec::new();
    for chunk in arns.chunks(100) {
        let out = aws.ecs.describe_tasks().cluster(&n.cluster).set_tasks(Some(chunk.to_vec())).send().await.map_err(|e| failed("ecs:DescribeTasks", e))?;
        infos.extend(out.tasks().iter().map(|t| {
            let worker = t.containers().iter().find(|c| c.name() == Some(n.container.as_str()));
            TaskInfo {
                task_arn: t.task_arn().unwrap_or_default().to_owned(),
                run_id: t
                    .overrides()
                    .into_iter()
                    .flat_map(|o| o.container_overrides())
                    .flat_map(|c| c.environment())
                    .find(|kv| kv.name() == Some("RUN_ID"))
                    .and_then(|kv| kv.value().map(str::to_owned)),
                group: t.group().map(str::to_owned),
                started_by: t.started_by().filter(|s| !s.is_empty()).map(str::to_owned),
                last_status: t.last_status().map(str::to_owned),
                age_s: t.created_at().map(|c| now - c.secs()),
                stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
                stopped_reason: t.stopped_reason().map(str::to_owned),
                // Only a stopped container's exit code is one (the emulator
                // reports 0 for every container, even a pending one).
                exit_code: worker.filter(|c| c.last_status() == Some("STOPPED")).and_then(|c| c.exit_code()),
                container_reason: worker.and_then(|c| c.reason()).map(str::to_owned),
            }
        }));
    }
    Ok(infos)
}
