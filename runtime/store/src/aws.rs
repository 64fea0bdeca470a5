//! SDK configuration from the standard chain (`AWS_ENDPOINT_URL`,
//! `AWS_PROFILE`, `AWS_REGION`, credentials): the only thing that decides
//! whether a program talks to AWS or to a local emulator.

use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK has no time limit on a call by default: a request the service
/// accepts and never answers would hold a Lambda until its own timeout (and
/// an SQS batch invisible for the queue's 12 hours). Each attempt gets 30 s
/// (more than the polling worker's 20 s long poll), each call 55 s.
pub async fn load() -> SdkConfig {
    let timeouts =
        aws_config::timeout::TimeoutConfig::builder().operation_attempt_timeout(std::time::Duration::from_secs(30)).operation_timeout(std::time::Duration::from_secs(55)).build();
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

/// S3 addresses buckets by host name (`bucket.s3.amazonaws.com`). A custom
/// endpoint (an emulator, MinIO) has no such host names, so path-style is used
/// there and only there; the AWS path is unchanged.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
    aws_sdk_s3::Client::from_conf(s3)
}

#[cfg(feature = "ecs")]
pub use crate::emulator_ecs::ecs_client;

/// The HTTP status of a failed SDK call, when it got that far.
pub fn http_status<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> Option<u16>
where
    R: HttpStatus,
{
    err.raw_response().map(HttpStatus::status_code)
}

pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// An SDK error with its whole cause chain, for messages and logs.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let t = e.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = e.source();
    }
    s
}

/// Received messages as the Lambda SQS event an event source mapping
/// delivers (the official record format): what the local event source
/// feeds the trigger, and what its tests hand it.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str, region: &str) -> serde_json::Value {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, serde_json::Value> =
                m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), serde_json::Value::String(v.clone()))).collect()).unwrap_or_default();
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}
