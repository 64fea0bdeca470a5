//! What each command prints: the same types are `Display` (for people) and
//! `Serialize` (for `--json`).

use crate::apply::{DeployReport, SwitchReport};
use crate::destroy::DestroyReport;
use crate::plan::{Plan, StackChange};
use crate::status::StatusReport;
use std::fmt::{self, Display, Formatter};

impl Display for DeployReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.hotswapped.is_empty() {
            writeln!(f, "hotswapped the code of {} (no change set)", self.hotswapped.join(", "))?;
        } else if self.changed {
            writeln!(f, "deployed stack {} in {} ({})", self.stack, self.region, self.stack_status.as_deref().unwrap_or("?"))?;
            for c in &self.changes {
                writeln!(f, "  {:<8} {:<24} {}", c.action, c.logical_id, c.resource_type)?;
            }
        } else {
            writeln!(f, "no changes: stack {} in {} is up to date", self.stack, self.region)?;
        }
        if !self.uploaded.is_empty() {
            writeln!(f, "uploaded:  {}", self.uploaded.join(", "))?;
        }
        if !self.trigger_env_fixed.is_empty() {
            writeln!(f, "trigger environment corrected: {}", self.trigger_env_fixed.join(", "))?;
        }
        if !self.queue_fixed.is_empty() {
            writeln!(f, "adopted queue set: {}", self.queue_fixed.join(", "))?;
        }
        if let Some(adopted) = describe_adopted(&self.adopted) {
            writeln!(f, "adopted existing: {adopted}")?;
        }
        writeln!(f, "mode:      {}", self.mode)?;
        match &self.api_url {
            Some(url) => writeln!(f, "api:       {url}")?,
            None => writeln!(f, "api:       (no Function URL reported; the local emulator creates none)")?,
        }
        if self.api_public {
            writeln!(f, "           WARNING: the API is PUBLIC (auth NONE): anyone with the URL can submit jobs")?;
        } else {
            writeln!(f, "           auth AWS_IAM: callers sign requests with SigV4")?;
        }
        writeln!(f, "queue:     {}", self.queue_url.as_deref().unwrap_or("?"))?;
        writeln!(f, "bucket:    {}", self.bucket)?;
        writeln!(f, "image:     {}", describe_image(&self.image))?;
        if let Some(td) = &self.task_definition {
            writeln!(f, "           task definition {td}")?;
        }
        writeln!(f, "           repository {}", describe_repository(&self.image_repository))?;
        writeln!(f, "network:   subnets {} / security groups {} (from {})", self.network.subnets.join(","), self.network.security_groups.join(","), self.network.source)?;
        if let Some(s) = &self.legacy_service {
            writeln!(f, "legacy:    desired {} running {}", s.desired, s.running)?;
        }
        for r in &self.roles {
            writeln!(f, "role:      {:<18} {} (inline: {})", r.logical_id, r.role_name, r.inline_policies.join(", "))?;
        }
        Ok(())
    }
}

/// What the deploy takes over from the old architecture instead of making.
fn describe_adopted(adopted: &crate::discover::Existing) -> Option<String> {
    let names: Vec<&str> = [
        (adopted.cluster, "cluster"),
        (adopted.service, "legacy service"),
        (adopted.bucket, "results bucket"),
        (adopted.queue.is_some(), "job queue"),
        (adopted.dead_letter_queue.is_some(), "dead-letter queue"),
    ]
    .into_iter()
    .filter_map(|(yes, what)| yes.then_some(what))
    .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

fn describe_repository(r: &crate::repository::Facts) -> String {
    format!("{}: {}", r.repository, r.owner.describe())
}

/// The image line: pinned and checked, or used as given.
fn describe_image(image: &crate::image::Image) -> String {
    if image.checked { format!("{} (found in ECR, pinned by digest)", image.pinned) } else { format!("{} (not in this account's ECR: not checked)", image.pinned) }
}

impl Display for Plan {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "image: {}", describe_image(&self.image))?;
        writeln!(f, "       repository {}", describe_repository(&self.image_repository))?;
        writeln!(f, "mode now: {}", self.mode)?;
        if let Some(adopted) = describe_adopted(&self.adopted) {
            writeln!(f, "adopts: {adopted} (made outside deploy: used, not made again)")?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        match (&self.stack_change, &self.changes) {
            (StackChange::UpToDate, _) => writeln!(f, "no changes: stack {} in {} is up to date", self.stack, self.region)?,
            (StackChange::Hotswap { functions }, _) => writeln!(f, "hotswap for stack {} in {}: the code of {} (no change set)", self.stack, self.region, functions.join(", "))?,
            (StackChange::ChangeSet { create }, changes) => {
                writeln!(f, "plan for stack {} in {} ({}, not executed):", self.stack, self.region, if *create { "a new stack" } else { "an update" })?;
                for c in changes.iter().flatten() {
                    let replace = match c.replacement.as_deref() {
                        Some("True") => " (REPLACE)",
                        Some("Conditional") => " (may replace)",
                        _ => "",
                    };
                    writeln!(f, "  {:<8} {:<24} {}{replace}", c.action, c.logical_id, c.resource_type)?;
                }
            }
        }
        if matches!(self.stack_change, StackChange::ChangeSet { create: true }) {
            writeln!(f, "settings: all {} new (a new stack; --json lists them)", self.settings.len())?;
        } else if !self.settings.is_empty() {
            writeln!(f, "settings that change:")?;
            for s in &self.settings {
                let used = if s.used_by.is_empty() { String::new() } else { format!("  ({})", s.used_by.join(", ")) };
                writeln!(f, "  {}: {} → {}{used}", s.name, s.before.as_deref().unwrap_or("(none)"), s.after)?;
            }
        }
        for n in &self.needs_confirmation {
            writeln!(f, "needs confirmation: {n}")?;
        }
        if self.steps.is_empty() {
            return writeln!(f, "deploy would do nothing");
        }
        writeln!(f, "deploy would, in order:")?;
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "  {}. {step}", i + 1)?;
        }
        Ok(())
    }
}

impl Display for StatusReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let stage = self.stage.as_deref().map_or_else(String::new, |s| format!(", stage {s}"));
        writeln!(f, "stack:     {} in {} ({}{stage})", self.stack, self.region, self.stack_status.as_deref().unwrap_or("not deployed"))?;
        writeln!(f, "mode:      {}", self.mode)?;
        writeln!(f, "trigger:   {}", self.trigger_state.as_deref().unwrap_or("no event source mapping"))?;
        match &self.legacy_service {
            Some(s) => writeln!(f, "legacy:    desired {} running {} pending {}", s.desired, s.running, s.pending)?,
            None => writeln!(f, "legacy:    no service")?,
        }
        match self.queue {
            Some((visible, in_flight)) => writeln!(f, "queue:     {visible} waiting, {in_flight} in flight")?,
            None => writeln!(f, "queue:     missing")?,
        }
        if let Some(dlq) = self.dead_letter_queue {
            writeln!(f, "dlq:       {dlq}{}", if dlq > 0 { "  (inspect: aws sqs receive-message --queue-url <dlq url>)" } else { "" })?;
        }
        if let Some(url) = &self.api_url {
            writeln!(f, "api:       {url}")?;
        }
        writeln!(f, "tasks:     {} running", self.running_tasks.len())?;
        for t in &self.running_tasks {
            writeln!(
                f,
                "  {}  {}  {}  {}s  {}",
                t.task_arn.rsplit('/').next().unwrap_or_default(),
                t.runs(&self.service),
                t.last_status.as_deref().unwrap_or("?"),
                t.age_s.unwrap_or(0),
                t.started_by.as_deref().unwrap_or("")
            )?;
        }
        if !self.stopped_tasks.is_empty() {
            writeln!(f, "stopped:   {} recently (newest first)", self.stopped_tasks.len())?;
            for t in &self.stopped_tasks {
                writeln!(
                    f,
                    "  {}  {}  {}s ago  {}{}",
                    t.task_arn.rsplit('/').next().unwrap_or_default(),
                    t.runs(&self.service),
                    t.age_s.unwrap_or(0),
                    t.stopped_reason.as_deref().unwrap_or("no reason given"),
                    t.stop_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
                )?;
            }
        }
        if let Some(c) = &self.month_so_far {
            writeln!(
                f,
                "month:     ${:.2} for {} jobs since {} (Spot saved ${:.2}; the old polling service: ${:.2})",
                c.total_usd,
                c.jobs,
                c.since.get(..10).unwrap_or(&c.since),
                c.spot_saved_usd,
                c.polling_service_usd
            )?;
        }
        writeln!(f, "recent jobs:")?;
        for j in &self.recent_jobs {
            writeln!(f, "  {:<40} {:<10} {}{}", j.run_id, j.state, j.updated_at, j.error.as_deref().map(|e| format!("  {e}")).unwrap_or_default())?;
        }
        for what in &self.unreadable {
            writeln!(f, "COULD NOT READ {what}")?;
        }
        Ok(())
    }
}

impl Display for SwitchReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "done:      {step}")?;
        }
        writeln!(f, "mode:      {}", self.mode)?;
        writeln!(f, "trigger:   {}", self.trigger_state.as_deref().unwrap_or("?"))?;
        if let Some(s) = &self.legacy_service {
            writeln!(f, "legacy:    desired {} running {}", s.desired, s.running)?;
        }
        writeln!(f, "run `deploy` to switch back to on-demand")
    }
}

impl Display for DestroyReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "deleted stack {}", self.stack)?;
        if self.results_deleted {
            writeln!(f, "deleted results bucket {}", self.results_bucket)?;
        } else {
            writeln!(f, "kept results bucket {} (pass --delete-results to remove it)", self.results_bucket)?;
        }
        writeln!(f, "kept the worker image repository {} and its images (other stages and rollbacks may pin them)", self.image_repository)
    }
}

impl Display for crate::doctor::DoctorReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use crate::doctor::Outcome;
        writeln!(f, "doctor: stack {} in {}", self.stack, self.region)?;
        for c in &self.checks {
            let mark = match c.outcome {
                Outcome::Pass => "ok  ",
                Outcome::Fail => "FAIL",
                Outcome::Skip => "skip",
            };
            writeln!(f, "  {mark} {:<20} {}", c.id, c.detail)?;
            if let Some(fix) = &c.fix {
                writeln!(f, "       {:<20} fix: {fix}", "")?;
            }
        }
        let failed = self.checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
        if failed == 0 { writeln!(f, "all {} checks passed", self.checks.len()) } else { writeln!(f, "{failed} of {} checks failed", self.checks.len()) }
    }
}
