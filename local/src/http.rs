//! HTTP/1.1 on loopback, served and called with hyper. The data plane speaks
//! it to the Lambda runtime client inside the real `bootstrap` programs, to
//! the worker (task metadata) and to people (the API's Function URL).
//!
//! Handlers see a whole request and give a whole response: every body here
//! is small, and a Function URL buffers them too.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The path and query as sent.
    pub target: String,
    /// Lower-case names; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
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

/// A Function URL refuses request payloads over 6 MB; so does this server,
/// before reading more than that of what a client sends.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Serves `handler` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, handler: Handler) {
    while let Ok((stream, _)) = listener.accept().await {
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(answer(&handler, request).await) }
            });
            // A connection's errors (a client gone mid-request) are its own.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn answer(handler: &Handler, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match read_limited(body, MAX_BODY_BYTES).await {
        Ok(body) => body.to_vec(),
        // Answered as a Function URL does. The rest of the body is never
        // read, so the connection cannot carry another request.
        Err(BodyError::TooLarge) => {
            let mut response = Response::new(413, format!(r#"{{"message":"Request must be smaller than {MAX_BODY_BYTES} bytes"}}"#));
            response.headers.push(("connection".into(), "close".into()));
            return to_hyper(response);
        }
        Err(BodyError::Broken(e)) => return to_hyper(Response::new(400, serde_json::json!({"message": format!("could not read the request body: {e}")}).to_string())),
    };
    let mut headers = BTreeMap::<String, String>::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.entry(name.as_str().to_owned()).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
    }
    let target = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), ToString::to_string);
    to_hyper(handler(Request { method: parts.method.to_string(), target, headers, body }).await)
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Broken(String),
}

/// The whole body, or `TooLarge` once it passes `limit`: at once for a
/// `content-length` over it, else as soon as that much arrived.
pub async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    if hyper::body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Broken(e.to_string())),
    }
}

fn to_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() = hyper::StatusCode::from_u16(response.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(name), http::HeaderValue::try_from(value)) {
            out.headers_mut().insert(name, value);
        }
    }
    out
}

/// One request on a fresh connection: `(status, body)`.
pub async fn call(addr: &str, method: &str, target: &str, body: Option<&[u8]>) -> std::io::Result<(u16, Vec<u8>)> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::builder()
        .method(method)
        .uri(target)
        .header("host", addr)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
        .map_err(std::io::Error::other)?;
    let response = sender.send_request(request).await.map_err(std::io::Error::other)?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map_err(std::io::Error::other)?.to_bytes().to_vec();
    driver.abort();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn raw(request: impl Into<Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, Arc::new(|req: Request| Box::pin(async move { Response::new(200, format!("{{\"got\":{}}}", req.body.len())) }))));
        let (mut read, mut write) = TcpStream::connect(addr).await.unwrap().into_split();
        // Written beside the reading: a refused body is never read to its end.
        let request = request.into();
        let writer = tokio::spawn(async move {
            let _ = write.write_all(&request).await;
            // Held open: a closed half would end the body early.
            std::future::pending::<()>().await;
            drop(write);
        });
        let mut out = Vec::new();
        // Reading to the end only returns if the server closes the connection.
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), read.read_to_end(&mut out)).await.expect("the server closed the connection");
        assert!(read.is_ok() || !out.is_empty(), "{read:?}");
        writer.abort();
        server.abort();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn http_1_0_and_connection_close_end_the_connection_after_the_answer() {
        assert!(raw("GET /runs/x HTTP/1.0\r\nHost: a\r\n\r\n").await.contains(" 200 OK\r\n"));
        assert!(raw("GET /runs/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await.ends_with("{\"got\":0}"));
    }

    #[tokio::test]
    async fn a_chunked_body_reaches_the_handler_whole() {
        let answer = raw("POST /runs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").await;
        assert!(answer.ends_with("{\"got\":5}"), "{answer}");
    }

    #[tokio::test]
    async fn a_body_over_the_function_url_limit_is_refused_before_it_is_read() {
        let answer = raw("POST /runs HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let mut chunked = b"POST /runs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..7 {
            chunked.extend_from_slice(b"100000\r\n");
            chunked.extend(std::iter::repeat_n(b'x', 0x10_0000));
            chunked.extend_from_slice(b"\r\n");
        }
        let chunked = raw(chunked).await;
        assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    }

    #[tokio::test]
    async fn a_body_at_the_limit_is_taken() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(serve(listener, Arc::new(|req: Request| Box::pin(async move { Response::new(200, req.body.len().to_string()) }))));
        let (status, body) = call(&addr, "POST", "/runs", Some(&vec![b'x'; MAX_BODY_BYTES])).await.unwrap();
        assert_eq!((status, String::from_utf8(body).unwrap()), (200, MAX_BODY_BYTES.to_string()));
        server.abort();
        // One byte over, announced: refused before the body is sent (a
        // client still writing it would meet a closed connection).
        let over = raw(format!("POST /runs HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", MAX_BODY_BYTES + 1)).await;
        assert!(over.starts_with("HTTP/1.1 413"), "{over}");
    }
}
