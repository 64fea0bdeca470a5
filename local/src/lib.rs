//! The local data plane. The emulator stores Lambda functions, event source
//! mappings and ECS tasks but runs none of them; this crate runs them with the
//! real binaries, reading everything (environment, mapping state, batch size,
//! task overrides, service desired count) from the emulator as deployed:
//!
//! - each Lambda's `bootstrap` behind a Lambda Runtime API ([`lambda_host`]),
//! - the API function reachable over HTTP like a Function URL ([`function_url`]),
//! - queue messages fed to the trigger as its event source mapping would
//!   ([`event_source`]),
//! - every process's output shipped to the emulator's CloudWatch Logs, in
//!   the groups and streams AWS would use ([`log_shipping`]),
//! - every task RunTask records run as a worker process, stopped in the
//!   emulator with its exit code; the legacy service's desired count kept in
//!   polling workers ([`tasks`]).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod event_source;
pub mod function_url;
pub mod http;
pub mod lambda_host;
pub mod log_shipping;
pub mod tasks;

use anyhow::Context;
use lambda_host::LambdaHost;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
pub struct Options {
    /// The emulator's endpoint (`AWS_ENDPOINT_URL`).
    pub endpoint: String,
    /// Where `solver-api`, `solver-trigger` and `solver-worker` are.
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
    pub api_function: String,
    pub trigger_function: String,
    pub cluster: String,
    pub service: String,
    pub container: String,
    /// Port for the API (0: any free one).
    pub api_port: u16,
    /// How often the reconciler runs, as the stack's EventBridge schedule
    /// runs it on AWS (every minute).
    pub reconcile_every: Duration,
}

impl Options {
    pub fn defaults(endpoint: String, bin_dir: PathBuf, log_dir: PathBuf) -> Self {
        Self {
            endpoint,
            bin_dir,
            log_dir,
            api_function: "scheduling-solver-api".into(),
            trigger_function: "scheduling-solver-sqs-trigger".into(),
            cluster: "scheduling-solver-cluster".into(),
            service: "solver-worker".into(),
            container: "worker".into(),
            api_port: 0,
            reconcile_every: Duration::from_secs(60),
        }
    }

    /// What every process needs to reach the emulator, as on a machine with
    /// an AWS profile: endpoint, region, (dummy) credentials.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ENDPOINT_URL".to_owned(), self.endpoint.clone()),
            ("AWS_REGION".to_owned(), REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "local".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "local".to_owned()),
            ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        ];
        for name in ["PATH", "HOME", "RUST_LOG"] {
            if let Ok(v) = std::env::var(name) {
                env.push((name.to_owned(), v));
            }
        }
        env
    }
}

pub struct LocalSystem {
    pub api_addr: String,
    api: Arc<LambdaHost>,
    trigger: Arc<LambdaHost>,
    /// ECS, played locally, with its fault hooks.
    pub tasks: Arc<tasks::TaskRunner>,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

pub async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_lambda::config::Credentials::new("local", "local", None, None, "local-plane"))
        .load()
        .await
}

/// The stack's schedule rule, played locally: EventBridge's "Scheduled
/// Event" to the trigger, which runs the reconciler.
async fn reconcile_schedule(trigger: Arc<LambdaHost>, every: Duration) {
    let event = serde_json::json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "region": REGION, "detail": {}});
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = trigger.invoke(&event).await {
            tracing::warn!("reconciler: {e:#}");
        }
    }
}

impl LocalSystem {
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&options.log_dir)?;
        let sdk = sdk(&options.endpoint).await;
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let host = |name: String, bin: &'static str, timeout: u64| {
            let (lambda, options, logs) = (lambda.clone(), options.clone(), logs.clone());
            async move {
                let conf = lambda.get_function_configuration().function_name(&name).send().await.with_context(|| format!("{name} is not deployed: run `deploy` first"))?;
                let mut env: Vec<(String, String)> =
                    conf.environment().and_then(|e| e.variables()).map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
                env.extend(options.aws_env());
                LambdaHost::start(&name, &options.bin_dir.join(bin), env, Duration::from_secs(timeout), options.log_dir.join(format!("{name}.log")), Some(logs)).await
            }
        };
        let api = host(options.api_function.clone(), "solver-api", 30).await?;
        let trigger = host(options.trigger_function.clone(), "solver-trigger", 60).await?;

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.api_port)).await.context("binding the API port")?;
        let api_addr = listener.local_addr()?.to_string();
        let mut loops = vec![tokio::spawn(function_url::serve(listener, api.clone()))];
        loops.push(tokio::spawn(event_source::run(lambda.clone(), aws_sdk_sqs::Client::new(&sdk), trigger.clone())));
        let tasks = tasks::TaskRunner::start(&options, job_store::aws::ecs_client(&sdk), logs.clone(), trigger.clone()).await?;
        loops.push(tokio::spawn(tasks.clone().run()));
        loops.push(tokio::spawn(reconcile_schedule(trigger.clone(), options.reconcile_every)));
        Ok(Self { api_addr, api, trigger, tasks, loops })
    }

    /// Stops every process this plane started; tasks still running are
    /// stopped in the emulator too, so nothing is left behind.
    pub async fn shutdown(self) {
        for l in &self.loops {
            l.abort();
        }
        self.tasks.stop_all().await;
        self.api.stop().await;
        self.trigger.stop().await;
    }
}
