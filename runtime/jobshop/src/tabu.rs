//! Tabu search on the disjunctive graph with the N7 neighbourhood
//! (`neighbourhood`), moves judged from heads and tails without re-timing
//! (`block_estimates`, `timing`), only the chosen one applied and re-timed.
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
use crate::graph::Graph;
use crate::neighbourhood::{Move, neighbourhood};
use crate::relink::{distance, relink_sequences};
use crate::rng::Rng;
use crate::tabu_list::TabuList;
use crate::timing::State;

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
        // Tenure and patience grow with the instance: about 0.5 sqrt(n),
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
        // mean within noise (BENCHMARKS.md, 2026-12-04). With the late
        // phase, the mirror and runs that begin again, 0.5 sqrt(n) was
        // back ahead of 0.75 sqrt(n): on the hard DMU tuning instances
        // (2.91% against 3.05%, seeds 1-4) and then on the held-out sample
        // at 60 s (0.96% against 1.06%, better on 7 of 16, worse on 3;
        // BENCHMARKS.md, 2026-12-06).
        let base = ((n as f64).sqrt() * 0.5).round().max(4.0) as u64;
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
mod tests {
    use super::*;
    use crate::test_instances::{ft06, random_instance, random_schedule, testkit_ft10};
    use job_model::JobShop;

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
            seq.len() == p.machines && seq.iter().enumerate().all(|(k, s)| s.iter().all(|&o| g.machine(o) == k)) && g.schedule(seq).makespan == makespan
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
                assert!(search.st.seq.iter().enumerate().all(|(k, s)| s.iter().all(|&o| gm.machine(o) == k)));
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
}
