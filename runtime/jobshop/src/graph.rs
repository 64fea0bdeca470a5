//! An instance as the searches see it: operations flattened in job order,
//! each with its job neighbours (and, for a job-shop, its machine and
//! duration), and the conversions between a schedule (start times) and
//! machine sequences.

use crate::schedule::Schedule;
use crate::timing::State;
use job_model::JobShop;

pub(crate) const NONE: usize = usize::MAX;

/// An operation as the timing's loops index it: `NONE` becomes `n`, a
/// place whose end and tail are always 0.
pub(crate) fn at(o: usize, n: usize) -> u32 {
    u32::try_from(if o == NONE { n } else { o }).expect("fewer than 2^32 operations")
}

/// [`at`]'s inverse.
pub(crate) fn op(x: u32, n: usize) -> usize {
    if x as usize == n { NONE } else { x as usize }
}

/// The instance, flattened: operation `o` of job `job[o]`. `machine` and
/// `dur` are a job-shop's fixed assignment; a flexible job-shop's search
/// keeps its own in each [`State`] and leaves them empty here.
pub struct Graph {
    dur: Vec<i64>,
    machine: Vec<usize>,
    pub(crate) job: Vec<usize>,
    pub(crate) job_prev: Vec<usize>,
    pub(crate) job_next: Vec<usize>,
    pub(crate) first_of_job: Vec<usize>,
    pub(crate) machines: usize,
    /// `job_prev` and `job_next` for the timing's loops: `n` (the number
    /// of operations) where those say `NONE`, see [`State::retime_move`].
    pub(crate) job_prev_at: Vec<u32>,
    pub(crate) job_next_at: Vec<u32>,
}

impl Graph {
    pub fn new(p: &JobShop) -> Self {
        let mut g = Self::empty(p.machines);
        for (j, ops) in p.jobs.iter().enumerate() {
            g.first_of_job.push(g.dur.len());
            for (k, op) in ops.iter().enumerate() {
                let o = g.dur.len();
                g.dur.push(op.duration);
                g.machine.push(op.machine);
                g.job.push(j);
                g.job_prev.push(if k == 0 { NONE } else { o - 1 });
                g.job_next.push(if k + 1 == ops.len() { NONE } else { o + 1 });
            }
        }
        g.link();
        g
    }

    fn empty(machines: usize) -> Self {
        Self { dur: vec![], machine: vec![], job: vec![], job_prev: vec![], job_next: vec![], first_of_job: vec![], machines, job_prev_at: vec![], job_next_at: vec![] }
    }

    fn link(&mut self) {
        let n = self.job.len();
        self.job_prev_at = self.job_prev.iter().map(|&o| at(o, n)).collect();
        self.job_next_at = self.job_next.iter().map(|&o| at(o, n)).collect();
    }

    /// The job structure of `lengths[j]` operations per job on `machines`
    /// machines, with no fixed assignment.
    pub(crate) fn structure(machines: usize, lengths: impl Iterator<Item = usize>) -> Self {
        let mut g = Self::empty(machines);
        for (j, len) in lengths.enumerate() {
            let first = g.job.len();
            g.first_of_job.push(first);
            for k in 0..len {
                let o = first + k;
                g.job.push(j);
                g.job_prev.push(if k == 0 { NONE } else { o - 1 });
                g.job_next.push(if k + 1 == len { NONE } else { o + 1 });
            }
        }
        g.link();
        g
    }

    pub fn operations(&self) -> usize {
        self.job.len()
    }

    pub(crate) fn machine(&self, o: usize) -> usize {
        self.machine[o]
    }

    pub(crate) fn dur(&self, o: usize) -> i64 {
        self.dur[o]
    }

    /// The fixed assignment, every operation's machine and duration
    /// (empty for a flexible job-shop's [`Graph::structure`]).
    pub(crate) fn assignment(&self) -> (&[usize], &[i64]) {
        (&self.machine, &self.dur)
    }

    pub(crate) fn jobs(&self) -> usize {
        self.first_of_job.len()
    }

    /// Machine sequences of a schedule: operations ordered by start time.
    pub fn sequences(&self, s: &Schedule) -> Vec<Vec<usize>> {
        let starts: Vec<i64> = s.starts.iter().flatten().copied().collect();
        let mut seq = vec![Vec::new(); self.machines];
        for o in 0..self.dur.len() {
            seq[self.machine[o]].push(o);
        }
        for s in &mut seq {
            s.sort_by_key(|&o| (starts[o], self.dur[o], o));
        }
        seq
    }

    /// Machine sequences of a schedule from outside (a checkpoint), when
    /// they are a valid order of this problem's operations (no cycle).
    pub fn checked_sequences(&self, s: &Schedule) -> Option<Vec<Vec<usize>>> {
        let seq = self.sequences(s);
        State::new(self, seq.clone()).retime(self).then_some(seq)
    }

    /// The schedule (start times per job and operation) of machine sequences.
    pub fn schedule(&self, seq: &[Vec<usize>]) -> Schedule {
        let mut st = State::new(self, seq.to_vec());
        assert!(st.retime(self), "a found solution is acyclic");
        st.schedule(self)
    }
}
