use crate::Api;
use crate::respond::{MAX_BODY_BYTES, error, html, json, raw_json};
use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use base64::Engine;
use job_model::message::MAX_INLINE_BYTES;
use job_model::{Event, JobRequest, QueueMessage, Refusal, RunId, StatusDoc, keys};
use job_store::{Applied, aws::describe};
use serde_json::json;
use std::time::Duration;

/// Inside the function's 30 s timeout: a request that cannot be answered in
/// time is answered 503, never cut off with the work half done. Whatever a
/// submission got to (status, input) is safe: the reconciler finishes it.
const REQUEST_BUDGET: Duration = Duration::from_secs(25);

/// The console (`GET /`): one page, its script and styles inside, nothing
/// fetched from elsewhere.
const CONSOLE: &str = include_str!("console.html");

pub async fn handle(api: &Api, req: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
    let method = req.request_context.http.method.clone().unwrap_or_default().to_ascii_uppercase();
    let path = req.raw_path.clone().unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let routed = async {
        match (method.as_str(), segments.as_slice()) {
            ("GET", []) => html(200, CONSOLE),
            ("GET", ["runs"]) => crate::listing::list_runs(api, &req).await,
            ("POST", ["runs"]) => submit(api, &req).await,
            ("GET", ["runs", id]) => with_run_id(id, |id| get_status(api, id)).await,
            ("DELETE", ["runs", id]) => with_run_id(id, |id| cancel(api, id)).await,
            ("GET", ["runs", id, "result"]) => with_run_id(id, |id| get_result(api, id)).await,
            (_, ["runs"] | ["runs", _] | ["runs", _, "result"]) => error(
                405,
                "METHOD_NOT_ALLOWED",
                format!("{method} is not allowed on {path}; use GET / (the console), GET or POST /runs, GET or DELETE /runs/{{run_id}}, GET /runs/{{run_id}}/result"),
            ),
            _ => error(404, "NOT_FOUND", format!("no route {path}; use GET / (the console), GET or POST /runs, GET or DELETE /runs/{{run_id}}, GET /runs/{{run_id}}/result")),
        }
    };
    let response = match tokio::time::timeout(REQUEST_BUDGET, routed).await {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(%method, %path, "not answered within {} s", REQUEST_BUDGET.as_secs());
            error(503, "TIMEOUT", "the service did not answer in time; try again (a submission already accepted is not lost)")
        }
    };
    tracing::info!(%method, %path, status = response.status_code, "handled");
    response
}

async fn with_run_id<F, Fut>(raw: &str, f: F) -> LambdaFunctionUrlResponse
where
    F: FnOnce(RunId) -> Fut,
    Fut: Future<Output = LambdaFunctionUrlResponse>,
{
    match RunId::parse(raw) {
        Ok(id) => f(id).await,
        Err(e) => error(400, "INVALID_RUN_ID", e.to_string()),
    }
}

/// The body, decoded and within the size limit, or the refusal to answer.
fn body_bytes(req: &LambdaFunctionUrlRequest) -> Result<Vec<u8>, Box<LambdaFunctionUrlResponse>> {
    let body = req.body.as_deref().unwrap_or_default();
    // Base64 grows a body by 4/3: check the decoded size, but refuse early an
    // encoding that cannot decode to less than the limit.
    if body.len() > MAX_BODY_BYTES * 4 / 3 + 4 {
        return Err(Box::new(too_large(body.len())));
    }
    let bytes = if req.is_base64_encoded {
        base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| Box::new(error(400, "INVALID_BODY", format!("the body is marked base64 but does not decode ({e})"))))?
    } else {
        body.as_bytes().to_vec()
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Box::new(too_large(bytes.len())));
    }
    Ok(bytes)
}

fn too_large(len: usize) -> LambdaFunctionUrlResponse {
    error(413, "TOO_LARGE", format!("the body is {len} bytes; at most {MAX_BODY_BYTES} are accepted"))
}

fn status_url(req: &LambdaFunctionUrlRequest, run_id: &RunId) -> String {
    let proto = req.headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("https");
    match req.request_context.domain_name.as_deref() {
        Some(domain) if !domain.is_empty() => format!("{proto}://{domain}/runs/{run_id}"),
        _ => format!("/runs/{run_id}"),
    }
}

async fn submit(api: &Api, req: &LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
    let body = match body_bytes(req) {
        Ok(b) => b,
        Err(response) => return *response,
    };
    let mut request = match JobRequest::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json(400, &json!({"error": {"code": e.code, "message": e.to_string(), "field": e.field}})),
    };
    let run_id = request.run_id.clone().unwrap_or_else(|| RunId::from_uuid(uuid::Uuid::new_v4()));
    request.run_id = Some(run_id.clone());

    // The input first (If-None-Match), so that the job can always be re-sent
    // from it; then the status (with its place in the active index), also
    // created with If-None-Match: it is the claim on the run id, so a reused
    // id changes nothing and answers 409. The same request sent again (a
    // retry after a lost answer, or after a submission that died half-way)
    // goes on where the first one stopped.
    let input = serde_json::to_vec(&request).expect("a request serialises");
    let status =
        StatusDoc::queued(run_id.clone(), job_store::now()).with_limits(request.time_limit_s, request.max_attempts.unwrap_or(api.max_attempts)).with_capacity(request.capacity);
    let input_key = keys::input(&run_id);
    match api.store.put_if_absent(&input_key, input.clone()).await {
        Ok(true) => {}
        Ok(false) => match api.store.get(&input_key).await {
            Ok(Some((existing, _))) if existing == input => {}
            Ok(_) => return run_id_taken(&run_id),
            Err(e) => return unavailable(&run_id, &e),
        },
        Err(e) => return unavailable(&run_id, &e),
    }
    match api.store.create_status(&status).await {
        Ok(true) => {}
        Ok(false) => return run_id_taken(&run_id),
        Err(e) => return unavailable(&run_id, &e),
    }
    if let Err(e) = enqueue(api, &run_id, &request).await {
        // Accepted all the same: the job and its input are stored, and the
        // reconciler re-sends a job no trigger claimed within its lease.
        tracing::warn!(%run_id, "not queued now, the reconciler will: {e}");
    }
    tracing::info!(%run_id, "accepted");
    json(202, &json!({"run_id": run_id, "status_url": status_url(req, &run_id)}))
}

fn run_id_taken(run_id: &RunId) -> LambdaFunctionUrlResponse {
    error(409, "RUN_ID_TAKEN", format!("run_id {run_id} is already used; choose another or omit it"))
}

/// Inline when it fits a message, else only the run id (claim check: the
/// input is already stored).
async fn enqueue(api: &Api, run_id: &RunId, request: &JobRequest) -> Result<(), String> {
    let inline = QueueMessage { run_id: run_id.clone(), request: Some(serde_json::to_value(request).map_err(|e| e.to_string())?) };
    let body = inline.to_body();
    let body = if body.len() <= MAX_INLINE_BYTES { body } else { QueueMessage { run_id: run_id.clone(), request: None }.to_body() };
    api.sqs.send_message().queue_url(&api.queue_url).message_body(body).send().await.map(|_| ()).map_err(|e| format!("sqs SendMessage failed: {}", describe(&e)))
}

/// A queued job ends CANCELLED at once; a running one is asked to stop and
/// keeps its best answer (its worker sees the request within seconds; the
/// reconciler stops a task that does not).
async fn cancel(api: &Api, run_id: RunId) -> LambdaFunctionUrlResponse {
    let checkpoint = match api.store.has_checkpoint(&run_id).await {
        Ok(c) => c,
        Err(e) => return unavailable(&run_id, &e),
    };
    match api.store.apply(&run_id, &Event::CancelRequested { checkpoint }).await {
        Ok(Applied::Written(doc)) => json(202, &json!({"run_id": run_id, "state": doc.state, "cancel_requested": doc.cancel_requested})),
        Ok(Applied::Refused(doc, Refusal::Final(_))) => error(409, "ALREADY_FINISHED", format!("run {run_id} already ended {}; there is nothing to cancel", doc.state)),
        Ok(Applied::Refused(doc, refusal)) => error(409, "NOT_CANCELLABLE", format!("run {run_id} is {}: {refusal}", doc.state)),
        Ok(Applied::NotFound) => error(404, "NOT_FOUND", format!("no run {run_id}")),
        Err(e) => unavailable(&run_id, &e),
    }
}

async fn get_status(api: &Api, run_id: RunId) -> LambdaFunctionUrlResponse {
    match api.store.read_status(&run_id).await {
        Ok(Some((doc, _))) => json(200, &doc),
        Ok(None) => error(404, "NOT_FOUND", format!("no run {run_id}")),
        Err(e) => unavailable(&run_id, &e),
    }
}

async fn get_result(api: &Api, run_id: RunId) -> LambdaFunctionUrlResponse {
    let doc = match api.store.read_status(&run_id).await {
        Ok(Some((doc, _))) => doc,
        Ok(None) => return error(404, "NOT_FOUND", format!("no run {run_id}")),
        Err(e) => return unavailable(&run_id, &e),
    };
    if !doc.state.is_terminal() {
        return error(409, "NOT_FINISHED", format!("run {run_id} is {}; ask again when it has finished", doc.state));
    }
    let Some(key) = doc.result_key.clone() else {
        let why = doc.error.as_ref().map(ToString::to_string).unwrap_or_else(|| "no reason recorded".into());
        return error(409, "NO_RESULT", format!("run {run_id} ended {} without a result ({why})", doc.state));
    };
    match api.store.get(&key).await {
        Ok(Some((bytes, _))) => raw_json(200, bytes),
        Ok(None) => error(409, "NO_RESULT", format!("run {run_id} is {} but its result is missing", doc.state)),
        Err(e) => unavailable(&run_id, &e),
    }
}

/// The details (bucket, key, the SDK's chain) go to the log with the run
/// id, not to the caller.
fn unavailable(run_id: &RunId, e: &job_store::StoreError) -> LambdaFunctionUrlResponse {
    tracing::error!(%run_id, error = %e, "storage unavailable");
    error(503, "STORAGE_UNAVAILABLE", format!("storage is unavailable for run {run_id}; try again"))
}
