//! The legacy mode: long-poll the queue, run each job like a single-run task,
//! keep its message invisible while it runs, delete it at a terminal state.

use crate::Shutdown;
use crate::job::{JobContext, JobEnd, Mode};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use job_model::{ErrorInfo, Event, JobRequest, QueueMessage, StatusDoc};
use job_store::aws::describe;
use std::time::Duration;

const WAIT_TIME_S: i32 = 20;
/// While a job runs, its message is made invisible for this long again and
/// again, so a worker that dies gives its job back within minutes instead of
/// the queue's 12 hours. SQS caps the total at 12 hours from the receive.
const LEASE_S: i32 = 15 * 60;
const HEARTBEAT: Duration = Duration::from_secs(5 * 60);

pub async fn run(ctx: &JobContext, sqs: aws_sdk_sqs::Client, queue_url: &str, shutdown: &Shutdown) -> anyhow::Result<()> {
    tracing::info!(queue_url, "polling");
    while !shutdown.requested() {
        // Not abandoned on SIGTERM: SQS would still deliver to the dropped
        // long poll and hide those messages for the queue's 12 hours. The
        // receive finishes (at most 20 s) and what it got is handed back.
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(WAIT_TIME_S)
            .max_number_of_messages(1)
            // Not the queue's 12 hours: a receive whose answer is lost (an
            // SDK retry after a timeout) hides its message for one lease.
            .visibility_timeout(LEASE_S)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        if shutdown.requested() {
            for m in received.iter().flat_map(|out| out.messages()) {
                if let Some(handle) = m.receipt_handle() {
                    let _ = sqs.change_message_visibility().queue_url(queue_url).receipt_handle(handle).visibility_timeout(0).send().await;
                }
            }
            break;
        }
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::error!("receive from {queue_url} failed: {}; retrying in 5 s", describe(&e));
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        for message in messages {
            let (Some(handle), body) = (message.receipt_handle().map(str::to_owned), message.body().unwrap_or_default()) else { continue };
            let delete = handle_message(ctx, &sqs, queue_url, &handle, body, shutdown).await;
            let next = if delete {
                sqs.delete_message().queue_url(queue_url).receipt_handle(&handle).send().await.map(|_| ()).map_err(|e| describe(&e))
            } else {
                sqs.change_message_visibility().queue_url(queue_url).receipt_handle(&handle).visibility_timeout(0).send().await.map(|_| ()).map_err(|e| describe(&e))
            };
            if let Err(e) = next {
                tracing::error!("could not {} the message: {e}", if delete { "delete" } else { "release" });
            }
        }
    }
    tracing::info!("stopped polling");
    Ok(())
}

/// Runs the message's job; `true` when the message is done with.
async fn handle_message(ctx: &JobContext, sqs: &aws_sdk_sqs::Client, queue_url: &str, handle: &str, body: &str, shutdown: &Shutdown) -> bool {
    let message = match QueueMessage::parse(body) {
        Ok(m) => m,
        Err(malformed) => {
            // Released at once: after maxReceiveCount receives it is in the DLQ.
            if let Some(run_id) = &malformed.run_id {
                fail(ctx, run_id, ErrorInfo::new("MALFORMED_MESSAGE", malformed.reason.clone())).await;
            }
            tracing::error!("{malformed}");
            return false;
        }
    };
    let run_id = message.run_id;
    let inline = match message.request.map(JobRequest::from_value).transpose() {
        Ok(r) => r.map(|mut r| {
            r.run_id = Some(run_id.clone());
            r
        }),
        Err(e) => {
            fail(ctx, &run_id, ErrorInfo::new("MALFORMED_MESSAGE", format!("invalid job request: {e}"))).await;
            return false;
        }
    };
    let heartbeat = {
        let (sqs, url, handle) = (sqs.clone(), queue_url.to_owned(), handle.to_owned());
        tokio::spawn(async move {
            loop {
                if let Err(e) = sqs.change_message_visibility().queue_url(&url).receipt_handle(&handle).visibility_timeout(LEASE_S).send().await {
                    tracing::warn!("could not extend the message's visibility: {}", describe(&e));
                }
                tokio::time::sleep(HEARTBEAT).await;
            }
        })
    };
    let end = ctx.run(&run_id, inline, shutdown, Mode::Polling).await;
    heartbeat.abort();
    match end {
        Ok(JobEnd::Finished(_) | JobEnd::AlreadyFinished(_)) => true,
        // Handed back: the next consumer (a poller, or the trigger after a
        // switch to on-demand) runs the job's next attempt from its checkpoint.
        Ok(JobEnd::RunningElsewhere(_) | JobEnd::Interrupted) => false,
        Err(e) => {
            tracing::error!(%run_id, "storage failed, the job goes back to the queue: {e}");
            false
        }
    }
}

async fn fail(ctx: &JobContext, run_id: &job_model::RunId, error: ErrorInfo) {
    let event = Event::Failed { error };
    if let Err(e) = ctx.store.apply_or_create(run_id, &event, || StatusDoc::queued(run_id.clone(), job_store::now())).await {
        tracing::error!(%run_id, "could not record FAILED: {e}");
    }
}
