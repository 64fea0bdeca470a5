//! One SQS record: from "a message arrived" to "its job has a task", or a
//! clear reason why not yet. A message is only a wake-up for its run id:
//! what to do is decided by the job's status (the lifecycle), so a message
//! delivered twice, re-sent by the reconciler or left over from an earlier
//! attempt is harmless.

use crate::Trigger;
use crate::backoff::backoff_seconds;
use crate::cap::Slots;
use crate::launch::LaunchError;
use aws_lambda_events::event::sqs::SqsMessage;
use job_model::message::MalformedMessage;
use job_model::{ErrorInfo, Event, JobRequest, QueueMessage, Refusal, RunId, State, StatusDoc, keys};
use job_store::Applied;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing more to do for this message: delete it.
    Done(String),
    /// Try again after `delay_s` seconds.
    Retry { delay_s: i32, reason: String },
    /// Never going to work: let it reach the DLQ.
    Malformed { reason: String },
}

/// Why a record is to be tried again.
enum Failure {
    Malformed(MalformedMessage),
    /// Storage or ECS trouble: the next delivery may succeed.
    Transient(String),
}

impl Trigger {
    /// One record; `slots` is the batch's share of the cap on running tasks.
    pub async fn handle_record(&self, record: &SqsMessage, slots: Option<&Slots>) -> Outcome {
        let receive_count: u32 = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
        let body = record.body.as_deref().unwrap_or_default();
        let result = match self.parse(body).await {
            Ok((run_id, inline)) => self.launch(&run_id, inline, slots).await.map_err(|reason| (Some(run_id), Failure::Transient(reason))),
            Err(failure) => Err((None, failure)),
        };
        match result {
            Ok(outcome) => outcome,
            Err((_, Failure::Malformed(m))) => {
                if let Some(run_id) = &m.run_id {
                    let error = ErrorInfo::new("MALFORMED_MESSAGE", m.reason.clone());
                    if let Err(e) = self.fail(run_id, error).await {
                        return Outcome::Retry { delay_s: backoff_seconds(receive_count), reason: format!("could not record FAILED for {run_id}: {e}") };
                    }
                }
                Outcome::Malformed { reason: m.to_string() }
            }
            // The last delivery before the DLQ: the job must not be left
            // STARTING for ever with its message parked there.
            Err((Some(run_id), Failure::Transient(reason))) if self.config.max_receive_count.is_some_and(|max| receive_count >= max) => {
                let error = ErrorInfo::new("LAUNCH_GAVE_UP", format!("the job could not be launched after {receive_count} deliveries; the last error: {reason}"));
                match self.give_up(&run_id, error).await {
                    Ok(done) => Outcome::Malformed { reason: done },
                    Err(e) => Outcome::Retry { delay_s: backoff_seconds(receive_count), reason: format!("{reason}; and could not record FAILED: {e}") },
                }
            }
            Err((_, Failure::Transient(reason))) => Outcome::Retry { delay_s: backoff_seconds(receive_count), reason },
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

    /// Claims the job's current attempt and starts its task. `Err` is a
    /// reason to try again later (the claim, if taken, says so in the status).
    async fn launch(&self, run_id: &RunId, inline: Option<JobRequest>, slots: Option<&Slots>) -> Result<Outcome, String> {
        if let Some(request) = &inline {
            let bytes = serde_json::to_vec(request).map_err(|e| e.to_string())?;
            self.store.put_if_absent(&keys::input(run_id), bytes).await.map_err(|e| e.to_string())?;
        }
        // The slot is taken before the claim, so that a job waiting for one
        // stays QUEUED; it is given back on every way out but a launch.
        let mut slot = None;
        if let Some(slots) = slots
            && let Some(attempt) = self.would_launch(run_id).await?
        {
            let holder = job_store::SlotHolder { run_id: run_id.clone(), attempt };
            match slots.take(&self.store, &holder).await? {
                Some(k) => slot = Some((attempt, k)),
                None => return self.wait_for_capacity(run_id, slots.reason().await).await,
            }
        }
        let (outcome, task_holds_slot) = self.claim_and_run(run_id, inline.as_ref(), slot.map(|(_, k)| k)).await;
        if let Some((attempt, k)) = slot
            && !task_holds_slot
        {
            self.free_slot(run_id, attempt, k).await;
        }
        outcome
    }

    /// The claim and the launch; also whether a task was started (it then
    /// holds the slot the launch took, until it stops).
    async fn claim_and_run(&self, run_id: &RunId, inline: Option<&JobRequest>, slot: Option<u32>) -> (Result<Outcome, String>, bool) {
        // A job sent straight to the queue by an old producer has no status
        // yet: it gets one (and its place in the active index) here.
        let create = || {
            let doc = StatusDoc::queued(run_id.clone(), job_store::now());
            match inline {
                Some(r) => doc.with_limits(r.time_limit_s, r.max_attempts.unwrap_or(self.config.max_attempts)).with_capacity(r.capacity),
                None => doc,
            }
        };
        let claimed = match self.store.apply_or_create(run_id, &Event::Claim, create).await {
            Ok(Applied::Written(doc)) if doc.state == State::Starting => doc,
            Ok(Applied::Written(doc)) => return (Ok(Outcome::Done(format!("{run_id} is {} ({})", doc.state, reason(&doc)))), false),
            Ok(Applied::Refused(_, Refusal::LaunchInProgress)) => {
                return (Ok(Outcome::Retry { delay_s: 30, reason: format!("{run_id} is being launched by another invocation") }), false);
            }
            Ok(Applied::Refused(_, refusal)) => return (Ok(Outcome::Done(format!("{run_id}: nothing to launch ({refusal})"))), false),
            Ok(Applied::NotFound) => return (Err(format!("the status of {run_id} vanished")), false),
            Err(e) => return (Err(e.to_string()), false),
        };

        let policy = claimed.capacity.map_or(self.config.capacity, |asked| asked.within(self.config.capacity));
        let capacity = job_model::capacity::for_next_attempt(&claimed, policy, self.config.max_spot_interruptions);
        let memory = job_model::capacity::memory_for_next_attempt(&claimed, &self.config.memory_on_oom);
        match self.run_task_with_fallback(run_id, claimed.attempt, claimed.launches, capacity, memory).await {
            Ok((arn, capacity)) => {
                // The task runs whether or not this write lands: it keeps
                // its slot either way (the reconciler frees a slot no
                // attempt recorded).
                let launched = Event::Launched { task_arn: arn.clone(), capacity: Some(capacity), memory_mib: memory, slot };
                if let Err(e) = self.store.apply(run_id, &launched).await {
                    return (Err(e.to_string()), true);
                }
                let memory = memory.map(|m| format!(" with {m} MiB after running out of memory")).unwrap_or_default();
                (Ok(Outcome::Done(format!("{run_id} attempt {} started on {}{memory} as {arn}", claimed.attempt, capacity.as_str()))), true)
            }
            Err(LaunchError::Transient(error)) => {
                // Recorded in the status (still STARTING, the claim released)
                // so operators see why the job waits and the next delivery
                // takes the launch over at once.
                let reason = error.to_string();
                let retry_in = time::Duration::seconds(backoff_seconds(claimed.launches).into());
                match self.store.apply(run_id, &Event::LaunchFailed { error, retry_in: Some(retry_in) }).await {
                    Ok(_) => (Err(reason), false),
                    Err(e) => (Err(format!("{reason}; and could not record it: {e}")), false),
                }
            }
            Err(LaunchError::Permanent(error)) => {
                let reason = error.to_string();
                match self.store.apply(run_id, &Event::LaunchFailed { error, retry_in: None }).await {
                    Ok(_) => (Ok(Outcome::Done(format!("{run_id} FAILED, RunTask can never succeed as deployed: {reason}"))), false),
                    Err(e) => (Err(e.to_string()), false),
                }
            }
        }
    }

    /// The attempt a claim of the job now would launch, if it would (a
    /// duplicate message of a launched or ended job takes no slot).
    async fn would_launch(&self, run_id: &RunId) -> Result<Option<u32>, String> {
        let current = self.store.read_status(run_id).await.map_err(|e| e.to_string())?;
        Ok(match current {
            None => Some(1),
            Some((doc, _)) => doc.apply(&Event::Claim, job_store::now()).ok().filter(|next| next.state == State::Starting).map(|next| next.attempt),
        })
    }

    /// No slot: the job stays as it is, says why, and this message is done
    /// with; a new one, delayed, brings the job back (a retried message
    /// would count towards the DLQ).
    async fn wait_for_capacity(&self, run_id: &RunId, reason: String) -> Result<Outcome, String> {
        let event = Event::Waiting { reason: reason.clone(), retry_in: crate::cap::WAIT };
        let applied = self.store.apply_or_create(run_id, &event, || StatusDoc::queued(run_id.clone(), job_store::now())).await.map_err(|e| e.to_string())?;
        if let Applied::Written(doc) = &applied {
            self.store.enter_waiting_line(doc).await;
        }
        self.wake_up(run_id, crate::cap::WAIT).await?;
        Ok(Outcome::Done(format!("{run_id}: {reason}; looked at again in {} s", crate::cap::WAIT.whole_seconds())))
    }

    /// Fails a job whose launch kept failing, unless something else holds it
    /// (a launch in progress, a task): that one will end it.
    async fn give_up(&self, run_id: &RunId, error: ErrorInfo) -> Result<String, String> {
        let now = job_store::now();
        let applied = self
            .store
            .apply_with(run_id, |doc| {
                let waiting = matches!(doc.state, State::Queued | State::Starting) && doc.task_arn.is_none() && doc.claimed_until.is_none_or(|t| t <= now);
                waiting.then(|| Event::Failed { error: error.clone() })
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(match applied {
            Applied::Written(_) => format!("{run_id} FAILED ({error}); its message goes to the DLQ"),
            Applied::Refused(doc, _) => format!("{run_id} is {} and held elsewhere; its message goes to the DLQ", doc.state),
            Applied::NotFound => format!("{run_id} has no status; its message goes to the DLQ"),
        })
    }

    /// Ends a job as FAILED, creating its status if it never had one.
    pub(crate) async fn fail(&self, run_id: &RunId, error: ErrorInfo) -> Result<(), String> {
        let event = Event::Failed { error };
        self.store.apply_or_create(run_id, &event, || StatusDoc::queued(run_id.clone(), job_store::now())).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

fn reason(doc: &StatusDoc) -> String {
    doc.error.as_ref().map_or_else(|| "no error".into(), ToString::to_string)
}
