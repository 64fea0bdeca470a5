//! The worker binary run as ECS would run it, against moto: single-run,
//! SIGTERM, polling, external solvers, and the whole pipeline from the API.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use job_model::{JobRequest, JobShopResult, RunId, State, StatusDoc, check_schedule, keys};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;
use testkit::{Env, eventually};

const WORKER: &str = env!("CARGO_BIN_EXE_solver-worker");

fn orlib_request(instance: &str, time_limit_s: f64) -> serde_json::Value {
    serde_json::json!({"problem": {"kind": "jobshop", "format": "orlib", "text": testkit::instance(instance)}, "time_limit_s": time_limit_s})
}

async fn put_job(env: &Env, run_id: &str, request: serde_json::Value) -> RunId {
    let run_id = RunId::parse(run_id).unwrap();
    let limit = request["time_limit_s"].as_f64().unwrap_or(60.0);
    assert!(env.store().create_status(&StatusDoc::queued(run_id.clone(), job_store::now()).with_limits(limit, 3)).await.unwrap());
    env.store().put(&keys::input(&run_id), serde_json::to_vec(&request).unwrap()).await.unwrap();
    run_id
}

fn worker(env: &Env, vars: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(WORKER);
    cmd.env_clear().envs(env.moto.env()).env("S3_RESULTS_BUCKET", &env.bucket).env("PROGRESS_INTERVAL_S", "0.2").env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start the worker")
}

async fn wait(mut child: Child) -> (ExitStatus, String) {
    let out = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status, err)
    });
    tokio::time::timeout(Duration::from_secs(120), out).await.expect("worker exits").unwrap()
}

async fn status(env: &Env, run_id: &RunId) -> StatusDoc {
    env.store().read_status(run_id).await.unwrap().expect("status exists").0
}

async fn checked_result(env: &Env, run_id: &RunId, request: &serde_json::Value) -> JobShopResult {
    let result: JobShopResult = env.store().get_json(&keys::result(run_id)).await.unwrap().expect("result.json");
    let problem = JobRequest::from_value(request.clone()).unwrap().jobshop().unwrap();
    check_schedule(&problem, &result).expect("a valid schedule");
    result
}

/// A stand-in for the ECS task metadata endpoint v4, answering `/task`.
async fn metadata_endpoint(task_arn: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let body = serde_json::json!({"TaskARN": task_arn}).to_string();
            let _ = s.write_all(format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).await;
        }
    });
    format!("http://{addr}/v4/container")
}

#[tokio::test]
async fn single_run_solves_records_progress_and_exits_zero() {
    let env = Env::new().await;
    let request = orlib_request("ft06", 2.0);
    let run_id = put_job(&env, "ft06-run", request.clone()).await;
    let metadata = metadata_endpoint("arn:aws:ecs:us-east-1:123456789012:task/scheduling-solver-cluster/abc").await;
    let (code, stderr) = wait(worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "ft06-run"), ("ECS_CONTAINER_METADATA_URI_V4", &metadata)])).await;
    assert!(code.success(), "{stderr}");
    let doc = status(&env, &run_id).await;
    assert_eq!(doc.state, State::Succeeded, "{doc:?}");
    assert_eq!(doc.task_arn.as_deref(), Some("arn:aws:ecs:us-east-1:123456789012:task/scheduling-solver-cluster/abc"));
    assert_eq!(doc.result_key.as_deref(), Some("jobs/ft06-run/result.json"));
    let result = checked_result(&env, &run_id, &request).await;
    let progress = doc.progress.expect("progress recorded");
    assert_eq!(progress.best_objective, Some(result.makespan));
    assert!(result.makespan >= 55, "ft06's optimum is 55");
}

#[tokio::test]
async fn a_flexible_jobshop_is_solved_checked_and_resumed_from_its_checkpoint() {
    let env = Env::new().await;
    // mk11 is not solved to its bound at once, so a checkpoint comes (every 5 s).
    let text = std::fs::read_to_string(testkit::shared_data().join("fjsp/instances/brandimarte-mk11")).unwrap();
    let request = serde_json::json!({"problem": {"kind": "flexible_jobshop", "format": "fjs", "text": text}, "time_limit_s": 15.0});
    let problem = match JobRequest::from_value(request.clone()).unwrap().problem().unwrap() {
        job_model::Problem::Flexible(p) => p,
        other => panic!("expected a flexible job-shop, found {}", other.kind()),
    };
    let run_id = put_job(&env, "flexible", request.clone()).await;
    let child = worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "flexible")]);
    eventually("RUNNING with a checkpoint", Duration::from_secs(30), || async { env.store().get_json::<JobShopResult>(&keys::checkpoint(&run_id)).await.unwrap().map(|_| ()) })
        .await;
    nix_kill(child.id());
    let (code, stderr) = wait(child).await;
    assert_eq!(code.code(), Some(i32::from(solver_worker::EXIT_INTERRUPTED)), "{stderr}");
    let checkpoint: JobShopResult = env.store().get_json(&keys::checkpoint(&run_id)).await.unwrap().expect("checkpoint.json");
    job_model::check_flexible_schedule(&problem, &checkpoint).unwrap();

    let stopped = job_model::Event::TaskStopped { task_arn: None, error: job_model::ErrorInfo::new("SPOT_INTERRUPTION", "test"), checkpoint: true };
    env.store().apply(&run_id, &stopped).await.unwrap();
    let (code, stderr) = wait(worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "flexible")])).await;
    assert!(code.success(), "{stderr}");
    let doc = status(&env, &run_id).await;
    assert_eq!((doc.state, doc.attempt), (State::Succeeded, 2), "{doc:?}");
    let result: JobShopResult = env.store().get_json(&keys::result(&run_id)).await.unwrap().expect("result.json");
    job_model::check_flexible_schedule(&problem, &result).expect("a valid flexible schedule");
    assert!(result.makespan <= checkpoint.makespan, "continued from the checkpoint: {} > {}", result.makespan, checkpoint.makespan);
    assert_eq!(doc.progress.and_then(|p| p.best_objective), Some(result.makespan));
    assert!(result.lower_bound > 0 && result.lower_bound <= result.makespan);
}

#[tokio::test]
async fn sigterm_saves_a_checkpoint_and_the_next_attempt_continues_from_it_within_the_time_limit() {
    let env = Env::new().await;
    let limit = 8.0;
    let request = orlib_request("ta21", limit);
    let run_id = put_job(&env, "interrupted", request.clone()).await;
    let child = worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "interrupted")]);
    eventually("RUNNING with progress", Duration::from_secs(30), || async {
        let d = status(&env, &run_id).await;
        (d.state == State::Running && d.progress.is_some()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    nix_kill(child.id());
    let (code, stderr) = wait(child).await;
    assert_eq!(code.code(), Some(i32::from(solver_worker::EXIT_INTERRUPTED)), "{stderr}");
    let doc = status(&env, &run_id).await;
    assert_eq!(doc.state, State::Running, "an interruption is not the end of the job: ECS's stop event decides");
    let checkpoint: JobShopResult = env.store().get_json(&keys::checkpoint(&run_id)).await.unwrap().expect("checkpoint.json");
    check_schedule(&JobRequest::from_value(request.clone()).unwrap().jobshop().unwrap(), &checkpoint).unwrap();

    // ECS's stop event, as the trigger applies it: a new attempt.
    let stopped = job_model::Event::TaskStopped { task_arn: None, error: job_model::ErrorInfo::new("SPOT_INTERRUPTION", "test"), checkpoint: true };
    env.store().apply(&run_id, &stopped).await.unwrap();
    let requeued = status(&env, &run_id).await;
    assert_eq!((requeued.state, requeued.attempt), (State::Starting, 2));
    let remaining = requeued.remaining_s().unwrap();
    assert!(remaining < limit - 1.0, "the first attempt's time counts: {remaining} s left");

    let (code, stderr) = wait(worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "interrupted")])).await;
    assert!(code.success(), "{stderr}");
    let doc = status(&env, &run_id).await;
    assert_eq!((doc.state, doc.attempt), (State::Succeeded, 2), "{doc:?}");
    let result = checked_result(&env, &run_id, &request).await;
    assert!(result.makespan <= checkpoint.makespan, "continued from the checkpoint: {} > {}", result.makespan, checkpoint.makespan);
    assert!(result.solver.elapsed_s <= remaining + 1.0, "the second attempt solved {} s of the {remaining} s left", result.solver.elapsed_s);
    assert_eq!(doc.attempts.len(), 2);
}

#[tokio::test]
async fn a_cancel_stops_a_running_job_and_keeps_its_best_schedule() {
    let env = Env::new().await;
    let request = orlib_request("ta21", 300.0);
    let run_id = put_job(&env, "cancel-me", request.clone()).await;
    let child = worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "cancel-me")]);
    eventually("RUNNING with progress", Duration::from_secs(30), || async {
        let d = status(&env, &run_id).await;
        (d.state == State::Running && d.progress.is_some()).then_some(())
    })
    .await;
    env.store().apply(&run_id, &job_model::Event::CancelRequested { checkpoint: false }).await.unwrap();
    let started = std::time::Instant::now();
    let (code, stderr) = wait(child).await;
    assert!(started.elapsed() < Duration::from_secs(20), "stops promptly, not at the 300 s limit");
    assert!(code.success(), "{stderr}");
    let doc = status(&env, &run_id).await;
    assert_eq!((doc.state, doc.error.as_ref().map(|e| e.code.as_str())), (State::Cancelled, Some("CANCELLED")), "{stderr}");
    assert_eq!(doc.result_key.as_deref(), Some("jobs/cancel-me/result.json"), "{stderr}");
    checked_result(&env, &run_id, &request).await;
}

fn nix_kill(pid: u32) {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_job_without_input_fails_with_the_reason_and_a_nonzero_exit() {
    let env = Env::new().await;
    let run_id = RunId::parse("no-input").unwrap();
    env.store().create_status(&StatusDoc::queued(run_id.clone(), job_store::now())).await.unwrap();
    let (code, _) = wait(worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "no-input")])).await;
    assert_eq!(code.code(), Some(1));
    let doc = status(&env, &run_id).await;
    assert_eq!(doc.state, State::Failed);
    assert_eq!(doc.error.unwrap().code, "INPUT_MISSING");
}

#[tokio::test]
async fn a_finished_job_is_not_run_again_by_a_duplicate_task() {
    let env = Env::new().await;
    let request = orlib_request("ft06", 1.0);
    let run_id = put_job(&env, "twice", request).await;
    let (first, _) = wait(worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "twice")])).await;
    assert!(first.success());
    let before = env.store().get(&keys::status(&run_id)).await.unwrap().unwrap();
    let (second, _) = wait(worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", "twice")])).await;
    assert!(second.success());
    assert_eq!(env.store().get(&keys::status(&run_id)).await.unwrap().unwrap(), before, "a terminal status is final");
}

#[tokio::test]
async fn missing_or_malformed_variables_are_named_at_start_up() {
    let env = Env::new().await;
    for (vars, name) in [
        (vec![], "SINGLE_RUN_MODE"),
        (vec![("SINGLE_RUN_MODE", "maybe")], "SINGLE_RUN_MODE"),
        (vec![("SINGLE_RUN_MODE", "true")], "RUN_ID"),
        (vec![("SINGLE_RUN_MODE", "true"), ("RUN_ID", "../etc")], "RUN_ID"),
        (vec![("SINGLE_RUN_MODE", "false")], "SQS_QUEUE_URL"),
    ] {
        let (code, stderr) = wait(worker(&env, &vars)).await;
        assert_eq!(code.code(), Some(2), "{vars:?}: {stderr}");
        assert!(stderr.contains(name) && !stderr.contains("panicked"), "{vars:?}: {stderr}");
    }
}

#[tokio::test]
async fn an_external_solver_is_run_unchanged_and_checked() {
    let env = Env::new().await;
    // From the package directory, where cargo runs its tests.
    let script = std::env::current_dir().unwrap().join("tests/fixtures/sequential_solver.py").display().to_string();
    let request = serde_json::json!({"problem": {"kind": "jobshop", "jobs": [[{"machine": 0, "duration": 3}, {"machine": 1, "duration": 2}], [{"machine": 1, "duration": 4}, {"machine": 0, "duration": 1}]]}, "time_limit_s": 10});
    let cases = [
        ("ext-ok", format!("python3 {script}"), State::Succeeded, None),
        ("ext-invalid", format!("python3 {script} --invalid"), State::Failed, Some("INVALID_RESULT")),
        ("ext-crash", "echo 'solver exploded: bad license' >&2; exit 3".to_owned(), State::Failed, Some("SOLVER_FAILED")),
        ("ext-slow", "sleep 1000".to_owned(), State::Failed, Some("SOLVER_TIMEOUT")),
    ];
    for (id, command, state, code) in cases {
        let mut request = request.clone();
        if id == "ext-slow" {
            request["time_limit_s"] = serde_json::json!(0.5);
        }
        let run_id = put_job(&env, id, request.clone()).await;
        let (_, stderr) = wait(worker(&env, &[("SINGLE_RUN_MODE", "true"), ("RUN_ID", id), ("SOLVER_COMMAND", &command)])).await;
        let doc = status(&env, &run_id).await;
        assert_eq!(doc.state, state, "{id}: {doc:?} {stderr}");
        assert_eq!(doc.error.as_ref().map(|e| e.code.as_str()), code, "{id}");
        if id == "ext-ok" {
            assert_eq!(checked_result(&env, &run_id, &request).await.makespan, 10);
        }
        if id == "ext-crash" {
            assert!(doc.error.unwrap().message.contains("bad license"), "stderr tail reported");
        }
    }
}

#[tokio::test]
async fn polling_mode_runs_queued_jobs_deletes_their_messages_and_stops_on_sigterm() {
    let env = Env::new().await;
    let api = solver_api::Api::new(&solver_api::Config::new(&env.bucket, &env.queue_url), env.s3.clone(), env.sqs.clone());
    let mut ids = Vec::new();
    for name in ["ft06", "la01"] {
        let body = orlib_request(name, 1.0).to_string();
        let r = solver_api::handle(&api, serde_json::from_value(testkit::function_url_event("POST", "/runs", Some(&body))).unwrap()).await;
        assert_eq!(r.status_code, 202);
        let v: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        ids.push((RunId::parse(v["run_id"].as_str().unwrap()).unwrap(), orlib_request(name, 1.0)));
    }
    let child = worker(&env, &[("SINGLE_RUN_MODE", "false"), ("SQS_QUEUE_URL", &env.queue_url)]);
    for (run_id, request) in &ids {
        eventually("the job to succeed", Duration::from_secs(60), || async { (status(&env, run_id).await.state == State::Succeeded).then_some(()) }).await;
        checked_result(&env, run_id, request).await;
    }
    eventually("the queue to be empty", Duration::from_secs(10), || async { (env.queue_depth(&env.queue_url).await == (0, 0)).then_some(()) }).await;
    nix_kill(child.id());
    let started = std::time::Instant::now();
    let (code, stderr) = wait(child).await;
    assert!(code.success(), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(25), "SIGTERM between jobs ends after the current long poll");
}

#[tokio::test]
async fn the_whole_pipeline_from_api_to_result() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let api = solver_api::Api::new(&solver_api::Config::new(&env.bucket, &env.queue_url), env.s3.clone(), env.sqs.clone());
    let request = orlib_request("ft10", 2.0);
    let r = solver_api::handle(&api, serde_json::from_value(testkit::function_url_event("POST", "/runs", Some(&request.to_string()))).unwrap()).await;
    let v: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
    let run_id = RunId::parse(v["run_id"].as_str().unwrap()).unwrap();

    let trigger = solver_trigger::Trigger::new(
        solver_trigger::Config::new(ecs.cluster.clone(), ecs.task_definition.clone(), ecs.subnets.clone(), ecs.security_groups.clone(), env.bucket.clone(), testkit::REGION.into()),
        env.s3.clone(),
        env.ecs.clone(),
        env.sqs.clone(),
    );
    let messages = env.receive(&env.queue_url, 10).await;
    let event = serde_json::from_value(testkit::sqs_event(&messages, &testkit::queue_arn(&env.sqs, &env.queue_url).await)).unwrap();
    assert!(trigger.handle_batch(event).await.batch_item_failures.is_empty());

    // Run the task the emulator recorded, with its own overrides.
    let tasks = env.tasks(&ecs.cluster).await;
    assert_eq!(tasks.len(), 1);
    let overrides: Vec<(String, String)> =
        tasks[0].overrides().unwrap().container_overrides()[0].environment().iter().map(|kv| (kv.name().unwrap().to_owned(), kv.value().unwrap().to_owned())).collect();
    let vars: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (code, stderr) = wait(worker(&env, &vars)).await;
    assert!(code.success(), "{stderr}");

    let r = solver_api::handle(&api, serde_json::from_value(testkit::function_url_event("GET", &format!("/runs/{run_id}/result"), None)).unwrap()).await;
    assert_eq!(r.status_code, 200);
    let result: JobShopResult = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
    check_schedule(&JobRequest::from_value(request).unwrap().jobshop().unwrap(), &result).unwrap();
    assert_eq!(status(&env, &run_id).await.state, State::Succeeded);
}

#[tokio::test]
async fn a_polling_worker_stopped_mid_job_hands_the_job_on_with_its_checkpoint() {
    let env = Env::new().await;
    let api = solver_api::Api::new(&solver_api::Config::new(&env.bucket, &env.queue_url), env.s3.clone(), env.sqs.clone());
    let request = orlib_request("ta21", 300.0);
    let r = solver_api::handle(&api, serde_json::from_value(testkit::function_url_event("POST", "/runs", Some(&request.to_string()))).unwrap()).await;
    let v: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
    let run_id = RunId::parse(v["run_id"].as_str().unwrap()).unwrap();
    let child = worker(&env, &[("SINGLE_RUN_MODE", "false"), ("SQS_QUEUE_URL", &env.queue_url)]);
    eventually("RUNNING with progress", Duration::from_secs(60), || async {
        let d = status(&env, &run_id).await;
        (d.state == State::Running && d.progress.is_some()).then_some(())
    })
    .await;
    // `deploy` scaling the polling service to 0 (or `deploy` switching to
    // on-demand): SIGTERM in the middle of the job.
    nix_kill(child.id());
    let (code, stderr) = wait(child).await;
    assert!(code.success(), "{stderr}");
    let doc = status(&env, &run_id).await;
    assert_eq!((doc.state, doc.attempt), (State::Starting, 2), "the job goes on in a new attempt, not CANCELLED: {doc:?}");
    assert_eq!(doc.error.as_ref().map(|e| e.code.as_str()), Some("INTERRUPTED"));
    let checkpoint: JobShopResult = env.store().get_json(&keys::checkpoint(&run_id)).await.unwrap().expect("checkpoint.json");
    check_schedule(&JobRequest::from_value(request).unwrap().jobshop().unwrap(), &checkpoint).unwrap();
    let back = env.receive(&env.queue_url, 10).await;
    assert_eq!(back.len(), 1, "its message is handed back for the next consumer");
    assert!(back[0].body().unwrap().contains(run_id.as_str()));
}
