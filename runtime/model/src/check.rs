//! Proves that a job-shop answer is a real schedule of its problem: every
//! operation as given, each job in order, no machine doing two things at once,
//! and the makespan and optimality claims true.

use crate::jobshop::{JobShop, JobShopResult};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("schedule has {found} jobs; the problem has {expected}")]
    JobCount { expected: usize, found: usize },
    #[error("job {job} has {found} operations in the schedule; the problem has {expected}")]
    OperationCount { job: usize, expected: usize, found: usize },
    #[error("job {job} operation {op} is scheduled as machine {machine} for {duration}; the problem says machine {expected_machine} for {expected_duration}")]
    Mismatch { job: usize, op: usize, machine: usize, duration: i64, expected_machine: usize, expected_duration: i64 },
    #[error("job {job} operation {op} starts at {start}, before time 0")]
    NegativeStart { job: usize, op: usize, start: i64 },
    #[error("job {job} operation {op} starts at {start}, before its predecessor ends at {pred_end}")]
    Precedence { job: usize, op: usize, start: i64, pred_end: i64 },
    #[error("machine {machine} runs job {a} and job {b} at the same time (from {at})")]
    Overlap { machine: usize, a: usize, b: usize, at: i64 },
    #[error("claimed makespan {claimed}; the schedule ends at {actual}")]
    Makespan { claimed: i64, actual: i64 },
    #[error("claimed lower bound {lower_bound} is above the makespan {makespan}")]
    BoundAboveMakespan { lower_bound: i64, makespan: i64 },
    #[error("claimed optimal, but the lower bound {lower_bound} is below the makespan {makespan}")]
    UnprovenOptimal { lower_bound: i64, makespan: i64 },
}

pub fn check_schedule(problem: &JobShop, result: &JobShopResult) -> Result<(), CheckError> {
    let schedule = &result.schedule;
    if schedule.len() != problem.jobs.len() {
        return Err(CheckError::JobCount { expected: problem.jobs.len(), found: schedule.len() });
    }
    let mut on_machine: Vec<Vec<(i64, i64, usize)>> = vec![Vec::new(); problem.machines];
    let mut actual = 0;
    for (j, (given, planned)) in problem.jobs.iter().zip(schedule).enumerate() {
        if given.len() != planned.len() {
            return Err(CheckError::OperationCount { job: j, expected: given.len(), found: planned.len() });
        }
        let mut pred_end = 0;
        for (k, (g, p)) in given.iter().zip(planned).enumerate() {
            if g.machine != p.machine || g.duration != p.duration {
                return Err(CheckError::Mismatch { job: j, op: k, machine: p.machine, duration: p.duration, expected_machine: g.machine, expected_duration: g.duration });
            }
            if p.start < 0 {
                return Err(CheckError::NegativeStart { job: j, op: k, start: p.start });
            }
            if p.start < pred_end {
                return Err(CheckError::Precedence { job: j, op: k, start: p.start, pred_end });
            }
            pred_end = p.start + p.duration;
            on_machine[p.machine].push((p.start, pred_end, j));
        }
        actual = actual.max(pred_end);
    }
    for (m, ops) in on_machine.iter_mut().enumerate() {
        ops.sort_unstable();
        if let Some(w) = ops.windows(2).find(|w| w[1].0 < w[0].1) {
            return Err(CheckError::Overlap { machine: m, a: w[0].2, b: w[1].2, at: w[1].0 });
        }
    }
    if result.makespan != actual {
        return Err(CheckError::Makespan { claimed: result.makespan, actual });
    }
    if result.lower_bound > result.makespan {
        return Err(CheckError::BoundAboveMakespan { lower_bound: result.lower_bound, makespan: result.makespan });
    }
    if result.optimal && result.lower_bound != result.makespan {
        return Err(CheckError::UnprovenOptimal { lower_bound: result.lower_bound, makespan: result.makespan });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobshop::{ScheduledOp, SolverInfo};

    fn problem() -> JobShop {
        JobShop::parse_orlib("2 2\n0 3 1 2\n1 4 0 1\n").unwrap()
    }

    fn result(starts: [[i64; 2]; 2], makespan: i64) -> JobShopResult {
        let p = problem();
        JobShopResult {
            makespan,
            lower_bound: 6,
            optimal: makespan == 6,
            schedule: p
                .jobs
                .iter()
                .zip(starts)
                .map(|(job, s)| job.iter().zip(s).map(|(o, start)| ScheduledOp { machine: o.machine, start, duration: o.duration }).collect())
                .collect(),
            solver: SolverInfo { name: "test".into(), elapsed_s: 0.0 },
        }
    }

    #[test]
    fn accepts_the_contract_example() {
        // DESIGN.md's example claims makespan 7 for these starts; they end at 6.
        check_schedule(&problem(), &result([[0, 4], [0, 4]], 6)).unwrap();
        assert_eq!(check_schedule(&problem(), &result([[0, 4], [0, 4]], 7)), Err(CheckError::Makespan { claimed: 7, actual: 6 }));
    }

    #[test]
    fn rejects_each_kind_of_lie() {
        let p = problem();
        assert!(matches!(check_schedule(&p, &result([[0, 2], [0, 4]], 6)), Err(CheckError::Precedence { .. })));
        assert!(matches!(check_schedule(&p, &result([[2, 5], [0, 4]], 7)), Err(CheckError::Overlap { machine: 0, .. })));
        assert!(matches!(check_schedule(&p, &result([[0, 4], [0, 4]], 5)), Err(CheckError::Makespan { .. })));
        check_schedule(&p, &result([[0, 5], [0, 4]], 7)).unwrap();
        let mut r = result([[0, 4], [0, 4]], 6);
        r.schedule[1][0].duration = 1;
        assert!(matches!(check_schedule(&p, &r), Err(CheckError::Mismatch { .. })));
        r = result([[0, 4], [0, 4]], 6);
        r.schedule.pop();
        assert!(matches!(check_schedule(&p, &r), Err(CheckError::JobCount { .. })));
        r = result([[0, 4], [0, 4]], 6);
        r.lower_bound = 8;
        assert!(matches!(check_schedule(&p, &r), Err(CheckError::BoundAboveMakespan { .. })));
        r = result([[0, 6], [0, 4]], 8);
        r.lower_bound = 6;
        r.optimal = true;
        assert!(matches!(check_schedule(&p, &r), Err(CheckError::UnprovenOptimal { .. })));
    }
}
