//! The N7 neighbourhood (Zhang, Li, Guan & Rao 2007): within each critical
//! block, an operation moves to the block's front or back, and the block's
//! first or last operation moves inside it. N7 contains N5 (Nowicki &
//! Smutnicki's swaps at block ends).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
