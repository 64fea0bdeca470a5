//! An elite pool: a few good schedules that differ from one another, kept
//! so that a long search can leave the region it has exhausted for the
//! ground between two good schedules (path relinking, as in Peng, Lü &
//! Cheng's TS/PR). Its size is fixed, so memory stays flat however long the
//! search runs.

use crate::rng::Rng;

/// Schedules kept for relinking.
pub(crate) const ELITE: usize = 8;
/// The pool's size once a search is in its late phase (see
/// `tabu::late_phase_from`): TS/PR's 30, room for the spread a long run
/// needs once its short trajectories come fast.
pub(crate) const ELITE_LATE: usize = 30;
/// Restarts from a trajectory's best, each shaken by a few random moves,
/// before the trajectory counts as spent. Tuned on ta41, dmu41 and swv03 at
/// 30 s, 2 threads, seeds 1 and 2 (1, 2, 3, 10 and never were tried; 2 and
/// 3 did best).
const KICKS_PER_TRAJECTORY: u32 = 3;
/// The first trajectory's patience, longer: on small instances a pool
/// formed in the first fraction of a second slowed the way to the optimum
/// (ft10, seeds 1-8).
const KICKS_FIRST_TRAJECTORY: u32 = 10;

/// How much of the distance between two elite schedules a relinked start
/// leaves to go: between 30% and 70%, at random, so that it is neither a
/// copy of either end.
pub(crate) fn relink_left(rng: &mut Rng) -> f64 {
    0.3 + 0.4 * (rng.below(1001) as f64 / 1000.0)
}

/// Random moves for the hard shake that seeds a new trajectory while the
/// pool has fewer than two schedules.
pub(crate) fn hard_kicks(operations: usize) -> usize {
    10 + (operations as f64).sqrt() as usize
}

/// Counts a trajectory's restarts without gain, to tell when it is spent.
pub(crate) struct Patience {
    kicks: u32,
    trajectories: u64,
}

impl Patience {
    pub(crate) fn new() -> Self {
        Self { kicks: 0, trajectories: 0 }
    }

    /// The trajectory stalled once more: `true` when it is spent (the
    /// count starts over for the next), `false` for another restart.
    pub(crate) fn stalled(&mut self) -> bool {
        self.kicks += 1;
        let limit = if self.trajectories == 0 { KICKS_FIRST_TRAJECTORY } else { KICKS_PER_TRAJECTORY };
        if self.kicks > limit {
            self.kicks = 0;
            self.trajectories += 1;
            return true;
        }
        false
    }

    /// The trajectory found a better schedule, or a new one began.
    pub(crate) fn gained(&mut self) {
        self.kicks = 0;
    }
}

pub(crate) struct Elite<S> {
    capacity: usize,
    members: Vec<(i64, S)>,
}

impl<S: Clone> Elite<S> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(2), members: Vec::with_capacity(capacity) }
    }

    /// Makes room for up to `capacity` schedules; never shrinks.
    pub(crate) fn grow(&mut self, capacity: usize) {
        self.capacity = self.capacity.max(capacity);
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    #[cfg(test)]
    pub(crate) fn members(&self) -> impl Iterator<Item = &S> {
        self.members.iter().map(|m| &m.1)
    }

    /// Keeps `s` when it adds quality or diversity. A schedule closer than
    /// `near` to a member competes with that member only, so two near
    /// copies never crowd out a different schedule; otherwise it takes a
    /// free place, or the worst member's when it is no worse. Returns
    /// whether it was kept.
    pub(crate) fn offer(&mut self, makespan: i64, s: &S, near: u64, distance: &mut dyn FnMut(&S, &S) -> u64) -> bool {
        let nearest = self.members.iter().enumerate().map(|(i, m)| (distance(s, &m.1), i)).min();
        if let Some((d, i)) = nearest
            && d < near.max(1)
        {
            if makespan < self.members[i].0 {
                self.members[i] = (makespan, s.clone());
                return true;
            }
            return false;
        }
        if self.members.len() < self.capacity {
            self.members.push((makespan, s.clone()));
            return true;
        }
        let worst = (0..self.members.len()).max_by_key(|&i| (self.members[i].0, i)).expect("a full pool has members");
        if makespan <= self.members[worst].0 {
            self.members[worst] = (makespan, s.clone());
            return true;
        }
        false
    }

    /// Two different members at random, the first to start from and the
    /// second to head for; `None` with fewer than two.
    pub(crate) fn pick_two(&self, rng: &mut Rng) -> Option<(&S, &S)> {
        let n = self.members.len();
        if n < 2 {
            return None;
        }
        let a = rng.below(n);
        let b = (a + 1 + rng.below(n - 1)) % n;
        Some((&self.members[a].1, &self.members[b].1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(a: &i64, b: &i64) -> u64 {
        a.abs_diff(*b)
    }

    #[test]
    fn a_near_copy_only_replaces_its_twin_and_only_when_better() {
        let mut pool = Elite::new(3);
        assert!(pool.offer(100, &0, 5, &mut gap));
        assert!(pool.offer(90, &50, 5, &mut gap));
        // Near 0 and no better: refused, although the pool has room.
        assert!(!pool.offer(100, &2, 5, &mut gap));
        // Near 0 and better: replaces it, and the pool does not grow.
        assert!(pool.offer(95, &2, 5, &mut gap));
        assert_eq!(pool.len(), 2);
        assert!(pool.offer(120, &100, 5, &mut gap));
        // Full: a distinct schedule replaces the worst (120) when no worse.
        assert!(!pool.offer(121, &200, 5, &mut gap));
        assert!(pool.offer(110, &200, 5, &mut gap));
        let mut kept: Vec<_> = pool.members.iter().map(|m| (m.0, m.1)).collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![(90, 50), (95, 2), (110, 200)]);
    }

    #[test]
    fn a_trajectory_is_spent_after_its_patience_and_a_gain_resets_it() {
        let mut p = Patience::new();
        let spent_after = |p: &mut Patience| (1..).find(|_| p.stalled()).unwrap();
        assert_eq!(spent_after(&mut p), KICKS_FIRST_TRAJECTORY + 1);
        assert_eq!(spent_after(&mut p), KICKS_PER_TRAJECTORY + 1);
        assert!(!p.stalled());
        p.gained();
        assert_eq!(spent_after(&mut p), KICKS_PER_TRAJECTORY + 1);
    }

    #[test]
    fn two_picks_are_different_members() {
        let mut pool = Elite::new(4);
        assert!(pool.pick_two(&mut Rng::new(1)).is_none());
        for (k, s) in [0i64, 10, 20].iter().enumerate() {
            pool.offer(k as i64, s, 1, &mut gap);
        }
        let mut rng = Rng::new(7);
        for _ in 0..100 {
            let (a, b) = pool.pick_two(&mut rng).unwrap();
            assert_ne!(a, b);
        }
    }
}
