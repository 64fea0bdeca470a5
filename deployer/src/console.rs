//! `deploy console`: the API's own console page on 127.0.0.1, for an API
//! whose Function URL takes only SigV4-signed calls (`AWS_IAM`, the default).
//! Every request the browser makes is forwarded to the Function URL, signed
//! with the operator's credentials (the chain `deploy` uses), so nothing but
//! the operator's own IAM permissions decides what the page can do.
//!
//! The proxy signs whatever reaches it, so it only answers requests that
//! come from its own page: the `Host` must be its loopback address (a page
//! elsewhere cannot reach it by DNS rebinding) and an `Origin`, which
//! browsers send on cross-site requests, must be its own.

use crate::aws::Aws;
use anyhow::Context;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// A Function URL refuses request payloads over 6 MB; the proxy refuses them
/// before reading them.
const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// The request headers a page's call needs upstream. Everything else (cookies,
/// the browser's own headers) stays on the loopback side.
const FORWARDED_REQUEST_HEADERS: [&str; 3] = ["content-type", "accept", "accept-language"];

/// The Function URL, and who signs for it.
pub struct Upstream {
    /// Scheme and authority, e.g. `https://abc.lambda-url.eu-west-1.on.aws`.
    origin: String,
    /// The URL's own path, without a trailing slash (empty for a Function URL).
    prefix: String,
    region: String,
    credentials: CredentialCache,
}

impl Upstream {
    pub fn new(url: &str, region: &str, provider: SharedCredentialsProvider) -> anyhow::Result<Self> {
        let uri: http::Uri = url.parse().with_context(|| format!("the Function URL {url:?} is not a URL"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            anyhow::bail!("the Function URL {url:?} has no scheme or host");
        };
        Ok(Self {
            origin: format!("{scheme}://{authority}"),
            prefix: uri.path().trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            credentials: CredentialCache::new(provider),
        })
    }

    pub fn url(&self) -> String {
        format!("{}{}/", self.origin, self.prefix)
    }
}

/// The SDK's default chain may ask IMDS, SSO or a process on every call:
/// credentials are kept until five minutes before they expire.
struct CredentialCache {
    provider: SharedCredentialsProvider,
    current: Mutex<Option<Credentials>>,
}

impl CredentialCache {
    fn new(provider: SharedCredentialsProvider) -> Self {
        Self { provider, current: Mutex::new(None) }
    }

    async fn get(&self) -> anyhow::Result<Credentials> {
        let mut current = self.current.lock().await;
        let fresh = |c: &Credentials| c.expiry().is_none_or(|at| at > SystemTime::now() + Duration::from_secs(300));
        if let Some(credentials) = current.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let credentials = self.provider.provide_credentials().await.context("could not load AWS credentials to sign the console's calls")?;
        *current = Some(credentials.clone());
        Ok(credentials)
    }
}

/// The upstream request for one call: `path_and_query` under the Function
/// URL, the page's headers that matter, the body, and a SigV4 signature for
/// service `lambda` (with `x-amz-content-sha256`, which a Function URL needs
/// on a request with a body).
pub fn signed_request(
    upstream: &Upstream,
    credentials: &Credentials,
    at: SystemTime,
    method: &http::Method,
    path_and_query: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let url = format!("{}{}{}", upstream.origin, upstream.prefix, path_and_query);
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity = credentials.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder().identity(&identity).region(&upstream.region).name("lambda").time(at).settings(settings).build()?.into();
    let signable = SignableRequest::new(method.as_str(), &url, headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), SignableBody::Bytes(&body))?;
    let (instructions, _signature) = sign(signable, &params)?.into_parts();
    let mut request = http::Request::builder().method(method.clone()).uri(&url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut request = request.body(Full::new(body))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request)
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The proxy: the Function URL, a client for it, and the loopback
/// addresses (`Host` values) its own page uses.
struct Proxy {
    upstream: Upstream,
    client: HttpsClient,
    allowed_hosts: [String; 2],
}

/// Reads the Function URL of the API function.
pub async fn function_url(aws: &Aws, api_function: &str) -> anyhow::Result<(String, String)> {
    let config = aws
        .lambda
        .get_function_url_config()
        .function_name(api_function)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("the API function {api_function} has no Function URL ({}): run `deploy` first", job_store::aws::describe(&e)))?;
    Ok((config.function_url().to_owned(), config.auth_type().as_str().to_owned()))
}

/// Serves until the process is stopped.
pub async fn serve(listener: TcpListener, upstream: Upstream) -> anyhow::Result<()> {
    let port = listener.local_addr()?.port();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .context("no trusted root certificates on this machine (install the ca-certificates package)")?
        .https_or_http()
        .enable_http1()
        .build();
    let proxy =
        Arc::new(Proxy { upstream, client: Client::builder(TokioExecutor::new()).build(connector), allowed_hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")] });
    loop {
        let (stream, _) = listener.accept().await?;
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(forward(&proxy, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn answer(status: u16, message: &str) -> http::Response<Full<Bytes>> {
    let body = serde_json::json!({"error": {"code": "CONSOLE_PROXY", "message": message}}).to_string();
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

async fn forward(proxy: &Proxy, request: hyper::Request<Incoming>) -> http::Response<Full<Bytes>> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("host").unwrap_or_default();
    if !proxy.allowed_hosts.iter().any(|h| h == host) {
        return answer(403, &format!("the console proxy answers only requests for {} (this one was for {host:?})", proxy.allowed_hosts[0]));
    }
    if let Some(origin) = header("origin").filter(|o| *o != format!("http://{host}")) {
        return answer(403, &format!("the console proxy signs only its own page's calls, not {origin}'s"));
    }
    if hyper::body::Body::size_hint(&body).lower() > MAX_BODY_BYTES as u64 {
        return answer(413, &format!("Request must be smaller than {MAX_BODY_BYTES} bytes"));
    }
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return answer(413, &format!("Request must be smaller than {MAX_BODY_BYTES} bytes")),
        Err(e) => return answer(400, &format!("could not read the request body: {e}")),
    };
    let headers: Vec<(String, String)> = FORWARDED_REQUEST_HEADERS.iter().filter_map(|name| Some(((*name).to_owned(), header(name)?.to_owned()))).collect();
    let path_and_query = parts.uri.path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
    let result = async {
        let credentials = proxy.upstream.credentials.get().await?;
        let upstream_request = signed_request(&proxy.upstream, &credentials, SystemTime::now(), &parts.method, path_and_query, &headers, body)?;
        let response = proxy.client.request(upstream_request).await.with_context(|| format!("could not reach {}", proxy.upstream.url()))?;
        let (mut head, body) = response.into_parts();
        let body = body.collect().await.context("the Function URL's answer broke off")?.to_bytes();
        for hop in [http::header::CONNECTION, http::header::TRANSFER_ENCODING, http::header::CONTENT_LENGTH] {
            head.headers.remove(hop);
        }
        anyhow::Ok(http::Response::from_parts(head, Full::new(body)))
    }
    .await;
    let response = result.unwrap_or_else(|e| answer(502, &format!("{e:#}")));
    eprintln!("{} {path_and_query} → {} ({} ms)", parts.method, response.status().as_u16(), started.elapsed().as_millis());
    response
}

/// Opens `url` in the desktop's browser when there is one; says so otherwise.
pub fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if std::process::Command::new(opener).arg(url).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().is_err() {
        eprintln!("no browser to open ({opener} not found): open {url} yourself");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(url: &str) -> Upstream {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        Upstream::new(url, "eu-west-1", SharedCredentialsProvider::new(credentials)).unwrap()
    }

    #[test]
    fn a_call_goes_under_the_function_url_signed_for_lambda_with_its_body_hash() {
        let up = upstream("https://abc.lambda-url.eu-west-1.on.aws/");
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "test");
        let body = Bytes::from_static(br#"{"problem":{}}"#);
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_633_600);
        let request = signed_request(&up, &credentials, at, &http::Method::POST, "/runs?x=1", &[("content-type".into(), "application/json".into())], body).unwrap();
        assert_eq!(request.uri().to_string(), "https://abc.lambda-url.eu-west-1.on.aws/runs?x=1");
        let header = |n: &str| request.headers().get(n).unwrap().to_str().unwrap().to_owned();
        let authorization = header("authorization");
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251202/eu-west-1/lambda/aws4_request"), "{authorization}");
        assert!(authorization.contains("content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token"), "{authorization}");
        assert_eq!(header("x-amz-content-sha256"), sha256_hex(br#"{"problem":{}}"#));
        assert_eq!(header("x-amz-security-token"), "token");
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_url_with_a_path_keeps_it_and_a_non_url_is_refused() {
        let up = upstream("http://127.0.0.1:9000/base/");
        assert_eq!(up.url(), "http://127.0.0.1:9000/base/");
        let credentials = Credentials::new("A", "s", None, None, "test");
        let request = signed_request(&up, &credentials, SystemTime::now(), &http::Method::GET, "/runs", &[], Bytes::new()).unwrap();
        assert_eq!(request.uri().to_string(), "http://127.0.0.1:9000/base/runs");
        let error = Upstream::new("not a url", "eu-west-1", SharedCredentialsProvider::new(credentials)).err().unwrap();
        assert!(error.to_string().contains("\"not a url\""), "{error}");
    }
}
