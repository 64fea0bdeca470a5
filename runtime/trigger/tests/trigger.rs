//! The trigger handler given batches received from a real queue in moto, with
//! RunTask answered by moto, or by a mocked transport for what moto cannot
//! produce (throttling, capacity failures).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use job_model::{RunId, State, keys};
use solver_trigger::{Config, Trigger};
use std::time::Duration;
use testkit::{EcsSetup, Env};

const JOB: &str = r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":3},{"machine":1,"duration":2}],[{"machine":1,"duration":4},{"machine":0,"duration":1}]]},"time_limit_s":5}"#;

fn config(env: &Env, ecs: &EcsSetup) -> Config {
    Config::new(ecs.cluster.clone(), ecs.task_definition.clone(), ecs.subnets.clone(), ecs.security_groups.clone(), env.bucket.clone(), testkit::REGION.into())
}

async fn submit(env: &Env, run_id: &str) -> RunId {
    let api = solver_api::Api::new(&solver_api::Config { bucket: env.bucket.clone(), queue_url: env.queue_url.clone() }, env.s3.clone(), env.sqs.clone());
    let body = JOB.replace("\"time_limit_s\":5", &format!("\"time_limit_s\":5,\"run_id\":\"{run_id}\""));
    let req = serde_json::from_value(testkit::function_url_event("POST", "/runs", Some(&body))).unwrap();
    assert_eq!(solver_api::handle(&api, req).await.status_code, 202);
    RunId::parse(run_id).unwrap()
}

async fn batch(env: &Env) -> SqsEvent {
    let messages = env.receive(&env.queue_url, 10).await;
    assert!(!messages.is_empty(), "a message to hand to the trigger");
    let arn = testkit::queue_arn(&env.sqs, &env.queue_url).await;
    serde_json::from_value(testkit::sqs_event(&messages, &arn)).unwrap()
}

fn failures(r: &SqsBatchResponse) -> usize {
    r.batch_item_failures.len()
}

fn env_of(task: &aws_sdk_ecs::types::Task) -> Vec<(String, String)> {
    task.overrides()
        .map(|o| o.container_overrides())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.name() == Some("worker"))
        .flat_map(|c| c.environment().iter().map(|kv| (kv.name().unwrap_or_default().to_owned(), kv.value().unwrap_or_default().to_owned())))
        .collect()
}

#[tokio::test]
async fn a_queued_job_becomes_one_fargate_task_with_its_overrides() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let run_id = submit(&env, "job-1").await;

    let response = trigger.handle_batch(batch(&env).await).await;
    let (status, _) = env.store().read_status(&run_id).await.unwrap().unwrap();
    assert_eq!(failures(&response), 0, "{status:?}");

    let tasks = env.tasks(&ecs.cluster).await;
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task.started_by(), Some("scheduling-solver-sqs-trigger"));
    assert!(task.task_definition_arn().unwrap().contains("solver-worker"));
    let env_vars = env_of(task);
    assert!(env_vars.contains(&("RUN_ID".into(), "job-1".into())), "{env_vars:?}");
    assert!(env_vars.contains(&("SINGLE_RUN_MODE".into(), "true".into())), "{env_vars:?}");

    let (status, _) = env.store().read_status(&run_id).await.unwrap().unwrap();
    assert_eq!(status.state, State::Starting);
    assert_eq!(status.task_arn.as_deref(), task.task_arn());
    assert!(env.store().exists(&keys::input(&run_id)).await.unwrap(), "input.json written from the inline request");
}

#[tokio::test]
async fn a_message_delivered_twice_or_twice_sent_starts_one_task() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    submit(&env, "job-2").await;
    // The same message sent again, as a producer retrying a timed-out send would.
    let first = env.receive(&env.queue_url, 1).await;
    env.sqs.change_message_visibility().queue_url(&env.queue_url).receipt_handle(first[0].receipt_handle().unwrap()).visibility_timeout(0).send().await.unwrap();
    env.sqs.send_message().queue_url(&env.queue_url).message_body(first[0].body().unwrap()).send().await.unwrap();
    let event = testkit::eventually("both messages", Duration::from_secs(10), || async {
        let e = batch(&env).await;
        (e.records.len() == 2).then_some(e)
    })
    .await;
    assert_eq!(event.records.len(), 2);
    // The same batch twice at once (a duplicate delivery racing the first).
    let (a, b) = tokio::join!(trigger.handle_batch(event.clone()), trigger.handle_batch(event.clone()));
    let again = trigger.handle_batch(event).await;
    assert_eq!(env.tasks(&ecs.cluster).await.len(), 1, "one task for one job, whatever the deliveries");
    // Deliveries that lost the race either acknowledged (task known) or asked to retry.
    assert!(failures(&a) + failures(&b) + failures(&again) <= 4);
}

#[tokio::test]
async fn a_malformed_message_fails_its_job_and_ends_in_the_dlq() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    for body in ["not json at all", r#"{"run_id":"bad-1","request":{"problem":{"kind":"jobshop","jobs":[]}}}"#, r#"{"run_id":"bad-2"}"#] {
        env.sqs.send_message().queue_url(&env.queue_url).message_body(body).send().await.unwrap();
    }
    // maxReceiveCount is 3: each receive hands the batch to the trigger again.
    for _ in 0..3 {
        let response = trigger.handle_batch(batch(&env).await).await;
        assert_eq!(failures(&response), 3, "malformed messages are never acknowledged");
    }
    assert!(env.receive(&env.queue_url, 10).await.is_empty(), "nothing left in the queue");
    let dlq = env.receive(&env.dlq_url, 10).await;
    assert_eq!(dlq.len(), 3, "all three are in the DLQ");
    for (id, reason) in [("bad-1", "problem.jobs"), ("bad-2", "input.json does not exist")] {
        let (status, _) = env.store().read_status(&RunId::parse(id).unwrap()).await.unwrap().unwrap();
        assert_eq!(status.state, State::Failed);
        let error = status.error.unwrap();
        assert_eq!(error.code, "MALFORMED_MESSAGE");
        assert!(error.message.contains(reason), "{}", error.message);
    }
    assert!(env.tasks(&ecs.cluster).await.is_empty());
}

/// A queue with a 1 s visibility: a message whose visibility the trigger did
/// not lengthen to its backoff would be visible again within 2 s.
async fn assert_backed_off(env: &Env) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(env.receive(&env.queue_url, 10).await.is_empty(), "the message is hidden for its backoff, not the queue's visibility");
    assert_eq!(env.queue_depth(&env.queue_url).await.1, 1, "still in flight, not lost");
}

async fn failing_ecs_then_recovery(rule: aws_smithy_mocks::Rule, expected_code: &str, expected_text: &str) {
    let env = Env::with_queue(1, 10).await;
    let ecs = env.ecs_setup().await;
    let mocked = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&rule]);
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), mocked, env.sqs.clone());
    let run_id = submit(&env, "job-3").await;

    let response = trigger.handle_batch(batch(&env).await).await;
    assert_eq!(failures(&response), 1, "the job is retryable");
    let (status, _) = env.store().read_status(&run_id).await.unwrap().unwrap();
    assert_eq!(status.state, State::Starting);
    assert_eq!(status.task_arn, None);
    let error = status.error.unwrap();
    assert_eq!(error.code, expected_code);
    assert!(error.message.contains(expected_text), "{}", error.message);
    assert_backed_off(&env).await;

    // ECS recovers; the next delivery takes the failed launch over at once.
    let healthy = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let msgs = testkit::eventually("the message back after its backoff", Duration::from_secs(60), || async {
        let m = env.receive(&env.queue_url, 10).await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    let arn = testkit::queue_arn(&env.sqs, &env.queue_url).await;
    let response = healthy.handle_batch(serde_json::from_value(testkit::sqs_event(&msgs, &arn)).unwrap()).await;
    assert_eq!(failures(&response), 0);
    let (status, _) = env.store().read_status(&run_id).await.unwrap().unwrap();
    assert!(status.task_arn.is_some() && status.error.is_none(), "{status:?}");
    assert_eq!(env.tasks(&ecs.cluster).await.len(), 1);
}

#[tokio::test]
async fn a_throttled_run_task_is_retried_after_a_backoff() {
    let throttled = mock!(aws_sdk_ecs::Client::run_task).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        )
    });
    failing_ecs_then_recovery(throttled, "RUN_TASK_FAILED", "Rate exceeded").await;
}

#[tokio::test]
async fn a_capacity_failure_is_retried_after_a_backoff() {
    let no_capacity = mock!(aws_sdk_ecs::Client::run_task).then_output(|| {
        aws_sdk_ecs::operation::run_task::RunTaskOutput::builder()
            .failures(aws_sdk_ecs::types::Failure::builder().reason("Capacity is unavailable at this time. Please try again later or in a different availability zone").build())
            .build()
    });
    failing_ecs_then_recovery(no_capacity, "RUN_TASK_FAILURES", "Capacity is unavailable").await;
}

#[test]
fn the_idempotency_token_is_stable_per_job_and_attempt() {
    let a = RunId::parse("job-1").unwrap();
    let t = solver_trigger::idempotency_token(&a, 1);
    assert_eq!(t, solver_trigger::idempotency_token(&a, 1));
    assert_ne!(t, solver_trigger::idempotency_token(&a, 2));
    assert_ne!(t, solver_trigger::idempotency_token(&RunId::parse(&"j".repeat(64)).unwrap(), 1));
    assert!(t.len() <= 64);
}

#[test]
fn a_missing_variable_is_a_start_up_error_naming_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_solver-trigger")).env_clear().output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ECS_CLUSTER"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn a_task_that_stops_before_its_job_ends_fails_the_job_with_the_reason() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let run_id = submit(&env, "job-oom").await;
    assert_eq!(failures(&trigger.handle_batch(batch(&env).await).await), 0);
    let status = |id: RunId| {
        let store = env.store();
        async move { store.read_status(&id).await.unwrap().unwrap().0 }
    };
    let arn = status(run_id.clone()).await.task_arn.expect("the launch recorded its task");

    // An event for another task of the job (an earlier attempt) is not this task's.
    let other = "arn:aws:ecs:us-east-1:123456789012:task/scheduling-solver-cluster/0123456789abcdef";
    trigger.handle(testkit::task_stopped_event(other, Some("job-oom"), 137)).await.unwrap();
    assert_eq!(status(run_id.clone()).await.state, State::Starting);

    trigger.handle(testkit::task_stopped_event(&arn, Some("job-oom"), 137)).await.unwrap();
    let failed = status(run_id.clone()).await;
    assert_eq!(failed.state, State::Failed);
    let error = failed.error.clone().unwrap();
    assert_eq!(error.code, "TASK_STOPPED");
    assert!(error.message.contains("Essential container in task exited") && error.message.contains("exited with 137"), "{error}");
    // EventBridge may deliver twice: the second changes nothing.
    trigger.handle(testkit::task_stopped_event(&arn, Some("job-oom"), 137)).await.unwrap();
    assert_eq!(status(run_id.clone()).await, failed);
}

#[tokio::test]
async fn a_task_stopping_after_its_job_ended_or_a_polling_task_changes_nothing() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let run_id = submit(&env, "job-done").await;
    trigger.handle_batch(batch(&env).await).await;
    let store = env.store();
    for state in [State::Running, State::Succeeded] {
        store
            .update_status(&run_id, |doc| {
                let mut next = doc.clone();
                next.transition(state, job_store::now()).unwrap();
                job_store::Update::Write(next)
            })
            .await
            .unwrap();
    }
    let (done, _) = store.read_status(&run_id).await.unwrap().unwrap();
    let arn = done.task_arn.clone().unwrap();
    trigger.handle(testkit::task_stopped_event(&arn, Some("job-done"), 0)).await.unwrap();
    assert_eq!(store.read_status(&run_id).await.unwrap().unwrap().0, done);

    let polling = trigger.handle(testkit::task_stopped_event(&arn, None, 0)).await.unwrap();
    assert!(polling["done"].as_str().unwrap().contains("polling"), "{polling}");
    let unexpected = trigger.handle(serde_json::json!({"hello": "world"})).await.unwrap_err();
    assert!(unexpected.contains("neither an SQS batch nor an ECS task state change"), "{unexpected}");
}
