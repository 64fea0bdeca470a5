//! The job-shop problem and its answer, in the two input forms the API takes
//! (JSON operations, or OR-Library "standard" text) and the result document.

use serde::{Deserialize, Serialize};

/// Sizes past which a request is refused rather than half-solved: they keep a
/// hostile request from costing more than a request of the body-size limit.
pub const MAX_JOBS: usize = 10_000;
pub const MAX_MACHINES: usize = 1_000;
pub const MAX_OPERATIONS: usize = 1_000_000;
pub const MAX_DURATION: i64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub machine: usize,
    pub duration: i64,
}

/// A validated instance: every operation is on an existing machine, no
/// duration is negative, and no job visits a machine twice. Zero durations
/// are allowed: published benchmark instances have them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobShop {
    pub machines: usize,
    pub jobs: Vec<Vec<Operation>>,
}

/// What is wrong with an instance, and where: a JSON path such as
/// `problem.jobs[1][0].machine` or an OR-Library line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ProblemError {
    pub location: String,
    pub message: String,
}

pub(crate) fn err(location: impl Into<String>, message: impl Into<String>) -> ProblemError {
    ProblemError { location: location.into(), message: message.into() }
}

/// The size checks both problems share: at least one job, and no more jobs
/// or operations than the caps.
pub(crate) fn check_job_counts<T>(jobs: &[Vec<T>]) -> Result<(), ProblemError> {
    if jobs.is_empty() {
        return Err(err("problem.jobs", "there are no jobs; give at least one job with one operation"));
    }
    if jobs.len() > MAX_JOBS {
        return Err(err("problem.jobs", format!("{} jobs; at most {MAX_JOBS} are accepted", jobs.len())));
    }
    let ops: usize = jobs.iter().map(Vec::len).sum();
    if ops > MAX_OPERATIONS {
        return Err(err("problem.jobs", format!("{ops} operations; at most {MAX_OPERATIONS} are accepted")));
    }
    Ok(())
}

impl JobShop {
    /// Builds and validates an instance; `machines` is the declared machine
    /// count when the input has one, otherwise the highest machine used + 1.
    pub fn new(jobs: Vec<Vec<Operation>>, machines: Option<usize>) -> Result<Self, ProblemError> {
        check_job_counts(&jobs)?;
        let used = jobs.iter().flatten().map(|o| o.machine + 1).max().unwrap_or(0);
        let machines = machines.unwrap_or(used);
        if machines == 0 || machines > MAX_MACHINES {
            return Err(err("problem.machines", format!("{machines} machines; between 1 and {MAX_MACHINES} are accepted")));
        }
        for (j, job) in jobs.iter().enumerate() {
            if job.is_empty() {
                return Err(err(format!("problem.jobs[{j}]"), "job has no operations"));
            }
            let mut seen = vec![false; machines];
            for (k, op) in job.iter().enumerate() {
                let at = format!("problem.jobs[{j}][{k}]");
                if op.machine >= machines {
                    return Err(err(format!("{at}.machine"), format!("machine {} does not exist: machines are numbered 0 to {}", op.machine, machines - 1)));
                }
                if op.duration < 0 || op.duration > MAX_DURATION {
                    return Err(err(format!("{at}.duration"), format!("duration {} must be between 0 and {MAX_DURATION}", op.duration)));
                }
                if std::mem::replace(&mut seen[op.machine], true) {
                    return Err(err(at, format!("job {j} visits machine {} twice", op.machine)));
                }
            }
        }
        Ok(Self { machines, jobs })
    }

    pub fn operation_count(&self) -> usize {
        self.jobs.iter().map(Vec::len).sum()
    }

    /// Parses the OR-Library "standard" format: `#` comment lines, `n m`, then
    /// one line per job of `m` pairs `machine duration`.
    pub fn parse_orlib(text: &str) -> Result<Self, ProblemError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let (hl, header) = lines.next().ok_or_else(|| err("line 1", "empty instance: expected a line `jobs machines`"))?;
        let nums = parse_numbers(hl, header)?;
        let [n, m] = nums[..] else {
            return Err(err(format!("line {hl}"), format!("expected `jobs machines`, found {} numbers", nums.len())));
        };
        let to_count = |v: i64, what: &str| usize::try_from(v).ok().filter(|&c| c > 0).ok_or_else(|| err(format!("line {hl}"), format!("{what} must be positive, found {v}")));
        let (n, m) = (to_count(n, "jobs")?, to_count(m, "machines")?);
        if n > MAX_JOBS || m > MAX_MACHINES {
            return Err(err(format!("line {hl}"), format!("{n}x{m} is larger than {MAX_JOBS} jobs x {MAX_MACHINES} machines")));
        }
        let mut jobs = Vec::with_capacity(n);
        for j in 0..n {
            let (ln, line) = lines.next().ok_or_else(|| err(format!("line {}", text.lines().count() + 1), format!("truncated: expected {n} job lines, found {j}")))?;
            let nums = parse_numbers(ln, line)?;
            if nums.len() != 2 * m {
                return Err(err(format!("line {ln}"), format!("job {j}: expected {m} `machine duration` pairs ({} numbers), found {} numbers", 2 * m, nums.len())));
            }
            let mut ops = Vec::with_capacity(m);
            for pair in nums.chunks(2) {
                let machine = usize::try_from(pair[0]).map_err(|_| err(format!("line {ln}"), format!("job {j}: machine {} is negative", pair[0])))?;
                ops.push(Operation { machine, duration: pair[1] });
            }
            jobs.push((ln, ops));
        }
        if let Some((ln, _)) = lines.next() {
            return Err(err(format!("line {ln}"), format!("unexpected data after the {n} job lines")));
        }
        // Validate with the job's line number in the message rather than a JSON path.
        let lines_of: Vec<usize> = jobs.iter().map(|(ln, _)| *ln).collect();
        Self::new(jobs.into_iter().map(|(_, ops)| ops).collect(), Some(m)).map_err(|e| {
            let line = e.location.strip_prefix("problem.jobs[").and_then(|r| r.split(']').next()).and_then(|j| j.parse::<usize>().ok()).and_then(|j| lines_of.get(j));
            match line {
                Some(ln) => err(format!("line {ln}"), e.message),
                None => e,
            }
        })
    }

    /// The problem as OR-Library text, the form external tools read.
    pub fn to_orlib(&self) -> String {
        let mut s = format!("{} {}\n", self.jobs.len(), self.machines);
        for job in &self.jobs {
            let line: Vec<String> = job.iter().map(|o| format!("{} {}", o.machine, o.duration)).collect();
            s.push_str(&line.join(" "));
            s.push('\n');
        }
        s
    }
}

fn parse_numbers(line_no: usize, line: &str) -> Result<Vec<i64>, ProblemError> {
    line.split_whitespace().map(|t| t.parse::<i64>().map_err(|_| err(format!("line {line_no}"), format!("{t:?} is not a whole number")))).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledOp {
    pub machine: usize,
    pub start: i64,
    pub duration: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolverInfo {
    pub name: String,
    pub elapsed_s: f64,
}

/// `result.json` for a job-shop job. `schedule[j][k]` is job `j`'s `k`-th
/// operation in the order given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobShopResult {
    pub makespan: i64,
    pub lower_bound: i64,
    pub optimal: bool,
    pub schedule: Vec<Vec<ScheduledOp>>,
    pub solver: SolverInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_orlib_with_comments() {
        let p = JobShop::parse_orlib("# c\n2 2\n0 3 1 2\n\n1 4 0 1\n").unwrap();
        assert_eq!(p.machines, 2);
        assert_eq!(p.jobs[1][0], Operation { machine: 1, duration: 4 });
        assert_eq!(JobShop::parse_orlib(&p.to_orlib()).unwrap(), p);
    }

    #[test]
    fn orlib_errors_name_the_line() {
        let cases = [
            ("", "line 1"),
            ("2 2\n0 3 1 2\n", "line 3"),
            ("2 2\n0 3 1 2\n1 4 0\n", "line 3"),
            ("2 2\n0 3 0 2\n1 4 0 1\n", "line 2"),
            ("2 2\n0 3 1 -2\n1 4 0 1\n", "line 2"),
            ("2 2\n0 3 1 2\n1 4 2 1\n", "line 3"),
            ("2 2\n0 3 1 x\n1 4 0 1\n", "line 2"),
            ("2 2 2\n", "line 1"),
            ("2 2\n0 3 1 2\n1 4 0 1\n5\n", "line 4"),
        ];
        for (text, line) in cases {
            let e = JobShop::parse_orlib(text).unwrap_err();
            assert_eq!(e.location, line, "{text:?}: {e}");
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let op = |machine, duration| Operation { machine, duration };
        let e = JobShop::new(vec![vec![op(0, 1)], vec![op(3, 1)]], Some(2)).unwrap_err();
        assert_eq!(e.location, "problem.jobs[1][0].machine");
        let e = JobShop::new(vec![vec![op(0, -1)]], None).unwrap_err();
        assert_eq!(e.location, "problem.jobs[0][0].duration");
        assert!(JobShop::new(vec![], None).is_err());
        assert!(JobShop::new(vec![vec![]], None).is_err());
    }
}
