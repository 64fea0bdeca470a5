use crate::aws::{describe, http_status};
use aws_sdk_s3::primitives::ByteStream;
use job_model::{RunId, StatusDoc, keys};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("s3 {op} s3://{bucket}/{key} failed: {message}")]
    S3 { op: &'static str, bucket: String, key: String, message: String },
    #[error("s3://{bucket}/{key} is not a valid document: {message}")]
    Corrupt { bucket: String, key: String, message: String },
    #[error("s3://{bucket}/{key} kept changing under us: gave up after {attempts} conditional writes")]
    Contended { bucket: String, key: String, attempts: u32 },
}

/// What an update closure decides after seeing the current document.
pub enum Update {
    Write(StatusDoc),
    /// Leave the document as it is (the job moved on, or nothing to do).
    Keep,
}

#[derive(Debug)]
pub enum UpdateOutcome {
    Written(StatusDoc),
    Kept(StatusDoc),
    NotFound,
}

#[derive(Clone, Debug)]
pub struct Store {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

/// A conditional write lost its race (412), or S3 saw a concurrent one (409).
fn lost_race(status: Option<u16>) -> bool {
    matches!(status, Some(412 | 409))
}

const MAX_UPDATE_ATTEMPTS: u32 = 16;

impl Store {
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { s3, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn s3_error(&self, op: &'static str, key: &str, e: &(dyn std::error::Error + 'static)) -> StoreError {
        StoreError::S3 { op, bucket: self.bucket.clone(), key: key.to_owned(), message: describe(e) }
    }

    /// Writes `body` only if nothing is at `key`; `false` if something was.
    pub async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<bool, StoreError> {
        let r = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if lost_race(http_status(&e)) => Ok(false),
            Err(e) => Err(self.s3_error("PutObject", key, &e)),
        }
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.s3_error("PutObject", key, &e))
    }

    /// The object and its ETag, or `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        let r = self.s3.get_object().bucket(&self.bucket).key(key).send().await;
        match r {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_owned();
                let body = out.body.collect().await.map_err(|e| self.s3_error("GetObject", key, &e))?;
                Ok(Some((body.to_vec(), etag)))
            }
            Err(e) if http_status(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.s3_error("GetObject", key, &e)),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.s3.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(e) if http_status(&e) == Some(404) => Ok(false),
            Err(e) => Err(self.s3_error("HeadObject", key, &e)),
        }
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.get(key).await? {
            None => Ok(None),
            Some((bytes, _)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt { bucket: self.bucket.clone(), key: key.to_owned(), message: e.to_string() }),
        }
    }

    /// Creates the status document; `false` if the run id is already taken.
    pub async fn create_status(&self, doc: &StatusDoc) -> Result<bool, StoreError> {
        self.put_if_absent(&keys::status(&doc.run_id), doc.to_json()).await
    }

    pub async fn read_status(&self, run_id: &RunId) -> Result<Option<(StatusDoc, String)>, StoreError> {
        let key = keys::status(run_id);
        match self.get(&key).await? {
            None => Ok(None),
            Some((bytes, etag)) => serde_json::from_slice(&bytes)
                .map(|doc| Some((doc, etag)))
                .map_err(|e| StoreError::Corrupt { bucket: self.bucket.clone(), key, message: e.to_string() }),
        }
    }

    /// Read, decide, write with `If-Match`; when another writer got there
    /// first, read again and let `decide` look at what it wrote.
    pub async fn update_status(&self, run_id: &RunId, mut decide: impl FnMut(&StatusDoc) -> Update) -> Result<UpdateOutcome, StoreError> {
        let key = keys::status(run_id);
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let Some((current, etag)) = self.read_status(run_id).await? else {
                return Ok(UpdateOutcome::NotFound);
            };
            let next = match decide(&current) {
                Update::Keep => return Ok(UpdateOutcome::Kept(current)),
                Update::Write(next) => next,
            };
            let r = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .if_match(&etag)
                .content_type("application/json")
                .body(ByteStream::from(next.to_json()))
                .send()
                .await;
            match r {
                Ok(_) => return Ok(UpdateOutcome::Written(next)),
                Err(e) if lost_race(http_status(&e)) => continue,
                Err(e) => return Err(self.s3_error("PutObject", &key, &e)),
            }
        }
        Err(StoreError::Contended { bucket: self.bucket.clone(), key, attempts: MAX_UPDATE_ATTEMPTS })
    }

    /// The newest `limit` status documents, for `deploy status`.
    pub async fn recent_statuses(&self, limit: usize) -> Result<Vec<StatusDoc>, StoreError> {
        let mut found = Vec::new();
        let mut pages = self.s3.list_objects_v2().bucket(&self.bucket).prefix(keys::JOBS_PREFIX).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.s3_error("ListObjectsV2", keys::JOBS_PREFIX, &e))?;
            for obj in page.contents() {
                if let (Some(key), Some(modified)) = (obj.key(), obj.last_modified())
                    && let Some(run_id) = keys::run_id_of_status_key(key)
                {
                    found.push((modified.secs(), run_id));
                }
            }
        }
        found.sort_by(|a, b| b.0.cmp(&a.0));
        let mut docs = Vec::new();
        for (_, run_id) in found.into_iter().take(limit) {
            if let Some((doc, _)) = self.read_status(&run_id).await? {
                docs.push(doc);
            }
        }
        Ok(docs)
    }
}
