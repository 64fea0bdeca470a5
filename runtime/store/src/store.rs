use crate::aws::{describe, http_status};
use aws_sdk_s3::primitives::ByteStream;
use job_model::{Event, Refusal, RunId, StatusDoc, keys};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("s3 {op} s3://{bucket}/{key} failed: {message}")]
    S3 { op: &'static str, bucket: String, key: String, message: String },
    #[error("s3://{bucket}/{key} is not a valid document: {message}")]
    Corrupt { bucket: String, key: String, message: String },
    #[error("s3://{bucket}/{key} kept changing under us: gave up after {attempts} conditional writes")]
    Contended { bucket: String, key: String, attempts: u32 },
}

/// What applying a lifecycle event did.
#[derive(Debug)]
pub enum Applied {
    Written(StatusDoc),
    /// The event does not apply to the job as it is (shown with the reason).
    Refused(StatusDoc, Refusal),
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
        let r = self.s3.put_object().bucket(&self.bucket).key(key).if_none_match("*").content_type("application/json").body(ByteStream::from(body)).send().await;
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

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.s3.delete_object().bucket(&self.bucket).key(key).send().await.map(|_| ()).map_err(|e| self.s3_error("DeleteObject", key, &e))
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
            Some((bytes, _)) => {
                serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError::Corrupt { bucket: self.bucket.clone(), key: key.to_owned(), message: e.to_string() })
            }
        }
    }

    /// Creates the status document; `false` if the run id is already taken.
    /// A job that has not ended gets its entry in the active index first, so
    /// the reconciler can never miss it (an entry without a status is
    /// removed by the reconciler).
    pub async fn create_status(&self, doc: &StatusDoc) -> Result<bool, StoreError> {
        if !doc.state.is_terminal() {
            self.put(&keys::active(&doc.run_id), Vec::new()).await?;
        }
        self.put_if_absent(&keys::status(&doc.run_id), doc.to_json()).await
    }

    pub async fn read_status(&self, run_id: &RunId) -> Result<Option<(StatusDoc, String)>, StoreError> {
        let key = keys::status(run_id);
        match self.get(&key).await? {
            None => Ok(None),
            Some((bytes, etag)) => {
                serde_json::from_slice(&bytes).map(|doc| Some((doc, etag))).map_err(|e| StoreError::Corrupt { bucket: self.bucket.clone(), key, message: e.to_string() })
            }
        }
    }

    /// Applies a lifecycle event: read, decide (`StatusDoc::apply`), write
    /// with `If-Match`; when another writer got there first, read again and
    /// decide again. A job that ends with its checkpoint as its answer gets
    /// `result.json` before its status says so; a job that ends leaves the
    /// active index.
    pub async fn apply(&self, run_id: &RunId, event: &Event) -> Result<Applied, StoreError> {
        self.apply_with(run_id, |_| Some(event.clone())).await
    }

    /// Like [`Store::apply`], with the event chosen after seeing the current
    /// document (`None`: nothing to do, the document is returned refused as
    /// not applicable).
    pub async fn apply_with(&self, run_id: &RunId, mut event_for: impl FnMut(&StatusDoc) -> Option<Event>) -> Result<Applied, StoreError> {
        let key = keys::status(run_id);
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let Some((current, etag)) = self.read_status(run_id).await? else {
                return Ok(Applied::NotFound);
            };
            let Some(event) = event_for(&current) else {
                let refusal = if current.state.is_terminal() { Refusal::Final(current.state) } else { Refusal::NotApplicable(current.state) };
                return Ok(Applied::Refused(current, refusal));
            };
            let next = match current.apply(&event, crate::now()) {
                Ok(next) => next,
                Err(refusal) => return Ok(Applied::Refused(current, refusal)),
            };
            if next == current {
                return Ok(Applied::Written(next));
            }
            if next.ends_from_checkpoint(&event) {
                self.copy_checkpoint_to_result(run_id).await?;
            }
            let r = self.s3.put_object().bucket(&self.bucket).key(&key).if_match(&etag).content_type("application/json").body(ByteStream::from(next.to_json())).send().await;
            match r {
                Ok(_) => {
                    if next.state.is_terminal() {
                        self.leave_active_index(run_id).await;
                        self.enter_ended_index(&next).await;
                    }
                    return Ok(Applied::Written(next));
                }
                Err(e) if lost_race(http_status(&e)) => continue,
                Err(e) => return Err(self.s3_error("PutObject", &key, &e)),
            }
        }
        Err(StoreError::Contended { bucket: self.bucket.clone(), key, attempts: MAX_UPDATE_ATTEMPTS })
    }

    /// Creates the job's status if it has none (a job put on the queue by an
    /// old producer), then applies `event`.
    pub async fn apply_or_create(&self, run_id: &RunId, event: &Event, create: impl Fn() -> StatusDoc) -> Result<Applied, StoreError> {
        match self.apply(run_id, event).await? {
            Applied::NotFound => {
                self.create_status(&create()).await?;
                self.apply(run_id, event).await
            }
            done => Ok(done),
        }
    }

    /// Removes a job's entry from the active index. Best effort: the
    /// reconciler removes what is left of an ended job.
    pub async fn leave_active_index(&self, run_id: &RunId) {
        let key = keys::active(run_id);
        if let Err(e) = self.s3.delete_object().bucket(&self.bucket).key(&key).send().await {
            tracing::warn!(%run_id, "could not remove {key}: {}", describe(&e));
        }
    }

    /// Records an ended job in the ended index. Best effort: a job missing
    /// there is only missing from the recent-jobs lists.
    async fn enter_ended_index(&self, doc: &StatusDoc) {
        let ms = i64::try_from(doc.updated_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let key = keys::ended(&doc.run_id, ms);
        if let Err(e) = self.put(&key, Vec::new()).await {
            tracing::warn!(run_id = %doc.run_id, "could not write {key}: {e}");
        }
    }

    /// The run ids of the `limit` jobs that ended last, newest first: one
    /// bounded listing of the ended index.
    pub async fn recently_ended(&self, limit: usize) -> Result<Vec<RunId>, StoreError> {
        Ok(self.ended_page(None, limit).await?.0)
    }

    /// At most `limit` keys under `prefix` (after `start_after` when given),
    /// in S3's order, and whether more follow: one ListObjectsV2 call.
    pub(crate) async fn list_page(&self, prefix: &str, start_after: Option<String>, limit: usize) -> Result<(Vec<String>, bool), StoreError> {
        let max = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(max)
            .set_start_after(start_after)
            .send()
            .await
            .map_err(|e| self.s3_error("ListObjectsV2", prefix, &e))?;
        Ok((out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect(), out.is_truncated() == Some(true)))
    }

    /// One page of the ended index, newest first, after `cursor` (the tail
    /// of the last key of the page before, as this returned it), and the
    /// cursor of the next page when there is one.
    pub async fn ended_page(&self, cursor: Option<&str>, limit: usize) -> Result<(Vec<RunId>, Option<String>), StoreError> {
        let (keys, more) = self.list_page(keys::ENDED_PREFIX, cursor.map(|c| format!("{}{c}", keys::ENDED_PREFIX)), limit).await?;
        let next = more.then(|| keys.last().and_then(|k| k.strip_prefix(keys::ENDED_PREFIX)).map(str::to_owned)).flatten();
        Ok((keys.iter().filter_map(|k| keys::run_id_of_ended_key(k)).collect(), next))
    }

    /// The statuses of `run_ids`, read a few at a time (missing ones left
    /// out), in the order given.
    pub async fn read_many(&self, run_ids: Vec<RunId>) -> Result<Vec<StatusDoc>, StoreError> {
        const AT_ONCE: usize = 16;
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
        let mut set = tokio::task::JoinSet::new();
        for (i, run_id) in run_ids.into_iter().enumerate() {
            let (store, limit) = (self.clone(), limit.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (i, store.read_status(&run_id).await)
            });
        }
        let mut docs = Vec::new();
        while let Some(joined) = set.join_next().await {
            let Ok((i, read)) = joined else { continue };
            if let Some((doc, _)) = read? {
                docs.push((i, doc));
            }
        }
        docs.sort_by_key(|(i, _)| *i);
        Ok(docs.into_iter().map(|(_, d)| d).collect())
    }

    /// The run ids in the active index, with when each entry was written.
    pub async fn active_jobs(&self) -> Result<Vec<(RunId, i64)>, StoreError> {
        Ok(self.list(keys::ACTIVE_PREFIX).await?.into_iter().filter_map(|(key, written)| Some((keys::run_id_of_active_key(&key)?, written))).collect())
    }

    /// Every key under `prefix`, with when it was written (Unix seconds).
    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut found = Vec::new();
        let mut pages = self.s3.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.s3_error("ListObjectsV2", prefix, &e))?;
            for obj in page.contents() {
                if let Some(key) = obj.key() {
                    found.push((key.to_owned(), obj.last_modified().map_or(0, |t| t.secs())));
                }
            }
        }
        Ok(found)
    }

    pub async fn has_checkpoint(&self, run_id: &RunId) -> Result<bool, StoreError> {
        self.exists(&keys::checkpoint(run_id)).await
    }

    /// `result.json` from the checkpoint, unless a result is already there.
    async fn copy_checkpoint_to_result(&self, run_id: &RunId) -> Result<(), StoreError> {
        if let Some((bytes, _)) = self.get(&keys::checkpoint(run_id)).await? {
            self.put_if_absent(&keys::result(run_id), bytes).await?;
        }
        Ok(())
    }

    /// The `limit` jobs that started last of those not ended, and the `limit` that ended last, for
    /// `deploy status`: two bounded listings of the indexes, never one of
    /// all of `jobs/`.
    pub async fn recent_statuses(&self, limit: usize) -> Result<Vec<StatusDoc>, StoreError> {
        let mut active = self.active_jobs().await?;
        active.sort_by_key(|(_, written)| std::cmp::Reverse(*written));
        let mut run_ids: Vec<RunId> = active.into_iter().take(limit).map(|(id, _)| id).collect();
        for id in self.recently_ended(limit).await? {
            if !run_ids.contains(&id) {
                run_ids.push(id);
            }
        }
        let mut docs = self.read_many(run_ids).await?;
        docs.sort_by_key(|d| std::cmp::Reverse(d.updated_at));
        Ok(docs)
    }

    /// The jobs that may have run since `since` (Unix seconds): those not
    /// ended, and those that ended since then, read from the two indexes
    /// (the ended index lists newest first, so the listing stops at the
    /// first older entry).
    pub async fn statuses_since(&self, since: i64) -> Result<Vec<StatusDoc>, StoreError> {
        let mut run_ids: Vec<RunId> = self.active_jobs().await?.into_iter().map(|(id, _)| id).collect();
        let since_ms = since.saturating_mul(1000);
        let mut pages = self.s3.list_objects_v2().bucket(&self.bucket).prefix(keys::ENDED_PREFIX).into_paginator().send();
        'pages: while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.s3_error("ListObjectsV2", keys::ENDED_PREFIX, &e))?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                if keys::ended_at_of_key(key).is_some_and(|t| t < since_ms) {
                    break 'pages;
                }
                if let Some(id) = keys::run_id_of_ended_key(key)
                    && !run_ids.contains(&id)
                {
                    run_ids.push(id);
                }
            }
        }
        self.read_many(run_ids).await
    }
}
