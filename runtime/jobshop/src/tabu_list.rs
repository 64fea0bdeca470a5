//! The tabu search's memory, shared by the job-shop and flexible searches.

use crate::graph::Graph;
use crate::neighbourhood::Move;
use crate::timing::State;

/// Tabu attributes: after an operation passes others on its machine, their
/// former order may not be restored for `tenure` iterations. Indexed by
/// machine and the two jobs, since a machine holds one operation per job.
pub(crate) struct TabuList {
    jobs: usize,
    until: Vec<u64>,
}

impl TabuList {
    pub(crate) fn new(g: &Graph) -> Self {
        let jobs = g.jobs();
        Self { jobs, until: vec![0; g.machines * jobs * jobs] }
    }

    fn slot(jobs: usize, g: &Graph, st: &State, first: usize, second: usize) -> usize {
        (st.machine[first] * jobs + g.job[first]) * jobs + g.job[second]
    }

    /// Whether `mv` would put back an order that is still tabu.
    pub(crate) fn forbids(&self, g: &Graph, st: &State, mv: Move, iter: u64) -> bool {
        let s = &st.seq[mv.m];
        if mv.from < mv.to {
            s[mv.from + 1..=mv.to].iter().any(|&x| self.until[Self::slot(self.jobs, g, st, x, s[mv.from])] > iter)
        } else {
            s[mv.to..mv.from].iter().any(|&x| self.until[Self::slot(self.jobs, g, st, s[mv.from], x)] > iter)
        }
    }

    /// Records `mv` before it is applied: the orders it reverses become tabu.
    pub(crate) fn record(&mut self, g: &Graph, st: &State, mv: Move, until: u64) {
        for k in Self::reversed(self.jobs, g, st, mv) {
            self.until[k] = until;
        }
    }

    /// What [`TabuList::record`] of `mv` would overwrite, as it is now, into
    /// `out`, for [`TabuList::restore`].
    pub(crate) fn save(&self, g: &Graph, st: &State, mv: Move, out: &mut Vec<(usize, u64)>) {
        out.extend(Self::reversed(self.jobs, g, st, mv).map(|k| (k, self.until[k])));
    }

    /// The slots of the orders `mv` reverses: the moved operation and each
    /// one it passes, in their order before the move.
    fn reversed<'s>(jobs: usize, g: &'s Graph, st: &'s State, mv: Move) -> impl Iterator<Item = usize> + 's {
        let s = &st.seq[mv.m];
        let (moved, forward) = (s[mv.from], mv.from < mv.to);
        let passed = if forward { &s[mv.from + 1..=mv.to] } else { &s[mv.to..mv.from] };
        passed.iter().map(move |&x| if forward { Self::slot(jobs, g, st, moved, x) } else { Self::slot(jobs, g, st, x, moved) })
    }

    pub(crate) fn restore(&mut self, saved: &[(usize, u64)]) {
        for &(k, until) in saved {
            self.until[k] = until;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.until.fill(0);
    }
}
