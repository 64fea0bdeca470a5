//! `deploy cost [--since 30d]`: what the solving cost, from the jobs' own
//! records (each attempt's launch and end, capacity and memory), and what
//! the same period would have cost with the old always-on polling service
//! of the same size.
//!
//! Fargate bills a task from the start of its image pull to its stop, per
//! second with a one-minute minimum; an attempt's record runs from its
//! launch (RunTask) to its end, which is that span or a little more. Prices
//! are `pricing::Prices` (a dated table, or deploy.yaml's `pricing`).

use crate::aws::Aws;
use crate::config::Settings;
use crate::pricing::{self, Prices};
use anyhow::Context;
use job_model::{Capacity, StatusDoc};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Serialize)]
pub struct CostReport {
    pub region: String,
    pub since: String,
    pub until: String,
    pub prices: Prices,
    pub jobs: usize,
    pub attempts: usize,
    pub task_hours: f64,
    pub spot_task_hours: f64,
    pub total_usd: f64,
    pub on_demand_usd: f64,
    pub spot_usd: f64,
    /// What the Spot hours would have cost on-demand, less what they cost.
    pub spot_saved_usd: f64,
    /// One polling task of the same size, every hour of the period.
    pub polling_service_usd: f64,
    pub per_job: Vec<JobCost>,
}

#[derive(Debug, Serialize)]
pub struct JobCost {
    pub run_id: String,
    pub state: String,
    pub attempts: usize,
    pub task_hours: f64,
    pub usd: f64,
}

/// `30d`, `12h`, `90m` as seconds.
pub fn parse_period(s: &str) -> anyhow::Result<i64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n.parse().with_context(|| format!("--since {s:?}: give a number and a unit, e.g. 30d, 12h or 90m"))?;
    let unit = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        _ => anyhow::bail!("--since {s:?}: the unit is d, h or m (e.g. 30d)"),
    };
    // Ten years back is more history than any bucket here holds.
    n.checked_mul(unit).filter(|&secs| secs <= 3650 * 86_400).with_context(|| format!("--since {s:?}: at most 3650d"))
}

/// The billed seconds, vCPU and GB of each attempt of `doc` that ran
/// within the period (clipped to it), with its capacity.
fn attempts_in(doc: &StatusDoc, settings: &Settings, from: OffsetDateTime, to: OffsetDateTime) -> Vec<(f64, f64, f64, Capacity)> {
    let vcpu = f64::from(settings.worker_cpu) / 1024.0;
    doc.attempts
        .iter()
        .filter_map(|a| {
            let start = a.launched_at.or(a.started_at)?.max(from);
            let end = a.ended_at.unwrap_or(to).min(to);
            (end > start).then(|| {
                let seconds = (end - start).as_seconds_f64().max(60.0);
                let gb = f64::from(a.memory_mib.unwrap_or(settings.worker_memory)) / 1024.0;
                (seconds, vcpu, gb, a.capacity.unwrap_or(Capacity::OnDemand))
            })
        })
        .collect()
}

pub fn compute(docs: &[StatusDoc], settings: &Settings, prices: Prices, region: &str, from: OffsetDateTime, to: OffsetDateTime) -> CostReport {
    let cents = |usd: f64| (usd * 100.0).round() / 100.0;
    let mut report = CostReport {
        region: region.to_owned(),
        since: from.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        until: to.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        prices,
        jobs: 0,
        attempts: 0,
        task_hours: 0.0,
        spot_task_hours: 0.0,
        total_usd: 0.0,
        on_demand_usd: 0.0,
        spot_usd: 0.0,
        spot_saved_usd: 0.0,
        polling_service_usd: 0.0,
        per_job: Vec::new(),
    };
    for doc in docs {
        let ran = attempts_in(doc, settings, from, to);
        if ran.is_empty() {
            continue;
        }
        let mut job = JobCost { run_id: doc.run_id.to_string(), state: doc.state.to_string(), attempts: ran.len(), task_hours: 0.0, usd: 0.0 };
        for (seconds, vcpu, gb, capacity) in ran {
            let hours = seconds / 3600.0;
            let on_demand = hours * (vcpu * prices.on_demand.vcpu_hour + gb * prices.on_demand.gb_hour);
            let usd = match capacity {
                Capacity::OnDemand => {
                    report.on_demand_usd += on_demand;
                    on_demand
                }
                Capacity::Spot => {
                    let spot = hours * (vcpu * prices.spot.vcpu_hour + gb * prices.spot.gb_hour);
                    report.spot_usd += spot;
                    report.spot_saved_usd += on_demand - spot;
                    report.spot_task_hours += hours;
                    spot
                }
            };
            job.task_hours += hours;
            job.usd += usd;
            report.attempts += 1;
        }
        report.task_hours += job.task_hours;
        report.total_usd += job.usd;
        report.jobs += 1;
        job.usd = cents(job.usd);
        report.per_job.push(job);
    }
    let period_hours = (to - from).as_seconds_f64() / 3600.0;
    let (vcpu, gb) = (f64::from(settings.worker_cpu) / 1024.0, f64::from(settings.worker_memory) / 1024.0);
    report.polling_service_usd = cents(period_hours * (vcpu * prices.on_demand.vcpu_hour + gb * prices.on_demand.gb_hour));
    for v in [&mut report.total_usd, &mut report.on_demand_usd, &mut report.spot_usd, &mut report.spot_saved_usd] {
        *v = cents(*v);
    }
    report
}

pub async fn cost(aws: &Aws, settings: &Settings, since: &str) -> anyhow::Result<CostReport> {
    let to = OffsetDateTime::now_utc();
    between(aws, settings, to - time::Duration::seconds(parse_period(since)?), to).await
}

/// What the calendar month so far cost (UTC), for `deploy status`'s line.
pub async fn month_so_far(aws: &Aws, settings: &Settings) -> anyhow::Result<CostReport> {
    let to = OffsetDateTime::now_utc();
    let from = to.replace_day(1).map_or(to, |d| d.replace_time(time::Time::MIDNIGHT));
    between(aws, settings, from, to).await
}

async fn between(aws: &Aws, settings: &Settings, from: OffsetDateTime, to: OffsetDateTime) -> anyhow::Result<CostReport> {
    let prices = pricing::prices(settings, &aws.region)?;
    let store = job_store::Store::new(aws.s3.clone(), &settings.names.bucket);
    let docs = store.statuses_since(from.unix_timestamp()).await.with_context(|| format!("could not read the jobs in {}", settings.names.bucket))?;
    Ok(compute(&docs, settings, prices, &aws.region, from, to))
}

impl std::fmt::Display for CostReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "cost in {} from {} to {} ({})", self.region, self.since, self.until, self.prices.source)?;
        writeln!(f, "  {} jobs, {} attempts, {:.2} task-hours ({:.2} on Spot)", self.jobs, self.attempts, self.task_hours, self.spot_task_hours)?;
        writeln!(f, "  solving:  ${:.2} (on-demand ${:.2}, Spot ${:.2}; Spot saved ${:.2})", self.total_usd, self.on_demand_usd, self.spot_usd, self.spot_saved_usd)?;
        writeln!(f, "  the old polling service, same size, always on: ${:.2}", self.polling_service_usd)?;
        for j in self.per_job.iter().take(20) {
            writeln!(f, "  {:<40} {:<10} {} attempt(s) {:>7.3} h  ${:.2}", j.run_id, j.state, j.attempts, j.task_hours, j.usd)?;
        }
        if self.per_job.len() > 20 {
            writeln!(f, "  … {} more (--json lists all)", self.per_job.len() - 20)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use job_model::{ErrorInfo, Event, RunId};
    use time::macros::datetime;

    #[test]
    fn periods_read_as_users_write_them() {
        assert_eq!(parse_period("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_period("12h").unwrap(), 43_200);
        assert!(parse_period("30").unwrap_err().to_string().contains("unit"));
        assert!(parse_period("d").is_err());
        for too_far in ["3651d", "999999999999999d"] {
            assert!(parse_period(too_far).unwrap_err().to_string().contains("at most 3650d"), "{too_far}");
        }
    }

    #[test]
    fn spot_and_on_demand_hours_are_priced_and_compared_with_polling() {
        let settings = crate::config::Settings::resolve(crate::config::RawConfig::default()).unwrap();
        let prices = pricing::prices(&settings, "us-east-1").unwrap();
        let t = datetime!(2026-11-01 0:00 UTC);
        // One job: an hour on Spot, interrupted, then an hour on-demand.
        let mut d = StatusDoc::queued(RunId::parse("j").unwrap(), t).with_limits(7200.0, 3);
        for (at, e) in [
            (0, Event::Claim),
            (0, Event::Launched { task_arn: "t1".into(), capacity: Some(Capacity::Spot), memory_mib: None, slot: None }),
            (0, Event::Started { task_arn: Some("t1".into()), takeover: false, checkpoint: false }),
            (3600, Event::TaskStopped { task_arn: Some("t1".into()), error: ErrorInfo::new("SPOT_INTERRUPTION", "x"), checkpoint: true }),
            (3600, Event::Claim),
            (3600, Event::Launched { task_arn: "t2".into(), capacity: Some(Capacity::OnDemand), memory_mib: None, slot: None }),
            (3600, Event::Started { task_arn: Some("t2".into()), takeover: false, checkpoint: true }),
            (7200, Event::Succeeded { result_key: "k".into(), progress: None }),
        ] {
            d = d.apply(&e, t + time::Duration::seconds(at)).unwrap();
        }
        let r = compute(&[d], &settings, prices, "us-east-1", t, t + time::Duration::days(30));
        // 1 vCPU, 2 GB: on-demand 0.04048 + 2 × 0.004445 = 0.04937 an hour.
        assert_eq!((r.jobs, r.attempts, r.task_hours), (1, 2, 2.0));
        assert_eq!(r.on_demand_usd, 0.05);
        assert!(r.spot_usd < r.on_demand_usd && r.spot_saved_usd > 0.0, "{r:?}");
        assert_eq!(r.polling_service_usd, (720.0_f64 * 0.04937 * 100.0).round() / 100.0);
    }
}
