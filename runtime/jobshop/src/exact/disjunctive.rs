//! The rules of one machine's unranked operations, on each side
//! (earliest starts, and latest ends as the earliest starts of the
//! mirror image): edge finding, detectable precedences and
//! not-last (not-first on the mirror), each O(k log k) on Vilím's Θ and
//! Θ-Λ trees ("O(n log n) Filtering Algorithms for Unary Resource
//! Constraint", CPAIOR 2004; Vilím, Barták & Čepek, Constraints 2005).
//!
//! - Edge finding: for every set Ω of the machine's operations and every
//!   i outside it, if Ω ∪ {i} cannot end by the latest end of Ω then i
//!   goes after all of Ω, so no earlier than Ω's earliest completion.
//! - Detectable precedences: every j that cannot start after i ends (its
//!   latest start before i's earliest end) goes before i, so i starts no
//!   earlier than those j's earliest completion together.
//! - Not-last: if the j whose latest start is before i's latest end
//!   cannot all end before i's latest start, i is not last among them, so
//!   it ends by the latest of their latest starts.
//!
//! With edge finding and the pairwise rule alone, the search on a
//! seti5c12 assignment found the optimum at node 224,660; with these
//! three at node 87,407, in three quarters of the time, and the five
//! seti5 probe schedules took two to five times fewer nodes
//! (bench/results/exact-step-rules-2026-12-07.txt). Detectable
//! precedences subsume the pairwise rule (a pair with one order left is
//! a precedence it detects), so that rule is gone.

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
    /// The durations, by position in the operations given.
    p: Vec<i64>,
    /// What the side's rules deduce: raised earliest starts and lowered
    /// latest ends, indexed by position in `u`.
    bound: Vec<i64>,
    cap: Vec<i64>,
    /// The operations by latest start and by earliest end.
    by_lst: Vec<usize>,
    by_ect: Vec<usize>,
    /// Θ-tree (work, earliest completion) over the leaves of `by_est`.
    theta: Vec<(i64, i64)>,
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
        self.p.clear();
        self.p.extend(u.iter().map(|&o| dur[o]));
        // Earliest starts, then latest ends as the earliest starts of the
        // mirror image (time reversed).
        self.est.clear();
        self.est.extend(u.iter().map(|&o| est[o]));
        self.lct.clear();
        self.lct.extend(u.iter().map(|&o| lct[o]));
        if !self.side() {
            return false;
        }
        for (k, &o) in u.iter().enumerate() {
            raise(&mut est[o], self.bound[k], changed);
            lower(&mut lct[o], self.cap[k], changed);
        }
        self.est.clear();
        self.est.extend(u.iter().map(|&o| -lct[o]));
        self.lct.clear();
        self.lct.extend(u.iter().map(|&o| -est[o]));
        if !self.side() {
            return false;
        }
        for (k, &o) in u.iter().enumerate() {
            lower(&mut lct[o], -self.bound[k], changed);
            raise(&mut est[o], -self.cap[k], changed);
        }
        u.iter().all(|&o| est[o] + dur[o] <= lct[o])
    }

    /// The three rules on `self.est` / `self.lct`: raised earliest starts
    /// in `self.bound`, lowered latest ends in `self.cap`; `false` on
    /// overload.
    fn side(&mut self) -> bool {
        let k = self.p.len();
        let (est, lct, p) = (&self.est, &self.lct, &self.p);
        self.by_est.clear();
        self.by_est.extend(0..k);
        self.by_est.sort_unstable_by_key(|&x| est[x]);
        self.by_lct.clear();
        self.by_lct.extend(0..k);
        self.by_lct.sort_unstable_by_key(|&x| std::cmp::Reverse(lct[x]));
        self.by_lst.clear();
        self.by_lst.extend(0..k);
        self.by_lst.sort_unstable_by_key(|&x| lct[x] - p[x]);
        self.by_ect.clear();
        self.by_ect.extend(0..k);
        self.by_ect.sort_unstable_by_key(|&x| est[x] + p[x]);
        self.leaf_of.resize(k, 0);
        for (leaf, &x) in self.by_est.iter().enumerate() {
            self.leaf_of[x] = leaf;
        }
        self.bound.clear();
        self.bound.extend_from_slice(&self.est);
        self.cap.clear();
        self.cap.extend_from_slice(&self.lct);
        if !self.edge_find() {
            return false;
        }
        self.detectable_precedences();
        self.not_last();
        true
    }

    /// Edge finding (the leaves in `by_est` order, Θ shrinking by
    /// `by_lct`): raises `self.bound`; `false` on overload.
    fn edge_find(&mut self) -> bool {
        let k = self.p.len();
        let est = &self.est;
        let size = k.next_power_of_two();
        self.tree.clear();
        self.tree.resize(2 * size, EMPTY);
        for (leaf, &x) in self.by_est.iter().enumerate() {
            let p = self.p[x];
            self.tree[size + leaf] = Node { p, ect: est[x] + p, p_bar: p, ect_bar: est[x] + p, p_by: NO_ONE, ect_by: NO_ONE };
        }
        for v in (1..size).rev() {
            self.tree[v] = combine(&self.tree[2 * v], &self.tree[2 * v + 1]);
        }
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
            let p = self.p[j];
            let e = self.est[j] + p;
            self.set_leaf(size, j, Node { p: 0, ect: ABSENT, p_bar: p, ect_bar: e, p_by: j, ect_by: j });
        }
        true
    }

    /// Detectable precedences: each i, in order of earliest end, after
    /// every j whose latest start is before that end (Θ). Raises
    /// `self.bound`.
    fn detectable_precedences(&mut self) {
        let k = self.p.len();
        let size = k.next_power_of_two();
        self.theta.clear();
        self.theta.resize(2 * size, (0, ABSENT));
        let mut q = 0;
        for step in 0..k {
            let i = self.by_ect[step];
            let ect_i = self.est[i] + self.p[i];
            while q < k && ect_i > self.lct[self.by_lst[q]] - self.p[self.by_lst[q]] {
                let j = self.by_lst[q];
                set_theta(&mut self.theta, &self.leaf_of, size, j, (self.p[j], self.est[j] + self.p[j]));
                q += 1;
            }
            if self.theta[1].1 <= self.bound[i] {
                continue; // nor can Θ without i raise it
            }
            // i is in Θ exactly when its own latest start is before its
            // earliest end; the rule is about the others.
            let inside = self.lct[i] - self.p[i] < ect_i;
            if inside {
                set_theta(&mut self.theta, &self.leaf_of, size, i, (0, ABSENT));
            }
            self.bound[i] = self.bound[i].max(self.theta[1].1);
            if inside {
                set_theta(&mut self.theta, &self.leaf_of, size, i, (self.p[i], ect_i));
            }
        }
    }

    /// Not-last: each i, in order of latest end, against every j whose
    /// latest start is before that end (Θ, filled in order of latest
    /// start, so its last two are the latest). Lowers `self.cap`.
    fn not_last(&mut self) {
        let k = self.p.len();
        let size = k.next_power_of_two();
        self.theta.clear();
        self.theta.resize(2 * size, (0, ABSENT));
        let (mut q, mut last, mut before_last) = (0, NO_ONE, NO_ONE);
        for step in (0..k).rev() {
            let i = self.by_lct[step];
            let (lct, p) = (&self.lct, &self.p);
            let lst = |x: usize| lct[x] - p[x];
            while q < k && self.lct[i] > lst(self.by_lst[q]) {
                let j = self.by_lst[q];
                set_theta(&mut self.theta, &self.leaf_of, size, j, (self.p[j], self.est[j] + self.p[j]));
                (before_last, last) = (last, j);
                q += 1;
            }
            let latest = if last == i { before_last } else { last };
            if latest == NO_ONE || self.theta[1].1 <= lst(i) || lst(latest) >= self.cap[i] {
                continue; // nothing to deduce, with or without i in Θ
            }
            let inside = lst(i) < self.lct[i];
            if inside {
                set_theta(&mut self.theta, &self.leaf_of, size, i, (0, ABSENT));
            }
            if self.theta[1].1 > lst(i) {
                self.cap[i] = self.cap[i].min(lst(latest));
            }
            if inside {
                set_theta(&mut self.theta, &self.leaf_of, size, i, (self.p[i], self.est[i] + self.p[i]));
            }
        }
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

/// Sets operation `x`'s leaf of a Θ-tree and updates the path to the root.
fn set_theta(theta: &mut [(i64, i64)], leaf_of: &[usize], size: usize, x: usize, leaf: (i64, i64)) {
    let mut v = size + leaf_of[x];
    theta[v] = leaf;
    while v > 1 {
        v /= 2;
        let (l, r) = (theta[2 * v], theta[2 * v + 1]);
        theta[v] = (l.0 + r.0, r.1.max(l.1 + r.0));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A random machine of 2 to 6 operations: durations 0 to 6, windows
    /// from tight to loose.
    fn random(rng: &mut crate::rng::Rng) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
        let k = 2 + rng.below(5);
        let p: Vec<i64> = (0..k).map(|_| rng.below(7) as i64).collect();
        let est: Vec<i64> = (0..k).map(|_| rng.below(12) as i64).collect();
        let lct = (0..k).map(|x| est[x] + p[x] + rng.below(14) as i64).collect();
        (p, est, lct)
    }

    /// Over every order of the operations that fits the windows: each
    /// one's least start and greatest end, or `None` when no order fits.
    fn exact_windows(p: &[i64], est: &[i64], lct: &[i64]) -> Option<(Vec<i64>, Vec<i64>)> {
        let k = p.len();
        let (mut least, mut most) = (vec![i64::MAX; k], vec![i64::MIN; k]);
        let mut order: Vec<usize> = (0..k).collect();
        let mut any = false;
        permutations(&mut order, 0, &mut |order| {
            // As early as the order allows, then as late.
            let mut start = vec![0; k];
            let mut end = i64::MIN;
            for &x in order {
                start[x] = est[x].max(end);
                end = start[x] + p[x];
                if end > lct[x] {
                    return;
                }
            }
            let mut begin = i64::MAX;
            for &x in order.iter().rev() {
                let finish = lct[x].min(begin);
                most[x] = most[x].max(finish);
                begin = finish - p[x];
            }
            for x in 0..k {
                least[x] = least[x].min(start[x]);
            }
            any = true;
        });
        any.then_some((least, most))
    }

    fn permutations(v: &mut Vec<usize>, at: usize, f: &mut dyn FnMut(&[usize])) {
        if at == v.len() {
            return f(v);
        }
        for i in at..v.len() {
            v.swap(at, i);
            permutations(v, at + 1, f);
            v.swap(at, i);
        }
    }

    /// The rules never cut off an order that fits, and an overload they
    /// report is real; on random machines checked against every order.
    #[test]
    fn the_rules_keep_every_order_that_fits() {
        let mut rng = crate::rng::Rng::new(11);
        let (mut narrowed, mut refuted) = (0, 0);
        let mut d = Disjunctive::default();
        for _ in 0..20_000 {
            let (p, est0, lct0) = random(&mut rng);
            let u: Vec<usize> = (0..p.len()).collect();
            let (mut est, mut lct) = (est0.clone(), lct0.clone());
            let mut changed = false;
            let consistent = d.narrow(&u, &p, &mut est, &mut lct, &mut changed);
            match exact_windows(&p, &est0, &lct0) {
                None => refuted += usize::from(!consistent),
                Some((least, most)) => {
                    assert!(consistent, "{p:?} {est0:?} {lct0:?}: an order fits");
                    for x in 0..p.len() {
                        assert!(
                            est[x] <= least[x] && lct[x] >= most[x],
                            "{p:?} {est0:?} {lct0:?}: operation {x} narrowed to [{}, {}], fits in [{}, {}]",
                            est[x],
                            lct[x],
                            least[x],
                            most[x]
                        );
                    }
                    narrowed += usize::from(changed);
                }
            }
        }
        assert!(narrowed > 1_000 && refuted > 1_000, "{narrowed} narrowed, {refuted} refuted");
    }

    /// The tree-based rules deduce what the rules say, checked on random
    /// machines against a direct reading of each rule (one side, from the
    /// same windows).
    #[test]
    fn the_trees_deduce_what_the_rules_say() {
        let mut rng = crate::rng::Rng::new(5);
        let (mut detected, mut not_last) = (0, 0);
        let mut d = Disjunctive::default();
        for _ in 0..20_000 {
            let (p, est, lct) = random(&mut rng);
            let k = p.len();
            (d.p, d.est, d.lct) = (p.clone(), est.clone(), lct.clone());
            if !d.side() {
                continue;
            }
            let ect_of = |set: &mut Vec<usize>| {
                set.sort_by_key(|&j| est[j]);
                set.iter().fold(i64::MIN, |e, &j| e.max(est[j]) + p[j])
            };
            for i in 0..k {
                // Detectable precedences: every j whose latest start is
                // before i's earliest end goes before i.
                let mut before: Vec<usize> = (0..k).filter(|&j| j != i && est[i] + p[i] > lct[j] - p[j]).collect();
                if !before.is_empty() {
                    let bound = ect_of(&mut before);
                    assert!(d.bound[i] >= bound, "{p:?} {est:?} {lct:?}: detectable precedences raise {i} to {bound}, not {}", d.bound[i]);
                    detected += usize::from(bound > est[i]);
                }
                // Not-last among every j whose latest start is before i's
                // latest end.
                let mut others: Vec<usize> = (0..k).filter(|&j| j != i && lct[i] > lct[j] - p[j]).collect();
                if !others.is_empty() && ect_of(&mut others) > lct[i] - p[i] {
                    let cap = others.iter().map(|&j| lct[j] - p[j]).max().expect("some");
                    assert!(d.cap[i] <= cap, "{p:?} {est:?} {lct:?}: not-last lowers {i} to {cap}, not {}", d.cap[i]);
                    not_last += usize::from(cap < lct[i]);
                }
            }
        }
        assert!(detected > 1_000 && not_last > 1_000, "{detected} detected, {not_last} not-last");
    }
}
