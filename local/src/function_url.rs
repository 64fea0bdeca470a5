//! The API function over plain HTTP, as its Function URL serves it: each
//! request becomes a payload-2.0 event, each answer an HTTP response.

use crate::http::{self, Request, Response};
use crate::lambda_host::LambdaHost;
use base64_free::encode;
use std::sync::Arc;

pub async fn serve(listener: tokio::net::TcpListener, api: Arc<LambdaHost>) {
    http::serve(
        listener,
        Arc::new(move |req: Request| {
            let api = api.clone();
            Box::pin(async move { handle(&api, req).await })
        }),
    )
    .await;
}

pub fn event(req: &Request) -> serde_json::Value {
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut headers: serde_json::Map<String, serde_json::Value> = req.headers.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    headers.insert("x-forwarded-proto".into(), "http".into());
    let host = req.headers.get("host").cloned().unwrap_or_else(|| "localhost".into());
    let (body, encoded) = match std::str::from_utf8(&req.body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (encode(&req.body), true),
    };
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": req.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": req.headers.get("user-agent").cloned().unwrap_or_default()
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "",
            "timeEpoch": now.as_millis() as u64
        },
        "body": if req.body.is_empty() { serde_json::Value::Null } else { body.into() },
        "isBase64Encoded": encoded
    })
}

async fn handle(api: &LambdaHost, req: Request) -> Response {
    match api.invoke(&event(&req)).await {
        Ok(answer) => {
            let status = answer.get("statusCode").and_then(serde_json::Value::as_u64).unwrap_or(200) as u16;
            let body = answer.get("body").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
            let mut response = Response::new(status, body);
            // The function's own headers (the console is HTML, not JSON).
            if let Some(headers) = answer.get("headers").and_then(serde_json::Value::as_object) {
                for (name, value) in headers.iter().filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned()))) {
                    response.headers.retain(|(k, _)| *k != name);
                    response.headers.push((name, value));
                }
            }
            response
        }
        Err(e) => Response::new(502, serde_json::json!({"error": {"code": "FUNCTION_ERROR", "message": e.to_string()}}).to_string()),
    }
}

/// Base64 for a binary body, without a dependency for one rare case.
mod base64_free {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16) | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8) | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
