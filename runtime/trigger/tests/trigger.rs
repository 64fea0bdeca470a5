//! The trigger handler given batches received from a real queue in moto, with
//! RunTask answered by moto, or by a mocked transport for what moto cannot
//! produce (throttling, capacity failures).

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use job_model::{Event, RunId, State, keys};
use solver_trigger::{Config, Trigger};
use std::time::Duration;
use testkit::{EcsSetup, Env};

const JOB: &str =
    r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":3},{"machine":1,"duration":2}],[{"machine":1,"duration":4},{"machine":0,"duration":1}]]},"time_limit_s":5}"#;

fn config(env: &Env, ecs: &EcsSetup) -> Config {
    let mut c = Config::new(ecs.cluster.clone(), ecs.task_definition.clone(), ecs.subnets.clone(), ecs.security_groups.clone(), env.bucket.clone(), testkit::REGION.into());
    c.queue_url = Some(env.queue_url.clone());
    c
}

async fn submit(env: &Env, run_id: &str) -> RunId {
    let api = solver_api::Api::new(&solver_api::Config::new(&env.bucket, &env.queue_url), env.s3.clone(), env.sqs.clone());
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

/// The batch a job's wake-up message makes, delivered at once (the
/// emulator would hold it for its delay).
async fn wake_up(env: &Env, run_ids: &[&RunId]) -> SqsEvent {
    let arn = testkit::queue_arn(&env.sqs, &env.queue_url).await;
    let records: Vec<serde_json::Value> = run_ids
        .iter()
        .map(|id| {
            serde_json::json!({"messageId": format!("wake-{id}"), "receiptHandle": "h", "body": format!(r#"{{"run_id":"{id}"}}"#),
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": testkit::REGION})
        })
        .collect();
    serde_json::from_value(serde_json::json!({"Records": records})).unwrap()
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
    failing_ecs_then_recovery(throttled, "ThrottlingException", "Rate exceeded").await;
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

#[tokio::test]
async fn a_run_task_that_can_never_succeed_fails_the_job_at_once() {
    let env = Env::with_queue(1, 10).await;
    let ecs = env.ecs_setup().await;
    let denied = mock!(aws_sdk_ecs::Client::run_task).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(r#"{"__type":"AccessDeniedException","message":"not authorized to perform: ecs:RunTask"}"#),
        )
    });
    let mocked = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&denied]);
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), mocked, env.sqs.clone());
    let run_id = submit(&env, "job-denied").await;
    let response = trigger.handle_batch(batch(&env).await).await;
    assert_eq!(failures(&response), 0, "nothing to retry: the message is done with");
    let (status, _) = env.store().read_status(&run_id).await.unwrap().unwrap();
    assert_eq!(status.state, State::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, "AccessDeniedException");
    assert!(error.message.contains("iam:PassRole"), "the hint says what to fix: {}", error.message);
    assert!(env.store().active_jobs().await.unwrap().is_empty(), "an ended job leaves the active index");
}

#[tokio::test]
async fn the_last_delivery_before_the_dlq_fails_a_job_whose_launch_kept_failing() {
    let env = Env::with_queue(1, 2).await;
    let ecs = env.ecs_setup().await;
    let throttled = mock!(aws_sdk_ecs::Client::run_task).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        )
    });
    let mocked = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&throttled]);
    let mut c = config(&env, &ecs);
    c.max_receive_count = Some(2);
    let trigger = Trigger::new(c, env.s3.clone(), mocked, env.sqs.clone());
    let run_id = submit(&env, "job-tired").await;
    assert_eq!(failures(&trigger.handle_batch(batch(&env).await).await), 1);
    assert_eq!(env.store().read_status(&run_id).await.unwrap().unwrap().0.state, State::Starting, "retried while deliveries are left");
    // The backoff hides it for 30 s: show it again at once, as time passing would.
    let msgs = env.receive(&env.queue_url, 10).await;
    let msgs = if msgs.is_empty() {
        testkit::eventually("the message after its backoff", Duration::from_secs(60), || async {
            let m = env.receive(&env.queue_url, 10).await;
            (!m.is_empty()).then_some(m)
        })
        .await
    } else {
        msgs
    };
    let arn = testkit::queue_arn(&env.sqs, &env.queue_url).await;
    let response = trigger.handle_batch(serde_json::from_value(testkit::sqs_event(&msgs, &arn)).unwrap()).await;
    assert_eq!(failures(&response), 1, "handed back, so it reaches the DLQ");
    let (status, _) = env.store().read_status(&run_id).await.unwrap().unwrap();
    assert_eq!(status.state, State::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, "LAUNCH_GAVE_UP");
    assert!(error.message.contains("Rate exceeded"), "{}", error.message);
}

/// Delayed messages (a new attempt's wake-up waits out its backoff).
async fn delayed(env: &Env) -> i64 {
    let attrs = env
        .sqs
        .get_queue_attributes()
        .queue_url(&env.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    attrs.values().next().and_then(|v| v.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_task_that_stops_before_its_job_ends_gets_a_new_attempt_until_none_is_left() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let run_id = submit(&env, "job-oom").await;
    assert_eq!(failures(&trigger.handle_batch(batch(&env).await).await), 0);
    let status = |id: RunId| {
        let store = env.store();
        async move { store.read_status(&id).await.unwrap().unwrap().0 }
    };
    // An event for a task that is not the job's is not this job's business.
    let other = "arn:aws:ecs:us-east-1:123456789012:task/scheduling-solver-cluster/0123456789abcdef";
    trigger.handle(testkit::task_stopped_event(other, Some("job-oom"), 137)).await.unwrap();
    assert_eq!(status(run_id.clone()).await.state, State::Starting);

    for attempt in 1..=3u32 {
        let doc = status(run_id.clone()).await;
        assert_eq!(doc.attempt, attempt);
        let arn = doc.task_arn.clone().expect("the launch recorded its task");
        trigger.handle(testkit::task_stopped_event(&arn, Some("job-oom"), 137)).await.unwrap();
        let after = status(run_id.clone()).await;
        let error = after.error.clone().unwrap();
        assert_eq!(error.code, "TASK_STOPPED");
        assert!(error.message.contains("exited with 137"), "{error}");
        // EventBridge may deliver twice: the second changes nothing.
        trigger.handle(testkit::task_stopped_event(&arn, Some("job-oom"), 137)).await.unwrap();
        assert_eq!(status(run_id.clone()).await, after);
        if attempt < 3 {
            assert_eq!((after.state, after.attempt, after.task_arn.as_deref()), (State::Starting, attempt + 1, None));
            assert_eq!(delayed(&env).await, 1, "a wake-up waits out the backoff");
            // The wake-up, delivered: the next attempt gets a task of its own.
            env.sqs.purge_queue().queue_url(&env.queue_url).send().await.unwrap();
            assert_eq!(failures(&trigger.handle_batch(wake_up(&env, &[&run_id]).await).await), 0);
            assert_ne!(status(run_id.clone()).await.task_arn.as_deref(), Some(arn.as_str()));
        } else {
            assert_eq!(after.state, State::Failed);
            assert!(error.message.contains("attempt 3 of 3"), "{error}");
            assert_eq!(after.attempts.len(), 3);
        }
    }
    assert_eq!(env.tasks(&ecs.cluster).await.len(), 3, "one task per attempt");
}

#[tokio::test]
async fn a_task_stopping_after_its_job_ended_or_a_polling_task_changes_nothing() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let run_id = submit(&env, "job-done").await;
    trigger.handle_batch(batch(&env).await).await;
    let store = env.store();
    let (launched, _) = store.read_status(&run_id).await.unwrap().unwrap();
    let arn = launched.task_arn.clone().unwrap();
    for event in [Event::Started { task_arn: Some(arn.clone()), takeover: false, checkpoint: false }, Event::Succeeded { result_key: keys::result(&run_id), progress: None }] {
        store.apply(&run_id, &event).await.unwrap();
    }
    let (done, _) = store.read_status(&run_id).await.unwrap().unwrap();
    trigger.handle(testkit::task_stopped_event(&arn, Some("job-done"), 0)).await.unwrap();
    assert_eq!(store.read_status(&run_id).await.unwrap().unwrap().0, done);

    let polling = trigger.handle(testkit::task_stopped_event(&arn, None, 0)).await.unwrap();
    assert!(polling["done"].as_str().unwrap().contains("polling"), "{polling}");
    let unexpected = trigger.handle(serde_json::json!({"hello": "world"})).await.unwrap_err();
    assert!(unexpected.contains("not an SQS batch, an ECS task state change or a schedule"), "{unexpected}");
}

fn schedule_event() -> serde_json::Value {
    serde_json::json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
}

/// Moves the job's lease (or deadline) into the past, as time passing would.
async fn age(env: &Env, run_id: &RunId, edit: impl Fn(&mut job_model::StatusDoc)) {
    let (mut doc, etag) = env.store().read_status(run_id).await.unwrap().unwrap();
    edit(&mut doc);
    env.s3.put_object().bucket(&env.bucket).key(keys::status(run_id)).if_match(etag).body(doc.to_json().into()).send().await.unwrap();
}

#[tokio::test]
async fn the_reconciler_repairs_a_lost_stop_event_a_lost_message_and_a_passed_deadline() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());

    // 1. A task stopped, and its event never came.
    let lost_event = submit(&env, "lost-event").await;
    trigger.handle_batch(batch(&env).await).await;
    let arn = env.store().read_status(&lost_event).await.unwrap().unwrap().0.task_arn.unwrap();
    env.ecs.stop_task().cluster(&ecs.cluster).task(&arn).reason("host lost").send().await.unwrap();

    // 2. A job accepted whose message was lost (deleted unread).
    let lost_message = submit(&env, "lost-message").await;
    let m = env.receive(&env.queue_url, 10).await;
    env.sqs.delete_message().queue_url(&env.queue_url).receipt_handle(m[0].receipt_handle().unwrap()).send().await.unwrap();

    // 3. A job whose task runs past its deadline.
    let late = submit(&env, "late").await;
    trigger.handle_batch(batch(&env).await).await;
    let late_arn = env.store().read_status(&late).await.unwrap().unwrap().0.task_arn.unwrap();
    env.store().apply(&late, &Event::Started { task_arn: Some(late_arn.clone()), takeover: false, checkpoint: false }).await.unwrap();
    env.store().put(&keys::checkpoint(&late), br#"{"makespan":7}"#.to_vec()).await.unwrap();

    // Nothing is due yet: the reconciler only acts past a lease or deadline.
    let report = trigger.handle(schedule_event()).await.unwrap();
    assert_eq!(report["active"], 3, "{report}");
    let doc = env.store().read_status(&lost_event).await.unwrap().unwrap().0;
    assert_eq!((doc.state, doc.attempt), (State::Starting, 2), "the stopped task was found without its event: {report}");
    assert!(doc.error.as_ref().unwrap().message.contains("host lost"), "{doc:?}");
    assert_eq!(env.store().read_status(&lost_message).await.unwrap().unwrap().0.resends, 0);

    age(&env, &lost_message, |d| d.lease_until = Some(job_store::now() - time::Duration::seconds(1))).await;
    age(&env, &late, |d| d.deadline = Some(job_store::now() - time::Duration::seconds(1))).await;
    let report = trigger.handle(schedule_event()).await.unwrap();
    assert_eq!(report["resent"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["stopped"].as_array().unwrap().len(), 1, "{report}");
    let resent = env.receive(&env.queue_url, 10).await;
    assert!(resent.iter().any(|m| m.body().unwrap().contains("lost-message")), "the lost job's message is back");
    let stopped = env.tasks(&ecs.cluster).await.into_iter().find(|t| t.task_arn() == Some(late_arn.as_str())).unwrap();
    assert_eq!(stopped.last_status(), Some("STOPPED"));
    // The next round sees the deadline's task stopped: TIMEOUT, its best kept.
    trigger.handle(schedule_event()).await.unwrap();
    let doc = env.store().read_status(&late).await.unwrap().unwrap().0;
    assert_eq!((doc.state, doc.error.as_ref().map(|e| e.code.as_str())), (State::Failed, Some("TIMEOUT")));
    assert_eq!(env.store().get(&keys::result(&late)).await.unwrap().unwrap().0, br#"{"makespan":7}"#.to_vec(), "the checkpoint became the result");
    let active: Vec<String> = env.store().active_jobs().await.unwrap().into_iter().map(|(id, _)| id.to_string()).collect();
    assert!(!active.contains(&"late".to_owned()), "{active:?}");
}

#[tokio::test]
async fn a_cancel_ends_a_queued_job_at_once_and_stops_a_running_one_that_does_not_listen() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(config(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let api = solver_api::Api::new(&solver_api::Config::new(&env.bucket, &env.queue_url), env.s3.clone(), env.sqs.clone());
    let cancel = |id: &'static str| {
        let api = api.clone();
        async move { solver_api::handle(&api, serde_json::from_value(testkit::function_url_event("DELETE", &format!("/runs/{id}"), None)).unwrap()).await }
    };
    let queued = submit(&env, "c-queued").await;
    assert_eq!(cancel("c-queued").await.status_code, 202);
    assert_eq!(env.store().read_status(&queued).await.unwrap().unwrap().0.state, State::Cancelled);
    assert_eq!(failures(&trigger.handle_batch(batch(&env).await).await), 0, "its message is dropped");
    assert!(env.tasks(&ecs.cluster).await.is_empty(), "a cancelled job never gets a task");
    assert_eq!(cancel("c-queued").await.status_code, 409);
    assert_eq!(cancel("c-unknown").await.status_code, 404);

    let running = submit(&env, "c-running").await;
    trigger.handle_batch(batch(&env).await).await;
    let arn = env.store().read_status(&running).await.unwrap().unwrap().0.task_arn.unwrap();
    env.store().apply(&running, &Event::Started { task_arn: Some(arn.clone()), takeover: false, checkpoint: false }).await.unwrap();
    assert_eq!(cancel("c-running").await.status_code, 202);
    let doc = env.store().read_status(&running).await.unwrap().unwrap().0;
    assert_eq!((doc.state, doc.cancel_requested), (State::Running, true));
    // The worker never answers: after the grace the reconciler stops the task,
    // and the stop ends the job CANCELLED.
    age(&env, &running, |d| d.lease_until = Some(job_store::now() - time::Duration::seconds(1))).await;
    trigger.handle(schedule_event()).await.unwrap();
    trigger.handle(schedule_event()).await.unwrap();
    let doc = env.store().read_status(&running).await.unwrap().unwrap().0;
    assert_eq!(doc.state, State::Cancelled, "{doc:?}");
}

#[test]
fn a_missing_variable_is_a_start_up_error_naming_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_solver-trigger")).env_clear().output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ECS_CLUSTER"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn spot_first(env: &Env, ecs: &EcsSetup) -> Config {
    let mut c = config(env, ecs);
    c.capacity = job_model::CapacityPolicy::SpotFirst;
    c
}

#[tokio::test]
async fn spot_first_launches_on_spot_then_on_demand_after_an_interruption() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let trigger = Trigger::new(spot_first(&env, &ecs), env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let run_id = submit(&env, "job-spot").await;
    assert_eq!(failures(&trigger.handle_batch(batch(&env).await).await), 0);
    let doc = env.store().read_status(&run_id).await.unwrap().unwrap().0;
    assert_eq!(doc.attempts[0].capacity, Some(job_model::Capacity::Spot), "{doc:?}");
    let task = env.tasks(&ecs.cluster).await.remove(0);
    assert!(env_of(&task).contains(&("CAPACITY".into(), "spot".into())));

    // Spot takes the task back: the next attempt goes on-demand.
    let arn = doc.task_arn.clone().unwrap();
    let mut event = testkit::task_stopped_event(&arn, Some("job-spot"), 143);
    event["detail"]["stopCode"] = "SpotInterruption".into();
    event["detail"]["stoppedReason"] = "Your Spot Task was interrupted.".into();
    trigger.handle(event).await.unwrap();
    let doc = env.store().read_status(&run_id).await.unwrap().unwrap().0;
    assert_eq!((doc.state, doc.attempt, doc.attempts[0].end.as_ref().map(|e| e.code.as_str())), (State::Starting, 2, Some("SPOT_INTERRUPTION")));
    assert_eq!(failures(&trigger.handle_batch(wake_up(&env, &[&run_id]).await).await), 0);
    let doc = env.store().read_status(&run_id).await.unwrap().unwrap().0;
    assert_eq!(doc.attempts[1].capacity, Some(job_model::Capacity::OnDemand), "{doc:?}");
}

#[tokio::test]
async fn no_spot_capacity_falls_back_to_on_demand_at_once() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let no_spot =
        mock!(aws_sdk_ecs::Client::run_task).match_requests(|r| r.capacity_provider_strategy().iter().any(|s| s.capacity_provider() == "FARGATE_SPOT")).then_output(|| {
            aws_sdk_ecs::operation::run_task::RunTaskOutput::builder()
                .failures(aws_sdk_ecs::types::Failure::builder().reason("Capacity is unavailable at this time. Please try again later or in a different availability zone").build())
                .build()
        });
    let on_demand = mock!(aws_sdk_ecs::Client::run_task).match_requests(|r| r.launch_type() == Some(&aws_sdk_ecs::types::LaunchType::Fargate)).then_output(|| {
        aws_sdk_ecs::operation::run_task::RunTaskOutput::builder()
            .tasks(aws_sdk_ecs::types::Task::builder().task_arn("arn:aws:ecs:us-east-1:123456789012:task/c/od1").build())
            .build()
    });
    let mocked = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&no_spot, &on_demand]);
    let trigger = Trigger::new(spot_first(&env, &ecs), env.s3.clone(), mocked, env.sqs.clone());
    let run_id = submit(&env, "job-nospot").await;
    assert_eq!(failures(&trigger.handle_batch(batch(&env).await).await), 0, "no retry, no wait");
    let doc = env.store().read_status(&run_id).await.unwrap().unwrap().0;
    assert_eq!((doc.task_arn.as_deref(), doc.attempts[0].capacity), (Some("arn:aws:ecs:us-east-1:123456789012:task/c/od1"), Some(job_model::Capacity::OnDemand)));
    assert_eq!((no_spot.num_calls(), on_demand.num_calls()), (1, 1));
}

#[tokio::test]
async fn over_the_cap_jobs_wait_queued_without_costing_an_attempt_or_a_delivery() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let mut c = config(&env, &ecs);
    c.max_running_tasks = Some(1);
    let trigger = Trigger::new(c, env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let ids = [submit(&env, "cap-1").await, submit(&env, "cap-2").await, submit(&env, "cap-3").await];
    let event = testkit::eventually("all three messages", Duration::from_secs(10), || async {
        let e = batch(&env).await;
        (e.records.len() == 3).then_some(e)
    })
    .await;
    assert_eq!(failures(&trigger.handle_batch(event).await), 0, "waiting is not a failed delivery");
    let mut launched = Vec::new();
    for id in &ids {
        let doc = env.store().read_status(id).await.unwrap().unwrap().0;
        match doc.state {
            State::Starting => launched.push(doc.task_arn.clone().unwrap()),
            State::Queued => {
                assert_eq!((doc.attempt, doc.launches), (1, 0), "no attempt spent");
                assert!(doc.waiting.as_deref().unwrap().contains("waiting for capacity: 1 of 1 tasks running"), "{doc:?}");
            }
            other => panic!("{id}: {other}"),
        }
    }
    assert_eq!(launched.len(), 1, "one task under a cap of one");
    assert_eq!(delayed(&env).await, 2, "the two waiting jobs come back by themselves");

    // The job ends and its task stops: the freed slot goes at once to the
    // job that has waited longest (the others' messages are still delayed).
    let done = finish(&env, &trigger, &ecs, &launched[0]).await;
    let mut waiting = Vec::new();
    for id in ids.iter().filter(|id| **id != done) {
        waiting.push(env.store().read_status(id).await.unwrap().unwrap().0);
    }
    waiting.sort_by_key(|d| d.created_at);
    let woken: Vec<String> = env.receive(&env.queue_url, 10).await.into_iter().filter_map(|m| m.body).collect();
    assert_eq!(woken, vec![format!(r#"{{"run_id":"{}"}}"#, waiting[0].run_id)], "the longest waiting is woken, and only it");
    env.sqs.purge_queue().queue_url(&env.queue_url).send().await.unwrap();
    trigger.handle_batch(wake_up(&env, &ids.iter().collect::<Vec<_>>()).await).await;
    let running = env.tasks(&ecs.cluster).await.into_iter().filter(|t| t.last_status() != Some("STOPPED")).count();
    assert_eq!(running, 1);
    let mut states = Vec::new();
    for id in &ids {
        states.push(env.store().read_status(id).await.unwrap().unwrap().0.state);
    }
    assert_eq!(states.iter().filter(|s| **s == State::Queued).count(), 1, "{states:?}");
}

/// A launched job's worker succeeds, then its task stops and ECS's event
/// reaches the trigger, as on AWS.
async fn finish(env: &Env, trigger: &Trigger, ecs: &EcsSetup, task_arn: &str) -> RunId {
    let task = env.tasks(&ecs.cluster).await.into_iter().find(|t| t.task_arn() == Some(task_arn)).unwrap();
    let run_id = RunId::parse(&env_of(&task).into_iter().find(|(k, _)| k == "RUN_ID").unwrap().1).unwrap();
    let store = env.store();
    store.apply(&run_id, &Event::Started { task_arn: Some(task_arn.into()), takeover: false, checkpoint: false }).await.unwrap();
    store.apply(&run_id, &Event::Succeeded { result_key: keys::result(&run_id), progress: None }).await.unwrap();
    env.ecs.stop_task().cluster(&ecs.cluster).task(task_arn).send().await.unwrap();
    trigger.handle(testkit::task_stopped_event(task_arn, Some(run_id.as_str()), 0)).await.unwrap();
    run_id
}

#[tokio::test]
async fn the_cap_holds_under_concurrent_invocations_and_every_waiting_job_starts_in_the_end() {
    const CAP: usize = 5;
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let mut c = config(&env, &ecs);
    c.max_running_tasks = Some(CAP as u32);
    let trigger = Trigger::new(c, env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(submit(&env, &format!("burst-{i:02}")).await);
    }
    let mut succeeded = std::collections::HashSet::new();
    for round in 0.. {
        assert!(round < 30, "{} of {} jobs started after {round} rounds", succeeded.len(), ids.len());
        // Five invocations at once, each with ten of the jobs not yet done:
        // the wake-ups SQS would bring (the waiting jobs' delayed messages).
        env.sqs.purge_queue().queue_url(&env.queue_url).send().await.unwrap();
        let waiting: Vec<&RunId> = ids.iter().filter(|id| !succeeded.contains(*id)).collect();
        let mut invocations = tokio::task::JoinSet::new();
        for chunk in waiting.chunks(10).take(5) {
            let (trigger, event) = (trigger.clone(), wake_up(&env, chunk).await);
            invocations.spawn(async move { trigger.handle_batch(event).await });
        }
        while let Some(response) = invocations.join_next().await {
            assert_eq!(failures(&response.unwrap()), 0, "waiting is not a failed delivery");
        }
        let running: Vec<String> =
            env.tasks(&ecs.cluster).await.into_iter().filter(|t| t.last_status() != Some("STOPPED")).filter_map(|t| t.task_arn().map(str::to_owned)).collect();
        assert!(running.len() <= CAP, "round {round}: {} tasks running under a cap of {CAP}", running.len());
        assert!(!running.is_empty() || succeeded.len() == ids.len(), "round {round}: a free slot was not used");
        for arn in running {
            succeeded.insert(finish(&env, &trigger, &ecs, &arn).await);
        }
        if succeeded.len() == ids.len() {
            break;
        }
    }
    for id in &ids {
        let doc = env.store().read_status(id).await.unwrap().unwrap().0;
        assert_eq!((doc.state, doc.attempt, doc.attempts.len()), (State::Succeeded, 1, 1), "waiting cost no attempt: {doc:?}");
    }
    assert!(env.store().taken_slots().await.unwrap().is_empty(), "every slot is free again");
    assert!(env.receive(&env.dlq_url, 10).await.is_empty(), "no job in the DLQ");
}

#[tokio::test]
async fn the_reconciler_frees_a_slot_whose_holder_is_gone() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let mut c = config(&env, &ecs);
    c.max_running_tasks = Some(2);
    let trigger = Trigger::new(c, env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let store = env.store();
    // A slot taken by an invocation that died before its launch, and one
    // whose task stopped without an event: both are old enough to judge.
    let (ghost, lost) = (submit(&env, "ghost").await, submit(&env, "lost").await);
    env.sqs.purge_queue().queue_url(&env.queue_url).send().await.unwrap();
    assert!(store.take_slot(0, &job_store::SlotHolder { run_id: ghost.clone(), attempt: 1 }).await.unwrap());
    trigger.handle_batch(wake_up(&env, &[&lost]).await).await;
    let doc = store.read_status(&lost).await.unwrap().unwrap().0;
    let slot = doc.attempts[0].slot.expect("the launch recorded its slot");
    assert_eq!(slot, 1, "slot 0 was taken");
    env.ecs.stop_task().cluster(&ecs.cluster).task(doc.task_arn.as_deref().unwrap()).send().await.unwrap();

    // Young slots are left alone: an invocation may be between taking one
    // and launching. The lost task's is freed as its attempt ends.
    let report = trigger.handle(schedule_event()).await.unwrap();
    assert_eq!(report["slots_freed"], 0, "{report}");
    assert_eq!(store.taken_slots().await.unwrap().len(), 1, "{report}");
    assert_eq!(store.read_status(&lost).await.unwrap().unwrap().0.attempt, 2, "the lost task's attempt ended");

    // Past the grace, a slot no attempt recorded is freed.
    let mut c = config(&env, &ecs);
    c.max_running_tasks = Some(2);
    c.slot_grace = time::Duration::ZERO;
    let report = Trigger::new(c, env.s3.clone(), env.ecs.clone(), env.sqs.clone()).handle(schedule_event()).await.unwrap();
    assert_eq!(report["slots_freed"], 1, "{report}");
    assert!(store.taken_slots().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_attempt_killed_for_memory_is_retried_with_the_next_size() {
    let env = Env::new().await;
    let ecs = env.ecs_setup().await;
    let mut c = config(&env, &ecs);
    c.memory_on_oom = vec![4096, 8192];
    let trigger = Trigger::new(c, env.s3.clone(), env.ecs.clone(), env.sqs.clone());
    let run_id = submit(&env, "job-mem").await;
    trigger.handle_batch(batch(&env).await).await;
    let arn = env.store().read_status(&run_id).await.unwrap().unwrap().0.task_arn.unwrap();
    let mut event = testkit::task_stopped_event(&arn, Some("job-mem"), 137);
    event["detail"]["containers"][0]["reason"] = "OutOfMemoryError: Container killed due to memory usage".into();
    trigger.handle(event).await.unwrap();
    let doc = env.store().read_status(&run_id).await.unwrap().unwrap().0;
    assert_eq!(doc.error.as_ref().map(|e| e.code.as_str()), Some("OUT_OF_MEMORY"), "{doc:?}");
    let r = trigger.handle_batch(wake_up(&env, &[&run_id]).await).await;
    assert_eq!(failures(&r), 0, "{:?}", env.store().read_status(&run_id).await.unwrap().unwrap().0.error);
    let doc = env.store().read_status(&run_id).await.unwrap().unwrap().0;
    assert_eq!((doc.attempts[0].memory_mib, doc.attempts[1].memory_mib), (None, Some(4096)), "{doc:?}");
    let second = env.tasks(&ecs.cluster).await.into_iter().find(|t| t.task_arn() == doc.task_arn.as_deref()).unwrap();
    let overrides = second.overrides().unwrap();
    assert_eq!(overrides.memory(), Some("4096"), "the task's memory is raised");
    assert_eq!(overrides.container_overrides()[0].memory(), Some(4096), "and its container's");
}
