//! `deploy logs RUN_ID [--follow] [--since 1h]`: one job's lines from every
//! program that touched it, in time order: the API's and the trigger's lines
//! that name the run id, and every line of each attempt's worker task (its
//! `awslogs` stream is named from the task id, which the job's status
//! records per attempt).
//!
//! The API's status reads (`GET`) are left out unless `--reads`: a client
//! polling its job writes one every few seconds.
//!
//! With `--follow` it polls every 2 s (FilterLogEvents, which is what `aws
//! logs tail --follow` does too), picks up new attempts as the status records
//! them, and stops a few seconds after the job has ended, once the last
//! worker's final lines had time to arrive.

use crate::aws::{Aws, failed};
use crate::config::Settings;
use job_model::{RunId, StatusDoc};
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// Milliseconds since the epoch, as CloudWatch Logs stamps it.
    pub timestamp: i64,
    /// `api`, `trigger`, or `worker#N` for attempt N.
    pub source: String,
    pub message: String,
    #[serde(skip)]
    event_id: String,
}

/// One place the job's lines are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    label: String,
    group: String,
    /// A worker task's whole stream; else lines naming the run id.
    stream: Option<String>,
}

const POLL: Duration = Duration::from_secs(2);
/// Polls after the job ended: the worker's last lines arrive up to a few
/// seconds after its status is written (the `awslogs` driver batches them).
const POLLS_AFTER_THE_END: u32 = 3;

/// Whether the API's line is a status read (`GET /runs/ID`), which a
/// client polling its job writes every few seconds; left out unless asked.
fn is_read(line: &Line) -> bool {
    line.source == "api" && line.message.contains("method=GET")
}

pub async fn logs(aws: &Aws, settings: &Settings, run_id: &str, since: Option<&str>, follow: bool, reads: bool, json: bool) -> anyhow::Result<()> {
    let n = &settings.names;
    let id = RunId::parse(run_id).map_err(|e| anyhow::anyhow!("{run_id:?} is not a run id ({e})"))?;
    let store = job_store::Store::new(aws.s3.clone(), &n.bucket);
    let read = || async {
        store
            .read_status(&id)
            .await
            .map_err(|e| anyhow::anyhow!("reading the status of {id} in s3://{}: {e}", n.bucket))?
            .map(|(doc, _)| doc)
            .ok_or_else(|| anyhow::anyhow!("no job {id} in s3://{}: check the run id (`deploy status` lists recent jobs)", n.bucket))
    };
    let mut doc = read().await?;
    let start = match since {
        Some(period) => (time::OffsetDateTime::now_utc().unix_timestamp() - crate::cost::parse_period(period)?) * 1000,
        // A minute before the job was created: the API's lines come first.
        None => (doc.created_at.unix_timestamp() - 60) * 1000,
    };
    let (worker_group, prefix) = worker_stream_prefix(aws, settings).await?;
    let mut seen = HashSet::new();
    let mut from = start;
    let mut after_the_end = 0;
    loop {
        let sources = sources(settings, &doc, &worker_group, &prefix);
        let mut lines = Vec::new();
        for s in &sources {
            lines.extend(read_source(aws, s, &id, from).await?);
        }
        lines.retain(|l| seen.insert((l.timestamp, l.event_id.clone())) && (reads || !is_read(l)));
        lines.sort_by(|a, b| (a.timestamp, &a.source).cmp(&(b.timestamp, &b.source)));
        for l in &lines {
            print_line(l, json)?;
        }
        // Lines stamped in the same millisecond as the newest one may still
        // come: read from that millisecond again (the seen ids drop repeats).
        from = lines.iter().map(|l| l.timestamp).max().unwrap_or(from).max(from);
        // Only lines from `from` on are read again: the rest can be
        // forgotten, so an hours-long --follow keeps its memory flat.
        seen.retain(|(t, _)| *t >= from);
        if !follow {
            return Ok(());
        }
        if doc.state.is_terminal() {
            after_the_end += 1;
            if after_the_end > POLLS_AFTER_THE_END {
                if !json {
                    eprintln!("job {id} ended {}", doc.state);
                }
                return Ok(());
            }
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        doc = read().await?;
    }
}

fn print_line(l: &Line, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(l)?);
    } else {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(l.timestamp) * 1_000_000).map_err(|e| anyhow::anyhow!("a log line's time: {e}"))?;
        let at = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        println!("{at}  {:<9} {}", l.source, l.message);
    }
    Ok(())
}

/// Where the worker's `awslogs` driver writes, from the task definition
/// (the template's `/ecs/FAMILY` and `worker` when it names none).
async fn worker_stream_prefix(aws: &Aws, settings: &Settings) -> anyhow::Result<(String, String)> {
    let n = &settings.names;
    let default = (format!("/ecs/{}", n.task_family), "worker".to_owned());
    let out = match aws.ecs.describe_task_definition().task_definition(&n.task_family).send().await {
        Ok(out) => out,
        Err(e) if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e) == Some("ClientException") => return Ok(default),
        Err(e) => return Err(failed("ecs:DescribeTaskDefinition", e)),
    };
    let options = out
        .task_definition()
        .and_then(|td| td.container_definitions().iter().find(|c| c.name() == Some(n.container.as_str())))
        .and_then(|c| c.log_configuration())
        .and_then(|l| l.options())
        .cloned()
        .unwrap_or_default();
    Ok((options.get("awslogs-group").cloned().unwrap_or(default.0), options.get("awslogs-stream-prefix").cloned().unwrap_or(default.1)))
}

/// The API, the trigger, and each attempt's task that the status records.
fn sources(settings: &Settings, doc: &StatusDoc, worker_group: &str, prefix: &str) -> Vec<Source> {
    let n = &settings.names;
    let mut sources = vec![
        Source { label: "api".into(), group: format!("/aws/lambda/{}", n.api_function), stream: None },
        Source { label: "trigger".into(), group: format!("/aws/lambda/{}", n.trigger_function), stream: None },
    ];
    let mut tasks: Vec<(u32, &str)> = doc.attempts.iter().filter_map(|a| Some((a.attempt, a.task_arn.as_deref()?))).collect();
    if let Some(arn) = doc.task_arn.as_deref() {
        tasks.push((doc.attempt, arn));
    }
    tasks.sort_unstable();
    tasks.dedup_by(|a, b| a.1 == b.1);
    for (attempt, arn) in tasks {
        let task_id = arn.rsplit('/').next().unwrap_or(arn);
        sources.push(Source { label: format!("worker#{attempt}"), group: worker_group.to_owned(), stream: Some(format!("{prefix}/{}/{task_id}", n.container)) });
    }
    sources
}

async fn read_source(aws: &Aws, source: &Source, id: &RunId, from: i64) -> anyhow::Result<Vec<Line>> {
    let mut request = aws.logs.filter_log_events().log_group_name(&source.group).start_time(from);
    request = match &source.stream {
        Some(stream) => request.log_stream_names(stream),
        // A quoted term: the run id as it is, dashes and all.
        None => request.filter_pattern(format!("\"{id}\"")),
    };
    let mut pages = request.into_paginator().send();
    let mut lines = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            // A group or stream not made yet: a task that has not written.
            Err(e) if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e) == Some("ResourceNotFoundException") => break,
            Err(e) => return Err(failed(&format!("logs:FilterLogEvents {}", source.group), e)),
        };
        lines.extend(page.events().iter().map(|e| Line {
            timestamp: e.timestamp().unwrap_or_default(),
            source: source.label.clone(),
            message: e.message().unwrap_or_default().trim_end().to_owned(),
            event_id: e.event_id().map_or_else(|| format!("{}:{}:{}", source.label, e.timestamp().unwrap_or_default(), e.message().unwrap_or_default()), str::to_owned),
        }));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attempt_s_task_is_a_source_once() {
        let settings = Settings::resolve(Default::default()).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let mut doc = StatusDoc::queued(RunId::parse("job-1").unwrap(), now);
        let attempt = |n: u32, arn: &str| job_model::Attempt { attempt: n, task_arn: Some(arn.into()), ..serde_json::from_value(serde_json::json!({"attempt": n})).unwrap() };
        doc.attempts = vec![attempt(1, "arn:aws:ecs:us-east-1:1:task/c/aaa"), attempt(2, "arn:aws:ecs:us-east-1:1:task/c/bbb")];
        doc.attempt = 2;
        doc.task_arn = Some("arn:aws:ecs:us-east-1:1:task/c/bbb".into());
        let s = sources(&settings, &doc, "/ecs/solver-worker", "worker");
        let labels: Vec<(&str, Option<&str>)> = s.iter().map(|s| (s.label.as_str(), s.stream.as_deref())).collect();
        assert_eq!(labels, [("api", None), ("trigger", None), ("worker#1", Some("worker/worker/aaa")), ("worker#2", Some("worker/worker/bbb"))]);
        assert_eq!(s[1].group, "/aws/lambda/scheduling-solver-sqs-trigger");
    }
}
