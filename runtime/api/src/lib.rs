//! The API Lambda behind a Function URL (payload format 2.0):
//! `POST /runs`, `GET /runs/{run_id}`, `DELETE /runs/{run_id}` (cancel),
//! `GET /runs/{run_id}/result`, and for people `GET /` (the console) with
//! `GET /runs` (recent jobs).
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod listing;
mod respond;
mod routes;

use job_store::{Store, env};
pub use respond::MAX_BODY_BYTES;
pub use routes::handle;

#[derive(Debug, Clone)]
pub struct Config {
    pub bucket: String,
    pub queue_url: String,
    /// Attempts for jobs whose request does not say (`MAX_ATTEMPTS`).
    pub max_attempts: u32,
}

impl Config {
    pub fn new(bucket: impl Into<String>, queue_url: impl Into<String>) -> Self {
        Self { bucket: bucket.into(), queue_url: queue_url.into(), max_attempts: job_model::lifecycle::DEFAULT_MAX_ATTEMPTS }
    }

    pub fn from_env() -> Result<Self, env::EnvError> {
        Ok(Self {
            bucket: env::required("S3_RESULTS_BUCKET", "the results bucket's name")?,
            queue_url: env::required("SQS_QUEUE_URL", "the job queue's URL")?,
            max_attempts: env::number("MAX_ATTEMPTS", 1, job_model::lifecycle::MAX_ATTEMPTS_CAP)?.unwrap_or(job_model::lifecycle::DEFAULT_MAX_ATTEMPTS),
        })
    }
}

/// Everything a request needs, built once per Lambda instance.
#[derive(Clone)]
pub struct Api {
    pub store: Store,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub max_attempts: u32,
}

impl Api {
    pub fn new(config: &Config, s3: aws_sdk_s3::Client, sqs: aws_sdk_sqs::Client) -> Self {
        Self { store: Store::new(s3, &config.bucket), sqs, queue_url: config.queue_url.clone(), max_attempts: config.max_attempts }
    }
}
