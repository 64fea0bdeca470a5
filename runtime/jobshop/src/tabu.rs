//! Tabu search on the disjunctive graph with the N7 neighbourhood (Zhang,
//! Li, Guan & Rao 2007): within each critical block, an operation moves to
//! the block's front or back, and the block's first or last operation moves
//! inside it. N7 contains N5 (Nowicki & Smutnicki's swaps at block ends).
//!
//! Moves are judged without re-timing the graph: from the heads (earliest
//! starts) and tails (longest path to the end) of the current schedule, the
//! new heads and tails of the moved segment are estimated as Balas &
//! Vazacopoulos do, which is exact for the segment and costs O(block). Only
//! the chosen move is applied and the graph re-timed, in O(operations).
//! Every move the search makes satisfies Balas & Vazacopoulos' condition for
//! staying acyclic; the re-timing still checks, because with zero durations
//! (which benchmark sets contain) the condition is not quite sufficient.
//!
//! Long runs: restarts from the best alone stall within seconds on large
//! instances, so spent trajectories feed an elite pool and new ones start
//! between two elite schedules (path relinking, Peng, Lü & Cheng 2015).
//! After about a minute's iterations a search enters its late phase:
//! shorter trajectories and a larger pool, as TS/PR runs them, and half
//! of the new starts recombined from two elite schedules rather than
//! relinked. A run that has gone four such minutes without a gain of its
//! own (and at least as long as it took to its last) is spent: the search
//! begins again from a fresh schedule with an empty pool, keeping only its
//! best, so that an hour's run is several draws of what its first minutes
//! find rather than one.

use crate::block_estimates::BlockEstimates;
use crate::elite::{ELITE, ELITE_LATE, Elite, Patience, hard_kicks, relink_left};
use crate::rng::Rng;
use crate::schedule::Schedule;
use job_model::JobShop;

pub(crate) const NONE: usize = usize::MAX;

/// An operation as the timing's loops index it: `NONE` becomes `n`, a
/// place whose end and tail are always 0.
fn at(o: usize, n: usize) -> u32 {
    u32::try_from(if o == NONE { n } else { o }).expect("fewer than 2^32 operations")
}

/// [`at`]'s inverse.
fn op(x: u32, n: usize) -> usize {
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

/// Machine sequences with their timing: `head[o]` is the earliest start of
/// `o`, `rest[o]` the longest path from the start of `o` to the end, on the
/// machine `machine[o]` for `dur[o]`.
pub(crate) struct State {
    pub(crate) machine: Vec<usize>,
    pub(crate) dur: Vec<i64>,
    pub(crate) seq: Vec<Vec<usize>>,
    pub(crate) pos: Vec<usize>,
    pub(crate) head: Vec<i64>,
    pub(crate) rest: Vec<i64>,
    pub(crate) makespan: i64,
    /// A topological order of the operations, and each one's place in it.
    order: Vec<usize>,
    index: Vec<usize>,
    indeg: Vec<u8>,
    /// Machine successors and predecessors as of the last timing, `n` for
    /// none (see [`at`]); each operation's end, `head + dur`. With
    /// `ends[n] == 0` and `rest[n] == 0` the timing's loops run without a
    /// test for a missing neighbour.
    next: Vec<u32>,
    prev: Vec<u32>,
    pub(crate) ends: Vec<i64>,
    /// Scratch of `retime_move`: visit stamps and the two affected sets.
    stamp: Vec<u32>,
    epoch: u32,
    forward: Vec<usize>,
    backward: Vec<usize>,
    places: Vec<usize>,
}

impl State {
    /// A job-shop's sequences, on its fixed machines.
    fn new(g: &Graph, seq: Vec<Vec<usize>>) -> Self {
        Self::assigned(g, g.machine.clone(), g.dur.clone(), seq)
    }

    /// Sequences of operations on the machines `machine` names, for `dur`.
    pub(crate) fn assigned(g: &Graph, machine: Vec<usize>, dur: Vec<i64>, seq: Vec<Vec<usize>>) -> Self {
        let n = g.operations();
        let mut st = Self {
            machine,
            dur,
            seq,
            pos: vec![0; n],
            head: vec![0; n],
            rest: vec![0; n + 1],
            makespan: 0,
            order: Vec::with_capacity(n),
            index: vec![0; n],
            indeg: vec![0; n],
            next: vec![at(NONE, n); n],
            prev: vec![at(NONE, n); n],
            ends: vec![0; n + 1],
            stamp: vec![0; n],
            epoch: 0,
            forward: Vec::new(),
            backward: Vec::new(),
            places: Vec::new(),
        };
        for m in 0..st.seq.len() {
            st.renumber(m);
        }
        st
    }

    /// Start times per job and operation (the state must be timed).
    pub(crate) fn schedule(&self, g: &Graph) -> Schedule {
        let n = g.operations();
        let starts = (0..g.jobs()).map(|j| self.head[g.first_of_job[j]..g.first_of_job.get(j + 1).copied().unwrap_or(n)].to_vec()).collect();
        Schedule { starts, makespan: self.makespan }
    }

    pub(crate) fn renumber(&mut self, m: usize) {
        for (i, &o) in self.seq[m].iter().enumerate() {
            self.pos[o] = i;
        }
    }

    pub(crate) fn mach_next(&self, o: usize) -> usize {
        self.seq[self.machine[o]].get(self.pos[o] + 1).copied().unwrap_or(NONE)
    }

    /// The machine successor as of the last timing, or `NONE`.
    fn machine_next(&self, o: usize) -> usize {
        op(self.next[o], self.head.len())
    }

    /// The machine predecessor as of the last timing, or `NONE`.
    fn machine_prev(&self, o: usize) -> usize {
        op(self.prev[o], self.head.len())
    }

    pub(crate) fn end(&self, o: usize) -> i64 {
        if o == NONE { 0 } else { self.head[o] + self.dur[o] }
    }

    pub(crate) fn rest_of(&self, o: usize) -> i64 {
        if o == NONE { 0 } else { self.rest[o] }
    }

    /// Heads by topological order, tails in reverse; `false` on a cycle.
    /// The search's hot loop: one call per iteration, so machine
    /// successors are read once into `next` rather than through `seq`.
    pub(crate) fn retime(&mut self, g: &Graph) -> bool {
        let n = g.operations();
        self.order.clear();
        for s in &self.seq {
            for w in s.windows(2) {
                self.next[w[0]] = at(w[1], n);
                self.prev[w[1]] = at(w[0], n);
            }
            if let (Some(&first), Some(&last)) = (s.first(), s.last()) {
                self.prev[first] = at(NONE, n);
                self.next[last] = at(NONE, n);
            }
        }
        for o in 0..n {
            self.indeg[o] = u8::from(g.job_prev[o] != NONE) + u8::from(self.pos[o] != 0);
            self.head[o] = 0;
            if self.indeg[o] == 0 {
                self.order.push(o);
            }
        }
        let mut i = 0;
        while i < self.order.len() {
            let o = self.order[i];
            i += 1;
            let end = self.head[o] + self.dur[o];
            for next in [g.job_next[o], self.machine_next(o)] {
                if next != NONE {
                    if self.head[next] < end {
                        self.head[next] = end;
                    }
                    self.indeg[next] -= 1;
                    if self.indeg[next] == 0 {
                        self.order.push(next);
                    }
                }
            }
        }
        if self.order.len() != n {
            return false;
        }
        for (k, &o) in self.order.iter().enumerate() {
            self.index[o] = k;
            self.ends[o] = self.head[o] + self.dur[o];
        }
        self.makespan = 0;
        for &o in self.order.iter().rev() {
            let after = self.rest[g.job_next_at[o] as usize].max(self.rest[self.next[o] as usize]);
            self.rest[o] = self.dur[o] + after;
            self.makespan = self.makespan.max(self.head[o] + self.rest[o]);
        }
        true
    }

    /// Re-times after `mv` was applied to a timed state, touching only what
    /// the move can change; `false` (and the state to be undone) when it
    /// closed a cycle.
    ///
    /// A move within one machine adds exactly one arc against the old
    /// topological order (`x → y`, the moved operation and its new
    /// neighbour); the order is repaired between the two alone (Pearce &
    /// Kelly's dynamic topological sort, which finds any cycle), heads are
    /// recomputed from `y`'s place on and tails up to `x`'s. Equal to
    /// [`State::retime`] (a test holds them to it), at a fraction of its cost.
    pub(crate) fn retime_move(&mut self, g: &Graph, mv: Move) -> bool {
        let s = &self.seq[mv.m];
        let (lo, hi) = (mv.from.min(mv.to), mv.from.max(mv.to));
        let n = g.operations();
        for i in lo.saturating_sub(1)..=(hi + 1).min(s.len() - 1) {
            self.next[s[i]] = at(s.get(i + 1).copied().unwrap_or(NONE), n);
            self.prev[s[i]] = at(if i == 0 { NONE } else { s[i - 1] }, n);
        }
        let (x, y) = if mv.from < mv.to { (s[mv.to - 1], s[mv.to]) } else { (s[mv.to], s[mv.to + 1]) };
        let (lb, ub) = (self.index[y], self.index[x]);
        if lb < ub && !self.reorder(g, x, y) {
            return false;
        }
        self.retime_between(g, lb.min(ub), lb.max(ub));
        true
    }

    /// Re-times after a flexible job-shop's operation `op` was taken from
    /// its machine and put on another (with its new duration), as
    /// `State::retime_move` does for a move within a machine: its old
    /// neighbours are read from the links of the last timing, its new ones
    /// from the sequences. The two new arcs are put into the order one at a
    /// time (Pearce & Kelly again); heads are re-timed from the first of
    /// the operations whose predecessors changed (`op` and the two next to
    /// it, old and new), tails up to the last of those whose successors
    /// changed. `false` (and the state to be undone) on a cycle.
    pub(crate) fn retime_reassign(&mut self, g: &Graph, op: usize) -> bool {
        let n = g.operations();
        let (old_prev, old_next) = (self.machine_prev(op), self.machine_next(op));
        if old_prev != NONE {
            self.next[old_prev] = at(old_next, n);
        }
        if old_next != NONE {
            self.prev[old_next] = at(old_prev, n);
        }
        let s = &self.seq[self.machine[op]];
        let p = self.pos[op];
        let (prev, next) = (if p == 0 { NONE } else { s[p - 1] }, s.get(p + 1).copied().unwrap_or(NONE));
        // First `prev → op` alone (the arc `prev → next` is gone)...
        (self.prev[op], self.next[op]) = (at(prev, n), at(NONE, n));
        if next != NONE {
            self.prev[next] = at(NONE, n);
        }
        if prev != NONE {
            self.next[prev] = at(op, n);
            if self.index[op] < self.index[prev] && !self.reorder(g, prev, op) {
                return false;
            }
        }
        // ...then `op → next`, into an order that holds everything else.
        if next != NONE {
            (self.next[op], self.prev[next]) = (at(next, n), at(op, n));
            if self.index[next] < self.index[op] && !self.reorder(g, op, next) {
                return false;
            }
        }
        let index = |o: usize| if o == NONE { None } else { Some(self.index[o]) };
        let lb = [op, old_next, next].into_iter().filter_map(index).min().expect("op has an index");
        let ub = [op, old_prev, prev].into_iter().filter_map(index).max().expect("op has an index");
        self.retime_between(g, lb, ub);
        true
    }

    /// Heads from the order's `lb`-th operation on, tails up to its
    /// `ub`-th, and the makespan.
    fn retime_between(&mut self, g: &Graph, lb: usize, ub: usize) {
        let n = g.operations();
        // Borrowed apart, as slices, so that the loops keep them in
        // registers rather than reloading them through `self` at every
        // operation; the neighbours as `at` gives them, so that a missing
        // one reads 0 without a test.
        let (order, dur): (&[usize], &[i64]) = (&self.order, &self.dur);
        let (head, ends, rest): (&mut [i64], &mut [i64], &mut [i64]) = (&mut self.head, &mut self.ends, &mut self.rest);
        let (prev, next, job_prev, job_next): (&[u32], &[u32], &[u32], &[u32]) = (&self.prev, &self.next, &g.job_prev_at, &g.job_next_at);
        for &o in &order[lb..n] {
            let h = ends[job_prev[o] as usize].max(ends[prev[o] as usize]);
            head[o] = h;
            ends[o] = h + dur[o];
        }
        for &o in order[..=ub].iter().rev() {
            rest[o] = dur[o] + rest[job_next[o] as usize].max(rest[next[o] as usize]);
        }
        self.makespan = (0..g.jobs()).map(|j| g.first_of_job[j]).map(|o| self.rest[o] + self.head[o]).max().unwrap_or(0);
    }

    /// Pearce & Kelly: makes the order topological again after the arc
    /// `x → y` with `y` before `x`; `false` if the arc closes a cycle.
    fn reorder(&mut self, g: &Graph, x: usize, y: usize) -> bool {
        let (lb, ub) = (self.index[y], self.index[x]);
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.fill(0);
            self.epoch = 1;
        }
        let epoch = self.epoch;
        // Forward from y, among those placed before x: reaching x is a cycle.
        self.forward.clear();
        self.places.clear();
        self.places.push(y);
        self.stamp[y] = epoch;
        while let Some(o) = self.places.pop() {
            self.forward.push(o);
            for next in [g.job_next[o], self.machine_next(o)] {
                if next == x {
                    return false;
                }
                if next != NONE && self.index[next] < ub && self.stamp[next] != epoch {
                    self.stamp[next] = epoch;
                    self.places.push(next);
                }
            }
        }
        // Backward from x, among those placed after y.
        self.backward.clear();
        self.places.push(x);
        self.stamp[x] = epoch;
        while let Some(o) = self.places.pop() {
            self.backward.push(o);
            for prev in [g.job_prev[o], self.machine_prev(o)] {
                if prev != NONE && self.index[prev] > lb && self.stamp[prev] != epoch {
                    self.stamp[prev] = epoch;
                    self.places.push(prev);
                }
            }
        }
        // The backward set first, then the forward set, each in its old
        // order, into the places the two held.
        let index = &self.index;
        self.backward.sort_unstable_by_key(|&o| index[o]);
        self.forward.sort_unstable_by_key(|&o| index[o]);
        self.places.clear();
        self.places.extend(self.backward.iter().chain(&self.forward).map(|&o| index[o]));
        self.places.sort_unstable();
        for (k, &o) in self.backward.iter().chain(&self.forward).enumerate() {
            let place = self.places[k];
            self.order[place] = o;
            self.index[o] = place;
        }
        true
    }

    /// The critical blocks of one critical path, as (machine, first, last)
    /// positions: maximal runs of two or more operations of one machine;
    /// `path` receives the path's operations. Reads the machine links of
    /// the last timing, as the heads and tails are.
    pub(crate) fn blocks(&self, g: &Graph, out: &mut Vec<(usize, usize, usize)>, path: &mut Vec<usize>) {
        out.clear();
        path.clear();
        // A critical path starts at a job's first operation (the lowest such
        // index, as a scan of all would find: zero durations included).
        let Some(mut o) = g.first_of_job.iter().copied().find(|&o| self.head[o] == 0 && self.rest[o] == self.makespan) else { return };
        let mut run_start = o;
        loop {
            path.push(o);
            let (mn, jn) = (self.machine_next(o), g.job_next[o]);
            let on_path = |x: usize| x != NONE && self.head[x] == self.head[o] + self.dur[o] && self.rest[x] == self.rest[o] - self.dur[o];
            // The machine successor first: longer blocks, more moves.
            let next = if on_path(mn) {
                mn
            } else if on_path(jn) {
                jn
            } else {
                NONE
            };
            if next == NONE || next != mn {
                if o != run_start {
                    out.push((self.machine[o], self.pos[run_start], self.pos[o]));
                }
                run_start = next;
            }
            if next == NONE {
                return;
            }
            o = next;
        }
    }

    /// Takes the operation at `from` out of machine `m` and puts it at `to`.
    pub(crate) fn apply(&mut self, mv: Move) {
        let s = &mut self.seq[mv.m];
        if mv.from < mv.to {
            s[mv.from..=mv.to].rotate_left(1);
        } else {
            s[mv.to..=mv.from].rotate_right(1);
        }
        let (lo, hi) = (mv.from.min(mv.to), mv.from.max(mv.to));
        for i in lo..=hi {
            self.pos[self.seq[mv.m][i]] = i;
        }
    }

    pub(crate) fn undo(&mut self, mv: Move) {
        self.apply(Move { m: mv.m, from: mv.to, to: mv.from });
    }

    /// The makespan of the paths through the moved segment after `mv`,
    /// from the current heads and tails (Balas & Vazacopoulos), or `None`
    /// when the move might create a cycle.
    pub(crate) fn estimate(&self, g: &Graph, mv: Move, segment: &mut Vec<usize>, heads: &mut Vec<i64>) -> Option<i64> {
        let s = &self.seq[mv.m];
        let (lo, hi) = (mv.from.min(mv.to), mv.from.max(mv.to));
        segment.clear();
        if mv.from < mv.to {
            // `u` goes after `v`: no path may lead from u's job successor to v.
            let (u, v) = (s[mv.from], s[mv.to]);
            let js = g.job_next[u];
            if js != NONE && self.rest[js] > self.rest[v] {
                return None;
            }
            segment.extend_from_slice(&s[lo + 1..=hi]);
            segment.push(u);
        } else {
            // `v` goes before `u`: no path may lead from u to v's job predecessor.
            let (v, u) = (s[mv.from], s[mv.to]);
            let jp = g.job_prev[v];
            if jp != NONE && self.end(jp) > self.end(u) {
                return None;
            }
            segment.push(v);
            segment.extend_from_slice(&s[lo..hi]);
        }
        let before = if lo == 0 { NONE } else { s[lo - 1] };
        let after = s.get(hi + 1).copied().unwrap_or(NONE);
        heads.clear();
        let mut ready = self.end(before);
        for &o in segment.iter() {
            let h = ready.max(self.end(g.job_prev[o]));
            heads.push(h);
            ready = h + self.dur[o];
        }
        let (mut rest, mut longest) = (self.rest_of(after), 0);
        for (k, &o) in segment.iter().enumerate().rev() {
            rest = self.dur[o] + rest.max(self.rest_of(g.job_next[o]));
            longest = longest.max(heads[k] + rest);
        }
        Some(longest)
    }
}

/// Operation at position `from` of machine `m` moved to position `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Move {
    pub(crate) m: usize,
    pub(crate) from: usize,
    pub(crate) to: usize,
}

impl Move {
    /// Swapping neighbours either way round is one move.
    pub(crate) fn canonical(m: usize, from: usize, to: usize) -> Self {
        if from.abs_diff(to) == 1 { Self { m, from: from.min(to), to: from.max(to) } } else { Self { m, from, to } }
    }
}

/// N7 moves of critical blocks, without duplicates: blocks are disjoint,
/// and within one the four kinds meet only in the swap of a two-operation
/// block (the front move of its second is the back move of its first).
pub(crate) fn neighbourhood(blocks: &[(usize, usize, usize)], out: &mut Vec<Move>) {
    out.clear();
    for &(m, a, b) in blocks {
        for i in a + 1..=b {
            out.push(Move::canonical(m, i, a)); // to the front
        }
        for i in a..b {
            if b > a + 1 || i != a {
                out.push(Move::canonical(m, i, b)); // to the back
            }
        }
        // Inside, leaving out the swaps and end moves already there.
        for j in a + 2..b {
            out.push(Move::canonical(m, a, j)); // the first inside
        }
        for j in a + 1..b.saturating_sub(1) {
            out.push(Move::canonical(m, b, j)); // the last inside
        }
    }
}

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

/// How many pairs of operations `a` and `b` put in a different order on
/// their machine: the distance of Peng, Lü & Cheng's path relinking. `pos`
/// is scratch, one entry per operation. O(Σ machine length²), paid once
/// per trajectory, not per iteration.
pub(crate) fn distance(a: &[Vec<usize>], b: &[Vec<usize>], pos: &mut [usize]) -> u64 {
    for s in b {
        for (i, &o) in s.iter().enumerate() {
            pos[o] = i;
        }
    }
    let mut d = 0;
    for s in a {
        for (i, &x) in s.iter().enumerate() {
            d += s[i + 1..].iter().filter(|&&y| pos[y] < pos[x]).count() as u64;
        }
    }
    d
}

/// Moves `st` toward the sequences `to` on the machines `open` (which must
/// hold the same operations in both), until `remaining` differences are
/// down to `goal`; returns those left. One operation at a time moves to the
/// place `to` gives it, on a random machine, at the first place where they
/// differ; each such move removes as many differences as places it passes,
/// and no pair is changed twice, so every schedule on the way lies between
/// the two ends. A move that would close a cycle waits until another
/// machine has moved. `st`'s sequences stay acyclic throughout; re-time it
/// before reading its heads, which an undone move leaves stale.
pub(crate) fn relink_sequences(g: &Graph, st: &mut State, to: &[Vec<usize>], mut open: Vec<usize>, rng: &mut Rng, mut remaining: u64, goal: u64) -> u64 {
    let (mut agree, mut blocked) = (vec![0; st.seq.len()], Vec::new());
    while remaining > goal && !open.is_empty() {
        let i = rng.below(open.len());
        let m = open[i];
        let s = &st.seq[m];
        let mut k = agree[m];
        while k < s.len() && s[k] == to[m][k] {
            k += 1;
        }
        agree[m] = k;
        if k == s.len() {
            open.swap_remove(i);
            continue;
        }
        let p = st.pos[to[m][k]];
        let mv = Move { m, from: p, to: k };
        st.apply(mv);
        if st.retime(g) {
            remaining = remaining.saturating_sub((p - k) as u64);
            open.append(&mut blocked);
        } else {
            st.undo(mv);
            blocked.push(open.swap_remove(i));
        }
    }
    remaining
}

/// Iterations without a gain before a trajectory restarts (see
/// [`Search::new`]): 40n up to 100 operations, 80n from 400, linear between.
fn stall_iterations(n: u64) -> u64 {
    let per_operation = 40 + 40 * (n.clamp(100, 400) - 100) / 300;
    (per_operation * n).max(4_000)
}

/// The iteration at which a search on `n` operations enters its late
/// phase: about a minute on one core of the benchmark machine, where an
/// iteration costs about 5 ns per operation. Counted in iterations, not
/// seconds, so that a search stays a function of its seed.
///
/// Why a second phase: TS/PR's short trajectories (about 12,500
/// iterations from each start, a pool of 30) and recombined starts both
/// lost to what the first minute does on the hard DMU tuning instances
/// (2.96% mean gap against 2.88% at 30 s, 3.17% with the pool of 30 too;
/// recombining, 3.14% against 2.99% at 20 s), but after it they keep a
/// long run improving: on ta41 and dmu57 at 300 s, 1 thread, the short
/// trajectories were better on 4 runs of 6 and worse on 1, recombination
/// better on 3 of 4, both together better on 2 of 2 (BENCHMARKS.md).
fn late_phase_from(n: u64) -> u64 {
    12_000_000_000 / n.max(1)
}

/// Iterations without a gain of its own after which a run of the search is
/// spent and it begins again from a fresh start (see
/// [`Search::begin_again`]): four late phases' worth, about four minutes
/// on one core of the benchmark machine, and never less than the run took
/// to its last gain, so that a run that keeps finding better schedules
/// goes on, and runs grow with the instance's difficulty.
fn begin_again_after(n: u64) -> u64 {
    4 * late_phase_from(n)
}

/// A late-phase trajectory's iterations without a gain before a restart:
/// 15n, 9,000 on a 30x20 instance, near TS/PR's 12,500 per tabu run.
fn late_stall_iterations(n: u64) -> u64 {
    (15 * n).max(4_000)
}

pub struct Found {
    pub seq: Vec<Vec<usize>>,
    pub makespan: i64,
}

/// One search: its current schedule, its best, and what it needs per step.
///
/// The search walks in trajectories. Each starts from one schedule and
/// keeps its own best (`local`); when it stalls, it restarts from that
/// best, shaken a little. After a few such restarts with no gain
/// ([`Patience`]), the trajectory's best joins the elite pool (if it adds quality
/// or diversity) and the next trajectory starts between two elite
/// schedules (path relinking). While the pool holds fewer than two, the
/// next trajectory starts from its best shaken hard. Until the first
/// trajectory is spent (seconds on a large instance), the search is what
/// it was without the pool.
pub struct Search<'a> {
    g: &'a Graph,
    /// The graph the current trajectory runs on: `g`, or the mirror's.
    cur: &'a Graph,
    /// The mirrored instance's graph and each operation's twin there (see
    /// `crate::mirror`), when trajectories alternate between the two.
    mirror: Option<(&'a Graph, Vec<usize>)>,
    /// Trajectories spent so far.
    trajectories: u64,
    rng: Rng,
    st: State,
    best: Found,
    local: Found,
    patience: Patience,
    elite: Elite<Vec<Vec<usize>>>,
    /// Schedules closer than this count as copies in the pool.
    near: u64,
    tabu: TabuList,
    iter: u64,
    since_best: u64,
    stall: u64,
    /// Iterations into a run from which new trajectories run as
    /// [`late_phase_from`] says.
    late_from: u64,
    /// The current run (see [`Search::begin_again`]): the iteration it
    /// began at, its own best makespan and the iteration of its last gain.
    run_from: u64,
    run_best: i64,
    run_gain: u64,
    /// Iterations without a gain of the run's own before it is spent.
    begin_again: u64,
    tenure: (u64, u64),
    blocks: Vec<(usize, usize, usize)>,
    path: Vec<usize>,
    moves: Vec<Move>,
    listed: Vec<(Move, Option<i64>)>,
    sweeps: BlockEstimates,
    scored: Vec<(i64, u64, Move)>,
    segment: Vec<usize>,
    heads: Vec<i64>,
    pos: Vec<usize>,
}

impl<'a> Search<'a> {
    pub fn new(g: &'a Graph, start: Vec<Vec<usize>>, seed: u64) -> Self {
        let mut st = State::new(g, start);
        assert!(st.retime(g), "the start is a schedule");
        let best = Found { seq: st.seq.clone(), makespan: st.makespan };
        let local = Found { seq: st.seq.clone(), makespan: st.makespan };
        let n = g.operations() as u64;
        let pairs: usize = st.seq.iter().map(|s| s.len() * s.len().saturating_sub(1) / 2).sum();
        // Tenure and patience grow with the instance: about 0.75 sqrt(n),
        // and 40n iterations up to 100 operations rising to 80n from 400 on.
        // First tuned on ft10, la21 and ta41 (sqrt(n)/2 and 20n); with the
        // incremental timing's 2.5x iterations, 0.75 sqrt(n) and 40n were
        // better on the hard DMU tuning instances (bench/jobshop.py's
        // TUNED_LATER) and as good on ft10. Later, 80n beat 40n on the five
        // hard DMU ones at 30 s (3.97% mean gap against 4.31%, seeds 1-2)
        // and on the nine other tuning instances at 10 s (1.22% against
        // 1.28%, seeds 1-3), but took ft10 (100 operations) past 2 s on one
        // seed of eight: hence the ramp. A tenure of sqrt(n) with it was
        // worse at 10 s (1.42%). On the held-out sample the ramp moved the
        // mean within noise (BENCHMARKS.md, 2026-12-04).
        let base = ((n as f64).sqrt() * 0.75).round().max(4.0) as u64;
        let first = st.makespan;
        Self {
            g,
            cur: g,
            mirror: None,
            trajectories: 0,
            rng: Rng::new(seed),
            st,
            best,
            local,
            patience: Patience::new(),
            elite: Elite::new(ELITE),
            near: (pairs / 200) as u64,
            tabu: TabuList::new(g),
            iter: 0,
            since_best: 0,
            stall: stall_iterations(n),
            late_from: late_phase_from(n),
            run_from: 0,
            run_best: first,
            run_gain: 0,
            begin_again: begin_again_after(n),
            tenure: (base, base + base.div_ceil(2)),
            blocks: Vec::new(),
            path: Vec::new(),
            moves: Vec::new(),
            listed: Vec::new(),
            sweeps: BlockEstimates::default(),
            scored: Vec::new(),
            segment: Vec::new(),
            heads: Vec::new(),
            pos: vec![0; g.operations()],
        }
    }

    /// Lets every second trajectory after the first run on the mirrored
    /// instance, whose graph is `mirror`. On one thread, ta41 at 300 s
    /// (seeds 2 and 3) ended at 2028 and 2024 with last gains at 288 s and
    /// 235 s, against 2030 and 2029 (113 s, 241 s) on one side only: a
    /// trajectory on the other side descends along other critical paths
    /// from the same relinked start. The pool, the best and what the search
    /// hands out stay on `g`'s side.
    pub(crate) fn with_mirror(mut self, mirror: &'a Graph) -> Self {
        self.mirror = Some((mirror, crate::mirror::twins_of(self.g)));
        self
    }

    /// Sequences between `g`'s side and the current trajectory's: reflected
    /// while it runs on the mirror, either way (reflection is its own inverse).
    fn across(&self, seq: &[Vec<usize>]) -> Vec<Vec<usize>> {
        match (&self.mirror, self.mirrored()) {
            (Some((_, twin)), true) => crate::mirror::reflect(seq, twin),
            _ => seq.to_vec(),
        }
    }

    /// Whether the current trajectory runs on the mirror.
    fn mirrored(&self) -> bool {
        !std::ptr::eq(self.cur, self.g)
    }

    /// Whether it would take another thread's better schedule into its pool
    /// ([`Search::adopt`]): after half a stall without progress on its
    /// trajectory, in the search's first run only. A run begun again is a
    /// fresh draw (see [`Search::begin_again`]) and takes no schedule of
    /// another thread: adopted at its first stall, the best of all pulls
    /// the new run back to the region every run so far has searched, and
    /// its descent toward it counts as gains of its own, so the run lasts
    /// longer there. One trial (ta41, 2 threads, 95 minutes) gained later
    /// and a unit lower without it (BENCHMARKS.md, "Long runs").
    pub fn takes_best(&self) -> bool {
        self.run_from == 0 && self.since_best > self.stall / 2
    }

    /// Takes another search's better schedule into this one's elite pool,
    /// where the next trajectories relink toward it, and goes on with its
    /// own: restarting from it made both threads search one region (on the
    /// five hard DMU tuning instances at 10 s, 3 seeds, before the tenure
    /// change: 5.43% mean gap against 5.80%; 3.64% against 3.80% on all nine).
    pub fn adopt(&mut self, seq: &[Vec<usize>]) {
        let mut st = State::new(self.g, seq.to_vec());
        assert!(st.retime(self.g), "an adopted schedule is acyclic");
        let pos = &mut self.pos;
        self.elite.offer(st.makespan, &st.seq, self.near, &mut |a, b| distance(a, b, pos));
    }

    /// Starts a trajectory from `seq`.
    fn restart_from(&mut self, seq: Vec<Vec<usize>>) {
        self.st = State::new(self.cur, seq);
        assert!(self.st.retime(self.cur), "a restart point is a schedule");
        if self.st.makespan < self.best.makespan {
            self.best = Found { seq: self.across(&self.st.seq), makespan: self.st.makespan };
        }
        // A relinked start may be a gain of the run, as a step can be.
        self.count_run_gain();
        self.local = Found { seq: self.st.seq.clone(), makespan: self.st.makespan };
        self.tabu.clear();
        self.since_best = 0;
    }

    /// Records the current schedule as the run's gain when it beats the run's best.
    fn count_run_gain(&mut self) {
        if self.st.makespan < self.run_best {
            (self.run_best, self.run_gain) = (self.st.makespan, self.iter);
        }
    }

    /// Offers the trajectory's best to the pool.
    fn keep_local(&mut self) {
        let local = self.across(&self.local.seq);
        let pos = &mut self.pos;
        self.elite.offer(self.local.makespan, &local, self.near, &mut |a, b| distance(a, b, pos));
    }

    /// Runs `steps` iterations or until the best meets `lower_bound` or
    /// `keep_going` says no (asked every few iterations); `improved` sees
    /// each new best of this search. Returns whether it may go on.
    pub fn run(&mut self, steps: u64, lower_bound: i64, keep_going: &mut dyn FnMut() -> bool, improved: &mut dyn FnMut(&Found)) -> bool {
        for step in 0..steps {
            if self.best.makespan <= lower_bound || (step % 32 == 0 && !keep_going()) {
                return false;
            }
            if self.since_best > self.stall {
                if self.patience.stalled() {
                    // A relinked start may itself beat the best: report it.
                    let before = self.best.makespan;
                    self.next_trajectory();
                    if self.best.makespan < before {
                        improved(&self.best);
                    }
                } else {
                    let kicks = 2 + self.rng.below(4);
                    self.perturb(kicks);
                }
            }
            if !self.step() {
                return false; // one job is the whole critical path: optimal
            }
            if self.st.makespan < self.local.makespan {
                self.local = Found { seq: self.st.seq.clone(), makespan: self.st.makespan };
                self.since_best = 0;
                self.patience.gained();
                self.count_run_gain();
                if self.local.makespan < self.best.makespan {
                    self.best = Found { seq: self.across(&self.st.seq), makespan: self.st.makespan };
                    improved(&self.best);
                }
            }
        }
        true
    }

    /// Back to the trajectory's best, shaken by `kicks` random critical
    /// moves: a restart that keeps what was learnt and leaves the cycle the
    /// search was in.
    fn perturb(&mut self, kicks: usize) {
        self.restart_from(self.local.seq.clone());
        for _ in 0..kicks {
            self.st.blocks(self.cur, &mut self.blocks, &mut self.path);
            neighbourhood(&self.blocks, &mut self.moves);
            if self.moves.is_empty() {
                return;
            }
            let mv = self.moves[self.rng.below(self.moves.len())];
            if self.st.estimate(self.cur, mv, &mut self.segment, &mut self.heads).is_some() {
                self.st.apply(mv);
                if !self.st.retime(self.cur) {
                    self.st.undo(mv);
                    assert!(self.st.retime(self.cur), "undoing a move restores a schedule");
                }
            }
        }
    }

    /// Ends a spent trajectory: its best joins the pool, and the next one
    /// starts on the way between two elite schedules. While the pool has
    /// fewer than two, a hard shake of the best seeds a different one.
    fn next_trajectory(&mut self) {
        self.keep_local();
        self.trajectories += 1;
        if self.iter - self.run_gain > self.begin_again.max(self.run_gain - self.run_from) {
            self.begin_again();
            return;
        }
        let late = self.iter - self.run_from >= self.late_from;
        if late {
            self.stall = late_stall_iterations(self.g.operations() as u64);
            self.elite.grow(ELITE_LATE);
        }
        let picked = self.elite.pick_two(&mut self.rng).map(|(a, b)| (a.clone(), b.clone()));
        match picked {
            Some((from, to)) => {
                // In the late phase, half of the starts keep what the two
                // share and settle the rest afresh (`crate::recombine`).
                let seq = if late && self.rng.below(2) == 0 {
                    crate::recombine::recombine(self.g, &from, &to, &mut self.rng)
                } else {
                    let left = relink_left(&mut self.rng);
                    self.relink(&from, &to, left)
                };
                // Built on `g`'s side, run on the side of its turn.
                if let Some((mirror, _)) = self.mirror {
                    self.cur = if self.trajectories % 2 == 1 { mirror } else { self.g };
                }
                let seq = self.across(&seq);
                self.restart_from(seq);
            }
            None => {
                let hard = hard_kicks(self.g.operations());
                self.perturb(hard);
                // The shaken schedule starts the trajectory, so its best is
                // new and not the one just offered.
                self.local = Found { seq: self.st.seq.clone(), makespan: self.st.makespan };
            }
        }
    }

    /// Ends a spent run and begins a new one, as a search begins: from a
    /// fresh active schedule, with an empty pool of the first minute's size,
    /// the first trajectory's patience and the early phase's stall. Only
    /// the best schedule stays, for the caller.
    ///
    /// Why: a run's last gain comes within minutes (a long run's pool
    /// collapses around one region, and a pool kept apart by rule did no
    /// better; BENCHMARKS.md, "Long runs"), so after that each further
    /// minute of it finds nothing. A new run is another draw of what the
    /// first minutes of the search can find, and the best of several draws
    /// beats one. Renewing after 20-40 spent trajectories was tried before
    /// and lost on ta41 at 600 s: runs that short spend most of their time
    /// descending. Hence the long floor and the doubling: a run is spent
    /// only after four minutes without a gain of its own, and never before
    /// as long as it took to its last one.
    fn begin_again(&mut self) {
        let n = self.g.operations() as u64;
        (self.elite, self.patience, self.stall) = (Elite::new(ELITE), Patience::new(), stall_iterations(n));
        self.cur = self.g;
        (self.run_from, self.run_best) = (self.iter, i64::MAX);
        let start = crate::recombine::fresh(self.g, &mut self.rng);
        self.restart_from(start);
    }

    /// A schedule on the way from `from` to `to`, with `left` of their
    /// differences remaining (see [`relink_sequences`]).
    fn relink(&mut self, from: &[Vec<usize>], to: &[Vec<usize>], left: f64) -> Vec<Vec<usize>> {
        let g = self.g;
        let mut st = State::new(g, from.to_vec());
        let total = distance(from, to, &mut self.pos);
        relink_sequences(g, &mut st, to, (0..g.machines).collect(), &mut self.rng, total, (total as f64 * left) as u64);
        st.seq
    }

    /// One tabu step; `false` when there is no move at all.
    fn step(&mut self) -> bool {
        let g = self.cur;
        self.iter += 1;
        self.since_best += 1;
        self.st.blocks(g, &mut self.blocks, &mut self.path);
        self.sweeps.moves(&self.st, g, &self.blocks, &mut self.listed);
        if self.listed.is_empty() {
            return false;
        }
        // The winner is the least estimate among the allowed moves, ties
        // broken at random; whether a move is tabu is asked only of those
        // that could still win (the check costs as much as a tenth of the
        // search on large instances).
        let mut pick: Option<(i64, u64, Move)> = None;
        for &(mv, estimate) in &self.listed {
            let Some(estimate) = estimate else { continue };
            if pick.is_some_and(|p| estimate > p.0) {
                continue;
            }
            // Aspiration: a tabu move that would beat the best is allowed.
            if estimate >= self.best.makespan && self.tabu.forbids(g, &self.st, mv, self.iter) {
                continue;
            }
            let tie = self.rng.next_u64();
            if pick.is_none_or(|p| (estimate, tie) < (p.0, p.1)) {
                pick = Some((estimate, tie, mv));
            }
        }
        // `scored` lists the feasible moves only when they are needed:
        // when all are tabu (here), or when the pick closes a cycle (below).
        self.scored.clear();
        let all_tabu = pick.is_none();
        if all_tabu {
            // Everything is tabu: take any feasible move, as TSAB does.
            let rng = &mut self.rng;
            self.scored.extend(self.listed.iter().filter_map(|&(mv, e)| e.map(|_| (0, rng.next_u64(), mv))));
            pick = self.scored.iter().copied().min();
        }
        let tenure = self.tenure.0 + self.rng.below((self.tenure.1 - self.tenure.0 + 1) as usize) as u64;
        // The pick first; in the rare case that it closes a cycle (zero
        // durations) the other feasible moves follow, least estimate first
        // (in random order when all were tabu: the fallback above dropped
        // the estimates), tabu or not: any schedule beats stopping.
        if let Some((_, _, mv)) = pick {
            self.tabu.record(g, &self.st, mv, self.iter + tenure);
            self.st.apply(mv);
            if self.st.retime_move(g, mv) {
                return true;
            }
            self.st.undo(mv);
            // A failed incremental timing leaves the machine links stale.
            assert!(self.st.retime(g), "undoing a move restores a schedule");
            if !all_tabu {
                self.scored.extend(self.listed.iter().filter_map(|&(mv, e)| e.map(|e| (e, 0, mv))));
            }
            self.scored.retain(|s| s.2 != mv);
        }
        self.scored.sort_unstable();
        for k in 0..self.scored.len() {
            let mv = self.scored[k].2;
            self.tabu.record(g, &self.st, mv, self.iter + tenure);
            self.st.apply(mv);
            if self.st.retime(g) {
                return true;
            }
            self.st.undo(mv); // zero durations fooled the acyclicity test
        }
        assert!(self.st.retime(g), "the current schedule is acyclic");
        true
    }
}

impl crate::parallel::Walk for Search<'_> {
    type Solution = Vec<Vec<usize>>;

    fn best_makespan(&self) -> i64 {
        self.best.makespan
    }

    fn best_solution(&self) -> &Self::Solution {
        &self.best.seq
    }

    fn run(&mut self, steps: u64, lower_bound: i64, keep_going: &mut dyn FnMut() -> bool, improved: &mut dyn FnMut(i64)) -> bool {
        Search::run(self, steps, lower_bound, keep_going, &mut |found| improved(found.makespan))
    }

    fn takes_best(&self) -> bool {
        Search::takes_best(self)
    }

    fn adopt(&mut self, solution: &Self::Solution) {
        Search::adopt(self, solution);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn ft06() -> JobShop {
        JobShop::parse_orlib(
            "6 6\n2 1 0 3 1 6 3 7 5 3 4 6\n1 8 2 5 4 10 5 10 0 10 3 4\n2 5 3 4 5 8 0 9 1 1 4 7\n1 5 0 5 2 5 3 3 4 8 5 9\n2 9 1 3 4 5 5 4 0 3 3 1\n1 3 3 3 5 9 0 10 4 4 2 1\n",
        )
        .unwrap()
    }

    /// Every move that passes the acyclicity test keeps the graph acyclic,
    /// and the estimate is the longest path through the moved segment
    /// whenever the move leaves the heads of the segment's job predecessors
    /// and the tails of its job successors as they were (the estimate's only
    /// approximation is to assume they stay).
    #[test]
    fn estimates_are_exact_through_the_moved_segment() {
        let p = ft06();
        let g = Graph::new(&p);
        let start = g.sequences(&crate::construct::dispatch(&p, None));
        let mut st = State::new(&g, start);
        assert!(st.retime(&g));
        let (mut blocks, mut moves, mut seg, mut heads) = (vec![], vec![], vec![], vec![]);
        let mut rng = Rng::new(3);
        let mut checked = 0;
        for _ in 0..200 {
            st.blocks(&g, &mut blocks, &mut Vec::new());
            neighbourhood(&blocks, &mut moves);
            for &mv in &moves {
                if let Some(e) = st.estimate(&g, mv, &mut seg, &mut heads) {
                    let mut after = State::new(&g, st.seq.clone());
                    after.apply(mv);
                    assert!(after.retime(&g), "a move that passes the test keeps the graph acyclic");
                    let unchanged = seg.iter().all(|&x| {
                        let (jp, js) = (g.job_prev[x], g.job_next[x]);
                        (jp == NONE || after.head[jp] == st.head[jp]) && (js == NONE || after.rest[js] == st.rest[js])
                    });
                    if unchanged {
                        let through = seg.iter().map(|&x| after.head[x] + after.rest[x]).max().unwrap();
                        assert_eq!(e, through, "{mv:?}");
                        checked += 1;
                    }
                }
            }
            let mv = moves[rng.below(moves.len())];
            if st.estimate(&g, mv, &mut seg, &mut heads).is_some() {
                st.apply(mv);
                assert!(st.retime(&g));
            }
        }
        assert!(checked > 300, "{checked} moves checked");
    }

    /// A random instance: every job visits every machine once, some
    /// operations take no time (as in published sets).
    pub(crate) fn random_instance(jobs: usize, machines: usize, seed: u64) -> JobShop {
        let mut rng = Rng::new(seed);
        let mut text = format!("{jobs} {machines}\n");
        for _ in 0..jobs {
            let mut order: Vec<usize> = (0..machines).collect();
            for i in (1..machines).rev() {
                order.swap(i, rng.below(i + 1));
            }
            for m in order {
                let d = if rng.below(5) == 0 { 0 } else { 1 + rng.below(20) };
                text.push_str(&format!("{m} {d} "));
            }
            text.push('\n');
        }
        JobShop::parse_orlib(&text).unwrap()
    }

    /// A random instance's graph and its dispatching schedule, timed.
    fn random_timed(jobs: usize, machines: usize, seed: u64) -> (Graph, State) {
        let p = random_instance(jobs, machines, seed);
        let g = Graph::new(&p);
        let mut st = State::new(&g, g.sequences(&crate::construct::dispatch(&p, None)));
        assert!(st.retime(&g));
        (g, st)
    }

    /// The incremental timing after any move within a machine (critical or
    /// not) agrees with a full timing: the same heads, tails and makespan,
    /// and a cycle found exactly when there is one.
    #[test]
    fn incremental_timing_equals_a_full_timing() {
        let (mut moves, mut cycles) = (0, 0);
        for seed in 1..6 {
            let (g, mut st) = random_timed(9, 6, seed);
            let mut rng = Rng::new(seed);
            for _ in 0..400 {
                let m = rng.below(g.machines);
                let len = st.seq[m].len();
                let (from, to) = (rng.below(len), rng.below(len));
                if from == to {
                    continue;
                }
                let mv = Move { m, from, to };
                st.apply(mv);
                let mut full = State::new(&g, st.seq.clone());
                let acyclic = full.retime(&g);
                assert_eq!(st.retime_move(&g, mv), acyclic, "{mv:?}");
                if acyclic {
                    assert_eq!((&st.head, &st.ends, &st.rest, st.makespan), (&full.head, &full.ends, &full.rest, full.makespan), "{mv:?}");
                    moves += 1;
                } else {
                    st.undo(mv);
                    assert!(st.retime(&g));
                    cycles += 1;
                }
            }
        }
        assert!(moves > 500 && cycles > 100, "{moves} moves, {cycles} cycles");
    }

    /// The sweeps give every move of `neighbourhood`, in its order, with
    /// `State::estimate`'s value (or its `None`), on every run of two or
    /// more positions of every machine (not only critical blocks: first,
    /// last and whole machines included), along random walks of schedules
    /// with zero durations.
    #[test]
    fn block_sweeps_equal_the_estimate_of_each_move() {
        let (mut sweeps, mut listed, mut moves, mut seg, mut heads) = (BlockEstimates::default(), vec![], vec![], vec![], vec![]);
        let (mut valued, mut refused) = (0, 0);
        for seed in 1..5 {
            let (g, mut st) = random_timed(8, 5, seed);
            let mut rng = Rng::new(seed);
            for _ in 0..60 {
                for m in 0..g.machines {
                    let len = st.seq[m].len();
                    for a in 0..len {
                        for b in a + 1..len {
                            sweeps.moves(&st, &g, &[(m, a, b)], &mut listed);
                            neighbourhood(&[(m, a, b)], &mut moves);
                            assert_eq!(listed.iter().map(|x| x.0).collect::<Vec<_>>(), moves, "block {m} {a}..={b}");
                            for &(mv, e) in &listed {
                                assert_eq!(e, st.estimate(&g, mv, &mut seg, &mut heads), "{mv:?} in block {a}..={b}");
                                if e.is_some() { valued += 1 } else { refused += 1 }
                            }
                        }
                    }
                }
                let m = rng.below(g.machines);
                let (from, to) = (rng.below(st.seq[m].len()), rng.below(st.seq[m].len()));
                let mv = Move { m, from, to };
                st.apply(mv);
                if !st.retime(&g) {
                    st.undo(mv);
                    assert!(st.retime(&g));
                }
            }
        }
        assert!(valued > 10_000 && refused > 1_000, "{valued} estimates, {refused} refusals");
    }

    #[test]
    fn the_neighbourhood_has_no_duplicates_and_contains_n5() {
        let mut moves = Vec::new();
        neighbourhood(&[(0, 2, 5)], &mut moves);
        let mut sorted = moves.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), moves.len());
        // Each move really is one: from and to differ.
        assert!(moves.iter().all(|m| m.from != m.to));
        assert!(moves.contains(&Move { m: 0, from: 2, to: 3 }) && moves.contains(&Move { m: 0, from: 4, to: 5 }));
        // 3 to the front, 3 to the back (one shared swap each way), 1+1 inside.
        assert_eq!(moves.len(), 3 + 3 + 2);
        neighbourhood(&[(1, 0, 1)], &mut moves);
        assert_eq!(moves, vec![Move { m: 1, from: 0, to: 1 }]);
        // Blocks of every length, on two machines at once: still no duplicate.
        for len in 2..9 {
            neighbourhood(&[(0, 1, len), (1, 3, 3 + len - 1), (0, len + 2, len + 3)], &mut moves);
            let mut sorted = moves.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), moves.len(), "length {len}");
        }
    }

    #[test]
    fn apply_and_undo_restore_the_sequence() {
        let p = ft06();
        let g = Graph::new(&p);
        let seq = g.sequences(&crate::construct::dispatch(&p, None));
        let mut st = State::new(&g, seq.clone());
        for mv in [Move { m: 0, from: 1, to: 4 }, Move { m: 2, from: 5, to: 0 }] {
            st.apply(mv);
            assert!(st.seq[mv.m].iter().enumerate().all(|(i, &o)| st.pos[o] == i));
            st.undo(mv);
        }
        assert_eq!(st.seq, seq);
    }

    #[test]
    fn a_search_is_a_function_of_its_seed() {
        let p = ft06();
        let g = Graph::new(&p);
        let start = g.sequences(&crate::construct::dispatch(&p, Some(&mut Rng::new(9))));
        // Long enough for spent trajectories, the pool and relinking.
        let run = |seed| {
            let mut search = Search::new(&g, start.clone(), seed);
            let mut trace = Vec::new();
            search.run(80_000, 0, &mut || true, &mut |f| trace.push(f.makespan));
            assert!(search.elite.len() >= 2, "the pool formed");
            (trace, search.best.seq.clone())
        };
        assert_eq!(run(4), run(4));
        assert!(run(4).0.last() <= Some(&58), "ft06's optimum is 55; the search gets close");
    }

    #[test]
    fn alternating_trajectories_report_schedules_of_the_original() {
        // Zero durations included, as in the shared set.
        let p = random_instance(8, 5, 21);
        let m = crate::mirror::mirror(&p);
        let (g, gm) = (Graph::new(&p), Graph::new(&m));
        let start = g.sequences(&crate::construct::dispatch(&p, None));
        let mut search = Search::new(&g, start, 5).with_mirror(&gm);
        // A schedule of the original: each machine's sequence holds that
        // machine's operations, and it times to the makespan it claims.
        let of_original = |seq: &[Vec<usize>], makespan: i64| {
            seq.len() == p.machines && seq.iter().enumerate().all(|(k, s)| s.iter().all(|&o| g.machine[o] == k)) && g.schedule(seq).makespan == makespan
        };
        let mut reported = 0;
        let mut seen_mirrored = 0;
        for _ in 0..150 {
            search.run(1_000, 0, &mut || true, &mut |f| {
                assert!(of_original(&f.seq, f.makespan), "a reported best is the original's");
                reported += 1;
            });
            if search.mirrored() {
                // On the mirror's side, its machines; reflected, the original's.
                seen_mirrored += 1;
                assert!(search.st.seq.iter().enumerate().all(|(k, s)| s.iter().all(|&o| gm.machine[o] == k)));
                assert!(of_original(&search.across(&search.st.seq), search.st.makespan));
            }
        }
        assert!(reported > 1 && seen_mirrored > 0, "{reported} reports, {seen_mirrored} checks on the mirror");
        assert!(search.trajectories >= 3, "trajectories were spent on both sides: {}", search.trajectories);
        // What the pool holds is on the original's side too.
        for member in search.elite.members() {
            assert!(of_original(member, g.schedule(member).makespan), "a pool member is the original's");
        }
    }

    fn random_schedule(p: &JobShop, g: &Graph, seed: u64) -> Vec<Vec<usize>> {
        g.sequences(&crate::construct::dispatch(p, Some(&mut Rng::new(seed))))
    }

    #[test]
    fn patience_ramps_from_40_to_80_iterations_per_operation() {
        assert_eq!(stall_iterations(10), 4_000, "the floor");
        assert_eq!(stall_iterations(100), 40 * 100, "ft10 as tuned first");
        assert_eq!(stall_iterations(250), 60 * 250);
        assert_eq!(stall_iterations(400), 80 * 400);
        assert_eq!(stall_iterations(1_000), 80 * 1_000);
    }

    #[test]
    fn the_late_phase_shortens_trajectories_and_widens_the_pool_from_its_iteration_on() {
        let p = random_instance(20, 10, 3);
        let g = Graph::new(&p);
        let n = g.operations() as u64;
        assert_eq!(late_phase_from(n), 60_000_000, "a minute's iterations at 5 ns per operation");
        assert!(late_stall_iterations(n) < stall_iterations(n));
        // Short stalls so that trajectories are spent within the test; the
        // phase starts at once for one search and never for the other.
        let spend = |late_from: u64| {
            let mut search = Search::new(&g, random_schedule(&p, &g, 1), 1);
            (search.stall, search.late_from) = (300, late_from);
            while search.trajectories < 2 {
                search.run(1_000, 0, &mut || true, &mut |_| {});
            }
            (search.stall, search.elite.capacity())
        };
        assert_eq!(spend(0), (late_stall_iterations(n), ELITE_LATE));
        assert_eq!(spend(u64::MAX), (300, ELITE));
    }

    #[test]
    fn a_spent_run_begins_again_from_a_fresh_start_and_keeps_the_best() {
        let p = random_instance(15, 8, 6);
        let g = Graph::new(&p);
        let n = g.operations() as u64;
        assert_eq!(begin_again_after(n), 4 * late_phase_from(n), "four late phases' worth");
        let run = |seed| {
            let mut search = Search::new(&g, random_schedule(&p, &g, 1), seed);
            // Short trajectories and runs, so that several runs are spent
            // within the test; the late phase from the start, so that a new
            // run is seen to leave it.
            (search.stall, search.late_from, search.begin_again) = (300, 0, 3_000);
            let mut reports = Vec::new();
            let mut run_starts = Vec::new();
            for _ in 0..2_000 {
                let run_from = search.run_from;
                search.run(200, 0, &mut || true, &mut |f| reports.push(f.makespan));
                if search.run_from > run_from {
                    // Begun within these 200 iterations, as a search begins.
                    assert_eq!((search.elite.capacity(), search.elite.len()), (ELITE, 0), "a new, empty pool of the first minute's size");
                    assert_eq!(search.stall, stall_iterations(n), "the early phase's stall");
                    assert!(search.run_from > 0 && search.iter - search.run_from <= 200);
                    run_starts.push(search.run_best);
                }
                if run_starts.len() >= 3 {
                    break;
                }
            }
            assert!(run_starts.len() >= 3, "three runs spent, {} begun", run_starts.len());
            assert!(reports.windows(2).all(|w| w[1] < w[0]), "the best only improves: {reports:?}");
            assert_eq!(g.schedule(&search.best.seq).makespan, search.best.makespan, "the best is a schedule of its makespan");
            assert!(run_starts.iter().all(|&m| m >= search.best.makespan));
            (reports, run_starts, search.best.seq.clone())
        };
        assert_eq!(run(3), run(3), "still a function of the seed");
    }

    /// A stalled search takes the best of all threads into its pool, in
    /// its first run; a run begun again is a fresh draw and never does.
    #[test]
    fn only_the_first_run_takes_other_threads_schedules() {
        let p = random_instance(10, 5, 2);
        let g = Graph::new(&p);
        let mut search = Search::new(&g, random_schedule(&p, &g, 1), 1);
        assert!(!search.takes_best());
        search.since_best = search.stall / 2 + 1;
        assert!(search.takes_best());
        search.iter = 10_000;
        search.begin_again();
        search.since_best = search.stall;
        assert!(search.run_from > 0 && !search.takes_best());
    }

    #[test]
    fn distance_counts_the_pairs_ordered_differently() {
        let p = ft06();
        let g = Graph::new(&p);
        let a = random_schedule(&p, &g, 1);
        let mut pos = vec![0; g.operations()];
        assert_eq!(distance(&a, &a, &mut pos), 0);
        let mut b = a.clone();
        b[2].reverse();
        assert_eq!(distance(&a, &b, &mut pos), 15, "six operations reversed: all 15 pairs");
        b[2].reverse();
        b[0].swap(0, 1);
        assert_eq!(distance(&a, &b, &mut pos), 1);
        assert_eq!(distance(&b, &a, &mut pos), 1);
    }

    /// A relinked schedule is acyclic and lies on a path between its ends:
    /// each pair of operations it orders is ordered as in one of them, and
    /// its distances to both add up to theirs.
    #[test]
    fn relinking_stays_acyclic_and_between_its_ends() {
        let p = JobShop::parse_orlib(&std::fs::read_to_string(testkit_ft10()).unwrap()).unwrap();
        let g = Graph::new(&p);
        let mut search = Search::new(&g, random_schedule(&p, &g, 1), 1);
        let mut pos = vec![0; g.operations()];
        let mut reached = 0;
        for k in 0..40 {
            let (from, to) = (random_schedule(&p, &g, 100 + k), random_schedule(&p, &g, 200 + k));
            let left = [0.0, 0.3, 0.5, 0.7][k as usize % 4];
            let mid = search.relink(&from, &to, left);
            assert!(State::new(&g, mid.clone()).retime(&g), "acyclic");
            let (whole, there, back) = (distance(&from, &to, &mut pos), distance(&from, &mid, &mut pos), distance(&mid, &to, &mut pos));
            assert_eq!(there + back, whole, "on a path between the ends");
            if back <= (whole as f64 * left) as u64 {
                reached += 1;
            }
        }
        assert!(reached >= 36, "relinking nearly always gets as close as asked ({reached} of 40)");
    }

    /// As the integration tests find it: relative to the directory cargo
    /// runs tests in, or under `SHARED_DATA` (not through a compile-time
    /// path, which a shared build cache can carry over from another clone).
    fn testkit_ft10() -> std::path::PathBuf {
        std::env::var_os("SHARED_DATA").map_or_else(|| std::path::PathBuf::from("../../../shared/data"), Into::into).join("jobshop/instances/ft10")
    }
}
