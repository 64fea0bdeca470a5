//! A process's output, as Lambda and the `awslogs` driver deliver it on AWS:
//! each line into a CloudWatch Logs stream of the emulator, so that `deploy
//! logs` reads the same groups and streams locally as on AWS. Every line also
//! goes to the plane's log file, where a developer looks first.
//!
//! Lines are sent in batches (one PutLogEvents per second at most, per
//! process), so a chatty worker does not flood the emulator. A failed send is
//! reported once and the lines stay in the file: logs are for people, and a
//! job never waits on them.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use std::io::Write;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

/// Where a process's lines go in CloudWatch Logs.
#[derive(Debug, Clone)]
pub struct Destination {
    pub group: String,
    pub stream: String,
}

impl Destination {
    /// The stream Lambda names for one execution environment:
    /// `YYYY/MM/DD/[$LATEST]<id>`.
    pub fn lambda(function: &str) -> Self {
        let today = time::OffsetDateTime::now_utc().date();
        Self {
            group: format!("/aws/lambda/{function}"),
            stream: format!("{:04}/{:02}/{:02}/[$LATEST]{}", today.year(), u8::from(today.month()), today.day(), uuid::Uuid::new_v4().simple()),
        }
    }

    /// The stream the `awslogs` driver names for a task's container:
    /// `PREFIX/CONTAINER/TASK_ID`.
    pub fn task(group: &str, prefix: &str, container: &str, task_id: &str) -> Self {
        Self { group: group.to_owned(), stream: format!("{prefix}/{container}/{task_id}") }
    }
}

/// PutLogEvents takes at most 10 000 events and 1 MiB a call.
const MAX_EVENTS: usize = 1000;
const MAX_BATCH_BYTES: usize = 512 * 1024;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Takes the child's piped stdout and stderr; returns when both have closed
/// and the last lines are sent.
pub fn ship(child: &mut Child, file: std::fs::File, logs: Option<(aws_sdk_cloudwatchlogs::Client, Destination)>) -> tokio::task::JoinHandle<()> {
    let (lines, received) = mpsc::channel::<String>(1024);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(read_lines(out, lines.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_lines(err, lines));
    }
    tokio::spawn(write_and_send(received, file, logs))
}

async fn read_lines(pipe: impl AsyncRead + Unpin, lines: mpsc::Sender<String>) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_owned();
                if lines.send(line).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn write_and_send(mut received: mpsc::Receiver<String>, mut file: std::fs::File, logs: Option<(aws_sdk_cloudwatchlogs::Client, Destination)>) {
    let mut sender = logs.map(|(client, to)| Sender { client, to, ready: false, warned: false });
    let mut batch: Vec<InputLogEvent> = Vec::new();
    let mut bytes = 0;
    let mut deadline = None;
    loop {
        let next = match deadline {
            Some(at) => tokio::time::timeout_at(at, received.recv()).await,
            None => Ok(received.recv().await),
        };
        match next {
            Ok(Some(line)) => {
                let _ = writeln!(file, "{line}");
                if sender.is_some() {
                    bytes += line.len() + 26;
                    let now = time::OffsetDateTime::now_utc();
                    let millis = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
                    batch.push(
                        InputLogEvent::builder().timestamp(millis).message(if line.is_empty() { " ".to_owned() } else { line }).build().expect("timestamp and message are set"),
                    );
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + FLUSH_EVERY);
                }
                if batch.len() >= MAX_EVENTS || bytes >= MAX_BATCH_BYTES {
                    flush(&mut sender, &mut batch, &mut bytes).await;
                    deadline = None;
                }
            }
            Err(_elapsed) => {
                flush(&mut sender, &mut batch, &mut bytes).await;
                deadline = None;
            }
            Ok(None) => {
                flush(&mut sender, &mut batch, &mut bytes).await;
                return;
            }
        }
    }
}

struct Sender {
    client: aws_sdk_cloudwatchlogs::Client,
    to: Destination,
    /// The group and stream exist.
    ready: bool,
    warned: bool,
}

async fn flush(sender: &mut Option<Sender>, batch: &mut Vec<InputLogEvent>, bytes: &mut usize) {
    *bytes = 0;
    let events = std::mem::take(batch);
    let Some(s) = sender.as_mut().filter(|_| !events.is_empty()) else { return };
    if let Err(e) = s.send(events).await
        && !s.warned
    {
        s.warned = true;
        tracing::warn!("log lines of {} not sent to CloudWatch Logs (kept in the log file): {e}", s.to.stream);
    }
}

impl Sender {
    async fn send(&mut self, events: Vec<InputLogEvent>) -> Result<(), String> {
        if !self.ready {
            // The stack makes the groups; a plane run before it (or a
            // group deleted since) still gets its lines.
            if let Err(e) = self.client.create_log_group().log_group_name(&self.to.group).send().await
                && !is_already_there(&e)
            {
                return Err(job_store::aws::describe(&e));
            }
            if let Err(e) = self.client.create_log_stream().log_group_name(&self.to.group).log_stream_name(&self.to.stream).send().await
                && !is_already_there(&e)
            {
                return Err(job_store::aws::describe(&e));
            }
            self.ready = true;
        }
        self.client
            .put_log_events()
            .log_group_name(&self.to.group)
            .log_stream_name(&self.to.stream)
            .set_log_events(Some(events))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| job_store::aws::describe(&e))
    }
}

fn is_already_there<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ResourceAlreadyExistsException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_named_as_on_aws() {
        let d = Destination::task("/ecs/solver-worker", "worker", "worker", "0123abcd");
        assert_eq!((d.group.as_str(), d.stream.as_str()), ("/ecs/solver-worker", "worker/worker/0123abcd"));
        let l = Destination::lambda("scheduling-solver-api");
        assert_eq!(l.group, "/aws/lambda/scheduling-solver-api");
        assert!(l.stream.contains("/[$LATEST]") && l.stream.len() == "2026/12/02/[$LATEST]".len() + 32, "{}", l.stream);
    }
}
