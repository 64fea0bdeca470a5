//! The API handler, called with Function URL events in the official format,
//! against real S3 and SQS in moto.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use job_model::{JobShopResult, QueueMessage, RunId, State, StatusDoc, keys};
use serde_json::{Value, json};
use solver_api::{Api, Config};
use testkit::Env;

const SMALL_JOB: &str =
    r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":3},{"machine":1,"duration":2}],[{"machine":1,"duration":4},{"machine":0,"duration":1}]]},"time_limit_s":30}"#;

fn event(method: &str, path: &str, body: Option<&str>) -> LambdaFunctionUrlRequest {
    serde_json::from_value(testkit::function_url_event(method, path, body)).unwrap()
}

fn api(env: &Env) -> Api {
    Api::new(&Config::new(&env.bucket, &env.queue_url), env.s3.clone(), env.sqs.clone())
}

fn body(r: &LambdaFunctionUrlResponse) -> Value {
    serde_json::from_str(r.body.as_deref().unwrap_or("null")).unwrap()
}

#[tokio::test]
async fn a_submitted_job_is_queued_with_its_status() {
    let env = Env::new().await;
    let r = solver_api::handle(&api(&env), event("POST", "/runs", Some(SMALL_JOB))).await;
    assert_eq!(r.status_code, 202, "{:?}", r.body);
    let b = body(&r);
    let run_id = RunId::parse(b["run_id"].as_str().unwrap()).unwrap();
    assert_eq!(run_id.as_str().len(), 36, "a UUID v4");
    assert_eq!(b["status_url"], format!("https://abcdefghijklmnopqrstuvwxyz.lambda-url.us-east-1.on.aws/runs/{run_id}"));

    let (status, _) = env.store().read_status(&run_id).await.unwrap().unwrap();
    assert_eq!(status.state, State::Queued);
    let messages = env.receive(&env.queue_url, 10).await;
    assert_eq!(messages.len(), 1);
    let message = QueueMessage::parse(messages[0].body().unwrap()).unwrap();
    assert_eq!(message.run_id, run_id);
    assert_eq!(message.request.unwrap()["problem"]["kind"], "jobshop", "a small job travels inline");
    assert!(env.job_keys().await.contains(&keys::input(&run_id)), "stored as well, so that a lost message can be re-sent");

    let r = solver_api::handle(&api(&env), event("GET", &format!("/runs/{run_id}"), None)).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(serde_json::from_value::<StatusDoc>(body(&r)).unwrap().state, State::Queued);
}

#[tokio::test]
async fn a_reused_run_id_answers_409_and_changes_nothing() {
    let env = Env::new().await;
    let job = SMALL_JOB.replace("\"time_limit_s\":30", "\"time_limit_s\":30,\"run_id\":\"client-7\"");
    assert_eq!(solver_api::handle(&api(&env), event("POST", "/runs", Some(&job))).await.status_code, 202);
    let before = env.store().get(&keys::status(&RunId::parse("client-7").unwrap())).await.unwrap().unwrap();
    let r = solver_api::handle(&api(&env), event("POST", "/runs", Some(&job))).await;
    assert_eq!(r.status_code, 409);
    assert_eq!(body(&r)["error"]["code"], "RUN_ID_TAKEN");
    let after = env.store().get(&keys::status(&RunId::parse("client-7").unwrap())).await.unwrap().unwrap();
    assert_eq!(before, after);
    assert_eq!(env.receive(&env.queue_url, 10).await.len(), 1, "one message, from the first submission");

    // Another request under a taken id never replaces the stored input.
    let input_before = env.store().get(&keys::input(&RunId::parse("client-7").unwrap())).await.unwrap().unwrap().0;
    let other = job.replace("\"time_limit_s\":30", "\"time_limit_s\":31");
    assert_eq!(solver_api::handle(&api(&env), event("POST", "/runs", Some(&other))).await.status_code, 409);
    assert_eq!(env.store().get(&keys::input(&RunId::parse("client-7").unwrap())).await.unwrap().unwrap().0, input_before);
}

#[tokio::test]
async fn a_submission_that_died_half_way_is_finished_by_the_same_request_again() {
    let env = Env::new().await;
    let job = SMALL_JOB.replace("\"time_limit_s\":30", "\"time_limit_s\":30,\"run_id\":\"half\"");
    // The first try stored its input, then died before the status.
    let request = job_model::JobRequest::from_slice(job.as_bytes()).unwrap();
    env.store().put(&keys::input(&RunId::parse("half").unwrap()), serde_json::to_vec(&request).unwrap()).await.unwrap();
    let r = solver_api::handle(&api(&env), event("POST", "/runs", Some(&job))).await;
    assert_eq!(r.status_code, 202, "{:?}", r.body);
    assert_eq!(env.store().read_status(&RunId::parse("half").unwrap()).await.unwrap().unwrap().0.state, State::Queued);
}

#[tokio::test]
async fn every_bad_request_gets_its_4xx_and_nothing_is_written() {
    let env = Env::new().await;
    let big = format!("{{\"problem\":{{\"kind\":\"jobshop\",\"pad\":\"{}\"}}}}", "x".repeat(solver_api::MAX_BODY_BYTES));
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "INVALID_JSON"),
        ("[1,2]".into(), 400, "INVALID_REQUEST"),
        ("{}".into(), 400, "MISSING_FIELD"),
        (r#"{"problem":"jobshop"}"#.into(), 400, "INVALID_PROBLEM"),
        (r#"{"problem":{"kind":"jobshop","jobs":[]}}"#.into(), 400, "INVALID_PROBLEM"),
        (r#"{"problem":{"kind":"jobshop","machines":2,"jobs":[[{"machine":2,"duration":1}]]}}"#.into(), 400, "INVALID_PROBLEM"),
        (r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":"3"}]]}}"#.into(), 400, "INVALID_PROBLEM"),
        (r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":1}]]},"time_limit_s":-5}"#.into(), 400, "INVALID_FIELD"),
        (r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":1}]]},"time_limit_s":1e15}"#.into(), 400, "INVALID_FIELD"),
        (r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":1}]]},"run_id":"../x"}"#.into(), 400, "INVALID_RUN_ID"),
        (r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":1}]]},"run_id":"ünïcode"}"#.into(), 400, "INVALID_RUN_ID"),
        (format!(r#"{{"problem":{{"kind":"jobshop","jobs":[[{{"machine":0,"duration":1}}]]}},"run_id":"{}"}}"#, "a".repeat(1024)), 400, "INVALID_RUN_ID"),
        (r#"{"problem":{"kind":"jobshop","format":"orlib","text":"2 2\n0 3 1 2\n"}}"#.into(), 400, "INVALID_PROBLEM"),
        (big, 413, "TOO_LARGE"),
    ];
    for (body_text, status, code) in cases {
        let r = solver_api::handle(&api(&env), event("POST", "/runs", Some(&body_text))).await;
        let b = body(&r);
        assert_eq!((r.status_code, b["error"]["code"].as_str().unwrap()), (i64::from(status), code), "{}", &body_text[..body_text.len().min(120)]);
        assert!(!b["error"]["message"].as_str().unwrap().is_empty());
    }
    assert!(env.job_keys().await.is_empty(), "nothing written to the bucket");
    assert_eq!(env.queue_depth(&env.queue_url).await, (0, 0), "nothing queued");
}

#[tokio::test]
async fn a_job_too_large_for_a_message_goes_through_input_json() {
    let env = Env::new().await;
    let jobs: Vec<Value> = (0..1500).map(|j| json!((0..10).map(|k| json!({"machine": (j + k) % 10, "duration": 1 + (j * k) % 97})).collect::<Vec<_>>())).collect();
    let request = json!({"problem": {"kind": "jobshop", "jobs": jobs}, "time_limit_s": 10});
    let text = request.to_string();
    assert!(text.len() > 256 * 1024, "{} bytes is not too large for SQS", text.len());
    let r = solver_api::handle(&api(&env), event("POST", "/runs", Some(&text))).await;
    assert_eq!(r.status_code, 202, "{:?}", r.body);
    let run_id = RunId::parse(body(&r)["run_id"].as_str().unwrap()).unwrap();
    let message = QueueMessage::parse(env.receive(&env.queue_url, 1).await[0].body().unwrap()).unwrap();
    assert_eq!(message, QueueMessage { run_id: run_id.clone(), request: None }, "only the run id travels");
    let input: Value = env.store().get_json(&keys::input(&run_id)).await.unwrap().unwrap();
    assert_eq!(input["problem"], request["problem"]);
    assert_eq!(input["run_id"], run_id.as_str());
}

#[tokio::test]
async fn status_and_result_answer_by_the_job_state() {
    let env = Env::new().await;
    let get = |path: String| {
        let api = api(&env);
        async move { solver_api::handle(&api, event("GET", &path, None)).await }
    };
    assert_eq!(get("/runs/nope".into()).await.status_code, 404);
    assert_eq!(get("/runs/nope/result".into()).await.status_code, 404);
    for hostile in ["/runs/..", "/runs/%2e%2e", "/runs/ü/result", &format!("/runs/{}", "a".repeat(1024))] {
        let r = get(hostile.into()).await;
        assert_eq!((r.status_code, body(&r)["error"]["code"].clone()), (400, json!("INVALID_RUN_ID")), "{hostile}");
    }
    assert_eq!(get("/nowhere".into()).await.status_code, 404);
    assert_eq!(solver_api::handle(&api(&env), event("PUT", "/runs/x", None)).await.status_code, 405);
    assert_eq!(solver_api::handle(&api(&env), event("DELETE", "/runs/x", None)).await.status_code, 404);

    let job = SMALL_JOB.replace("\"time_limit_s\":30", "\"time_limit_s\":30,\"run_id\":\"r-1\"");
    assert_eq!(solver_api::handle(&api(&env), event("POST", "/runs", Some(&job))).await.status_code, 202);
    let r = get("/runs/r-1/result".into()).await;
    assert_eq!((r.status_code, body(&r)["error"]["code"].clone()), (409, json!("NOT_FINISHED")));

    // Finish it as the worker would.
    let run_id = RunId::parse("r-1").unwrap();
    let problem = job_model::JobRequest::from_slice(job.as_bytes()).unwrap().jobshop().unwrap();
    let result = JobShopResult {
        makespan: 6,
        lower_bound: 6,
        optimal: true,
        schedule: vec![
            vec![job_model::ScheduledOp { machine: 0, start: 0, duration: 3 }, job_model::ScheduledOp { machine: 1, start: 4, duration: 2 }],
            vec![job_model::ScheduledOp { machine: 1, start: 0, duration: 4 }, job_model::ScheduledOp { machine: 0, start: 4, duration: 1 }],
        ],
        solver: job_model::SolverInfo { name: "test".into(), elapsed_s: 0.0 },
    };
    job_model::check_schedule(&problem, &result).unwrap();
    env.store().put(&keys::result(&run_id), serde_json::to_vec(&result).unwrap()).await.unwrap();
    env.store().apply(&run_id, &job_model::Event::Succeeded { result_key: keys::result(&run_id), progress: None }).await.unwrap();
    let r = get("/runs/r-1/result".into()).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(serde_json::from_value::<JobShopResult>(body(&r)).unwrap(), result);
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    use base64::Engine;
    let env = Env::new().await;
    let mut e = event("POST", "/runs", Some(&base64::engine::general_purpose::STANDARD.encode(SMALL_JOB)));
    e.is_base64_encoded = true;
    assert_eq!(solver_api::handle(&api(&env), e).await.status_code, 202);
    let mut e = event("POST", "/runs", Some("!!!not base64"));
    e.is_base64_encoded = true;
    assert_eq!(solver_api::handle(&api(&env), e).await.status_code, 400);
}

#[tokio::test]
async fn a_job_accepted_while_sqs_fails_is_kept_for_the_reconciler_not_lost() {
    let env = Env::new().await;
    let broken = solver_api::Api::new(&solver_api::Config::new(&env.bucket, format!("{}-gone", env.queue_url)), env.s3.clone(), env.sqs.clone());
    let job = SMALL_JOB.replace("\"time_limit_s\":30", "\"time_limit_s\":30,\"run_id\":\"kept\"");
    let r = solver_api::handle(&broken, event("POST", "/runs", Some(&job))).await;
    assert_eq!(r.status_code, 202, "{:?}", r.body);
    let run_id = RunId::parse("kept").unwrap();
    let (doc, _) = env.store().read_status(&run_id).await.unwrap().unwrap();
    assert_eq!((doc.state, doc.time_limit_s, doc.max_attempts), (State::Queued, Some(30.0), 3));
    assert!(doc.lease_until.is_some(), "the reconciler re-sends it when its lease passes");
    assert!(env.store().exists(&keys::input(&run_id)).await.unwrap(), "its input is stored, so it can be re-sent");
    assert_eq!(env.store().active_jobs().await.unwrap().into_iter().map(|(id, _)| id).collect::<Vec<_>>(), vec![run_id]);
    // A client retrying the same run_id is told it is taken, and nothing changes.
    assert_eq!(solver_api::handle(&broken, event("POST", "/runs", Some(&job))).await.status_code, 409);
}

#[tokio::test]
async fn storage_errors_name_no_bucket_or_key() {
    let env = Env::new().await;
    let missing = solver_api::Api::new(&solver_api::Config::new("no-such-bucket-here", &env.queue_url), env.s3.clone(), env.sqs.clone());
    let r = solver_api::handle(&missing, event("POST", "/runs", Some(SMALL_JOB))).await;
    assert_eq!(r.status_code, 503);
    let text = r.body.unwrap_or_default();
    assert!(!text.contains("no-such-bucket-here") && !text.contains("jobs/"), "{text}");
}

#[tokio::test]
async fn the_console_is_served_and_recent_jobs_list_newest_first_page_by_page() {
    let env = Env::new().await;
    let r = solver_api::handle(&api(&env), event("GET", "/", None)).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(r.headers.get("content-type").unwrap(), "text/html; charset=utf-8");
    let page = r.body.unwrap();
    assert!(page.contains("<svg id=\"gantt\"") && !page.contains("src=\"http") && !page.contains("href=\"http"), "one page, nothing fetched from elsewhere");

    // Three jobs: one left queued, two ended one after the other.
    for id in ["l-1", "l-2", "l-3"] {
        let job = SMALL_JOB.replace("\"time_limit_s\":30", &format!("\"time_limit_s\":30,\"run_id\":\"{id}\""));
        assert_eq!(solver_api::handle(&api(&env), event("POST", "/runs", Some(&job))).await.status_code, 202);
    }
    for id in ["l-1", "l-2"] {
        let event = job_model::Event::Failed { error: job_model::ErrorInfo::new("TEST", "ended by the test") };
        env.store().apply(&RunId::parse(id).unwrap(), &event).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let list = |query: &str| {
        let mut e = event("GET", "/runs", None);
        e.raw_query_string = Some(query.to_owned());
        let api = api(&env);
        async move { solver_api::handle(&api, e).await }
    };
    let ids = |r: &LambdaFunctionUrlResponse| body(r)["runs"].as_array().unwrap().iter().map(|s| s["run_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let first = list("limit=1").await;
    assert_eq!(first.status_code, 200, "{:?}", first.body);
    assert_eq!(ids(&first), ["l-3", "l-2"], "the unfinished first, then the newest ended");
    assert_eq!(body(&first)["runs"][1]["state"], "FAILED");
    assert_eq!(body(&first)["runs"][1]["error_code"], "TEST");
    let cursor = body(&first)["next_cursor"].as_str().unwrap().to_owned();
    let second = list(&format!("limit=1&cursor={cursor}")).await;
    assert_eq!(ids(&second), ["l-1"]);
    assert!(body(&second)["next_cursor"].is_null(), "the last page says so");
    assert_eq!(ids(&list("").await), ["l-3", "l-2", "l-1"]);
    for bad in ["limit=0", "limit=1000", "cursor=../../x", "offset=3"] {
        let r = list(bad).await;
        assert_eq!(r.status_code, 400, "{bad}");
        assert!(!body(&r)["error"]["message"].as_str().unwrap().contains("index/"), "no keys in an error: {bad}");
    }
}
