//! One Lambda function run as Lambda runs it: the real `bootstrap` program,
//! its deployed environment, and the Lambda Runtime API served to it
//! (`AWS_LAMBDA_RUNTIME_API`), so the binary is the one that ships.

use crate::http::{self, Request, Response};
use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

/// What the function answered: its response body, or its error.
type Reply = oneshot::Sender<Result<Vec<u8>, String>>;

struct Invocation {
    id: String,
    event: Vec<u8>,
    reply: Reply,
}

#[derive(Default)]
struct State {
    pending: Mutex<Option<mpsc::Receiver<Invocation>>>,
    in_flight: Mutex<HashMap<String, Reply>>,
}

pub struct LambdaHost {
    pub name: String,
    sender: mpsc::Sender<Invocation>,
    child: Mutex<Child>,
    /// One invocation at a time, as one Lambda execution environment.
    busy: Mutex<()>,
    timeout: Duration,
}

impl LambdaHost {
    /// `logs`: the CloudWatch Logs client its output is shipped with (besides `log`).
    pub async fn start(
        name: &str,
        bootstrap: &Path,
        env: Vec<(String, String)>,
        timeout: Duration,
        log: PathBuf,
        logs: Option<aws_sdk_cloudwatchlogs::Client>,
    ) -> anyhow::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(64);
        let state = Arc::new(State { pending: Mutex::new(Some(receiver)), in_flight: Mutex::default() });
        let function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
        let handler_state = state.clone();
        tokio::spawn(http::serve(
            listener,
            Arc::new(move |req: Request| {
                let state = handler_state.clone();
                let arn = function_arn.clone();
                Box::pin(async move { runtime_api(&state, req, &arn).await })
            }),
        ));
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).with_context(|| format!("opening {}", log.display()))?;
        let stream = crate::log_shipping::Destination::lambda(name);
        let mut child = Command::new(bootstrap)
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", &stream.group)
            .env("AWS_LAMBDA_LOG_STREAM_NAME", &stream.stream)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bootstrap.display()))?;
        crate::log_shipping::ship(&mut child, log_file, logs.map(|client| (client, stream)));
        Ok(Arc::new(Self { name: name.to_owned(), sender, child: Mutex::new(child), busy: Mutex::new(()), timeout }))
    }

    pub async fn invoke(&self, event: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let _one_at_a_time = self.busy.lock().await;
        if let Some(status) = self.child.lock().await.try_wait()? {
            anyhow::bail!("{} exited ({status}); see its log", self.name);
        }
        let (reply, answer) = oneshot::channel();
        let id = uuid::Uuid::new_v4().to_string();
        self.sender.send(Invocation { id, event: serde_json::to_vec(event)?, reply }).await.map_err(|_| anyhow::anyhow!("{} stopped", self.name))?;
        let body = tokio::time::timeout(self.timeout, answer)
            .await
            .map_err(|_| anyhow::anyhow!("{} timed out after {:?}", self.name, self.timeout))?
            .map_err(|_| anyhow::anyhow!("{} dropped the invocation", self.name))?
            .map_err(|e| anyhow::anyhow!("{} failed: {e}", self.name))?;
        Ok(serde_json::from_slice(&body)?)
    }

    pub async fn stop(&self) {
        let _ = self.child.lock().await.kill().await;
    }
}

async fn runtime_api(state: &State, req: Request, function_arn: &str) -> Response {
    let path = req.target.trim_start_matches("/2018-06-01/runtime");
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["invocation", "next"]) => {
            let mut guard = state.pending.lock().await;
            let Some(receiver) = guard.as_mut() else { return Response::new(500, "{}") };
            let Some(inv) = receiver.recv().await else { return Response::new(500, "{}") };
            drop(guard);
            state.in_flight.lock().await.insert(inv.id.clone(), inv.reply);
            let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() + 900_000;
            let mut r = Response::new(200, inv.event);
            r.headers.extend([
                ("lambda-runtime-aws-request-id".into(), inv.id),
                ("lambda-runtime-deadline-ms".into(), deadline.to_string()),
                ("lambda-runtime-invoked-function-arn".into(), function_arn.to_owned()),
                ("lambda-runtime-trace-id".into(), "Root=1-00000000-000000000000000000000000".into()),
            ]);
            r
        }
        ("POST", ["invocation", id, "response"]) => {
            if let Some(reply) = state.in_flight.lock().await.remove(*id) {
                let _ = reply.send(Ok(req.body));
            }
            Response::new(202, "{}")
        }
        ("POST", ["invocation", id, "error"]) => {
            if let Some(reply) = state.in_flight.lock().await.remove(*id) {
                let _ = reply.send(Err(String::from_utf8_lossy(&req.body).into_owned()));
            }
            Response::new(202, "{}")
        }
        ("POST", ["init", "error"]) => {
            tracing::error!("init error: {}", String::from_utf8_lossy(&req.body));
            Response::new(202, "{}")
        }
        _ => Response::new(404, "{}"),
    }
}
