//! The flexible job-shop problem (FJSP): each operation runs on one machine
//! of its own set of alternatives, for a time that depends on the machine.
//! Two input forms, like the job-shop's: JSON alternatives, or the `fjs`
//! text of the published benchmark sets. The answer has the job-shop
//! result's shape, with the chosen machine and its duration per operation.

use crate::jobshop::{JobShop, MAX_DURATION, MAX_JOBS, MAX_MACHINES, MAX_OPERATIONS, Operation, ProblemError, check_job_counts, err};
use serde::{Deserialize, Serialize};

/// Alternatives over all operations, past which a request is refused: each
/// costs the search about as much as an operation of a job-shop.
pub const MAX_ALTERNATIVES: usize = MAX_OPERATIONS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlexibleOperation {
    pub alternatives: Vec<Operation>,
}

impl FlexibleOperation {
    /// The duration on `machine`, when the operation may run there.
    pub fn duration_on(&self, machine: usize) -> Option<i64> {
        self.alternatives.iter().find(|a| a.machine == machine).map(|a| a.duration)
    }

    pub fn min_duration(&self) -> i64 {
        self.alternatives.iter().map(|a| a.duration).min().unwrap_or(0)
    }
}

/// A validated instance: every operation has at least one alternative, each
/// on an existing machine and named once, and no duration is negative. A
/// job may visit a machine more than once (published instances do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlexibleJobShop {
    pub machines: usize,
    pub jobs: Vec<Vec<FlexibleOperation>>,
}

impl FlexibleJobShop {
    /// Builds and validates an instance; `machines` is the declared machine
    /// count when the input has one, otherwise the highest machine used + 1.
    pub fn new(jobs: Vec<Vec<FlexibleOperation>>, machines: Option<usize>) -> Result<Self, ProblemError> {
        check_job_counts(&jobs)?;
        let alternatives: usize = jobs.iter().flatten().map(|o| o.alternatives.len()).sum();
        if alternatives > MAX_ALTERNATIVES {
            return Err(err("problem.jobs", format!("{alternatives} machine alternatives in all; at most {MAX_ALTERNATIVES} are accepted")));
        }
        // Empty jobs and operations first: they would otherwise be reported
        // as a machine count of 0.
        for (j, job) in jobs.iter().enumerate() {
            if job.is_empty() {
                return Err(err(format!("problem.jobs[{j}]"), "job has no operations"));
            }
            if let Some(k) = job.iter().position(|o| o.alternatives.is_empty()) {
                return Err(err(format!("problem.jobs[{j}][{k}].alternatives"), "the operation has no alternatives: give at least one {\"machine\", \"duration\"}"));
            }
        }
        let used = jobs.iter().flatten().flat_map(|o| &o.alternatives).map(|a| a.machine + 1).max().unwrap_or(0);
        let machines = machines.unwrap_or(used);
        if machines == 0 || machines > MAX_MACHINES {
            return Err(err("problem.machines", format!("{machines} machines; between 1 and {MAX_MACHINES} are accepted")));
        }
        for (j, job) in jobs.iter().enumerate() {
            for (k, op) in job.iter().enumerate() {
                let at = format!("problem.jobs[{j}][{k}].alternatives");
                let mut seen = vec![false; machines];
                for (a, alt) in op.alternatives.iter().enumerate() {
                    if alt.machine >= machines {
                        return Err(err(format!("{at}[{a}].machine"), format!("machine {} does not exist: machines are numbered 0 to {}", alt.machine, machines - 1)));
                    }
                    if alt.duration < 0 || alt.duration > MAX_DURATION {
                        return Err(err(format!("{at}[{a}].duration"), format!("duration {} must be between 0 and {MAX_DURATION}", alt.duration)));
                    }
                    if std::mem::replace(&mut seen[alt.machine], true) {
                        return Err(err(format!("{at}[{a}]"), format!("machine {} is named twice among the operation's alternatives", alt.machine)));
                    }
                }
            }
        }
        Ok(Self { machines, jobs })
    }

    pub fn operation_count(&self) -> usize {
        self.jobs.iter().map(Vec::len).sum()
    }

    /// The same problem as a classic job-shop, when it is one: a single
    /// alternative per operation and no job on a machine twice.
    pub fn to_jobshop(&self) -> Option<JobShop> {
        let jobs =
            self.jobs.iter().map(|job| job.iter().map(|o| (o.alternatives.len() == 1).then(|| o.alternatives[0])).collect::<Option<Vec<_>>>()).collect::<Option<Vec<_>>>()?;
        JobShop::new(jobs, Some(self.machines)).ok()
    }

    /// Parses the `fjs` text of the benchmark sets: `n m` (a third number,
    /// the mean alternatives per operation in some files, is ignored), then
    /// one line per job: its operation count, then per operation `k` and
    /// `k` pairs `machine duration`, machines numbered from 0.
    pub fn parse_fjs(text: &str) -> Result<Self, ProblemError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let (hl, header) = lines.next().ok_or_else(|| err("line 1", "empty instance: expected a line `jobs machines`"))?;
        // The third number, where there is one, is a mean (`1.15` in
        // Hurink's files): checked to be a number, then left out.
        let tokens: Vec<&str> = header.split_whitespace().collect();
        if tokens.len() == 3 && tokens[2].parse::<f64>().is_err() {
            return Err(err(format!("line {hl}"), format!("{:?} is not a number", tokens[2])));
        }
        let nums = parse_numbers(hl, &tokens[..tokens.len().min(2)].join(" "))?;
        let (n, m) = match (tokens.len(), &nums[..]) {
            (2 | 3, &[n, m]) => (n, m),
            _ => return Err(err(format!("line {hl}"), format!("expected `jobs machines`, found {} numbers", tokens.len()))),
        };
        let to_count = |v: i64, what: &str| usize::try_from(v).ok().filter(|&c| c > 0).ok_or_else(|| err(format!("line {hl}"), format!("{what} must be positive, found {v}")));
        let (n, m) = (to_count(n, "jobs")?, to_count(m, "machines")?);
        if n > MAX_JOBS || m > MAX_MACHINES {
            return Err(err(format!("line {hl}"), format!("{n}x{m} is larger than {MAX_JOBS} jobs x {MAX_MACHINES} machines")));
        }
        let mut jobs = Vec::with_capacity(n);
        let mut lines_of = Vec::with_capacity(n);
        for j in 0..n {
            let (ln, line) = lines.next().ok_or_else(|| err(format!("line {}", text.lines().count() + 1), format!("truncated: expected {n} job lines, found {j}")))?;
            jobs.push(parse_job(ln, j, &parse_numbers(ln, line)?)?);
            lines_of.push(ln);
        }
        if let Some((ln, _)) = lines.next() {
            return Err(err(format!("line {ln}"), format!("unexpected data after the {n} job lines")));
        }
        // Validate with the job's line number in the message rather than a JSON path.
        Self::new(jobs, Some(m)).map_err(|e| {
            let line = e.location.strip_prefix("problem.jobs[").and_then(|r| r.split(']').next()).and_then(|j| j.parse::<usize>().ok()).and_then(|j| lines_of.get(j));
            match line {
                Some(ln) => err(format!("line {ln}"), e.message),
                None => e,
            }
        })
    }

    /// The problem as `fjs` text.
    pub fn to_fjs(&self) -> String {
        let mut s = format!("{} {}\n", self.jobs.len(), self.machines);
        for job in &self.jobs {
            let mut line = vec![job.len().to_string()];
            for op in job {
                line.push(op.alternatives.len().to_string());
                line.extend(op.alternatives.iter().map(|a| format!("{} {}", a.machine, a.duration)));
            }
            s.push_str(&line.join(" "));
            s.push('\n');
        }
        s
    }
}

/// One job line: the operation count, then per operation its alternatives.
fn parse_job(ln: usize, j: usize, nums: &[i64]) -> Result<Vec<FlexibleOperation>, ProblemError> {
    let at = || format!("line {ln}");
    let mut it = nums.iter().copied();
    let mut count = |what: &str| -> Result<usize, ProblemError> {
        let v = it.next().ok_or_else(|| err(at(), format!("job {j}: the line ends where {what} was expected")))?;
        usize::try_from(v).map_err(|_| err(at(), format!("job {j}: {what} {v} is negative")))
    };
    let ops = count("the operation count")?;
    let mut job = Vec::with_capacity(ops.min(nums.len()));
    for k in 0..ops {
        let alternatives = count(&format!("operation {k}'s alternative count"))?;
        let mut alts = Vec::with_capacity(alternatives.min(nums.len()));
        for _ in 0..alternatives {
            let machine = count(&format!("a machine of operation {k}"))?;
            let duration = i64::try_from(count(&format!("a duration of operation {k}"))?).unwrap_or(i64::MAX);
            alts.push(Operation { machine, duration });
        }
        job.push(FlexibleOperation { alternatives: alts });
    }
    let consumed = nums.len() - it.count();
    if consumed != nums.len() {
        return Err(err(at(), format!("job {j}: {} numbers after its {ops} operations", nums.len() - consumed)));
    }
    Ok(job)
}

fn parse_numbers(line_no: usize, line: &str) -> Result<Vec<i64>, ProblemError> {
    line.split_whitespace().map(|t| t.parse::<i64>().map_err(|_| err(format!("line {line_no}"), format!("{t:?} is not a whole number")))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESIGN_EXAMPLE: &str = "1 3\n2 2 0 3 2 5 1 1 2\n";

    #[test]
    fn parses_the_contract_example_and_round_trips() {
        let p = FlexibleJobShop::parse_fjs(DESIGN_EXAMPLE).unwrap();
        assert_eq!(p.machines, 3);
        assert_eq!(p.jobs[0][0].alternatives, vec![Operation { machine: 0, duration: 3 }, Operation { machine: 2, duration: 5 }]);
        assert_eq!(p.jobs[0][1].duration_on(1), Some(2));
        assert_eq!(p.jobs[0][1].duration_on(0), None);
        assert_eq!(FlexibleJobShop::parse_fjs(&p.to_fjs()).unwrap(), p);
        assert!(p.to_jobshop().is_none(), "two alternatives: not a job-shop");
        // Brandimarte's files carry a third header number.
        assert_eq!(FlexibleJobShop::parse_fjs("1 3 2\n1 1 0 3\n").unwrap().machines, 3);
        assert_eq!(FlexibleJobShop::parse_fjs("1 3 1.15\n1 1 0 3\n").unwrap().machines, 3);
        assert_eq!(FlexibleJobShop::parse_fjs("1 3 x\n1 1 0 3\n").unwrap_err().location, "line 1");
        assert_eq!(FlexibleJobShop::parse_fjs("1 3 2 2\n1 1 0 3\n").unwrap_err().location, "line 1");
    }

    #[test]
    fn a_single_alternative_instance_is_a_jobshop() {
        let p = FlexibleJobShop::parse_fjs("2 2\n2 1 0 3 1 1 2\n2 1 1 4 1 0 1\n").unwrap();
        assert_eq!(p.to_jobshop().unwrap(), JobShop::parse_orlib("2 2\n0 3 1 2\n1 4 0 1\n").unwrap());
        // A job that visits a machine twice is a flexible job-shop only.
        let p = FlexibleJobShop::parse_fjs("1 1\n2 1 0 3 1 0 2\n").unwrap();
        assert!(p.to_jobshop().is_none());
    }

    #[test]
    fn fjs_errors_name_the_line() {
        let cases = [
            ("", "line 1"),
            ("2 2\n1 1 0 3\n", "line 3"),
            ("1 2\n2 1 0 3\n", "line 2"),
            ("1 2\n1 1 0 3 7\n", "line 2"),
            ("1 2\n1 0\n", "line 2"),
            ("1 2\n1 1 2 3\n", "line 2"),
            ("1 2\n1 2 0 3 0 4\n", "line 2"),
            ("1 2\n1 1 0 -3\n", "line 2"),
            ("1 2\n0\n", "line 2"),
            ("1 2\n1 1 0 x\n", "line 2"),
            ("1 2\n1 1 0 3\n9\n", "line 3"),
        ];
        for (text, line) in cases {
            let e = FlexibleJobShop::parse_fjs(text).unwrap_err();
            assert_eq!(e.location, line, "{text:?}: {e}");
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let op = |alts: &[(usize, i64)]| FlexibleOperation { alternatives: alts.iter().map(|&(machine, duration)| Operation { machine, duration }).collect() };
        let e = FlexibleJobShop::new(vec![vec![op(&[(0, 1)]), op(&[])]], None).unwrap_err();
        assert_eq!(e.location, "problem.jobs[0][1].alternatives");
        let e = FlexibleJobShop::new(vec![vec![op(&[(0, 1), (4, 2)])]], Some(3)).unwrap_err();
        assert_eq!(e.location, "problem.jobs[0][0].alternatives[1].machine");
        let e = FlexibleJobShop::new(vec![vec![op(&[(0, -1)])]], None).unwrap_err();
        assert_eq!(e.location, "problem.jobs[0][0].alternatives[0].duration");
        let e = FlexibleJobShop::new(vec![vec![op(&[(0, 1), (0, 2)])]], None).unwrap_err();
        assert_eq!(e.location, "problem.jobs[0][0].alternatives[1]");
        assert_eq!(FlexibleJobShop::new(vec![], None).unwrap_err().location, "problem.jobs");
        assert_eq!(FlexibleJobShop::new(vec![vec![]], None).unwrap_err().location, "problem.jobs[0]");
    }
}
