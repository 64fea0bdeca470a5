//! `deploy` run as an operator runs it, against moto; the old runbook's own
//! AWS CLI commands check what it left.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use testkit::Moto;

struct Deployer {
    moto: Moto,
    dir: PathBuf,
}

impl Deployer {
    fn new() -> Self {
        let d = Self::without_image();
        tokio::runtime::Runtime::new().unwrap().block_on(d.moto.push_image("solver-worker", "latest"));
        d
    }

    /// An account where nobody pushed the worker image yet.
    fn without_image() -> Self {
        let moto = Moto::start();
        let dir = std::env::temp_dir().join(testkit::unique("deploy-test"));
        std::fs::create_dir_all(&dir).unwrap();
        let d = Self { moto, dir };
        for name in ["solver-api", "solver-trigger"] {
            d.write_zip(name, "v1");
        }
        d
    }

    /// A stand-in for a Lambda zip: the emulator stores code, never runs it.
    fn write_zip(&self, name: &str, version: &str) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(self.dir.join(format!("{name}.zip"))).unwrap());
        zip.start_file("bootstrap", zip::write::SimpleFileOptions::default().unix_permissions(0o755)).unwrap();
        zip.write_all(format!("#!/bin/sh\necho {name} {version}\n").as_bytes()).unwrap();
        zip.finish().unwrap();
    }

    fn config(&self, yaml: &str) -> PathBuf {
        let path = self.dir.join(testkit::unique("deploy") + ".yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_through(&self.moto.endpoint, args)
    }

    /// `deploy` with its AWS calls sent to `endpoint` (a recorder in front
    /// of the emulator) instead of the emulator itself.
    fn run_through(&self, endpoint: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_deploy"));
        cmd.env_clear().envs(self.moto.env()).env("AWS_ENDPOINT_URL", endpoint).env("AWS_DEFAULT_REGION", testkit::REGION).env("PATH", std::env::var("PATH").unwrap_or_default());
        if !args.contains(&"--artifacts") {
            cmd.arg("--artifacts").arg(&self.dir);
        }
        if !args.contains(&"--config") {
            cmd.arg("--config").arg(self.dir.join("none.yaml"));
        }
        cmd.args(args).output().expect("run deploy")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "deploy {args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).expect("--json prints JSON")
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "deploy {args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    /// The AWS CLI, as the runbook uses it (from the tools environment).
    fn aws(&self, args: &[&str]) -> Value {
        let bin = std::env::var_os("TOOLS_BIN").map_or_else(|| PathBuf::from("aws"), |d| Path::new(&d).join("aws"));
        let out = Command::new(&bin)
            .envs(self.moto.env())
            .env("AWS_DEFAULT_REGION", testkit::REGION)
            .args(["--endpoint-url", &self.moto.endpoint])
            .args(args)
            .args(["--output", "json"])
            .output()
            .unwrap_or_else(|e| panic!("{} ({e}): run the tests with `cargo xtask test`", bin.display()));
        assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn deploy_from_nothing_leaves_what_the_runbook_expects() {
    let d = Deployer::new();
    let report = d.json(&[]);
    assert_eq!(report["changed"], true);
    assert_eq!(report["mode"], "on-demand");
    assert_eq!(report["api_public"], false);
    assert_eq!(report["roles"].as_array().unwrap().len(), 4);

    let services = d.aws(&["ecs", "list-services", "--cluster", "scheduling-solver-cluster"]);
    assert!(services["serviceArns"][0].as_str().unwrap().ends_with("/solver-worker"), "{services}");
    let service = d.aws(&["ecs", "describe-services", "--cluster", "scheduling-solver-cluster", "--services", "solver-worker"]);
    assert_eq!(service["services"][0]["desiredCount"], 0, "the legacy service is scaled to 0");

    let conf = d.aws(&["lambda", "get-function-configuration", "--function-name", "scheduling-solver-sqs-trigger"]);
    let vars = &conf["Environment"]["Variables"];
    assert_eq!(vars["ECS_CLUSTER"], "scheduling-solver-cluster");
    assert_eq!(vars["ECS_TASK_DEFINITION"], "solver-worker");
    assert_eq!(vars["S3_RESULTS_BUCKET"], "scheduling-solver-results");
    assert!(vars["ECS_SUBNETS"].as_str().unwrap().starts_with("subnet-"));
    assert!(vars["ECS_SECURITY_GROUPS"].as_str().unwrap().starts_with("sg-"));
    assert_eq!(conf["Runtime"], "provided.al2023");

    let mappings = d.aws(&["lambda", "list-event-source-mappings", "--function-name", "scheduling-solver-sqs-trigger"]);
    let m = &mappings["EventSourceMappings"][0];
    assert_eq!(m["State"], "Enabled");
    assert!(m["EventSourceArn"].as_str().unwrap().ends_with(":scheduling-solver-jobs"));
    assert_eq!(m["FunctionResponseTypes"][0], "ReportBatchItemFailures");

    let queue = d.aws(&["sqs", "get-queue-url", "--queue-name", "scheduling-solver-jobs"]);
    let attrs = d.aws(&["sqs", "get-queue-attributes", "--queue-url", queue["QueueUrl"].as_str().unwrap(), "--attribute-names", "All"]);
    assert_eq!(attrs["Attributes"]["VisibilityTimeout"], "43200");
    assert!(attrs["Attributes"]["RedrivePolicy"].as_str().unwrap().contains("scheduling-solver-jobs-dlq"));

    let task_def = d.aws(&["ecs", "describe-task-definition", "--task-definition", "solver-worker"]);
    assert_eq!(task_def["taskDefinition"]["containerDefinitions"][0]["name"], "worker");
    assert_eq!(task_def["taskDefinition"]["family"], "solver-worker");
    // The emulator drops requiresCompatibilities and networkMode given in a
    // template (as it drops RuntimePlatform, MOTO.md); cfn-lint checks them.

    // A second run with nothing changed leaves the stack alone.
    let again = d.json(&[]);
    assert_eq!(again["changed"], false);
    assert!(again["uploaded"].as_array().unwrap().is_empty(), "artifacts already there are not uploaded again");
    assert!(d.ok(&[]).contains("no changes"));
}

#[test]
fn rollback_switches_to_polling_and_deploy_switches_back() {
    let d = Deployer::new();
    d.ok(&[]);
    let r = d.json(&["rollback"]);
    assert_eq!(r["mode"], "polling");
    let status = d.json(&["status"]);
    assert_eq!(status["mode"], "polling");
    assert_eq!(status["legacy_service"]["desired"], 1);
    assert_eq!(status["trigger_state"], "Disabled");
    let mappings = d.aws(&["lambda", "list-event-source-mappings", "--function-name", "scheduling-solver-sqs-trigger"]);
    assert_eq!(mappings["EventSourceMappings"][0]["State"], "Disabled", "one consumer: the trigger is off");

    // A stack update must not reset the count behind the operator's back.
    let plan = d.json(&["plan"]);
    assert!(plan["changes"].is_null(), "{plan}");
    // But `deploy` would switch back: the plan says so, and exits 2.
    assert!(plan["switch"].to_string().contains("scale the legacy service solver-worker from 1 to 0"), "{plan}");
    let out = d.run(&["plan", "--detailed-exitcode", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));

    let back = d.json(&[]);
    assert_eq!(back["mode"], "on-demand");
    assert_eq!(back["legacy_service"]["desired"], 0);
    assert_eq!(d.json(&["status"])["mode"], "on-demand");
    assert_eq!(d.run(&["plan", "--detailed-exitcode"]).status.code(), Some(0), "up to date");

    // With no legacy service there is nothing to roll back to: the rollback
    // is refused before the trigger is touched, so the queue stays consumed.
    d.aws(&["ecs", "delete-service", "--cluster", "scheduling-solver-cluster", "--service", "solver-worker", "--force"]);
    assert!(d.fails(&["rollback"]).contains("nothing to roll back to (the trigger stays on)"));
    let mappings = d.aws(&["lambda", "list-event-source-mappings", "--function-name", "scheduling-solver-sqs-trigger"]);
    assert_eq!(mappings["EventSourceMappings"][0]["State"], "Enabled");
}

#[test]
fn a_changed_setting_is_planned_then_applied() {
    let d = Deployer::new();
    d.ok(&[]);
    let cfg = d.config("trigger:\n  batch_size: 5\nlog_retention_days: 7\n");
    let cfg = cfg.to_str().unwrap();
    let plan = d.json(&["--config", cfg, "plan"]);
    assert!(plan["changes"].is_array(), "{plan}");
    assert_eq!(d.run(&["--config", cfg, "plan", "--detailed-exitcode"]).status.code(), Some(2), "a template change is pending");
    let report = d.json(&["--config", cfg]);
    assert_eq!(report["changed"], true);
    let mappings = d.aws(&["lambda", "list-event-source-mappings", "--function-name", "scheduling-solver-sqs-trigger"]);
    assert_eq!(mappings["EventSourceMappings"][0]["BatchSize"], 5);
    assert_eq!(d.json(&["--config", cfg])["changed"], false);
}

#[test]
fn a_template_change_is_pending_until_deployed() {
    let d = Deployer::new();
    d.ok(&[]);
    assert_eq!(d.run(&["plan", "--detailed-exitcode"]).status.code(), Some(0), "up to date");
    // A new output (a comment alone is no change to CloudFormation: the plan then only records).
    let changed = d.config(&(testkit_template() + "\n  ExtraOutput: { Value: !Ref TaskDefinition }\n"));
    let changed = changed.to_str().unwrap();
    let out = d.run(&["--template", changed, "plan", "--detailed-exitcode", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps: Vec<&str> = plan["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["execute_change_set", "record_deploy", "trigger_environment"], "{plan}");
    assert!(plan["settings"].as_array().unwrap().is_empty(), "no setting changed: {plan}");
    let report = d.json(&["--template", changed]);
    assert_eq!(report["steps"].as_array().unwrap().len(), 3, "{report}");
    assert_eq!(d.run(&["--template", changed, "plan", "--detailed-exitcode"]).status.code(), Some(0), "deployed: nothing pending");
}

/// Samples, every few milliseconds while a deploy runs, which consumers of
/// the job queue are on: `(trigger mapping enabled, polling service wanted
/// or running)`.
struct ConsumerSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(bool, bool)>>,
}

impl ConsumerSampler {
    fn start(moto: &Moto) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sdk = runtime.block_on(moto.sdk());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let (lambda, ecs) = (aws_sdk_lambda::Client::new(&sdk), aws_sdk_ecs::Client::new(&sdk));
            let mut samples = Vec::new();
            let mut last = false;
            // One more sample after the stop: the state the deploy left.
            while !last {
                last = stopped.load(std::sync::atomic::Ordering::SeqCst);
                samples.push(runtime.block_on(async {
                    let mappings = lambda.list_event_source_mappings().function_name("scheduling-solver-sqs-trigger").send().await.ok();
                    let trigger = mappings.is_some_and(|m| m.event_source_mappings().iter().any(|m| matches!(m.state(), Some("Enabled" | "Enabling" | "Updating" | "Creating"))));
                    let services = ecs.describe_services().cluster("scheduling-solver-cluster").services("solver-worker").send().await.ok();
                    let polling = services.is_some_and(|s| s.services().iter().any(|s| s.status() == Some("ACTIVE") && (s.desired_count() > 0 || s.running_count() > 0)));
                    (trigger, polling)
                }));
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            samples
        });
        Self { stop, thread }
    }

    fn stop(self) -> Vec<(bool, bool)> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Every AWS call `deploy` makes, recorded on its way to the emulator as
/// `Service.Operation` (JSON and query protocols) or `METHOD /path` (REST).
struct CallRecorder {
    endpoint: String,
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl CallRecorder {
    fn start(upstream: &str) -> Self {
        use http_body_util::BodyExt;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (record, upstream) = (calls.clone(), upstream.to_owned());
        runtime.spawn(async move {
            let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<http_body_util::Full<bytes::Bytes>>();
            while let Ok((stream, _)) = listener.accept().await {
                let (record, upstream, client) = (record.clone(), upstream.clone(), client.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let (record, upstream, client) = (record.clone(), upstream.clone(), client.clone());
                        async move {
                            let (mut parts, body) = request.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            record.lock().unwrap().push(operation(&parts, &body));
                            parts.uri = format!("{upstream}{}", parts.uri.path_and_query().unwrap()).parse().unwrap();
                            let response = client.request(hyper::Request::from_parts(parts, http_body_util::Full::new(body))).await.unwrap();
                            let (head, body) = response.into_parts();
                            Ok::<_, std::convert::Infallible>(hyper::Response::from_parts(head, http_body_util::Full::new(body.collect().await.unwrap().to_bytes())))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                });
            }
        });
        Self { endpoint, calls, _runtime: runtime }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

fn operation(parts: &http::request::Parts, body: &[u8]) -> String {
    if let Some(target) = parts.headers.get("x-amz-target") {
        return target.to_str().unwrap().to_owned();
    }
    let form = String::from_utf8_lossy(body);
    if let Some(action) = form.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return format!("Query.{action}");
    }
    format!("{} {}", parts.method, parts.uri.path())
}

/// A call that changes something: not a read by its name or HTTP method.
fn mutates(call: &str) -> bool {
    let read_prefixes = ["Describe", "List", "Get", "Head", "Validate", "Estimate"];
    match call.split_once(' ') {
        Some((method, _)) => !matches!(method, "GET" | "HEAD"),
        None => !read_prefixes.iter().any(|p| call.rsplit('.').next().unwrap().starts_with(p)),
    }
}

#[test]
fn a_deploy_with_nothing_to_change_makes_no_mutating_call() {
    let d = Deployer::new();
    d.ok(&["--yes"]);
    let recorder = CallRecorder::start(&d.moto.endpoint);
    let out = d.run_through(&recorder.endpoint, &["--yes", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("is up to date"), "progress goes to stderr with --json too: {stderr}");
    serde_json::from_slice::<Value>(&out.stdout).expect("stdout is the JSON report alone");
    let calls = recorder.take();
    assert!(calls.len() > 10, "the recorder saw the deploy's calls: {calls:?}");
    let mutating: Vec<&String> = calls.iter().filter(|c| mutates(c)).collect();
    assert!(mutating.is_empty(), "an unchanged deploy changed something: {mutating:?}");
    // The count can fail: a changed setting is made by mutating calls.
    let cfg = d.config("trigger:\n  batch_size: 4\n");
    let out = d.run_through(&recorder.endpoint, &["--yes", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = recorder.take();
    assert!(calls.iter().any(|c| c.ends_with(".CreateChangeSet")) && calls.iter().any(|c| c.ends_with(".ExecuteChangeSet")), "{calls:?}");
}

#[test]
fn a_plan_shows_the_settings_that_change_and_renaming_the_queue_needs_a_yes() {
    let d = Deployer::new();
    d.ok(&[]);
    let cfg = d.config("names:\n  queue: other-jobs\n");
    let cfg = cfg.to_str().unwrap();
    let plan = d.ok(&["--config", cfg, "plan"]);
    assert!(plan.contains("QueueName: scheduling-solver-jobs → other-jobs  (") && plan.contains("JobQueue"), "{plan}");
    assert!(plan.contains("needs confirmation: renames JobQueue (AWS::SQS::Queue) by QueueName scheduling-solver-jobs → other-jobs"), "{plan}");
    let json = d.json(&["--config", cfg, "plan"]);
    assert_eq!(json["mode"], "on-demand", "the mode now, read under the deployed names: {json}");
    let refused = d.fails(&["--config", cfg]);
    assert!(refused.contains("refusing to deploy stack scheduling-solver, which renames JobQueue") && refused.contains("--yes"), "{refused}");
    let queues = d.aws(&["sqs", "list-queues"]).to_string();
    assert!(!queues.contains("other-jobs"), "a refused deploy changed nothing: {queues}");
    assert_eq!(d.run(&["--config", cfg, "plan", "--detailed-exitcode"]).status.code(), Some(2), "still pending");
    let changes = d.aws(&["cloudformation", "list-change-sets", "--stack-name", "scheduling-solver"]);
    let waiting = changes["Summaries"].as_array().unwrap().iter().filter(|s| s["ExecutionStatus"] == "AVAILABLE").count();
    assert_eq!(waiting, 0, "no unexecuted change set left behind: {changes}");
}

#[test]
fn hotswap_updates_changed_code_without_a_change_set_and_leaves_no_drift() {
    let d = Deployer::new();
    d.ok(&[]);
    let code_sha = |function: &str| d.aws(&["lambda", "get-function", "--function-name", function])["Configuration"]["CodeSha256"].as_str().unwrap().to_owned();
    let change_sets = || d.aws(&["cloudformation", "list-change-sets", "--stack-name", "scheduling-solver"])["Summaries"].as_array().unwrap().len();
    let (api_before, trigger_before, sets_before) = (code_sha("scheduling-solver-api"), code_sha("scheduling-solver-sqs-trigger"), change_sets());
    d.write_zip("solver-api", "v2");
    let report = d.json(&["--hotswap"]);
    assert_eq!(report["hotswapped"], serde_json::json!(["scheduling-solver-api"]), "{report}");
    assert_ne!(code_sha("scheduling-solver-api"), api_before, "the new code runs");
    assert_eq!(code_sha("scheduling-solver-sqs-trigger"), trigger_before, "the unchanged function is left alone");
    assert_eq!(change_sets(), sets_before, "no change set");
    assert_eq!(d.run(&["plan", "--detailed-exitcode"]).status.code(), Some(0), "the next full deploy sees nothing to do");
    assert_eq!(d.json(&[])["changed"], false);
    // Anything besides code goes through a change set, and says why.
    let cfg = d.config("trigger:\n  batch_size: 3\n");
    let out = d.run(&["--hotswap", "--json", "--config", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("no hotswap: settings besides the code changed: BatchSize"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["changed"].as_bool(), report["hotswapped"].as_array().map(Vec::len)), (Some(true), Some(0)), "{report}");
}

#[test]
fn destroy_keeps_results_unless_asked_and_a_new_deploy_adopts_them() {
    let d = Deployer::new();
    d.ok(&[]);
    assert!(d.fails(&["destroy"]).contains("--yes"), "no prompt without a terminal: refuse");
    let r = d.json(&["destroy", "--yes"]);
    assert_eq!(r["results_deleted"], false);
    let buckets = d.aws(&["s3api", "list-buckets"]);
    assert!(buckets.to_string().contains("scheduling-solver-results"));

    let again = d.json(&[]);
    assert_eq!(again["adopted"]["bucket"], true, "the kept bucket is adopted, not a failed create");
    let r = d.json(&["destroy", "--yes", "--delete-results"]);
    assert_eq!(r["results_deleted"], true);
    assert!(!d.aws(&["s3api", "list-buckets"]).to_string().contains("scheduling-solver-results"));

    // With nothing left, `status` says what it could not read rather than
    // showing an empty system.
    let status = d.json(&["status"]);
    let unreadable = status["unreadable"].to_string();
    assert!(unreadable.contains("recent jobs in s3://scheduling-solver-results"), "{status}");
    assert!(d.ok(&["status"]).contains("COULD NOT READ recent jobs"));
}

#[test]
fn an_account_with_the_old_architecture_is_adopted() {
    let d = Deployer::new();
    d.aws(&["ecs", "create-cluster", "--cluster-name", "scheduling-solver-cluster"]);
    d.aws(&["ecs", "register-task-definition", "--family", "solver-worker", "--container-definitions", r#"[{"name":"worker","image":"old","memory":512}]"#]);
    d.aws(&["ecs", "create-service", "--cluster", "scheduling-solver-cluster", "--service-name", "solver-worker", "--task-definition", "solver-worker", "--desired-count", "1"]);
    // The old queue: default settings, no DLQ, and a job waiting in it.
    let old_queue = d.aws(&["sqs", "create-queue", "--queue-name", "scheduling-solver-jobs"])["QueueUrl"].as_str().unwrap().to_owned();
    d.aws(&["sqs", "send-message", "--queue-url", &old_queue, "--message-body", r#"{"run_id":"waiting"}"#]);
    let sampler = ConsumerSampler::start(&d.moto);
    let report = d.json(&[]);
    let samples = sampler.stop();
    assert!(samples.iter().any(|&(trigger, polling)| polling && !trigger), "the sampler saw the old service on: {samples:?}");
    assert!(samples.iter().all(|&(trigger, polling)| !(trigger && polling)), "both consumers were on at once during the first deploy");
    assert_eq!(samples.last(), Some(&(true, false)), "on-demand at the end");
    let steps: Vec<&str> = report["steps"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    let at = |prefix: &str| steps.iter().position(|s| s.starts_with(prefix)).unwrap_or_else(|| panic!("no step {prefix}: {steps:?}"));
    assert!(at("create stack") < at("set VisibilityTimeout=43200") && at("set VisibilityTimeout") < at("scale the legacy service solver-worker from 1 to 0"), "{steps:?}");
    assert!(
        at("scale the legacy") < at("wait until the legacy service") && at("wait until") < at("enable the trigger's mapping"),
        "the old consumer off before the new one on: {steps:?}"
    );
    assert_eq!(report["adopted"]["cluster"], true);
    assert_eq!(report["adopted"]["service"], true);
    assert_eq!(report["adopted"]["queue"]["url"], old_queue.as_str());
    assert_eq!(report["queue_url"], old_queue.as_str(), "the pipeline uses the old queue");
    let attrs = d.aws(&["sqs", "get-queue-attributes", "--queue-url", &old_queue, "--attribute-names", "All"]);
    assert_eq!(attrs["Attributes"]["VisibilityTimeout"], "43200");
    assert!(attrs["Attributes"]["RedrivePolicy"].as_str().unwrap().contains("scheduling-solver-jobs-dlq"));
    assert_eq!(attrs["Attributes"]["ApproximateNumberOfMessages"], "1", "the waiting job is kept");
    let queues = d.aws(&["sqs", "list-queues"]);
    let urls: Vec<&str> = queues["QueueUrls"].as_array().unwrap().iter().filter_map(|u| u.as_str()).collect();
    assert_eq!(urls.len(), 3, "the queue, its DLQ and the stopped-task events' DLQ, nothing duplicated: {queues}");
    assert!(urls.iter().any(|u| u.ends_with("/scheduling-solver-jobs-events-dlq")), "{queues}");
    let mappings = d.aws(&["lambda", "list-event-source-mappings", "--function-name", "scheduling-solver-sqs-trigger"]);
    assert!(mappings["EventSourceMappings"][0]["EventSourceArn"].as_str().unwrap().ends_with(":scheduling-solver-jobs"));
    let again = d.json(&[]);
    assert_eq!((again["changed"].as_bool(), again["queue_fixed"].as_array().map(Vec::len)), (Some(false), Some(0)), "{again}");
    assert_eq!(report["mode"], "on-demand");
    assert_eq!(report["legacy_service"]["desired"], 0, "the old service is scaled to 0, not duplicated");
    let services = d.aws(&["ecs", "list-services", "--cluster", "scheduling-solver-cluster"]);
    assert_eq!(services["serviceArns"].as_array().unwrap().len(), 1);
    assert_eq!(d.json(&["rollback"])["mode"], "polling");
}

#[test]
fn a_region_without_a_default_vpc_says_what_to_set() {
    let d = Deployer::new();
    let vpcs = d.aws(&["ec2", "describe-vpcs", "--filters", "Name=isDefault,Values=true"]);
    let vpc = vpcs["Vpcs"][0]["VpcId"].as_str().unwrap().to_owned();
    for s in d.aws(&["ec2", "describe-subnets", "--filters", &format!("Name=vpc-id,Values={vpc}")])["Subnets"].as_array().unwrap() {
        d.aws(&["ec2", "delete-subnet", "--subnet-id", s["SubnetId"].as_str().unwrap()]);
    }
    d.aws(&["ec2", "delete-vpc", "--vpc-id", &vpc]);
    let err = d.fails(&[]);
    assert!(err.contains("no default VPC in us-east-1") && err.contains("network.subnets"), "{err}");
    // Naming the network in deploy.yaml is the way out.
    let cfg = d.config("network:\n  subnets: [subnet-12345678]\n  security_groups: [sg-12345678]\n");
    assert_eq!(d.json(&["--config", cfg.to_str().unwrap()])["network"]["source"], "deploy.yaml");
}

#[test]
fn bad_input_gets_one_clear_message() {
    let d = Deployer::new();
    let cfg = d.config("names:\n  queue: q\n  queues: typo\n");
    let err = d.fails(&["--config", cfg.to_str().unwrap()]);
    assert!(err.contains("line 3") && err.contains("queues"), "{err}");

    let empty = std::env::temp_dir().join(testkit::unique("no-artifacts"));
    std::fs::create_dir_all(&empty).unwrap();
    let err = d.fails(&["--artifacts", empty.to_str().unwrap()]);
    assert!(err.contains("solver-api.zip is missing") && err.contains("cargo xtask build"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_deploy"))
        .env_clear()
        .env("AWS_ENDPOINT_URL", &d.moto.endpoint)
        .env("AWS_REGION", testkit::REGION)
        .env("HOME", &d.dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("status")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no AWS credentials"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_deploy")).env_clear().env("HOME", &d.dir).env("AWS_EC2_METADATA_DISABLED", "true").arg("status").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("region"), "{err}");
}

#[test]
fn a_resource_that_fails_is_reported() {
    let d = Deployer::new();
    d.aws(&["s3api", "create-bucket", "--bucket", "clash-bucket"]);
    let broken =
        d.config(&testkit_template().replace("  # --- logs ---", "  Clash:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: clash-bucket\n\n  # --- logs ---"));
    let err = d.fails(&["--template", broken.to_str().unwrap()]);
    // The emulator fails the execution at once, so the report is its error;
    // on AWS the same path names each failed resource from the stack events.
    assert!(err.contains("ExecuteChangeSet") && err.contains("BucketAlreadyExists"), "{err}");
}

fn testkit_template() -> String {
    std::fs::read_to_string(testkit::workspace_root().join("stacks/solver.yaml")).unwrap()
}

#[test]
fn cancel_ends_a_waiting_job_and_says_why_it_cannot_cancel_others() {
    let d = Deployer::new();
    d.json(&[]);
    // A job waiting for its task, as the API leaves it.
    let doc = job_model::StatusDoc::queued(job_model::RunId::parse("c1").unwrap(), time::OffsetDateTime::now_utc());
    let file = d.dir.join("status.json");
    std::fs::write(&file, doc.to_json()).unwrap();
    d.aws(&["s3api", "put-object", "--bucket", "scheduling-solver-results", "--key", "jobs/c1/status.json", "--body", file.to_str().unwrap()]);
    let report = d.json(&["cancel", "c1"]);
    assert_eq!((report["state"].as_str(), report["cancel_requested"].as_bool()), (Some("CANCELLED"), Some(false)), "{report}");
    let stored = d.aws(&["s3api", "head-object", "--bucket", "scheduling-solver-results", "--key", "jobs/c1/status.json"]);
    assert!(stored["ContentLength"].as_i64().unwrap() > 0);
    assert!(d.fails(&["cancel", "c1"]).contains("already ended CANCELLED"));
    assert!(d.fails(&["cancel", "nope"]).contains("no run nope"));
    assert!(d.fails(&["cancel", "../x"]).contains("is not a run id"));
}

#[test]
fn the_worker_image_must_exist_and_is_pinned_by_digest() {
    let d = Deployer::without_image();
    let no_repo = d.fails(&[]);
    assert!(
        no_repo.contains("cannot be pulled: ECR has no repository solver-worker") && no_repo.contains("`deploy repository`") && no_repo.contains("cargo xtask deploy --image"),
        "{no_repo}"
    );
    d.aws(&["ecr", "create-repository", "--repository-name", "solver-worker"]);
    let no_image = d.fails(&["plan"]);
    assert!(no_image.contains("repository solver-worker has no such image"), "{no_image}");
    let stacks = d.aws(&["cloudformation", "list-stacks"]);
    assert!(stacks["StackSummaries"].as_array().is_none_or(Vec::is_empty), "nothing was created before the refusal: {stacks}");
    // A repository made outside deploy (the old system's) is adopted as it is.
    let adopted = d.json(&["repository"]);
    assert!(adopted["owner"].as_str().unwrap().starts_with("adopted"), "{adopted}");
    assert_eq!(adopted["changed"], false);
    let stacks = d.aws(&["cloudformation", "list-stacks"]);
    assert!(stacks["StackSummaries"].as_array().is_none_or(Vec::is_empty), "an adopted repository gets no stack: {stacks}");

    let digest = tokio::runtime::Runtime::new().unwrap().block_on(d.moto.push_image("solver-worker", "v1"));
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/solver-worker:v1";
    let report = d.json(&["--image", image]);
    assert_eq!(report["image"]["requested"], image);
    assert_eq!(report["image"]["checked"], true);
    let pinned = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/solver-worker@{digest}");
    assert_eq!(report["image"]["pinned"], pinned.as_str());
    let def = d.aws(&["ecs", "describe-task-definition", "--task-definition", "solver-worker"]);
    assert_eq!(def["taskDefinition"]["containerDefinitions"][0]["image"], pinned.as_str(), "the task definition runs the pushed image by digest");
    // An image in another registry is used as given, and said to be unchecked.
    let other = d.json(&["--image", "ghcr.io/acme/solver:1", "plan"]);
    assert_eq!((other["image"]["checked"].as_bool(), other["image"]["pinned"].as_str()), (Some(false), Some("ghcr.io/acme/solver:1")));
}

#[test]
fn deploy_repository_makes_the_image_repository_in_its_own_stack_before_the_first_push() {
    let d = Deployer::without_image();
    let made = d.json(&["repository"]);
    assert_eq!((made["owner"].as_str(), made["changed"].as_bool()), (Some("stack solver-worker-image-repository"), Some(true)), "{made}");
    assert_eq!(made["uri"], "123456789012.dkr.ecr.us-east-1.amazonaws.com/solver-worker");
    assert_eq!(made["keep_images"], 30);
    // Scan on push and the lifecycle rule are not checked here: the emulator
    // answers an empty scanning configuration and keeps no lifecycle policy
    // from a template (repository.rs checks the template itself).
    let repo = d.aws(&["ecr", "describe-repositories", "--repository-names", "solver-worker"]);
    assert_eq!(repo["repositories"][0]["repositoryName"], "solver-worker", "{repo}");
    let resources = d.aws(&["cloudformation", "list-stack-resources", "--stack-name", "solver-worker-image-repository"]);
    assert_eq!(resources["StackResourceSummaries"][0]["ResourceType"], "AWS::ECR::Repository");
    let again = d.json(&["repository"]);
    assert_eq!(again["changed"], false, "nothing to change: {again}");
    let text = d.ok(&["repository"]);
    assert!(text.contains("docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/solver-worker:TAG"), "{text}");

    // Empty, it still refuses to deploy; pushed to, it deploys from it.
    assert!(d.fails(&[]).contains("repository solver-worker has no such image"));
    tokio::runtime::Runtime::new().unwrap().block_on(d.moto.push_image("solver-worker", "latest"));
    let report = d.json(&[]);
    assert_eq!(report["image"]["checked"], true);
    assert_eq!(report["image_repository"]["owner"]["stack"], "solver-worker-image-repository", "{}", report["image_repository"]);
    // A destroyed pipeline keeps the repository and its images.
    d.ok(&["destroy", "--yes"]);
    let images = d.aws(&["ecr", "describe-images", "--repository-name", "solver-worker"]);
    assert_eq!(images["imageDetails"].as_array().unwrap().len(), 1);
}

#[test]
fn cost_adds_up_the_attempts_the_jobs_recorded() {
    let d = Deployer::new();
    d.json(&[]);
    // A job that ran an hour on Spot, was interrupted, then ran 30 minutes on-demand.
    let t = time::OffsetDateTime::now_utc() - time::Duration::hours(3);
    let mut doc = job_model::StatusDoc::queued(job_model::RunId::parse("costly").unwrap(), t).with_limits(7200.0, 3);
    use job_model::{Capacity, ErrorInfo, Event};
    for (at, e) in [
        (0, Event::Claim),
        (0, Event::Launched { task_arn: "t1".into(), capacity: Some(Capacity::Spot), memory_mib: None, slot: None }),
        (0, Event::Started { task_arn: Some("t1".into()), takeover: false, checkpoint: false }),
        (3600, Event::TaskStopped { task_arn: Some("t1".into()), error: ErrorInfo::new("SPOT_INTERRUPTION", "x"), checkpoint: true }),
        (3600, Event::Claim),
        (3600, Event::Launched { task_arn: "t2".into(), capacity: Some(Capacity::OnDemand), memory_mib: None, slot: None }),
        (3600, Event::Started { task_arn: Some("t2".into()), takeover: false, checkpoint: true }),
        (5400, Event::Succeeded { result_key: "jobs/costly/result.json".into(), progress: None }),
    ] {
        doc = doc.apply(&e, t + time::Duration::seconds(at)).unwrap();
    }
    let file = d.dir.join("costly.json");
    std::fs::write(&file, doc.to_json()).unwrap();
    d.aws(&["s3api", "put-object", "--bucket", "scheduling-solver-results", "--key", "jobs/costly/status.json", "--body", file.to_str().unwrap()]);
    // Its entry in the ended index, as the store writes it when a job ends.
    let ended = job_model::keys::ended(&doc.run_id, i64::try_from(doc.updated_at.unix_timestamp_nanos() / 1_000_000).unwrap());
    d.aws(&["s3api", "put-object", "--bucket", "scheduling-solver-results", "--key", &ended]);
    // A job that ended three days ago is not counted for the last day.
    let old_end = time::OffsetDateTime::now_utc() - time::Duration::days(3);
    let old = job_model::keys::ended(&job_model::RunId::parse("old").unwrap(), i64::try_from(old_end.unix_timestamp_nanos() / 1_000_000).unwrap());
    d.aws(&["s3api", "put-object", "--bucket", "scheduling-solver-results", "--key", &old]);
    let r = d.json(&["cost", "--since", "1d"]);
    // 1 vCPU and 2 GB (the defaults): 0.04937 $/h on-demand, 70% less on Spot.
    let (on_demand, spot) = (0.5 * 0.04937, 1.0 * 0.04937 * 0.3);
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    assert_eq!((r["jobs"].as_u64(), r["attempts"].as_u64()), (Some(1), Some(2)), "{r}");
    assert_eq!(r["on_demand_usd"].as_f64(), Some(cents(on_demand)), "{r}");
    assert_eq!(r["spot_usd"].as_f64(), Some(cents(spot)), "{r}");
    assert_eq!(r["total_usd"].as_f64(), Some(cents(on_demand + spot)), "{r}");
    assert_eq!(r["per_job"][0]["usd"].as_f64(), Some(cents(on_demand + spot)), "{r}");
    assert_eq!(r["polling_service_usd"].as_f64(), Some(cents(24.0 * 0.04937)), "a day of the old service: {r}");
    assert!(d.ok(&["cost"]).contains("the old polling service, same size, always on"));
    // `deploy status` has the calendar month so far in one line.
    let month = d.json(&["status"])["month_so_far"].clone();
    let now = time::OffsetDateTime::now_utc();
    if now.day() > 1 || now.hour() >= 4 {
        assert_eq!((month["jobs"].as_u64(), month["total_usd"].as_f64()), (Some(1), Some(cents(on_demand + spot))), "{month}");
    }
    assert!(d.ok(&["status"]).lines().any(|l| l.starts_with("month:") && l.contains("the old polling service")), "a month line");
    assert!(d.fails(&["cost", "--since", "30"]).contains("the unit is d, h or m"));
}

#[test]
fn status_lists_the_family_s_tasks_stopped_ones_with_their_reason_and_jobs_from_the_indexes() {
    let d = Deployer::new();
    d.json(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A task of the worker family for a job, stopped by ECS with a reason;
    // and a task of another family on the same cluster.
    let net = r#"awsvpcConfiguration={subnets=[subnet-x],securityGroups=[sg-x]}"#;
    let overrides = r#"{"containerOverrides":[{"name":"worker","environment":[{"name":"RUN_ID","value":"job-a"}]}]}"#;
    let task = d.aws(&[
        "ecs",
        "run-task",
        "--cluster",
        "scheduling-solver-cluster",
        "--task-definition",
        "solver-worker",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        net,
        "--overrides",
        overrides,
    ]);
    let arn = task["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    d.aws(&["ecs", "stop-task", "--cluster", "scheduling-solver-cluster", "--task", &arn, "--reason", "OutOfMemoryError: Container killed due to memory usage"]);
    d.aws(&["ecs", "register-task-definition", "--family", "someone-else", "--container-definitions", r#"[{"name":"x","image":"x","memory":512}]"#]);
    d.aws(&["ecs", "run-task", "--cluster", "scheduling-solver-cluster", "--task-definition", "someone-else", "--launch-type", "FARGATE", "--network-configuration", net]);
    // One job still queued, one ended: found through the indexes.
    rt.block_on(async {
        let store = job_store::Store::new(job_store::aws::s3_client(&d.moto.sdk().await), "scheduling-solver-results");
        let now = time::OffsetDateTime::now_utc();
        for id in ["waits", "done"] {
            store.create_status(&job_model::StatusDoc::queued(job_model::RunId::parse(id).unwrap(), now)).await.unwrap();
        }
        store.apply(&job_model::RunId::parse("done").unwrap(), &job_model::Event::CancelRequested { checkpoint: false }).await.unwrap();
    });
    let status = d.json(&["status"]);
    assert_eq!(status["running_tasks"].as_array().unwrap().len(), 0, "the other family's task is not ours: {status}");
    let stopped = &status["stopped_tasks"][0];
    assert_eq!((stopped["run_id"].as_str(), stopped["task_arn"].as_str()), (Some("job-a"), Some(arn.as_str())), "{status}");
    assert!(stopped["stopped_reason"].as_str().unwrap().contains("OutOfMemoryError"), "{status}");
    let jobs: Vec<(&str, &str)> = status["recent_jobs"].as_array().unwrap().iter().map(|j| (j["run_id"].as_str().unwrap(), j["state"].as_str().unwrap())).collect();
    assert!(jobs.contains(&("waits", "QUEUED")) && jobs.contains(&("done", "CANCELLED")), "{jobs:?}");
    assert!(d.ok(&["status"]).contains("OutOfMemoryError"), "the reason is shown to the operator");
}

/// `deploy doctor --json`: its exit status, and each check's outcome by id.
fn doctor(d: &Deployer) -> (bool, Value, std::collections::BTreeMap<String, String>) {
    let out = d.run(&["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("doctor --json prints JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let outcomes = report["checks"].as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap().to_owned(), c["outcome"].as_str().unwrap().to_owned())).collect();
    assert_eq!(out.status.success(), report["healthy"] == true, "exit status follows the verdict: {report}");
    (out.status.success(), report, outcomes)
}

fn failing(outcomes: &std::collections::BTreeMap<String, String>) -> Vec<&str> {
    outcomes.iter().filter(|(_, o)| *o == "fail").map(|(id, _)| id.as_str()).collect()
}

/// The trigger's environment with one variable replaced, as a hand edit would.
fn set_trigger_variable(d: &Deployer, name: &str, value: &str) {
    let conf = d.aws(&["lambda", "get-function-configuration", "--function-name", "scheduling-solver-sqs-trigger"]);
    let mut vars = conf["Environment"]["Variables"].clone();
    vars[name] = Value::from(value);
    d.aws(&["lambda", "update-function-configuration", "--function-name", "scheduling-solver-sqs-trigger", "--environment", &serde_json::json!({ "Variables": vars }).to_string()]);
}

#[test]
fn doctor_passes_on_a_good_stack_and_each_check_fails_on_what_it_checks() {
    let d = Deployer::new();
    let (_, report, _) = doctor(&d);
    assert_eq!(report["checks"][0]["outcome"], "fail", "no stack yet: {report}");
    assert!(report["checks"][0]["fix"].as_str().unwrap().contains("run `deploy`"), "{report}");
    d.json(&[]);
    let (healthy, report, outcomes) = doctor(&d);
    assert!(healthy, "a fresh deploy is healthy: {report:#}");
    for id in
        ["stack", "trigger-environment", "network", "trigger-permissions", "trigger-mapping", "legacy-service", "task-image", "queue", "dead-letter-queue", "recent-failed-tasks"]
    {
        assert_eq!(outcomes.get(id).map(String::as_str), Some("pass"), "{id}: {report:#}");
    }
    let text = String::from_utf8_lossy(&d.run(&["doctor"]).stdout).into_owned();
    assert!(text.contains("all 10 checks passed"), "{text}");

    // The trigger's subnets replaced by ones that do not exist.
    set_trigger_variable(&d, "ECS_SUBNETS", "subnet-0123456789abcdef0");
    let (healthy, report, outcomes) = doctor(&d);
    assert!(!healthy);
    assert_eq!(failing(&outcomes), ["network", "trigger-environment"], "{report:#}");
    let network = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "network").unwrap();
    assert!(network["detail"].as_str().unwrap().contains("subnet-0123456789abcdef0 do not exist"), "{network}");
    assert!(network["fix"].as_str().unwrap().contains("network.subnets"), "{network}");
    let text = String::from_utf8_lossy(&d.run(&["doctor"]).stdout).into_owned();
    assert!(text.contains("FAIL network") && text.contains("fix: ") && text.contains("2 of 10 checks failed"), "{text}");
    d.json(&[]);
    assert!(doctor(&d).0, "deploy puts the environment right");

    // A security group of another VPC.
    let vpc = d.aws(&["ec2", "create-vpc", "--cidr-block", "10.9.0.0/16"]);
    let vpc = vpc["Vpc"]["VpcId"].as_str().unwrap();
    let group = d.aws(&["ec2", "create-security-group", "--group-name", "elsewhere", "--description", "x", "--vpc-id", vpc]);
    set_trigger_variable(&d, "ECS_SECURITY_GROUPS", group["GroupId"].as_str().unwrap());
    let (_, report, outcomes) = doctor(&d);
    assert_eq!(failing(&outcomes), ["network", "trigger-environment"], "{report:#}");
    assert!(report.to_string().contains("in 2 VPCs"), "{report:#}");
    d.json(&[]);

    // The trigger's role without PassRole.
    let role =
        d.aws(&["lambda", "get-function-configuration", "--function-name", "scheduling-solver-sqs-trigger"])["Role"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let policies = d.aws(&["iam", "list-role-policies", "--role-name", &role]);
    let name = policies["PolicyNames"][0].as_str().unwrap().to_owned();
    let original = match d.aws(&["iam", "get-role-policy", "--role-name", &role, "--policy-name", &name])["PolicyDocument"].clone() {
        // The emulator gives a policy CloudFormation made as a Python repr
        // (iam_policy.rs); this one has no quotes inside its values.
        Value::String(repr) => serde_json::from_str::<Value>(&repr.replace('\'', "\"")).unwrap(),
        document => document,
    };
    let mut cut = original.clone();
    cut["Statement"].as_array_mut().unwrap().retain(|s| s["Action"] != "iam:PassRole");
    d.aws(&["iam", "put-role-policy", "--role-name", &role, "--policy-name", &name, "--policy-document", &cut.to_string()]);
    let (_, report, outcomes) = doctor(&d);
    assert_eq!(failing(&outcomes), ["trigger-permissions"], "{report:#}");
    assert!(report.to_string().contains("iam:PassRole on arn:aws:iam::123456789012:role/"), "{report:#}");
    d.aws(&["iam", "put-role-policy", "--role-name", &role, "--policy-name", &name, "--policy-document", &original.to_string()]);

    // The old service scaled up beside the trigger.
    d.aws(&["ecs", "update-service", "--cluster", "scheduling-solver-cluster", "--service", "solver-worker", "--desired-count", "1"]);
    let (_, report, outcomes) = doctor(&d);
    assert_eq!(failing(&outcomes), ["legacy-service"], "{report:#}");
    assert!(report.to_string().contains("two consumers"), "{report:#}");
    // After a rollback the same counts are the intended mode.
    d.ok(&["rollback"]);
    assert!(doctor(&d).0, "polling mode after a rollback is healthy");
    // Neither consumer.
    d.aws(&["ecs", "update-service", "--cluster", "scheduling-solver-cluster", "--service", "solver-worker", "--desired-count", "0"]);
    assert_eq!(failing(&doctor(&d).2), ["trigger-mapping"]);
    d.json(&[]);

    // A dead-lettered message.
    let dlq = d.aws(&["sqs", "get-queue-url", "--queue-name", "scheduling-solver-jobs-dlq"])["QueueUrl"].as_str().unwrap().to_owned();
    d.aws(&["sqs", "send-message", "--queue-url", &dlq, "--message-body", r#"{"run_id":"lost"}"#]);
    assert_eq!(failing(&doctor(&d).2), ["dead-letter-queue"]);
    d.aws(&["sqs", "purge-queue", "--queue-url", &dlq]);

    // A task killed for memory.
    let net = r#"awsvpcConfiguration={subnets=[subnet-x],securityGroups=[sg-x]}"#;
    let task =
        d.aws(&["ecs", "run-task", "--cluster", "scheduling-solver-cluster", "--task-definition", "solver-worker", "--launch-type", "FARGATE", "--network-configuration", net]);
    let arn = task["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    d.aws(&["ecs", "stop-task", "--cluster", "scheduling-solver-cluster", "--task", &arn, "--reason", "OutOfMemoryError: Container killed due to memory usage"]);
    let (_, report, outcomes) = doctor(&d);
    assert_eq!(failing(&outcomes), ["recent-failed-tasks"], "{report:#}");
    assert!(report.to_string().contains("worker.memory"), "{report:#}");

    // The image gone from the registry (last: tasks cannot be started after).
    d.aws(&["ecr", "batch-delete-image", "--repository-name", "solver-worker", "--image-ids", "imageTag=latest"]);
    let (_, report, outcomes) = doctor(&d);
    assert_eq!(failing(&outcomes), ["recent-failed-tasks", "task-image"], "{report:#}");
    assert!(report.to_string().contains("cannot be pulled"), "{report:#}");
}

#[test]
fn two_stages_live_side_by_side_and_one_s_rollback_leaves_the_other_alone() {
    let d = Deployer::new();
    let production = d.json(&[]);
    let staging = d.json(&["--stage", "staging"]);
    assert_eq!((production["stack"].as_str(), staging["stack"].as_str()), (Some("scheduling-solver"), Some("scheduling-solver-staging")));
    assert_eq!(staging["bucket"], "scheduling-solver-results-staging");
    assert!(staging["queue_url"].as_str().unwrap().ends_with("/scheduling-solver-jobs-staging"), "{staging}");
    let functions = d.aws(&["lambda", "list-functions"]);
    let names: std::collections::BTreeSet<&str> = functions["Functions"].as_array().unwrap().iter().map(|f| f["FunctionName"].as_str().unwrap()).collect();
    for name in ["scheduling-solver-api", "scheduling-solver-sqs-trigger", "scheduling-solver-api-staging", "scheduling-solver-sqs-trigger-staging"] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    let staging_env = d.aws(&["lambda", "get-function-configuration", "--function-name", "scheduling-solver-sqs-trigger-staging"])["Environment"]["Variables"].clone();
    assert_eq!((staging_env["ECS_CLUSTER"].as_str(), staging_env["ECS_TASK_DEFINITION"].as_str()), (Some("scheduling-solver-cluster-staging"), Some("solver-worker-staging")));
    assert!(staging_env["SQS_QUEUE_URL"].as_str().unwrap().ends_with("/scheduling-solver-jobs-staging"), "{staging_env}");
    // Both stages' task definitions run the one repository's image.
    for family in ["solver-worker", "solver-worker-staging"] {
        let def = d.aws(&["ecs", "describe-task-definition", "--task-definition", family]);
        assert!(def["taskDefinition"]["containerDefinitions"][0]["image"].as_str().unwrap().contains("/solver-worker@sha256:"), "{family}: {def}");
    }

    assert_eq!(d.json(&["rollback", "--stage", "staging"])["mode"], "polling");
    assert_eq!(d.json(&["status", "--stage", "staging"])["mode"], "polling");
    let production_status = d.json(&["status"]);
    assert_eq!(production_status["mode"], "on-demand", "the other stage is untouched: {production_status}");
    assert_eq!(production_status["stage"], Value::Null);
    let service = d.aws(&["ecs", "describe-services", "--cluster", "scheduling-solver-cluster", "--services", "solver-worker"]);
    assert_eq!(service["services"][0]["desiredCount"], 0);
    // The stage comes from deploy.yaml as well, and the flag wins.
    let config = d.config("stage: staging\n");
    assert_eq!(d.json(&["status", "--config", config.to_str().unwrap()])["stack"], "scheduling-solver-staging");
    assert_eq!(d.json(&["status", "--config", config.to_str().unwrap(), "--stage", "qa"])["stack_status"], Value::Null, "no qa stage was deployed");
    assert!(d.fails(&["status", "--stage", "Prod"]).contains("stage \"Prod\""), "a bad stage is named");
    // Destroying one stage leaves the other running.
    d.ok(&["destroy", "--stage", "staging", "--yes", "--delete-results"]);
    assert_eq!(d.json(&["status"])["mode"], "on-demand");
    assert!(doctor(&d).0, "production is still healthy");
}
