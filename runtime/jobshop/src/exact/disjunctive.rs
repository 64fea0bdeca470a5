//! The rules of one machine's unranked operations: pairwise disjunction
//! and edge finding (Vilím's Θ-Λ tree, O(k log k) per side: "O(n log n)
//! Filtering Algorithms for Unary Resource Constraint", CPAIOR 2004, and
//! Vilím, Barták & Čepek, Constraints 2005). Edge finding here is the full
//! rule: for every set Ω of the machine's operations and every i outside
//! it, if Ω ∪ {i} cannot end by the latest end of Ω then i goes after all
//! of Ω, so no earlier than Ω's earliest completion; and the mirror image.

/// Leaves of absent operations: far below any time, and far enough from
/// `i64::MIN` that adding durations cannot overflow.
const ABSENT: i64 = i64::MIN / 4;

/// Scratch of [`Disjunctive::narrow`], kept between calls so that the
/// search allocates nothing per node.
#[derive(Default)]
pub(super) struct Disjunctive {
    /// The operations by earliest start (the leaves, left to right), and
    /// by latest end.
    by_est: Vec<usize>,
    by_lct: Vec<usize>,
    /// Each operation's leaf, indexed like the operations given.
    leaf_of: Vec<usize>,
    tree: Vec<Node>,
    /// The side's times, mirrored for the second side.
    est: Vec<i64>,
    lct: Vec<i64>,
    bound: Vec<i64>,
}

#[derive(Clone, Copy)]
struct Node {
    /// Work and earliest completion of the white operations (Θ)...
    p: i64,
    ect: i64,
    /// ... and the most of each when at most one grey operation (Λ) joins,
    /// with the grey operation responsible (`NO_ONE` when none).
    p_bar: i64,
    ect_bar: i64,
    p_by: usize,
    ect_by: usize,
}

const NO_ONE: usize = usize::MAX;
const EMPTY: Node = Node { p: 0, ect: ABSENT, p_bar: 0, ect_bar: ABSENT, p_by: NO_ONE, ect_by: NO_ONE };

impl Disjunctive {
    /// Narrows the windows [est, lct] of the operations `u` (durations
    /// `dur`) of one machine; `false` when they cannot all fit. Sets
    /// `changed` when a window narrowed.
    pub(super) fn narrow(&mut self, u: &[usize], dur: &[i64], est: &mut [i64], lct: &mut [i64], changed: &mut bool) -> bool {
        if !pairwise(u, dur, est, lct, changed) {
            return false;
        }
        // Earliest starts, then latest ends as the earliest starts of the
        // mirror image (time reversed).
        self.est.clear();
        self.est.extend(u.iter().map(|&o| est[o]));
        self.lct.clear();
        self.lct.extend(u.iter().map(|&o| lct[o]));
        if !self.edge_find(u, dur) {
            return false;
        }
        for (k, &o) in u.iter().enumerate() {
            raise(&mut est[o], self.bound[k], changed);
        }
        self.est.clear();
        self.est.extend(u.iter().map(|&o| -lct[o]));
        self.lct.clear();
        self.lct.extend(u.iter().map(|&o| -est[o]));
        if !self.edge_find(u, dur) {
            return false;
        }
        for (k, &o) in u.iter().enumerate() {
            lower(&mut lct[o], -self.bound[k], changed);
        }
        true
    }

    /// Edge finding on `self.est` / `self.lct` (indexed by position in
    /// `u`): the raised earliest starts in `self.bound`; `false` on
    /// overload.
    fn edge_find(&mut self, u: &[usize], dur: &[i64]) -> bool {
        let k = u.len();
        let (est, lct) = (&self.est, &self.lct);
        self.by_est.clear();
        self.by_est.extend(0..k);
        self.by_est.sort_unstable_by_key(|&x| est[x]);
        self.by_lct.clear();
        self.by_lct.extend(0..k);
        self.by_lct.sort_unstable_by_key(|&x| std::cmp::Reverse(lct[x]));
        self.leaf_of.resize(k, 0);
        let size = k.next_power_of_two();
        self.tree.clear();
        self.tree.resize(2 * size, EMPTY);
        for (leaf, &x) in self.by_est.iter().enumerate() {
            self.leaf_of[x] = leaf;
            let p = dur[u[x]];
            self.tree[size + leaf] = Node { p, ect: est[x] + p, p_bar: p, ect_bar: est[x] + p, p_by: NO_ONE, ect_by: NO_ONE };
        }
        for v in (1..size).rev() {
            self.tree[v] = combine(&self.tree[2 * v], &self.tree[2 * v + 1]);
        }
        self.bound.clear();
        self.bound.extend_from_slice(est);
        for step in 0..k {
            let j = self.by_lct[step];
            if self.tree[1].ect > self.lct[j] {
                return false;
            }
            // Grey operations that Θ (everything ending by lct_j) cannot
            // take in: each goes after all of Θ.
            while self.tree[1].ect_bar > self.lct[j] {
                let i = self.tree[1].ect_by;
                debug_assert_ne!(i, NO_ONE, "only a grey operation lifts ect_bar above ect");
                self.bound[i] = self.bound[i].max(self.tree[1].ect);
                self.set_leaf(size, i, EMPTY);
            }
            // j turns grey for the next, smaller Θ.
            let p = dur[u[j]];
            let e = self.est[j] + p;
            self.set_leaf(size, j, Node { p: 0, ect: ABSENT, p_bar: p, ect_bar: e, p_by: j, ect_by: j });
        }
        true
    }

    fn set_leaf(&mut self, size: usize, x: usize, node: Node) {
        let mut v = size + self.leaf_of[x];
        self.tree[v] = node;
        while v > 1 {
            v /= 2;
            self.tree[v] = combine(&self.tree[2 * v], &self.tree[2 * v + 1]);
        }
    }
}

fn combine(l: &Node, r: &Node) -> Node {
    let p = l.p + r.p;
    let ect = r.ect.max(l.ect + r.p);
    let (p_bar, p_by) = if l.p_bar + r.p >= l.p + r.p_bar { (l.p_bar + r.p, l.p_by) } else { (l.p + r.p_bar, r.p_by) };
    let mut ect_bar = r.ect_bar;
    let mut ect_by = r.ect_by;
    if l.ect + r.p_bar > ect_bar {
        ect_bar = l.ect + r.p_bar;
        ect_by = r.p_by;
    }
    if l.ect_bar + r.p > ect_bar {
        ect_bar = l.ect_bar + r.p;
        ect_by = l.ect_by;
    }
    Node { p, ect, p_bar, ect_bar, p_by, ect_by }
}

/// Each pair: when only one order fits, the first ends before the second
/// starts.
fn pairwise(u: &[usize], dur: &[i64], est: &mut [i64], lct: &mut [i64], changed: &mut bool) -> bool {
    for (i, &x) in u.iter().enumerate() {
        for &y in &u[i + 1..] {
            let x_first = est[x] + dur[x] + dur[y] <= lct[y];
            let y_first = est[y] + dur[y] + dur[x] <= lct[x];
            let (before, after) = match (x_first, y_first) {
                (false, false) => return false,
                (true, false) => (x, y),
                (false, true) => (y, x),
                (true, true) => continue,
            };
            let (end, start_by) = (est[before] + dur[before], lct[after] - dur[after]);
            raise(&mut est[after], end, changed);
            lower(&mut lct[before], start_by, changed);
        }
    }
    true
}

/// Raises `x` to `to`, noting a change.
pub(super) fn raise(x: &mut i64, to: i64, changed: &mut bool) {
    if *x < to {
        *x = to;
        *changed = true;
    }
}

/// Lowers `x` to `to`, noting a change.
pub(super) fn lower(x: &mut i64, to: i64, changed: &mut bool) {
    if *x > to {
        *x = to;
        *changed = true;
    }
}
