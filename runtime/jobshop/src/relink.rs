//! Path relinking's two parts (Peng, Lü & Cheng 2015): the distance
//! between two schedules, and the walk from one toward the other.

use crate::graph::Graph;
use crate::neighbourhood::Move;
use crate::rng::Rng;
use crate::timing::State;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_instances::{ft06, random_schedule};

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
}
