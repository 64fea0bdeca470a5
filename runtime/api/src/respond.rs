use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse;
use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
use serde::Serialize;

/// Larger bodies are refused with 413. A Function URL takes up to 6 MB; the
/// margin keeps the Lambda's own payload limit from answering first.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

pub fn json(status: u16, body: &impl Serialize) -> LambdaFunctionUrlResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut r = LambdaFunctionUrlResponse::default();
    r.status_code = i64::from(status);
    r.headers = headers;
    r.body = Some(serde_json::to_string(body).expect("responses always serialise"));
    r
}

/// `{"error": {"code", "message"}}`, the shape of every refusal.
pub fn error(status: u16, code: &str, message: impl Into<String>) -> LambdaFunctionUrlResponse {
    json(status, &serde_json::json!({"error": {"code": code, "message": message.into()}}))
}

/// Raw JSON bytes as stored (a result), without re-serialising them.
pub fn raw_json(status: u16, body: Vec<u8>) -> LambdaFunctionUrlResponse {
    let mut r = json(status, &serde_json::Value::Null);
    r.body = Some(String::from_utf8_lossy(&body).into_owned());
    r
}

/// A page of the console.
pub fn html(status: u16, body: &str) -> LambdaFunctionUrlResponse {
    let mut r = json(status, &serde_json::Value::Null);
    r.headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.body = Some(body.to_owned());
    r
}
