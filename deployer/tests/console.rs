//! `deploy console` run as an operator runs it, with credentials from the
//! emulator's environment: what reaches the Function URL must carry a SigV4
//! signature that a recomputation from the same credentials agrees with.
//! The emulator makes no Function URL (MOTO.md), so the proxy is pointed at a
//! stand-in upstream on loopback with the hidden `--function-url`.

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use testkit::Moto;
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The Function URL's stand-in: records each request, serves a page at `/`
/// and echoes the body elsewhere.
async fn upstream() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let record = record.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let headers = parts.headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect();
                        record.lock().unwrap().push(Seen { method: parts.method.to_string(), uri: parts.uri.to_string(), headers, body: body.clone() });
                        let answer = if parts.uri.path() == "/" { Bytes::from_static(b"<!doctype html><title>console</title>") } else { body };
                        Ok::<_, std::convert::Infallible>(hyper::Response::builder().header("x-upstream", "yes").body(Full::new(answer)).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, seen)
}

struct Console {
    child: Child,
    addr: String,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn deploy(moto: &Moto, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deploy"));
    cmd.env_clear().envs(moto.env()).env("PATH", std::env::var("PATH").unwrap_or_default()).arg("--config").arg("/nonexistent/deploy.yaml").args(args);
    cmd
}

fn console(moto: &Moto, function_url: &str) -> Console {
    let mut child = deploy(moto, &["console", "--port", "0", "--no-browser", "--function-url", function_url]).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().strip_prefix("console: http://").and_then(|a| a.strip_suffix('/')).unwrap_or_else(|| panic!("no console address in {first:?}")).to_owned();
    Console { child, addr }
}

async fn send(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = sender.send_request(request.body(Full::new(Bytes::copy_from_slice(body))).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let head = response.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// The signature a Function URL computes for what arrived, from the same
/// credentials, region, time and signed headers.
fn expected_signature(seen: &Seen, upstream: &str, body: &[u8]) -> String {
    let authorization = seen.header("authorization").expect("a signed request");
    let signed: Vec<&str> = authorization.split("SignedHeaders=").nth(1).unwrap().split(',').next().unwrap().split(';').collect();
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let at: SystemTime = time::PrimitiveDateTime::parse(seen.header("x-amz-date").unwrap(), format).unwrap().assume_utc().into();
    // The signer adds host, the date, the body hash and the token itself.
    let headers: Vec<(&str, &str)> =
        signed.iter().filter(|h| !matches!(**h, "host" | "x-amz-date" | "x-amz-content-sha256" | "x-amz-security-token")).map(|h| (*h, seen.header(h).unwrap())).collect();
    let identity = Credentials::new("testing", "testing", None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = aws_sigv4::sign::v4::SigningParams::builder().identity(&identity).region(testkit::REGION).name("lambda").time(at).settings(settings).build().unwrap().into();
    let url = format!("http://{upstream}{}", seen.uri);
    let signable = SignableRequest::new(&seen.method, &url, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
    sign(signable, &params).unwrap().into_parts().1
}

fn signature_of(seen: &Seen) -> &str {
    seen.header("authorization").unwrap().rsplit("Signature=").next().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_reach_the_function_url_signed_with_the_operator_s_credentials() {
    let moto = Moto::start();
    let (upstream, seen) = upstream().await;
    let console = console(&moto, &format!("http://{upstream}/"));
    let host = console.addr.clone();

    let (status, head, page) = send(&console.addr, "GET", "/", &[("host", &host)], b"").await;
    assert_eq!((status, page.as_str()), (200, "<!doctype html><title>console</title>"));
    assert!(head.iter().any(|(k, v)| k == "x-upstream" && v == "yes"), "the upstream's headers come back: {head:?}");

    let job = br#"{"problem":{"kind":"jobshop"},"time_limit_s":5}"#;
    let origin = format!("http://{host}");
    let (status, _, echoed) =
        send(&console.addr, "POST", "/runs?mode=x%20y", &[("host", &host), ("origin", &origin), ("content-type", "application/json"), ("cookie", "secret=1")], job).await;
    assert_eq!((status, echoed.as_bytes()), (200, &job[..]));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for request in &seen {
        let authorization = request.header("authorization").unwrap();
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=testing/"), "{authorization}");
        assert!(authorization.contains(&format!("/{}/lambda/aws4_request", testkit::REGION)), "{authorization}");
        assert_eq!(request.header("host"), Some(upstream.as_str()), "signed for the Function URL's host, not the proxy's");
        assert_eq!(signature_of(request), expected_signature(request, &upstream, &request.body), "{request:?}");
    }
    let post = &seen[1];
    assert_eq!((post.method.as_str(), post.uri.as_str(), &post.body[..]), ("POST", "/runs?mode=x%20y", &job[..]));
    assert!(post.header("authorization").unwrap().contains("content-type"), "the content type is signed");
    assert_eq!(post.header("cookie"), None, "the browser's cookies stay on loopback");
    // The check can fail: the same request with another body does not verify.
    assert_ne!(signature_of(post), expected_signature(post, &upstream, br#"{"problem":{"kind":"other"}}"#));
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_not_from_the_console_s_own_page_are_refused_unsigned() {
    let moto = Moto::start();
    let (upstream, seen) = upstream().await;
    let console = console(&moto, &format!("http://{upstream}/"));
    let (status, _, body) = send(&console.addr, "GET", "/runs", &[("host", "attacker.example:8740")], b"").await;
    assert_eq!(status, 403, "a rebound DNS name: {body}");
    assert!(body.contains("attacker.example"), "{body}");
    let host = console.addr.clone();
    let (status, _, body) = send(&console.addr, "POST", "/runs/x/cancel", &[("host", &host), ("origin", "https://attacker.example")], b"").await;
    assert_eq!(status, 403, "another site's page: {body}");
    assert!(body.contains("https://attacker.example"), "{body}");
    // One byte over the Function URL's limit, announced: refused before the
    // body is sent (a client still writing it would meet a closed connection).
    let mut stream = TcpStream::connect(&console.addr).await.unwrap();
    let head = format!("POST /runs HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n", 6 * 1024 * 1024 + 1);
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), tokio::io::AsyncReadExt::read(&mut stream, &mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(seen.lock().unwrap().is_empty(), "nothing was forwarded");
}

#[test]
fn without_a_function_url_it_says_to_deploy_first() {
    let moto = Moto::start();
    let out = deploy(&moto, &["console", "--no-browser", "--port", "0"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("scheduling-solver-api") && stderr.contains("has no Function URL") && stderr.contains("run `deploy` first"), "{stderr}");
}
