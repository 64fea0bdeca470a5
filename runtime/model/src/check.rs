//! Proves that a job-shop or flexible job-shop answer is a real schedule of
//! its problem: every operation as given (for a flexible one, on one of its
//! alternatives for that machine's duration), each job in order, no machine
//! doing two things at once, and the makespan and optimality claims true.

use crate::flexible::FlexibleJobShop;
use crate::jobshop::{JobShop, JobShopResult, ScheduledOp};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("schedule has {found} jobs; the problem has {expected}")]
    JobCount { expected: usize, found: usize },
    #[error("job {job} has {found} operations in the schedule; the problem has {expected}")]
    OperationCount { job: usize, expected: usize, found: usize },
    #[error("job {job} operation {op} is scheduled as machine {machine} for {duration}; the problem says machine {expected_machine} for {expected_duration}")]
    Mismatch { job: usize, op: usize, machine: usize, duration: i64, expected_machine: usize, expected_duration: i64 },
    #[error("job {job} operation {op} is scheduled on machine {machine} for {duration}; its alternatives are {alternatives}")]
    NotAnAlternative { job: usize, op: usize, machine: usize, duration: i64, alternatives: String },
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
    let sizes: Vec<usize> = problem.jobs.iter().map(Vec::len).collect();
    check_timing(&sizes, problem.machines, result, |j, k, p| {
        let g = problem.jobs[j][k];
        if g.machine != p.machine || g.duration != p.duration {
            return Err(CheckError::Mismatch { job: j, op: k, machine: p.machine, duration: p.duration, expected_machine: g.machine, expected_duration: g.duration });
        }
        Ok(())
    })
}

pub fn check_flexible_schedule(problem: &FlexibleJobShop, result: &JobShopResult) -> Result<(), CheckError> {
    let sizes: Vec<usize> = problem.jobs.iter().map(Vec::len).collect();
    check_timing(&sizes, problem.machines, result, |j, k, p| {
        let op = &problem.jobs[j][k];
        if op.duration_on(p.machine) != Some(p.duration) {
            let alternatives = op.alternatives.iter().map(|a| format!("machine {} for {}", a.machine, a.duration)).collect::<Vec<_>>().join(", ");
            return Err(CheckError::NotAnAlternative { job: j, op: k, machine: p.machine, duration: p.duration, alternatives });
        }
        Ok(())
    })
}

/// What both problems share: the shape, each operation as `given` says
/// (which also keeps every machine in range), then the timing and claims.
fn check_timing(sizes: &[usize], machines: usize, result: &JobShopResult, given: impl Fn(usize, usize, &ScheduledOp) -> Result<(), CheckError>) -> Result<(), CheckError> {
    let schedule = &result.schedule;
    if schedule.len() != sizes.len() {
        return Err(CheckError::JobCount { expected: sizes.len(), found: schedule.len() });
    }
    let mut on_machine: Vec<Vec<(i64, i64, usize)>> = vec![Vec::new(); machines];
    let mut actual = 0;
    for (j, (&size, planned)) in sizes.iter().zip(schedule).enumerate() {
        if size != planned.len() {
            return Err(CheckError::OperationCount { job: j, expected: size, found: planned.len() });
        }
        let mut pred_end = 0;
        for (k, p) in planned.iter().enumerate() {
            given(j, k, p)?;
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

    /// Job 0: machine 0 for 3 or machine 1 for 5, then machine 1 for 2.
    /// Job 1: machine 1 for 4, then machine 0 for 1 or machine 1 for 1.
    fn flexible() -> FlexibleJobShop {
        FlexibleJobShop::parse_fjs("2 2\n2 2 0 3 1 5 1 1 2\n2 1 1 4 2 0 1 1 1\n").unwrap()
    }

    fn flexible_result(ops: [[(usize, i64, i64); 2]; 2], makespan: i64) -> JobShopResult {
        JobShopResult {
            makespan,
            lower_bound: 5,
            optimal: false,
            schedule: ops.iter().map(|job| job.iter().map(|&(machine, start, duration)| ScheduledOp { machine, start, duration }).collect()).collect(),
            solver: SolverInfo { name: "test".into(), elapsed_s: 0.0 },
        }
    }

    #[test]
    fn a_flexible_schedule_may_use_any_alternative() {
        let p = flexible();
        check_flexible_schedule(&p, &flexible_result([[(0, 0, 3), (1, 4, 2)], [(1, 0, 4), (0, 4, 1)]], 6)).unwrap();
        check_flexible_schedule(&p, &flexible_result([[(0, 0, 3), (1, 5, 2)], [(1, 0, 4), (1, 4, 1)]], 7)).unwrap();
    }

    #[test]
    fn rejects_each_kind_of_invalid_flexible_schedule() {
        let p = flexible();
        let check = |ops, makespan| check_flexible_schedule(&p, &flexible_result(ops, makespan));
        // A machine that is not among the operation's alternatives.
        assert!(matches!(check([[(0, 0, 3), (0, 4, 2)], [(1, 0, 4), (0, 6, 1)]], 7), Err(CheckError::NotAnAlternative { job: 0, op: 1, .. })));
        // An alternative's machine with another alternative's duration.
        assert!(matches!(check([[(1, 0, 3), (1, 4, 2)], [(1, 6, 4), (0, 10, 1)]], 11), Err(CheckError::NotAnAlternative { job: 0, op: 0, .. })));
        assert!(matches!(check([[(0, 0, 3), (1, 2, 2)], [(1, 4, 4), (0, 8, 1)]], 9), Err(CheckError::Precedence { job: 0, op: 1, .. })));
        assert!(matches!(check([[(0, 0, 3), (1, 3, 2)], [(1, 0, 4), (0, 4, 1)]], 6), Err(CheckError::Overlap { machine: 1, .. })));
        assert!(matches!(check([[(0, 0, 3), (1, 4, 2)], [(1, 0, 4), (0, 4, 1)]], 5), Err(CheckError::Makespan { claimed: 5, actual: 6 })));
        let mut r = flexible_result([[(0, 0, 3), (1, 4, 2)], [(1, 0, 4), (0, 4, 1)]], 6);
        r.schedule[1].pop();
        assert!(matches!(check_flexible_schedule(&p, &r), Err(CheckError::OperationCount { job: 1, .. })));
        r.schedule.pop();
        assert!(matches!(check_flexible_schedule(&p, &r), Err(CheckError::JobCount { .. })));
        let mut r = flexible_result([[(0, 0, 3), (1, 4, 2)], [(1, 0, 4), (0, 4, 1)]], 6);
        r.optimal = true;
        assert!(matches!(check_flexible_schedule(&p, &r), Err(CheckError::UnprovenOptimal { .. })));
        r.lower_bound = 7;
        assert!(matches!(check_flexible_schedule(&p, &r), Err(CheckError::BoundAboveMakespan { .. })));
    }
}
