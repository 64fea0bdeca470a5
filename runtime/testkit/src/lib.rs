//! Test helpers. Every AWS behaviour a test relies on comes from a real moto
//! server (`moto_server`, started here on a free 127.0.0.1 port), selected
//! only through `AWS_ENDPOINT_URL` as in production.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// A moto server for one test, stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn moto_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    // xtask's launcher (moto with its SQS list race fixed), else moto itself.
    let venv = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/scheduling-solver/venv/bin"));
    match venv {
        Some(dir) if dir.join("moto_server_serialized").exists() => dir.join("moto_server_serialized"),
        Some(dir) if dir.join("moto_server").exists() => dir.join("moto_server"),
        _ => PathBuf::from("moto_server"),
    }
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let path = moto_server_path();
        let child = Command::new(&path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {} ({e}): run `cargo xtask test`, which installs moto, or set MOTO_SERVER", path.display()));
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {endpoint} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, endpoint }
    }

    pub async fn sdk(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "testkit"))
            .load()
            .await
    }

    /// Freezes the emulator (SIGSTOP), as a control plane that stops
    /// answering: calls hang until [`Moto::resume`].
    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }

    /// A worker image recorded in the emulator's ECR, as `docker push` would
    /// leave it (the emulator has no registry: a manifest stands for the
    /// image). Returns the image's digest.
    pub async fn push_image(&self, repository: &str, tag: &str) -> String {
        let ecr = aws_sdk_ecr::Client::new(&self.sdk().await);
        let _ = ecr.create_repository().repository_name(repository).send().await;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": format!("sha256:{:064x}", tag.len())},
            "layers": [],
        });
        let out = ecr.put_image().repository_name(repository).image_tag(tag).image_manifest(manifest.to_string()).send().await.expect("put image");
        out.image().and_then(|i| i.image_id()).and_then(|i| i.image_digest()).expect("a digest").to_owned()
    }

    /// The environment a program needs to reach this server, as in local mode.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, which: &str) {
    let ok = Command::new("kill").args([which, &pid.to_string()]).status().is_ok_and(|s| s.success());
    assert!(ok, "kill {which} {pid} failed");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port on 127.0.0.1")
}

/// A name unique within this test process.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A bucket, a queue with its DLQ (redrive after `max_receives`), and the
/// clients to use them: what the runtime needs from AWS.
pub struct Env {
    pub moto: Moto,
    pub sdk: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub bucket: String,
    pub queue_url: String,
    pub dlq_url: String,
}

impl Env {
    pub async fn new() -> Self {
        Self::with_queue(43200, 3).await
    }

    pub async fn with_queue(visibility_s: u32, max_receives: u32) -> Self {
        let moto = Moto::start();
        let sdk = moto.sdk().await;
        let s3 = job_store::aws::s3_client(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let ecs = job_store::aws::ecs_client(&sdk);
        let bucket = "scheduling-solver-results".to_owned();
        s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
        let dlq_url = sqs.create_queue().queue_name("scheduling-solver-jobs-dlq").send().await.expect("create dlq").queue_url.expect("dlq url");
        let dlq_arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("dlq arn")
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("dlq arn");
        let queue_url = sqs
            .create_queue()
            .queue_name("scheduling-solver-jobs")
            .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, visibility_s.to_string())
            .attributes(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy, serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string())
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        Self { moto, sdk, s3, sqs, ecs, bucket, queue_url, dlq_url }
    }

    pub fn store(&self) -> job_store::Store {
        job_store::Store::new(self.s3.clone(), &self.bucket)
    }

    /// Every key under `jobs/`.
    pub async fn job_keys(&self) -> Vec<String> {
        let out = self.s3.list_objects_v2().bucket(&self.bucket).prefix("jobs/").send().await.expect("list");
        out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    }

    /// Receives up to `max` messages (short poll, several tries: SQS may
    /// answer a short poll from a subset of its hosts).
    pub async fn receive(&self, queue_url: &str, max: i32) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        for _ in 0..3 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(max)
                .wait_time_seconds(1)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            all.extend(out.messages.unwrap_or_default());
            if !all.is_empty() {
                break;
            }
        }
        all
    }

    pub async fn queue_depth(&self, queue_url: &str) -> (i64, i64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        let get = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
        (get(A::ApproximateNumberOfMessages), get(A::ApproximateNumberOfMessagesNotVisible))
    }

    /// A cluster and a Fargate task definition like the stack's, plus the
    /// default VPC's subnets and security group: what RunTask needs.
    pub async fn ecs_setup(&self) -> EcsSetup {
        let cluster = "scheduling-solver-cluster".to_owned();
        self.ecs.create_cluster().cluster_name(&cluster).send().await.expect("create cluster");
        use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, KeyValuePair, NetworkMode};
        self.ecs
            .register_task_definition()
            .family("solver-worker")
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("1024")
            .memory("2048")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("worker")
                    .image("solver-worker:latest")
                    // moto's RunTask needs container-level memory (MOTO.md).
                    .memory(2048)
                    .environment(KeyValuePair::builder().name("SINGLE_RUN_MODE").value("false").build())
                    .build(),
            )
            .send()
            .await
            .expect("register task definition");
        let ec2 = aws_sdk_ec2::Client::new(&self.sdk);
        let subnets = ec2
            .describe_subnets()
            .filters(aws_sdk_ec2::types::Filter::builder().name("default-for-az").values("true").build())
            .send()
            .await
            .expect("subnets")
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_owned))
            .collect();
        let security_groups = ec2
            .describe_security_groups()
            .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("default").build())
            .send()
            .await
            .expect("security groups")
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .take(1)
            .collect();
        EcsSetup { cluster, task_definition: "solver-worker".into(), subnets, security_groups }
    }

    /// Every task in the cluster (any state), described.
    pub async fn tasks(&self, cluster: &str) -> Vec<aws_sdk_ecs::types::Task> {
        let mut arns = Vec::new();
        for status in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Stopped] {
            let out = self.ecs.list_tasks().cluster(cluster).desired_status(status).send().await.expect("list tasks");
            arns.extend(out.task_arns().iter().cloned());
        }
        if arns.is_empty() {
            return Vec::new();
        }
        self.ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.expect("describe tasks").tasks().to_vec()
    }
}

pub struct EcsSetup {
    pub cluster: String,
    pub task_definition: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

/// An instance from `../shared/data/jobshop/instances`, as text.
pub fn instance(name: &str) -> String {
    let path = shared_data().join("jobshop/instances").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The workspace root, found at run time from the directory cargo runs a
/// test in (its package's). A path baked in with `env!` would name the
/// checkout that first compiled this crate: the build cache is shared
/// between checkouts, and CI's clean clone is gone after its run.
pub fn workspace_root() -> PathBuf {
    let start = std::env::current_dir().expect("a current directory");
    start
        .ancestors()
        .find(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|toml| toml.contains("[workspace]")))
        .unwrap_or_else(|| panic!("no workspace Cargo.toml above {}", start.display()))
        .to_path_buf()
}

/// `../shared/data`, found from the workspace root (or `SHARED_DATA`).
pub fn shared_data() -> PathBuf {
    if let Some(p) = std::env::var_os("SHARED_DATA") {
        return PathBuf::from(p);
    }
    workspace_root().join("../shared/data")
}

/// Waits until `f` gives `Some`, polling every 100 ms, or panics after `timeout`
/// naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The queue's ARN (what an event source mapping names).
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    sqs.get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|mut a| a.remove(&A::QueueArn))
        .expect("queue arn")
}

/// Received messages as the Lambda SQS event an event source mapping
/// delivers, from this region.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> serde_json::Value {
    job_store::aws::sqs_event(messages, queue_arn, REGION)
}

/// A Function URL request event (payload 2.0, the official format) for
/// EventBridge's "ECS Task State Change" event (the official format) for a
/// stopped worker task: `run_id` in its overrides unless `None` (a polling
/// worker), and the worker container's exit code.
pub fn task_stopped_event(task_arn: &str, run_id: Option<&str>, exit_code: i64) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(include_str!("../fixtures/ecs-task-stopped.json")).expect("fixture is JSON");
    v["resources"] = serde_json::json!([task_arn]);
    v["detail"]["taskArn"] = serde_json::json!(task_arn);
    v["detail"]["containers"][0]["taskArn"] = serde_json::json!(task_arn);
    v["detail"]["containers"][0]["exitCode"] = serde_json::json!(exit_code);
    match run_id {
        Some(id) => v["detail"]["overrides"]["containerOverrides"][0]["environment"][0]["value"] = serde_json::json!(id),
        None => v["detail"]["overrides"] = serde_json::json!({"containerOverrides": []}),
    }
    v
}

/// `method path` with `body`.
pub fn function_url_event(method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(include_str!("../fixtures/function-url-post.json")).expect("fixture is JSON");
    v["rawPath"] = serde_json::json!(path);
    v["requestContext"]["http"]["method"] = serde_json::json!(method);
    v["requestContext"]["http"]["path"] = serde_json::json!(path);
    v["body"] = body.map_or(serde_json::Value::Null, |b| serde_json::json!(b));
    v
}
