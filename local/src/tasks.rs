//! ECS, played locally: every task the emulator records as RUNNING becomes a
//! worker process with the task definition's environment plus the task's
//! overrides, and is stopped in the emulator with its exit code when the
//! process ends. The legacy service's desired count is kept in polling
//! workers, so `deploy rollback` really switches the system to polling.
//! A stopped task's "ECS Task State Change" event goes to the trigger, as the
//! stack's EventBridge rule sends it on AWS (moto keeps the rule but delivers
//! no ECS events).
//!
//! Fault hooks, for tests that show every job ending exactly once: kill a
//! task's worker (as the OOM killer or a lost host would), interrupt it as
//! Spot does (SIGTERM, a grace period, SIGKILL, stop code
//! `SpotInterruption`), drop every n-th stop event (EventBridge losing one),
//! and fail every n-th task at start (an image that cannot be pulled).

use crate::Options;
use crate::http::{self, Request, Response};
use crate::lambda_host::LambdaHost;
use aws_sdk_ecs::types::DesiredStatus;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

pub struct TaskRunner {
    options: Options,
    ecs: aws_sdk_ecs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    trigger: Arc<LambdaHost>,
    /// The task metadata endpoint (v4) the workers read their task ARN from.
    metadata_addr: String,
    started: Mutex<HashSet<String>>,
    running: Mutex<HashMap<String, u32>>,
    pollers: Mutex<Vec<Child>>,
    pub faults: Faults,
    /// Tasks being interrupted as Spot does: their stop code.
    spot: Mutex<HashSet<String>>,
}

/// Faults to inject; every count is "each n-th", 0 for never.
#[derive(Default)]
pub struct Faults {
    pub drop_stop_event_every: AtomicUsize,
    pub fail_start_every: AtomicUsize,
    stop_events: AtomicUsize,
    starts: AtomicUsize,
    /// What was injected, for the test's report.
    pub dropped_stop_events: AtomicUsize,
    pub failed_starts: AtomicUsize,
}

fn every(n: &AtomicUsize, counter: &AtomicUsize) -> bool {
    let n = n.load(Ordering::Relaxed);
    n > 0 && (counter.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(n)
}

impl TaskRunner {
    pub async fn start(options: &Options, ecs: aws_sdk_ecs::Client, logs: aws_sdk_cloudwatchlogs::Client, trigger: Arc<LambdaHost>) -> anyhow::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let metadata_addr = listener.local_addr()?.to_string();
        // /v4/<task ARN, url-safe>/task answers {"TaskARN": ...}
        tokio::spawn(http::serve(
            listener,
            Arc::new(|req: Request| {
                Box::pin(async move {
                    let arn = req.target.trim_start_matches("/v4/").trim_end_matches("/task").replace('~', "/");
                    Response::new(200, serde_json::json!({"TaskARN": arn}).to_string())
                })
            }),
        ));
        Ok(Arc::new(Self {
            options: options.clone(),
            ecs,
            logs,
            trigger,
            metadata_addr,
            started: Mutex::default(),
            running: Mutex::default(),
            pollers: Mutex::default(),
            faults: Faults::default(),
            spot: Mutex::default(),
        }))
    }

    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.start_new_tasks().await {
                tracing::warn!("tasks: {e:#}");
            }
            if let Err(e) = self.keep_service_count().await {
                tracing::warn!("legacy service: {e:#}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The worker container's environment, and where its `awslogs` driver
    /// writes (group and stream prefix), from the task definition.
    async fn container_setup(&self, task_definition: &str) -> anyhow::Result<(Vec<(String, String)>, Option<(String, String)>)> {
        let def = self.ecs.describe_task_definition().task_definition(task_definition).send().await?;
        let containers = def.task_definition().map(|d| d.container_definitions().to_vec()).unwrap_or_default();
        let Some(container) = containers.iter().find(|c| c.name() == Some(self.options.container.as_str())).or(containers.first()) else { return Ok((Vec::new(), None)) };
        let env = container.environment().iter().filter_map(|kv| Some((kv.name()?.to_owned(), kv.value()?.to_owned()))).collect();
        let logs = container.log_configuration().filter(|l| l.log_driver().as_str() == "awslogs").and_then(|l| {
            let options = l.options()?;
            Some((options.get("awslogs-group")?.clone(), options.get("awslogs-stream-prefix").cloned().unwrap_or_default()))
        });
        Ok((env, logs))
    }

    /// A worker process; its output goes to `log` in the log directory and,
    /// for a task, to its `awslogs` stream in the emulator.
    fn worker(&self, env: Vec<(String, String)>, log: &str, stream: Option<crate::log_shipping::Destination>) -> anyhow::Result<Child> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(self.options.log_dir.join(log))?;
        let mut child = Command::new(self.options.bin_dir.join("solver-worker"))
            .env_clear()
            .envs(self.options.aws_env())
            .env("PROGRESS_INTERVAL_S", "1")
            .envs(env)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        crate::log_shipping::ship(&mut child, file, stream.map(|to| (self.logs.clone(), to)));
        Ok(child)
    }

    async fn start_new_tasks(self: &Arc<Self>) -> anyhow::Result<()> {
        let o = &self.options;
        let arns = self.ecs.list_tasks().cluster(&o.cluster).desired_status(DesiredStatus::Running).send().await?.task_arns().to_vec();
        let new: Vec<String> = {
            let started = self.started.lock().await;
            arns.into_iter().filter(|a| !started.contains(a)).collect()
        };
        if new.is_empty() {
            return Ok(());
        }
        let described = self.ecs.describe_tasks().cluster(&o.cluster).set_tasks(Some(new)).send().await?;
        for task in described.tasks() {
            let arn = task.task_arn().unwrap_or_default().to_owned();
            self.started.lock().await.insert(arn.clone());
            let (mut env, awslogs) = self.container_setup(task.task_definition_arn().unwrap_or_default()).await?;
            let mut overrides = Vec::new();
            for c in task.overrides().map(|o| o.container_overrides()).unwrap_or_default() {
                let mut override_env = Vec::new();
                for kv in c.environment() {
                    if let (Some(k), Some(v)) = (kv.name(), kv.value()) {
                        env.retain(|(name, _)| name != k);
                        env.push((k.to_owned(), v.to_owned()));
                        override_env.push(serde_json::json!({"name": k, "value": v}));
                    }
                }
                overrides.push(serde_json::json!({"name": c.name(), "environment": override_env}));
            }
            let event_detail = serde_json::json!({
                "taskArn": arn,
                "clusterArn": task.cluster_arn(),
                "group": task.group(),
                "startedBy": task.started_by(),
                "taskDefinitionArn": task.task_definition_arn(),
                "launchType": "FARGATE",
                "overrides": {"containerOverrides": overrides},
            });
            if every(&self.faults.fail_start_every, &self.faults.starts) {
                self.faults.failed_starts.fetch_add(1, Ordering::Relaxed);
                let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s) (injected by the local plane)";
                self.ecs.stop_task().cluster(&o.cluster).task(&arn).reason(reason).send().await?;
                let mut detail = event_detail;
                detail["stopCode"] = "TaskFailedToStart".into();
                self.send_task_stopped(detail, reason, None).await;
                continue;
            }
            env.push(("ECS_CONTAINER_METADATA_URI_V4".into(), format!("http://{}/v4/{}", self.metadata_addr, arn.replace('/', "~"))));
            let id = arn.rsplit('/').next().unwrap_or("task").to_owned();
            let stream = awslogs.map(|(group, prefix)| crate::log_shipping::Destination::task(&group, &prefix, &self.options.container, &id));
            let mut child = self.worker(env, &format!("task-{id}.log"), stream)?;
            let pid = child.id().unwrap_or_default();
            self.running.lock().await.insert(arn.clone(), pid);
            let this = self.clone();
            tokio::spawn(async move {
                let status = child.wait().await;
                // A signal shows as 128 + its number, as a container runtime reports it
                // (137: SIGKILL, the out-of-memory killer's).
                let code = status.as_ref().ok().and_then(|s| s.code().or_else(|| std::os::unix::process::ExitStatusExt::signal(s).map(|sig| 128 + sig)));
                this.running.lock().await.remove(&arn);
                let spot = this.spot.lock().await.remove(&arn);
                let reason = match code {
                    _ if spot => "Your Spot Task was interrupted.".to_owned(),
                    Some(c) => format!("Essential container in task exited (exit code {c})"),
                    None => "Essential container in task was stopped".to_owned(),
                };
                let mut event_detail = event_detail;
                event_detail["stopCode"] = if spot { "SpotInterruption" } else { "EssentialContainerExited" }.into();
                // The event first, then the stop in the emulator: moto keeps
                // no stop code, so a reconciler run that found the task
                // stopped before its event came would take a Spot
                // interruption for a plain stop (on AWS DescribeTasks has
                // the code). A dropped event leaves the reconciler that gap.
                this.send_task_stopped(event_detail, &reason, code).await;
                if let Err(e) = this.ecs.stop_task().cluster(&this.options.cluster).task(&arn).reason(&reason).send().await {
                    tracing::warn!("could not stop {arn} in the emulator: {e}");
                }
            });
        }
        Ok(())
    }

    /// The event EventBridge delivers for a stopped task, sent once (on AWS
    /// an asynchronous invocation is retried twice; the trigger's handling
    /// is idempotent either way).
    async fn send_task_stopped(&self, mut detail: serde_json::Value, reason: &str, exit_code: Option<i32>) {
        if every(&self.faults.drop_stop_event_every, &self.faults.stop_events) {
            self.faults.dropped_stop_events.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("dropped the stop event of {} (fault injection)", detail["taskArn"]);
            return;
        }
        detail["lastStatus"] = "STOPPED".into();
        detail["desiredStatus"] = "STOPPED".into();
        detail["stoppedReason"] = reason.into();
        detail["containers"] = serde_json::json!([{"name": self.options.container, "lastStatus": "STOPPED", "exitCode": exit_code}]);
        let event = serde_json::json!({
            "version": "0",
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "region": crate::REGION,
            "resources": [detail["taskArn"].clone()],
            "detail": detail,
        });
        if let Err(e) = self.trigger.invoke(&event).await {
            tracing::warn!("the trigger refused the task-stopped event for {}: {e:#}", event["detail"]["taskArn"]);
        }
    }

    async fn keep_service_count(&self) -> anyhow::Result<()> {
        let o = &self.options;
        let out = self.ecs.describe_services().cluster(&o.cluster).services(&o.service).send().await?;
        let Some(service) = out.services().iter().find(|s| s.status() == Some("ACTIVE")) else { return Ok(()) };
        let desired = usize::try_from(service.desired_count()).unwrap_or(0);
        let mut pollers = self.pollers.lock().await;
        pollers.retain_mut(|c| c.try_wait().ok().flatten().is_none());
        while pollers.len() < desired {
            // A polling worker is no task the emulator knows (no task id to
            // name a stream by): its output stays in the log file.
            let (env, _) = self.container_setup(service.task_definition().unwrap_or_default()).await?;
            let n = pollers.len();
            pollers.push(self.worker(env, &format!("polling-{n}.log"), None)?);
        }
        while pollers.len() > desired {
            if let Some(mut child) = pollers.pop() {
                // SIGTERM as ECS sends it: the worker stops between jobs.
                if let Some(pid) = child.id() {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
                }
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
                });
            }
        }
        Ok(())
    }

    /// The tasks whose worker runs now, with its process id.
    pub async fn running(&self) -> Vec<(String, u32)> {
        self.running.lock().await.iter().map(|(a, p)| (a.clone(), *p)).collect()
    }

    /// Kills a task's worker at once (SIGKILL): the out-of-memory killer, a
    /// lost host.
    pub async fn kill(&self, arn: &str) -> bool {
        let Some(pid) = self.running.lock().await.get(arn).copied() else { return false };
        kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok()
    }

    /// Interrupts a task as Fargate Spot does: SIGTERM, `grace` to save its
    /// work, then SIGKILL; its stop event says `SpotInterruption`.
    pub async fn interrupt(self: &Arc<Self>, arn: &str, grace: Duration) -> bool {
        let Some(pid) = self.running.lock().await.get(arn).copied() else { return false };
        self.spot.lock().await.insert(arn.to_owned());
        let pid = Pid::from_raw(pid as i32);
        if kill(pid, Signal::SIGTERM).is_err() {
            return false;
        }
        let (this, arn) = (self.clone(), arn.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if this.running.lock().await.contains_key(&arn) {
                let _ = kill(pid, Signal::SIGKILL);
            }
        });
        true
    }

    /// Sends SIGTERM to every worker, waits for them to save their work, and
    /// kills what is left.
    pub async fn stop_all(&self) {
        let pids: Vec<u32> = self.running.lock().await.values().copied().collect();
        let mut pollers = std::mem::take(&mut *self.pollers.lock().await);
        for pid in pids.iter().copied().chain(pollers.iter().filter_map(Child::id)) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        for _ in 0..100 {
            if self.running.lock().await.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for p in &mut pollers {
            let _ = tokio::time::timeout(Duration::from_secs(10), p.wait()).await;
            let _ = p.kill().await;
        }
    }
}
