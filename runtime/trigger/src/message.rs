//! One SQS record: from "a message arrived" to "its job has a task", or a
//! clear reason why not yet.

use crate::Trigger;
use crate::backoff::backoff_seconds;
use crate::launch::Launched;
use aws_lambda_events::event::sqs::SqsMessage;
use job_model::message::MalformedMessage;
use job_model::{ErrorInfo, JobRequest, QueueMessage, RunId, State, StatusDoc, keys};
use job_store::{Update, UpdateOutcome};
use time::Duration;

/// How long a STARTING claim without a task is left to the invocation that
/// wrote it before another may take it over (that one crashed or timed out).
const LAUNCH_LEASE: Duration = Duration::seconds(120);

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing more to do for this message: delete it.
    Done(String),
    /// Try again after `delay_s` seconds.
    Retry { delay_s: i32, reason: String },
    /// Never going to work: let it reach the DLQ.
    Malformed { reason: String },
}

impl Trigger {
    pub async fn handle_record(&self, record: &SqsMessage) -> Outcome {
        let receive_count = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
        let retry = |reason: String| Outcome::Retry { delay_s: backoff_seconds(receive_count), reason };
        let body = record.body.as_deref().unwrap_or_default();
        let (run_id, inline) = match self.parse(body).await {
            Ok(parsed) => parsed,
            Err(Failure::Malformed(m)) => {
                if let Some(run_id) = &m.run_id {
                    let error = ErrorInfo::new("MALFORMED_MESSAGE", m.reason.clone());
                    if let Err(e) = self.fail(run_id, error).await {
                        return retry(format!("could not record FAILED for {run_id}: {e}"));
                    }
                }
                return Outcome::Malformed { reason: m.to_string() };
            }
            Err(Failure::Transient(reason)) => return retry(reason),
        };
        match self.launch(&run_id, inline).await {
            Ok(outcome) => outcome,
            Err(reason) => retry(reason),
        }
    }

    async fn parse(&self, body: &str) -> Result<(RunId, Option<JobRequest>), Failure> {
        let message = QueueMessage::parse(body).map_err(Failure::Malformed)?;
        let run_id = message.run_id;
        let malformed = |reason: String| Failure::Malformed(MalformedMessage { run_id: Some(run_id.clone()), reason });
        match message.request {
            Some(value) => {
                let mut request = JobRequest::from_value(value).map_err(|e| malformed(format!("invalid job request: {e}")))?;
                request.run_id = Some(run_id.clone());
                Ok((run_id, Some(request)))
            }
            None => match self.store.exists(&keys::input(&run_id)).await {
                Ok(true) => Ok((run_id, None)),
                Ok(false) => Err(malformed(format!("the message carries no request and {} does not exist", keys::input(&run_id)))),
                Err(e) => Err(Failure::Transient(e.to_string())),
            },
        }
    }

    async fn launch(&self, run_id: &RunId, inline: Option<JobRequest>) -> Result<Outcome, String> {
        if let Some(request) = inline {
            let bytes = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
            self.store.put_if_absent(&keys::input(run_id), bytes).await.map_err(|e| e.to_string())?;
        }

        // Claim the launch: QUEUED (or an abandoned STARTING) → STARTING.
        let mut busy = None;
        let mut created = false;
        let claim = loop {
            let outcome = self.store.update_status(run_id, |doc| {
                busy = None;
                let now = job_store::now();
                match doc.state {
                    State::Queued => {}
                    State::Starting if doc.task_arn.is_some() => {
                        busy = Some(Outcome::Done(format!("{run_id} already has task {}", doc.task_arn.as_deref().unwrap_or_default())));
                        return Update::Keep;
                    }
                    // A launch that failed (error set) or whose invocation died
                    // (lease over) is taken over; a live one is left alone.
                    State::Starting if doc.error.is_none() && now - doc.updated_at < LAUNCH_LEASE => {
                        busy = Some(Outcome::Retry { delay_s: 30, reason: format!("{run_id} is being launched by another invocation") });
                        return Update::Keep;
                    }
                    State::Starting => {}
                    state => {
                        busy = Some(Outcome::Done(format!("{run_id} is already {state}")));
                        return Update::Keep;
                    }
                }
                let mut next = doc.clone();
                next.transition(State::Starting, now).expect("QUEUED/STARTING → STARTING is forward");
                next.updated_at = now;
                next.error = None;
                Update::Write(next)
            });
            match outcome.await.map_err(|e| e.to_string())? {
                // A job sent straight to the queue (an old producer) has no
                // status yet: create it QUEUED (or find it created meanwhile)
                // and claim again.
                UpdateOutcome::NotFound if !created => {
                    self.store.create_status(&StatusDoc::queued(run_id.clone(), job_store::now())).await.map_err(|e| e.to_string())?;
                    created = true;
                }
                other => break other,
            }
        };
        let claimed = match claim {
            UpdateOutcome::Written(doc) => doc,
            UpdateOutcome::Kept(_) => return Ok(busy.expect("a kept claim says why")),
            UpdateOutcome::NotFound => return Err(format!("status of {run_id} vanished")),
        };

        match self.run_task(run_id, claimed.attempt).await {
            Launched::Task(arn) => {
                self.record(run_id, |doc| {
                    (doc.state == State::Starting && doc.task_arn.is_none()).then(|| {
                        let mut next = doc.clone();
                        next.task_arn = Some(arn.clone());
                        next.error = None;
                        next.updated_at = job_store::now().max(doc.updated_at);
                        next
                    })
                })
                .await?;
                Ok(Outcome::Done(format!("{run_id} started as {arn}")))
            }
            Launched::Failed(error) => {
                // Recorded in the status (still STARTING) so that the next
                // delivery may take the launch over at once, and so operators
                // see why the job waits.
                let reason = error.to_string();
                self.record(run_id, |doc| {
                    (doc.state == State::Starting && doc.task_arn.is_none()).then(|| {
                        let mut next = doc.clone();
                        next.error = Some(error.clone());
                        next.updated_at = job_store::now().max(doc.updated_at);
                        next
                    })
                })
                .await?;
                Err(reason)
            }
        }
    }

    async fn record(&self, run_id: &RunId, mut change: impl FnMut(&StatusDoc) -> Option<StatusDoc>) -> Result<(), String> {
        self.store
            .update_status(run_id, |doc| change(doc).map_or(Update::Keep, Update::Write))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Ends a job as FAILED, creating its status if it never had one.
    pub(crate) async fn fail(&self, run_id: &RunId, error: ErrorInfo) -> Result<(), String> {
        let outcome = self
            .store
            .update_status(run_id, |doc| {
                let mut next = doc.clone();
                match next.fail(error.clone(), job_store::now()) {
                    Ok(()) => Update::Write(next),
                    Err(_) => Update::Keep,
                }
            })
            .await
            .map_err(|e| e.to_string())?;
        if let UpdateOutcome::NotFound = outcome {
            let mut doc = StatusDoc::queued(run_id.clone(), job_store::now());
            doc.fail(error.clone(), job_store::now()).expect("QUEUED → FAILED is forward");
            if !self.store.create_status(&doc).await.map_err(|e| e.to_string())? {
                // Created meanwhile: fail that one instead.
                return Box::pin(self.fail(run_id, error)).await;
            }
        }
        Ok(())
    }
}

enum Failure {
    Malformed(MalformedMessage),
    Transient(String),
}
