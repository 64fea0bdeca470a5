//! The task's own ARN, from the ECS task metadata endpoint v4 (set by the
//! agent in `ECS_CONTAINER_METADATA_URI_V4`), recorded in the status so an
//! operator can go from a job to its task and logs.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub async fn task_arn() -> Option<String> {
    let base = std::env::var("ECS_CONTAINER_METADATA_URI_V4").ok()?;
    match tokio::time::timeout(std::time::Duration::from_secs(2), fetch(&format!("{base}/task"))).await {
        Ok(Ok(body)) => serde_json::from_str::<serde_json::Value>(&body).ok()?.get("TaskARN")?.as_str().map(str::to_owned),
        Ok(Err(e)) => {
            tracing::warn!("task metadata unavailable: {e}");
            None
        }
        Err(_) => {
            tracing::warn!("task metadata endpoint did not answer in 2 s");
            None
        }
    }
}

/// A plain HTTP/1.0 GET: the endpoint is link-local HTTP, and a full client
/// would be the largest dependency of the worker for this one call.
async fn fetch(url: &str) -> std::io::Result<String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| std::io::Error::other(format!("{url} is not an http:// URL")))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let addr = if host.contains(':') { host.to_owned() } else { format!("{host}:80") };
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| std::io::Error::other("malformed HTTP response"))?;
    if head.split_whitespace().nth(1) != Some("200") {
        return Err(std::io::Error::other(format!("metadata endpoint answered {}", head.lines().next().unwrap_or_default())));
    }
    Ok(body.to_owned())
}
