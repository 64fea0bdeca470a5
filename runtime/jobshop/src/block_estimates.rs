//! Every N7 move of the critical blocks with its estimate, in one sweep per
//! kind of move rather than one walk of the moved segment per move.
//!
//! The estimate of a move (`State::estimate`, Balas & Vazacopoulos) is the
//! longest path through the moved segment in its new order, entered from a
//! job predecessor (or, at the first operation, the machine predecessor)
//! and left to a job successor (or, at the last, the machine successor):
//! the maximum over entry `q` and exit `r` at or after it of
//! `entry(q) + durations(q..=r) + exit(r)`. With `P` the prefix sums of the
//! block's durations, that is `max a[q] + b[r]` for `a[q] = entry - P[q]`,
//! `b[r] = exit + P[r + 1]`: on a contiguous run of the machine's order the
//! maximum pair, the largest `a` and the largest `b` grow by one operation
//! in O(1). Each kind of move keeps one end of its run fixed (the block's
//! first or last operation), so a sweep from that end gives every move of
//! the kind in O(1) after the block's O(length) set-up. On the largest
//! instances a move's segment averages seven operations (dmu73), and the
//! per-move walk was the search's largest cost.
//!
//! The values are exactly `State::estimate`'s (a test holds every move to
//! it), and the moves come in `neighbourhood::neighbourhood`'s order, so a search
//! draws the same ties and follows the same path.

use crate::graph::{Graph, NONE};
use crate::neighbourhood::Move;
use crate::timing::State;

/// Far below any path, yet safe to add a few of.
const MINUS: i64 = i64::MIN / 4;

/// The maxima of a contiguous run of a block's positions.
#[derive(Clone, Copy)]
struct Run {
    a: i64,
    b: i64,
    /// The largest `a[q] + b[r]` with `q <= r`.
    pair: i64,
}

impl Run {
    const EMPTY: Run = Run { a: MINUS, b: MINUS, pair: MINUS };

    fn push_right(&mut self, a: i64, b: i64) {
        self.a = self.a.max(a);
        self.pair = self.pair.max(self.a + b);
        self.b = self.b.max(b);
    }

    fn push_left(&mut self, a: i64, b: i64) {
        self.b = self.b.max(b);
        self.pair = self.pair.max(a + self.b);
        self.a = self.a.max(a);
    }
}

/// What the sweeps read of one position of the block.
#[derive(Clone, Copy)]
struct At {
    dur: i64,
    /// End of the job predecessor, tail of the job successor (0 for none).
    job_end: i64,
    job_rest: i64,
    /// The durations of the block's positions before this one.
    prefix: i64,
    /// The module's `a` (entry from the job predecessor, less `prefix`)
    /// and `b` (exit to the job successor, plus the durations up to here).
    a: i64,
    b: i64,
}

/// Scratch for one block, indexed by position from the block's first.
#[derive(Default)]
pub(crate) struct BlockEstimates {
    at: Vec<At>,
    /// `end[k]`: the end of position `k - 1` (`end[0]`, the machine
    /// predecessor's, 0 for none); `rest[k]`: the tail of position `k`
    /// (`rest[len]`, the machine successor's).
    end: Vec<i64>,
    rest: Vec<i64>,
    /// The durations of the whole block.
    total: i64,
    /// A sweep that runs against `neighbourhood`'s order keeps its
    /// estimates here, by position, until they are listed in that order.
    later: Vec<Option<i64>>,
}

impl BlockEstimates {
    /// Every move of `neighbourhood::neighbourhood(blocks)`, in its order, with
    /// `State::estimate` of each (`None` where the move might close a cycle).
    pub(crate) fn moves(&mut self, st: &State, g: &Graph, blocks: &[(usize, usize, usize)], out: &mut Vec<(Move, Option<i64>)>) {
        out.clear();
        for &(m, a, b) in blocks {
            self.block(st, g, m, a, b, out);
        }
    }

    fn block(&mut self, st: &State, g: &Graph, m: usize, a: usize, b: usize, out: &mut Vec<(Move, Option<i64>)>) {
        let s = &st.seq[m][..];
        self.at.clear();
        self.end.clear();
        self.rest.clear();
        self.end.push(if a == 0 { 0 } else { st.end(s[a - 1]) });
        let mut p = 0;
        for &o in &s[a..=b] {
            let (d, end, rest) = (st.dur[o], st.ends[g.job_prev_at[o] as usize], st.rest[g.job_next_at[o] as usize]);
            self.at.push(At { dur: d, job_end: end, job_rest: rest, prefix: p, a: end - p, b: rest + p + d });
            self.end.push(st.ends[o]);
            self.rest.push(st.rest[o]);
            p += d;
        }
        self.total = p;
        self.rest.push(st.rest_of(s.get(b + 1).copied().unwrap_or(NONE)));
        let push_right = |r: &mut Run, at: &At| r.push_right(at.a, at.b);
        let push_left = |r: &mut Run, at: &At| r.push_left(at.a, at.b);
        // To the front: a swap with the first, then backward moves whose run
        // (a..i) grows to the right.
        let mut front = Run::EMPTY;
        push_right(&mut front, &self.at[0]);
        for i in 1..=b - a {
            let e = if i == 1 {
                let mut one = Run::EMPTY;
                push_right(&mut one, &self.at[1]);
                self.forward(0, 1, one)
            } else {
                push_right(&mut front, &self.at[i - 1]);
                self.backward(0, i, front)
            };
            out.push((Move::canonical(m, a + i, a), e));
        }
        // To the back: forward moves whose run (i + 1..=b) grows to the left.
        let last = b - a;
        self.later.clear();
        self.later.resize(last, None);
        let mut back = Run::EMPTY;
        for i in (0..last).rev() {
            push_left(&mut back, &self.at[i + 1]);
            self.later[i] = self.forward(i, last, back);
        }
        for i in 0..last {
            if last > 1 || i != 0 {
                out.push((Move::canonical(m, a + i, b), self.later[i]));
            }
        }
        // The first inside: forward, run a + 1..=j growing to the right.
        let mut first = Run::EMPTY;
        if last > 2 {
            push_right(&mut first, &self.at[1]);
        }
        for j in 2..last {
            push_right(&mut first, &self.at[j]);
            out.push((Move::canonical(m, a, a + j), self.forward(0, j, first)));
        }
        // The last inside: backward, run j..b growing to the left.
        let mut inside = Run::EMPTY;
        if last > 2 {
            push_left(&mut inside, &self.at[last - 1]);
        }
        for j in (1..last.saturating_sub(1)).rev() {
            push_left(&mut inside, &self.at[j]);
            self.later[j] = self.backward(j, last, inside);
        }
        for j in 1..last.saturating_sub(1) {
            out.push((Move::canonical(m, b, a + j), self.later[j]));
        }
    }

    /// The block's `lo` moved after its `hi`; `run` covers `lo + 1..=hi`.
    fn forward(&self, lo: usize, hi: usize, run: Run) -> Option<i64> {
        let u = &self.at[lo];
        // No path from u's job successor to `hi` (as `State::estimate`).
        if u.job_rest > self.rest[hi] {
            return None;
        }
        let (before, after) = (self.end[lo], self.rest[hi + 1]);
        let start = before - self.at[lo + 1].prefix;
        let inside = run.pair.max(start + run.b);
        let ready = self.ends_at(hi) + run.a.max(start);
        let through = ready.max(u.job_end) + u.dur + after.max(u.job_rest);
        Some(inside.max(through))
    }

    /// The block's `hi` moved before its `lo`; `run` covers `lo..hi`.
    fn backward(&self, lo: usize, hi: usize, run: Run) -> Option<i64> {
        let v = &self.at[hi];
        // No path from `lo` to v's job predecessor.
        if v.job_end > self.end[lo + 1] {
            return None;
        }
        let (before, after) = (self.end[lo], self.rest[hi + 1]);
        let (span, top) = (v.prefix, self.at[lo].prefix);
        let leave = (run.b - top).max(span - top + after);
        let through = before.max(v.job_end) + v.dur + v.job_rest.max(leave);
        Some(through.max(run.pair).max(run.a + span + after))
    }

    /// The durations of the block's positions up to `k`, inclusive.
    fn ends_at(&self, k: usize) -> i64 {
        self.at.get(k + 1).map_or(self.total, |x| x.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neighbourhood::neighbourhood;
    use crate::rng::Rng;
    use crate::test_instances::random_timed;

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
}
