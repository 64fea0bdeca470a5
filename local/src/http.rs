//! Just enough HTTP/1.1 for loopback: keep-alive, Content-Length and chunked
//! bodies. The data plane speaks it to the Lambda runtime client inside the
//! real `bootstrap` programs, to the worker (task metadata) and to people.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes
    /// it unless told to keep it (clients then read to the end).
    pub keep_alive: bool,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self { status, headers: vec![("content-type".into(), "application/json".into())], body: body.into() }
    }
}

pub type Handler = Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// Serves `handler` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, handler: Handler) {
    while let Ok((stream, _)) = listener.accept().await {
        let handler = handler.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            loop {
                let (response, close) = match read_request(&mut reader).await {
                    Ok(Some(request)) => {
                        let close = !request.keep_alive;
                        (handler(request).await, close)
                    }
                    // Answered as a Function URL does; the unread body
                    // makes the connection unusable, so it is closed.
                    Err(e) if e.get_ref().is_some_and(|inner| inner.is::<BodyTooLarge>()) => {
                        (Response::new(413, r#"{"message":"Request must be smaller than 6291456 bytes"}"#), true)
                    }
                    Ok(None) | Err(_) => break,
                };
                let mut head = format!("HTTP/1.1 {} {}\r\ncontent-length: {}\r\n", response.status, reason(response.status), response.body.len());
                for (k, v) in &response.headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if write.write_all(head.as_bytes()).await.is_err() || write.write_all(&response.body).await.is_err() || close {
                    break;
                }
            }
        });
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        _ => "Status",
    }
}

async fn read_head<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> std::io::Result<Option<(String, BTreeMap<String, String>)>> {
    let mut first = String::new();
    if reader.read_line(&mut first).await? == 0 {
        return Ok(None);
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    Ok(Some((first.trim_end().to_owned(), headers)))
}

/// A Function URL refuses request payloads over 6 MB; so does this server,
/// before allocating what a hostile `content-length` asks for.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

#[derive(Debug)]
struct BodyTooLarge;

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body over the {MAX_BODY_BYTES}-byte limit")
    }
}

impl std::error::Error for BodyTooLarge {}

fn too_large() -> std::io::Error {
    std::io::Error::other(BodyTooLarge)
}

async fn read_body<R: AsyncBufReadExt + Unpin>(reader: &mut R, headers: &BTreeMap<String, String>) -> std::io::Result<Vec<u8>> {
    if headers.get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).map_err(std::io::Error::other)?;
            if body.len().saturating_add(n) > MAX_BODY_BYTES {
                return Err(too_large());
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).await?;
            if n == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let len = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    if len > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

async fn read_request<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> std::io::Result<Option<Request>> {
    let Some((first, headers)) = read_head(reader).await? else { return Ok(None) };
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned());
    let connection = headers.get("connection").map(|c| c.to_ascii_lowercase());
    let keep_alive = match parts.next() {
        Some("HTTP/1.0") => connection.as_deref() == Some("keep-alive"),
        _ => connection.as_deref() != Some("close"),
    };
    let body = read_body(reader, &headers).await?;
    Ok(Some(Request { method, target, headers, body, keep_alive }))
}

/// One request on a fresh connection: `(status, body)`.
pub async fn call(addr: &str, method: &str, target: &str, body: Option<&[u8]>) -> std::io::Result<(u16, Vec<u8>)> {
    let stream = TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    let body = body.unwrap_or_default();
    let head = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
    write.write_all(head.as_bytes()).await?;
    write.write_all(body).await?;
    let mut reader = BufReader::new(read);
    let (first, headers) = read_head(&mut reader).await?.ok_or_else(|| std::io::Error::other("connection closed before a response"))?;
    let status = first.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = read_body(&mut reader, &headers).await?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn raw(request: &str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, Arc::new(|_req| Box::pin(async { Response::new(200, "{}") }))));
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        // Reading to the end only returns if the server closes the connection.
        tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_string(&mut out)).await.expect("the server closed the connection").unwrap();
        server.abort();
        out
    }

    #[tokio::test]
    async fn http_1_0_and_connection_close_end_the_connection_after_the_answer() {
        assert!(raw("GET /runs/x HTTP/1.0\r\nHost: a\r\n\r\n").await.starts_with("HTTP/1.1 200"));
        assert!(raw("GET /runs/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await.ends_with("{}"));
    }

    #[tokio::test]
    async fn a_body_over_the_function_url_limit_is_refused_before_it_is_read() {
        let answer = raw("POST /runs HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let chunked = raw("POST /runs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n").await;
        assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    }
}
