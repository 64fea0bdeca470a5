//! `deploy cancel RUN_ID`: the API's `DELETE /runs/{run_id}` for operators,
//! through the same lifecycle event: a job without a task ends CANCELLED at
//! once; a running one is asked to stop and keeps its best schedule (the
//! reconciler stops its task if it does not end within two minutes).

use crate::aws::Aws;
use crate::config::Settings;
use anyhow::Context;
use job_model::{Event, Refusal, RunId};
use job_store::{Applied, Store};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct CancelReport {
    pub run_id: String,
    pub state: String,
    pub cancel_requested: bool,
    pub message: String,
}

impl std::fmt::Display for CancelReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}: {} ({})", self.run_id, self.state, self.message)
    }
}

pub async fn cancel(aws: &Aws, settings: &Settings, run_id: &str) -> anyhow::Result<CancelReport> {
    let run_id = RunId::parse(run_id).with_context(|| format!("{run_id:?} is not a run id"))?;
    let bucket = &settings.names.bucket;
    let store = Store::new(aws.s3.clone(), bucket);
    let checkpoint = store.has_checkpoint(&run_id).await.with_context(|| format!("could not read the results bucket {bucket}"))?;
    let applied = store.apply(&run_id, &Event::CancelRequested { checkpoint }).await.with_context(|| format!("could not update the status of {run_id} in {bucket}"))?;
    let (doc, message) = match applied {
        Applied::Written(doc) if doc.state.is_terminal() => (doc, "cancelled".to_owned()),
        Applied::Written(doc) => (doc, "asked to stop: its worker ends it within seconds, keeping its best schedule".to_owned()),
        Applied::Refused(doc, Refusal::Final(state)) => anyhow::bail!("{run_id} already ended {state} (at {}); there is nothing to cancel", doc.updated_at),
        Applied::Refused(doc, refusal) => anyhow::bail!("{run_id} is {} and cannot be cancelled now: {refusal}", doc.state),
        Applied::NotFound => anyhow::bail!("no run {run_id} in {bucket}: check the run id (and --config for the bucket's name)"),
    };
    Ok(CancelReport { run_id: run_id.to_string(), state: doc.state.to_string(), cancel_requested: doc.cancel_requested, message })
}
