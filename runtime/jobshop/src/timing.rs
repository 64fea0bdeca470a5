//! Machine sequences with their timing on the disjunctive graph: heads
//! (earliest starts) and tails (longest path to the end), re-timed in full
//! or after one move; the critical blocks of a critical path; moves applied,
//! undone and judged.
//!
//! Moves are judged without re-timing the graph: from the current heads
//! and tails, the new heads and tails of the moved segment are estimated as
//! Balas & Vazacopoulos do, which is exact for the segment and costs
//! O(block) (`State::estimate`; `block_estimates` gives the same values for
//! a whole block in one sweep). Only the chosen move is applied and the
//! graph re-timed, from the one arc it puts against the old topological
//! order (`State::retime_move`). Every move the searches make satisfies
//! Balas & Vazacopoulos' condition for staying acyclic; the re-timing
//! still checks, because with zero durations (which benchmark sets
//! contain) the condition is not quite sufficient.

use crate::graph::{Graph, NONE, at, op};
use crate::neighbourhood::Move;
use crate::schedule::Schedule;

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
    pub(crate) fn new(g: &Graph, seq: Vec<Vec<usize>>) -> Self {
        let (machine, dur) = g.assignment();
        Self::assigned(g, machine.to_vec(), dur.to_vec(), seq)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neighbourhood::neighbourhood;
    use crate::rng::Rng;
    use crate::test_instances::{ft06, random_timed};

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
}
