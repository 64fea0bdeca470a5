//! Tabu search for the flexible job-shop on the disjunctive graph of the
//! current machine assignment. Two kinds of move, both on one critical path:
//!
//! - N7 moves inside a critical block, judged exactly as the job-shop
//!   search judges them (`timing::State::estimate`, Balas & Vazacopoulos);
//! - reassignment (Mastrolilli & Gambardella 2000): a critical operation
//!   leaves its machine for another of its alternatives and is inserted
//!   there at any position that cannot close a cycle. Its new head and tail
//!   come from its job neighbours and its new machine neighbours, in O(1)
//!   per position from the current heads and tails; the makespan estimate
//!   is the longest of the path through it and the path that now bridges
//!   its old machine neighbours.
//!
//! Only the chosen move is applied and the graph re-timed (O(operations)).
//! The positions allowed on the new machine are those where no path can
//! lead from the operation's job successor to the one before it, nor from
//! the one after it to its job predecessor; each test is a sound sufficient
//! condition on heads and tails, and the re-timing still checks.
//!
//! When a trajectory is spent on a schedule within 0.5% of the best, the
//! exact step (`crate::exact`) looks for a schedule shorter than the best
//! on that schedule's machine assignment (see [`Search::exact_step`]).

use crate::block_estimates::BlockEstimates;
use crate::elite::{ELITE, Elite, Patience, hard_kicks, relink_left};
use crate::graph::{Graph, NONE};
use crate::neighbourhood::Move;
use crate::relink::relink_sequences;
use crate::rng::Rng;
use crate::tabu_list::TabuList;
use crate::timing::State;
use job_model::FlexibleJobShop;

/// A schedule of the flexible job-shop: the machine and duration of each
/// operation, the operations of each machine in order, and its makespan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    pub machine: Vec<usize>,
    pub dur: Vec<i64>,
    pub seq: Vec<Vec<usize>>,
    pub makespan: i64,
}

/// The instance, flattened like the job-shop's graph, with each
/// operation's alternatives as (machine, duration).
pub struct Instance {
    pub(crate) g: Graph,
    pub(crate) alternatives: Vec<Vec<(usize, i64)>>,
    /// The machines the exact step assigns itself, and whether they are
    /// every choice of machine there is: then every try is of the same
    /// assignment, and the threads share its search (see
    /// [`Search::share_exact`]).
    pools: crate::exact::Pools,
    pools_are_all: bool,
}

impl Instance {
    pub fn new(p: &FlexibleJobShop) -> Self {
        let g = Graph::structure(p.machines, p.jobs.iter().map(Vec::len));
        let alternatives = crate::exact::alternatives(p);
        let pools = crate::exact::Pools::of_instance(&alternatives, p.machines);
        let pools_are_all = !pools.machines.is_empty() && alternatives.iter().enumerate().all(|(o, a)| a.len() == 1 || pools.pool(o).is_some());
        Self { g, alternatives, pools, pools_are_all }
    }

    pub fn operations(&self) -> usize {
        self.g.operations()
    }

    /// The solution's state, timed; `None` when its sequences have a cycle.
    pub(crate) fn timed(&self, s: &Solution) -> Option<State> {
        let mut st = State::assigned(&self.g, s.machine.clone(), s.dur.clone(), s.seq.clone());
        st.retime(&self.g).then_some(st)
    }

    /// A solution's start times, per job and operation.
    pub fn starts(&self, s: &Solution) -> Vec<Vec<i64>> {
        self.timed(s).expect("a found solution is acyclic").schedule(&self.g).starts
    }

    /// The solution of machines `machine` and start times `starts` (per
    /// operation, flattened), when it has no cycle.
    pub fn solution_of(&self, machine: Vec<usize>, starts: &[i64]) -> Option<Solution> {
        let dur: Vec<i64> = machine.iter().enumerate().map(|(o, &m)| self.alternatives[o].iter().find(|a| a.0 == m).map(|a| a.1)).collect::<Option<_>>()?;
        let mut seq = vec![Vec::new(); self.g.machines];
        for (o, &m) in machine.iter().enumerate() {
            seq[m].push(o);
        }
        for s in &mut seq {
            s.sort_by_key(|&o| (starts[o], dur[o], o));
        }
        let mut s = Solution { machine, dur, seq, makespan: 0 };
        s.makespan = self.timed(&s)?.makespan;
        Some(s)
    }
}

/// How far apart two schedules are: the operations on a different machine,
/// plus the pairs that share a machine in both and are ordered differently.
/// `pos` is scratch, one entry per operation; it is left holding each
/// operation's place in `b`.
pub(crate) fn distance(a: &Solution, b: &Solution, pos: &mut [usize]) -> u64 {
    for s in &b.seq {
        for (i, &o) in s.iter().enumerate() {
            pos[o] = i;
        }
    }
    let mut d = a.machine.iter().zip(&b.machine).filter(|(x, y)| x != y).count() as u64;
    for (m, s) in a.seq.iter().enumerate() {
        for (i, &x) in s.iter().enumerate() {
            if b.machine[x] == m {
                d += s[i + 1..].iter().filter(|&&y| b.machine[y] == m && pos[y] < pos[x]).count() as u64;
            }
        }
    }
    d
}

/// A move of either kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FlexMove {
    Sequence(Move),
    /// Operation `op` to machine `to` at position `pos` (before insertion).
    Reassign {
        op: usize,
        to: usize,
        pos: usize,
    },
}

/// What a reassignment changed, to undo it.
struct Undo {
    op: usize,
    machine: usize,
    pos: usize,
    dur: i64,
}

/// One search, in trajectories with an elite pool and path relinking as
/// the job-shop search's (`tabu::Search`).
pub struct Search<'a> {
    inst: &'a Instance,
    rng: Rng,
    st: State,
    best: Solution,
    local: Solution,
    patience: Patience,
    elite: Elite<Solution>,
    /// Schedules closer than this count as copies in the pool.
    near: u64,
    pos: Vec<usize>,
    tabu: TabuList,
    /// `returns[op * machines + m]`: until when `op` may not go back to `m`.
    returns: Vec<u64>,
    iter: u64,
    since_best: u64,
    stall: u64,
    tenure: (u64, u64),
    blocks: Vec<(usize, usize, usize)>,
    path: Vec<usize>,
    listed: Vec<(Move, Option<i64>)>,
    sweeps: BlockEstimates,
    scored: Vec<(i64, u64, FlexMove)>,
    /// The least of the moves a step scores, when it keeps only that one
    /// (see [`Search::score`]).
    least: Option<Scored>,
    /// The tabu entries a step's first try overwrote (see [`Search::step`]).
    saved: Vec<(usize, u64)>,
    /// The exact step's account (see [`Search::exact_step`]): the
    /// assignments (hashed) and bounds it last tried, all the work it has
    /// done, and the schedule it tries next.
    exact_tried: Vec<(u64, i64)>,
    exact_work: u64,
    exact_pending: Option<Solution>,
    /// The work of the next try: `EXACT_TRY_WORK` per operation at first,
    /// twice as much after each try that ran out of it.
    exact_try_work: u64,
    /// What a try has cost lately (each try's work averaged with the last
    /// figure): a try starts once the step has earned that much, not its
    /// whole budget, so tries that settle early come as often as they
    /// cost (see [`Search::exact_step`]).
    exact_cost: u64,
    /// The last try, if it ran out of work: the next on the same
    /// assignment and bound goes on from where it stopped.
    exact_paused: Option<((u64, i64), crate::exact::Exact)>,
    /// This search's share of the exact step's tries, and how many there
    /// are: one per thread.
    exact_share: (u64, u64),
    /// What the exact step has proven (see `crate::parallel::Walk::proven`).
    exact_proven: Option<i64>,
}

/// How many of the exact step's tries are remembered, so that memory stays
/// flat in a long run.
const EXACT_REMEMBERED: usize = 256;

/// The largest instance the exact step is tried on: it keeps a copy of
/// every operation's window at each depth of its branch, so its memory
/// grows as the square of the operations (about 6 MB at 600; the largest
/// public FJSP instances have 500).
const EXACT_MAX_OPERATIONS: u64 = 600;

/// A machine assignment's fingerprint (FNV-1a).
fn assignment_hash(machine: impl Iterator<Item = usize>) -> u64 {
    machine.fold(0xcbf2_9ce4_8422_2325, |h, m| (h ^ m as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The exact step's share of the search's work: its units (operations
/// visited by its propagation) against the tabu search's (operations per
/// iteration). A unit of the exact step costs about half the time of one
/// of the tabu search's (about 4 against 8.5 ns on seti5xxx), so this
/// gives it about a third of the time while it has candidates.
const EXACT_SHARE: f64 = 1.0;

/// The exact step's share when its pools are every choice of machine
/// there is: then each try is a search of the whole instance, which the
/// threads split, and which proves the optimum when it ends, not one
/// assignment's among many. Three times the share gives it about 60% of
/// the time. With a share of 1, seti5c12 reached its optimum (1169) at
/// 60.06 s on seed 1 (2 threads), where each thread's half of the search
/// needs about 75,000 nodes (16 s).
const EXACT_SHARE_COMPLETE: f64 = 3.0;

/// The work of a first try, per operation: on seti5 about a second
/// (4,000 nodes with stop 45's rules, 10,000 before). With the rules of
/// before, on the assignments of 46 trajectory ends of seti5xxx at the
/// best (1197), the step proved the least makespan in 1,120 to 16,645
/// nodes (0.15-1.8 s), and 10 of them admitted 1194, the optimum. On
/// seti5c12 at 1170 it took 100,000-400,000 nodes (14-49 s; 5 of 17
/// admitted 1169, the optimum; with stop 45's rules about 2.5 times fewer
/// nodes, each dearer): a try that runs out doubles the next.
const EXACT_TRY_WORK: u64 = 1_000_000;

/// The depth at which threads split the search of one assignment: every
/// other node there. On a schedule of seti5c12 (every assignment of its
/// pool searched below 1170, `benches/exact_speed.rs`) the search alone
/// found 1169 at node 138,945; split in two at depth 6, one half found it
/// at node 105,735 and the other had none; at depth 12, one at node
/// 60,625; at depth 20, each at about 75,000 (74,278 and 75,822); at depth
/// 40, each at about 105,000.
const EXACT_SPLIT_DEPTH: usize = 20;

/// How far above the best a trajectory's best may end and still be tried,
/// as a fraction of the best (1/200): of the assignments of 23 trajectory
/// ends three units (0.25%) above seti5xxx's best of 1197, 12 admitted
/// the optimum 1194, more than of those at the best.
const EXACT_REACH: i64 = 200;

/// A move with its estimate and its random tie-break.
type Scored = (i64, u64, FlexMove);

impl<'a> Search<'a> {
    pub fn new(inst: &'a Instance, start: Solution, seed: u64) -> Self {
        let st = inst.timed(&start).expect("the start is a schedule");
        let n = inst.operations() as u64;
        // The job-shop search's tenure and patience (see `tabu::Search`),
        // the tenure counted over alternatives: with many machines per
        // operation, a short tenure lets an operation shuttle between two.
        // The job-shop search's values of 2026-12-03 (0.75 sqrt and 40n) were
        // tried here: on the Barnes tuning instances over seeds 1-5 at 20 s
        // better (mt10c1 at 927 on 5 of 5 seeds against 4 of 5), on the
        // whole FJSP tuning sample at 10 s 0.06 points worse, and on the
        // largest held-out instances at 60 s better on three, worse on five
        // (bench/results/fjsp-largest-60s-2t-tenure-trial.json), Barnes
        // still behind CP-SAT on all three. Not kept.
        let alternatives: usize = inst.alternatives.iter().map(Vec::len).sum();
        let base = ((alternatives as f64).sqrt() / 2.0).round().max(4.0) as u64;
        let pairs: usize = start.seq.iter().map(|s| s.len() * s.len().saturating_sub(1) / 2).sum();
        let best = Solution { makespan: st.makespan, ..start };
        Self {
            inst,
            rng: Rng::new(seed),
            st,
            local: best.clone(),
            best,
            patience: Patience::new(),
            elite: Elite::new(ELITE),
            near: ((inst.operations() + pairs) / 200) as u64,
            pos: vec![0; inst.operations()],
            tabu: TabuList::new(&inst.g),
            returns: vec![0; inst.operations() * inst.g.machines],
            iter: 0,
            since_best: 0,
            stall: (20 * n).max(2_000),
            tenure: (base, base + base.div_ceil(2)),
            blocks: Vec::new(),
            path: Vec::new(),
            listed: Vec::new(),
            sweeps: BlockEstimates::default(),
            scored: Vec::new(),
            least: None,
            saved: Vec::new(),
            exact_tried: Vec::new(),
            exact_work: 0,
            exact_pending: None,
            exact_try_work: EXACT_TRY_WORK * n,
            exact_cost: EXACT_TRY_WORK * n,
            exact_paused: None,
            exact_share: (0, 1),
            exact_proven: None,
        }
    }

    /// Tries to beat the best by the exact step (`crate::exact`) on the
    /// machine assignment of a spent trajectory's best: the tabu search
    /// ends a few units above the optimum on schedules whose assignment
    /// admits it (Barnes' seti5), and each trajectory brings another
    /// assignment. A trajectory's best within `EXACT_REACH` of the best
    /// becomes the candidate (the latest such); whenever the step's share
    /// has earned what a try costs, the candidate is tried one unit below
    /// the best, each assignment once for each bound. `true` when it found a
    /// better schedule, now the best and the current one.
    fn exact_step(&mut self, keep_going: &mut dyn FnMut() -> bool) -> bool {
        let n = self.inst.operations() as u64;
        if n > EXACT_MAX_OPERATIONS {
            return false;
        }
        if self.local.makespan <= self.best.makespan + self.best.makespan / EXACT_REACH && !self.exact_tried.contains(&self.exact_key(&self.local)) {
            self.exact_pending = Some(self.local.clone());
        }
        let share = if self.inst.pools_are_all { EXACT_SHARE_COMPLETE } else { EXACT_SHARE };
        let earned = (share * (self.iter * n) as f64) as u64;
        let try_work = self.exact_try_work;
        // The step may overdraw by one try's budget; the debt holds back
        // the next, so over a run it keeps to its share.
        if earned.saturating_sub(self.exact_work) < self.exact_cost.min(try_work) {
            return false;
        }
        let Some(candidate) = self.exact_pending.take() else {
            return false;
        };
        let key = self.exact_key(&candidate);
        if self.exact_tried.contains(&key) {
            return false; // tried since, for this bound
        }
        if self.exact_tried.len() == EXACT_REMEMBERED {
            self.exact_tried.remove(0);
        }
        self.exact_tried.push(key);
        let g = &self.inst.g;
        let mut exact = match self.exact_paused.take() {
            Some((k, exact)) if k == key => exact,
            _ => {
                let a = crate::exact::Assigned {
                    job_next: g.job_next.clone(),
                    job_prev: g.job_prev.clone(),
                    machine: candidate.machine.clone(),
                    dur: candidate.dur.clone(),
                    machines: g.machines,
                    pools: self.inst.pools.clone(),
                };
                let mut exact = crate::exact::Exact::new(a, self.best.makespan - 1);
                if self.inst.pools_are_all {
                    exact.split(EXACT_SPLIT_DEPTH, self.exact_share.0, self.exact_share.1);
                }
                exact
            }
        };
        let (outcome, work) = exact.run(try_work, keep_going);
        if self.inst.pools_are_all
            && let Some(h) = exact.proven()
        {
            // Every schedule of the instance is in the search, split the
            // same way in every thread.
            self.exact_proven = Some(h);
        }
        self.exact_work += work;
        self.exact_cost = self.exact_cost / 2 + work / 2;
        let seq = match outcome {
            crate::exact::Outcome::Found { seq, .. } => seq,
            crate::exact::Outcome::None => return false,
            crate::exact::Outcome::Unknown => {
                // Harder than a try: the next gets twice the work. It may
                // be this assignment again (when every flexible operation
                // is in a pool, as on seti5c12, every candidate is the
                // same one), and then it goes on from here.
                self.exact_try_work = self.exact_try_work.saturating_mul(2);
                self.exact_tried.retain(|k| *k != key);
                self.exact_paused = Some((key, exact));
                return false;
            }
        };
        // The step chose the machines of the pools' operations (each takes
        // its pool's machines for the same time).
        let mut found = candidate;
        for (m, s) in seq.iter().enumerate() {
            for &o in s.iter().filter(|&&o| self.inst.pools.pool(o).is_some()) {
                debug_assert!(self.inst.alternatives[o].iter().any(|x| x == &(m, found.dur[o])), "the step keeps to the pool");
                found.machine[o] = m;
            }
        }
        found.seq = seq;
        found.makespan = self.inst.timed(&found).expect("a ranking is acyclic").makespan;
        assert!(found.makespan < self.best.makespan, "the exact step beats the bound it was given");
        self.keep_local();
        self.best = found.clone();
        self.restart_from(&found);
        self.patience.gained();
        true
    }

    /// Makes this search thread `share` of `shares`: when every try is of
    /// the same assignment, each thread searches its own share of the
    /// tree (`crate::exact::Exact::split`), not all of them the same.
    pub(crate) fn share_exact(mut self, share: usize, shares: usize) -> Self {
        self.exact_share = (share as u64, shares.max(1) as u64);
        self
    }

    /// What the exact step remembers of a try: the assignment (hashed,
    /// without the machines of the pools' operations, which the step
    /// chooses itself) and the bound it would be tried below.
    fn exact_key(&self, s: &Solution) -> (u64, i64) {
        let fixed = s.machine.iter().enumerate().map(|(o, &m)| if self.inst.pools.pool(o).is_some() { usize::MAX } else { m });
        (assignment_hash(fixed), self.best.makespan)
    }

    fn current(&self) -> Solution {
        Solution { machine: self.st.machine.clone(), dur: self.st.dur.clone(), seq: self.st.seq.clone(), makespan: self.st.makespan }
    }

    /// Starts a trajectory from `s`.
    fn restart_from(&mut self, s: &Solution) {
        self.st = self.inst.timed(s).expect("a restart point is a schedule");
        self.local = self.current();
        if self.local.makespan < self.best.makespan {
            self.best = self.local.clone();
        }
        self.tabu.clear();
        self.returns.fill(0);
        self.since_best = 0;
    }

    /// Every move of the current critical path with its estimate and a
    /// random tie-break: tabu moves only when they would beat the best
    /// (aspiration), or all moves when `everything`. Into `scored` when
    /// `list`, else only the least into `least`: a step needs the least
    /// alone unless it closes a cycle, and on the large instances (Behnke's,
    /// thousands of reassignments an iteration) listing them all and then
    /// finding the least took a third of the search's time. Either way the
    /// same random draws are made in the same order, so the least is the
    /// same.
    fn score(&mut self, everything: bool, list: bool) {
        let (inst, g) = (self.inst, &self.inst.g);
        self.scored.clear();
        self.least = None;
        let (scored, least) = (&mut self.scored, &mut self.least);
        let mut keep = |m: Scored| {
            if list {
                scored.push(m);
            } else if least.is_none_or(|l| m < l) {
                *least = Some(m);
            }
        };
        self.st.blocks(g, &mut self.blocks, &mut self.path);
        self.sweeps.moves(&self.st, g, &self.blocks, &mut self.listed);
        for &(mv, estimate) in &self.listed {
            if let Some(estimate) = estimate
                && (everything || estimate < self.best.makespan || !self.tabu.forbids(g, &self.st, mv, self.iter))
            {
                keep((estimate, self.rng.next_u64(), FlexMove::Sequence(mv)));
            }
        }
        let st = &self.st;
        let machines = g.machines;
        for &o in &self.path {
            if inst.alternatives[o].len() < 2 {
                continue;
            }
            let here = st.machine[o];
            let (jp, js) = (g.job_prev[o], g.job_next[o]);
            let (prev, next) = (if st.pos[o] == 0 { NONE } else { st.seq[here][st.pos[o] - 1] }, st.mach_next(o));
            let bridge = st.end(prev) + st.rest_of(next);
            let (job_ready, job_rest) = (st.end(jp), st.rest_of(js));
            for &(k, d) in &inst.alternatives[o] {
                if k == here {
                    continue;
                }
                let tabu = !everything && self.returns[o * machines + k] > self.iter;
                let s = &st.seq[k];
                for pos in 0..=s.len() {
                    let (a, b) = (if pos == 0 { NONE } else { s[pos - 1] }, s.get(pos).copied().unwrap_or(NONE));
                    // No path from the job successor to `a`: a path would
                    // make a's head at least js's end and js's tail at least
                    // a's plus js's duration. Later positions only see later
                    // operations, so the first failure ends the machine.
                    if a != NONE && js != NONE && (a == js || (st.head[a] >= st.end(js) && st.rest[a] + st.dur[js] <= st.rest[js])) {
                        break;
                    }
                    // No path from `b` to the job predecessor (likewise;
                    // earlier positions only see earlier operations).
                    if b != NONE && jp != NONE && (b == jp || (st.head[jp] >= st.end(b) && st.rest[b] >= st.dur[b] + st.rest[jp])) {
                        continue;
                    }
                    let through = job_ready.max(st.end(a)) + d + job_rest.max(st.rest_of(b));
                    let estimate = through.max(bridge);
                    if !tabu || estimate < self.best.makespan {
                        keep((estimate, self.rng.next_u64(), FlexMove::Reassign { op: o, to: k, pos }));
                    }
                }
            }
        }
    }

    fn apply(&mut self, mv: FlexMove) -> Option<Undo> {
        match mv {
            FlexMove::Sequence(mv) => {
                self.st.apply(mv);
                None
            }
            FlexMove::Reassign { op, to, pos } => {
                let d = self.inst.alternatives[op].iter().find(|a| a.0 == to).expect("an alternative").1;
                Some(self.reassign(op, to, pos, d))
            }
        }
    }

    fn undo(&mut self, mv: FlexMove, undo: Option<Undo>) {
        match (mv, undo) {
            (FlexMove::Sequence(mv), _) => self.st.undo(mv),
            (FlexMove::Reassign { .. }, Some(u)) => {
                self.reassign(u.op, u.machine, u.pos, u.dur);
            }
            (FlexMove::Reassign { .. }, None) => unreachable!("a reassignment has its undo"),
        }
    }

    /// Moves `op` to position `pos` of machine `to` (another machine) for
    /// `dur`; returns where it was.
    fn reassign(&mut self, op: usize, to: usize, pos: usize, dur: i64) -> Undo {
        let st = &mut self.st;
        let undo = Undo { op, machine: st.machine[op], pos: st.pos[op], dur: st.dur[op] };
        st.seq[undo.machine].remove(undo.pos);
        st.renumber(undo.machine);
        st.seq[to].insert(pos, op);
        st.renumber(to);
        st.machine[op] = to;
        st.dur[op] = dur;
        undo
    }

    /// Keeps what [`Search::record`] of `mv` would overwrite, for
    /// [`Search::restore_record`].
    fn save_record(&mut self, mv: FlexMove) {
        self.saved.clear();
        match mv {
            FlexMove::Sequence(mv) => self.tabu.save(&self.inst.g, &self.st, mv, &mut self.saved),
            FlexMove::Reassign { op, .. } => {
                let k = op * self.inst.g.machines + self.st.machine[op];
                self.saved.push((k, self.returns[k]));
            }
        }
    }

    /// Puts back what [`Search::save_record`] kept of `mv`'s record.
    fn restore_record(&mut self, mv: FlexMove) {
        match mv {
            FlexMove::Sequence(_) => self.tabu.restore(&self.saved),
            FlexMove::Reassign { .. } => self.saved.iter().for_each(|&(k, until)| self.returns[k] = until),
        }
    }

    /// Records the tabu attributes of `mv` before it is applied.
    fn record(&mut self, mv: FlexMove, until: u64) {
        match mv {
            FlexMove::Sequence(mv) => self.tabu.record(&self.inst.g, &self.st, mv, until),
            FlexMove::Reassign { op, .. } => self.returns[op * self.inst.g.machines + self.st.machine[op]] = until,
        }
    }

    /// One tabu step; `false` when the schedule is proven optimal by its
    /// critical path.
    fn step(&mut self) -> bool {
        self.iter += 1;
        self.since_best += 1;
        let draws = self.rng.clone();
        let mut everything = false;
        self.score(everything, false);
        if self.least.is_none() {
            // Everything is tabu: take any feasible move, as TSAB does.
            everything = true;
            self.score(everything, false);
            if self.least.is_none() {
                // A path of one job's operations, each with one machine, is
                // as short as that job can be: optimal. Otherwise the
                // acyclicity tests (sufficient, not necessary) refused every
                // position; the search keeps its time rather than end the
                // solve on a guess.
                return !self.path.iter().all(|&o| self.inst.alternatives[o].len() == 1);
            }
        }
        let tenure = self.tenure.0 + self.rng.below((self.tenure.1 - self.tenure.0 + 1) as usize) as u64;
        // The least first; the rest are listed and sorted only in the rare
        // case that it closes a cycle (the acyclicity tests are sufficient,
        // not necessary). They are listed as the step would have listed
        // them before the first try, with the tabu entries the try
        // overwrote put back and the same random draws: the search follows
        // the same path as when every step listed every move.
        let first = self.least.expect("a move was scored").2;
        self.save_record(first);
        if self.try_move(first, tenure) {
            return true;
        }
        self.restore_record(first);
        let after = std::mem::replace(&mut self.rng, draws);
        self.score(everything, true);
        self.rng = after;
        self.record(first, self.iter + tenure);
        self.scored.retain(|m| m.2 != first);
        self.scored.sort_unstable();
        for k in 0..self.scored.len() {
            if self.try_move(self.scored[k].2, tenure) {
                return true;
            }
        }
        true
    }

    /// Applies `mv` and re-times it incrementally. A move that closes a
    /// cycle is undone.
    fn try_move(&mut self, mv: FlexMove, tenure: u64) -> bool {
        let g = &self.inst.g;
        self.record(mv, self.iter + tenure);
        let undo = self.apply(mv);
        let timed = match mv {
            FlexMove::Sequence(m) => self.st.retime_move(g, m),
            FlexMove::Reassign { op, .. } => self.st.retime_reassign(g, op),
        };
        if !timed {
            self.undo(mv, undo);
            // A failed timing leaves the machine links and order stale.
            assert!(self.st.retime(&self.inst.g), "undoing a move restores a schedule");
        }
        timed
    }

    /// Back to the trajectory's best, shaken by `kicks` random moves.
    fn perturb(&mut self, kicks: usize) {
        let local = self.local.clone();
        self.restart_from(&local);
        for _ in 0..kicks {
            self.score(true, true);
            if self.scored.is_empty() {
                return;
            }
            let mv = self.scored[self.rng.below(self.scored.len())].2;
            let undo = self.apply(mv);
            if !self.st.retime(&self.inst.g) {
                self.undo(mv, undo);
                assert!(self.st.retime(&self.inst.g), "undoing a move restores a schedule");
            }
        }
    }

    /// Offers the trajectory's best to the pool.
    fn keep_local(&mut self) {
        let pos = &mut self.pos;
        self.elite.offer(self.local.makespan, &self.local, self.near, &mut |a, b| distance(a, b, pos));
    }

    /// Ends a spent trajectory, as the job-shop search does: its best joins
    /// the pool, and the next starts between two elite schedules, or from
    /// the best shaken hard while the pool has fewer than two.
    fn next_trajectory(&mut self) {
        self.keep_local();
        match self.elite.pick_two(&mut self.rng).map(|(a, b)| (a.clone(), b.clone())) {
            Some((from, to)) => {
                let left = relink_left(&mut self.rng);
                let between = self.relink(&from, &to, left);
                self.restart_from(&between);
            }
            None => {
                let hard = hard_kicks(self.inst.operations());
                self.perturb(hard);
                self.local = self.current();
            }
        }
    }

    /// A schedule on the way from `from` to `to`, with about `left` of their
    /// differences remaining: first operations move to their machine in
    /// `to` (placed after those that precede them there), one at a time in
    /// random order, each undone if it closes a cycle; then the machines
    /// that hold the same operations in both are reordered toward `to` as
    /// in the job-shop. The count of differences left is an estimate once
    /// operations have moved (an insertion may disagree with a few pairs),
    /// which only shifts where the walk stops. Works on the current state,
    /// which the caller replaces.
    fn relink(&mut self, from: &Solution, to: &Solution, left: f64) -> Solution {
        let g = &self.inst.g;
        let total = distance(from, to, &mut self.pos);
        let goal = (total as f64 * left) as u64;
        let mut remaining = total;
        self.st = self.inst.timed(from).expect("an elite schedule is acyclic");
        let mut moving: Vec<usize> = (0..self.inst.operations()).filter(|&o| from.machine[o] != to.machine[o]).collect();
        while remaining > goal && !moving.is_empty() {
            let o = moving.swap_remove(self.rng.below(moving.len()));
            let k = to.machine[o];
            let pos = &self.pos;
            let at = self.st.seq[k].iter().position(|&x| to.machine[x] == k && pos[x] > pos[o]).unwrap_or(self.st.seq[k].len());
            let undo = self.reassign(o, k, at, to.dur[o]);
            if self.st.retime(g) {
                remaining -= 1;
            } else {
                self.reassign(undo.op, undo.machine, undo.pos, undo.dur);
            }
        }
        let open = (0..g.machines).filter(|&m| self.st.seq[m].len() == to.seq[m].len() && self.st.seq[m].iter().all(|&x| to.machine[x] == m)).collect();
        relink_sequences(g, &mut self.st, &to.seq, open, &mut self.rng, remaining, goal);
        assert!(self.st.retime(g), "relinking keeps the schedule acyclic");
        self.current()
    }
}

impl crate::parallel::Walk for Search<'_> {
    type Solution = Solution;

    fn best_makespan(&self) -> i64 {
        self.best.makespan
    }

    fn best_solution(&self) -> &Solution {
        &self.best
    }

    fn run(&mut self, steps: u64, lower_bound: i64, keep_going: &mut dyn FnMut() -> bool, improved: &mut dyn FnMut(i64)) -> bool {
        for step in 0..steps {
            if self.best.makespan <= lower_bound || (step % 32 == 0 && !keep_going()) {
                return false;
            }
            if self.since_best > self.stall {
                if self.patience.stalled() {
                    // A relinked start may itself beat the best: report it.
                    let before = self.best.makespan;
                    if !self.exact_step(keep_going) {
                        self.next_trajectory();
                    }
                    if self.best.makespan < before {
                        improved(self.best.makespan);
                    }
                } else {
                    let kicks = 2 + self.rng.below(4);
                    self.perturb(kicks);
                }
            }
            if !self.step() {
                return false; // one job's fixed operations are the whole critical path: optimal
            }
            if self.st.makespan < self.local.makespan {
                self.local = self.current();
                self.since_best = 0;
                self.patience.gained();
                if self.local.makespan < self.best.makespan {
                    self.best = self.local.clone();
                    improved(self.best.makespan);
                }
            }
        }
        true
    }

    fn takes_best(&self) -> bool {
        self.since_best > self.stall / 2
    }

    fn proven(&self) -> Option<i64> {
        self.exact_proven
    }

    /// Restarts from the leader's schedule. Taking it into the elite pool
    /// instead, as the job-shop search does, was tried on the FJSP tuning
    /// sample: level at 10 s, but Barnes mt10c1 reached 927 on 1 of 5
    /// seeds in 20 s against 4 of 5.
    fn adopt(&mut self, solution: &Solution) {
        self.keep_local();
        self.restart_from(solution);
        self.patience.gained();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::Walk;

    fn mk01() -> FlexibleJobShop {
        FlexibleJobShop::parse_fjs(&std::fs::read_to_string(crate::flexible::tests::data("brandimarte-mk01")).unwrap()).unwrap()
    }

    /// Every reassignment the test allows keeps the graph acyclic, and its
    /// estimate is exact for the path through the moved operation when the
    /// neighbours' heads and tails stay as they were.
    #[test]
    fn reassignments_that_pass_the_test_are_acyclic() {
        let p = mk01();
        let inst = Instance::new(&p);
        let start = crate::flexible::construct::dispatch(&p, None);
        let mut search = Search::new(&inst, start, 5);
        let mut checked = 0;
        for _ in 0..300 {
            search.score(true, true);
            for &(estimate, _, mv) in &search.scored.clone() {
                if let FlexMove::Reassign { op, .. } = mv {
                    let undo = search.apply(mv);
                    let mut after = State::assigned(&inst.g, search.st.machine.clone(), search.st.dur.clone(), search.st.seq.clone());
                    assert!(after.retime(&inst.g), "{mv:?} passed the test and made a cycle");
                    assert!(after.head[op] + after.rest[op] <= estimate, "{mv:?}: the estimate is an upper bound of the path through it");
                    search.undo(mv, undo);
                    checked += 1;
                }
            }
            assert!(search.st.retime(&inst.g));
            search.step();
        }
        assert!(checked > 1000, "{checked} reassignments checked");
    }

    /// The incremental timing after any reassignment (to any position of
    /// any other alternative, whether the search's test allows it or not)
    /// agrees with a full timing: the same heads, ends, tails and makespan,
    /// and a cycle found exactly when there is one.
    #[test]
    fn incremental_timing_of_a_reassignment_equals_a_full_timing() {
        let p = mk01();
        let inst = Instance::new(&p);
        let mut search = Search::new(&inst, crate::flexible::construct::dispatch(&p, None), 2);
        let mut rng = Rng::new(8);
        let (mut moves, mut cycles) = (0, 0);
        for _ in 0..5000 {
            let op = rng.below(inst.operations());
            let others: Vec<(usize, i64)> = inst.alternatives[op].iter().copied().filter(|a| a.0 != search.st.machine[op]).collect();
            if others.is_empty() {
                continue;
            }
            let (to, dur) = others[rng.below(others.len())];
            let pos = rng.below(search.st.seq[to].len() + 1);
            let undo = search.reassign(op, to, pos, dur);
            let mut full = State::assigned(&inst.g, search.st.machine.clone(), search.st.dur.clone(), search.st.seq.clone());
            let acyclic = full.retime(&inst.g);
            assert_eq!(search.st.retime_reassign(&inst.g, op), acyclic, "{op} to {to} at {pos}");
            if acyclic {
                let st = &search.st;
                assert_eq!((&st.head, &st.ends, &st.rest, st.makespan), (&full.head, &full.ends, &full.rest, full.makespan), "{op} to {to} at {pos}");
                moves += 1;
            } else {
                search.reassign(undo.op, undo.machine, undo.pos, undo.dur);
                assert!(search.st.retime(&inst.g));
                cycles += 1;
            }
        }
        assert!(moves > 1000 && cycles > 100, "{moves} moves, {cycles} cycles");
    }

    /// A step keeps only the least move; it must be the least of the list
    /// a full scoring makes from the same state with the same draws, tabu
    /// moves left out or not.
    #[test]
    fn the_least_kept_is_the_least_listed() {
        let p = mk01();
        let inst = Instance::new(&p);
        let mut search = Search::new(&inst, crate::flexible::construct::dispatch(&p, None), 9);
        let mut compared = 0;
        for _ in 0..400 {
            for everything in [false, true] {
                let draws = search.rng.clone();
                search.score(everything, true);
                let listed = search.scored.iter().copied().min();
                search.rng = draws;
                search.score(everything, false);
                assert_eq!(search.least, listed);
                compared += usize::from(listed.is_some());
            }
            search.step();
        }
        assert!(compared > 600, "{compared} steps compared");
    }

    /// What `TabuList::save` keeps, `restore` puts back: the list is as it
    /// was before `record`.
    #[test]
    fn a_saved_tabu_record_is_undone() {
        let p = mk01();
        let inst = Instance::new(&p);
        let mut search = Search::new(&inst, crate::flexible::construct::dispatch(&p, None), 3);
        let mut undone = 0;
        for _ in 0..200 {
            search.score(true, true);
            for &(_, _, mv) in &search.scored.clone() {
                if let FlexMove::Sequence(mv) = mv {
                    let forbids = |s: &Search, at: u64| s.tabu.forbids(&inst.g, &s.st, Move { m: mv.m, from: mv.to, to: mv.from }, at);
                    search.st.apply(mv);
                    let before = forbids(&search, search.iter);
                    search.st.undo(mv);
                    let mut saved = Vec::new();
                    search.tabu.save(&inst.g, &search.st, mv, &mut saved);
                    search.tabu.record(&inst.g, &search.st, mv, search.iter + 1_000);
                    search.st.apply(mv);
                    assert!(forbids(&search, search.iter), "the record forbids the way back");
                    search.st.undo(mv);
                    search.tabu.restore(&saved);
                    search.st.apply(mv);
                    assert_eq!(forbids(&search, search.iter), before, "restored as it was");
                    search.st.undo(mv);
                    undone += 1;
                }
            }
            assert!(search.st.retime(&inst.g));
            search.step();
        }
        assert!(undone > 500, "{undone} records undone");
    }

    /// The exact step on the list scheduler's schedule of mk01 (the
    /// trajectory's best and the best) finds a shorter schedule of the
    /// same assignment, which becomes the best and the current schedule;
    /// the same assignment is not tried again for the same bound, and a
    /// trajectory's best too far above the best is not tried at all.
    #[test]
    fn the_exact_step_beats_the_best_on_its_assignment() {
        let p = mk01();
        let inst = Instance::new(&p);
        let start = crate::flexible::construct::dispatch(&p, None);
        let mut search = Search::new(&inst, start.clone(), 1);
        let try_iterations = (EXACT_TRY_WORK as f64 / EXACT_SHARE).ceil() as u64;
        assert!(!search.exact_step(&mut || true), "no try before the tabu search has earned one");
        assert!(search.exact_pending.is_some(), "the candidate waits for it");
        search.iter = try_iterations; // as if the tabu search had earned the step a try
        assert!(search.exact_step(&mut || true), "from {}", start.makespan);
        let best = search.best.clone();
        assert!(best.makespan < start.makespan);
        assert_eq!(best.machine, start.machine, "the assignment is held");
        assert_eq!(inst.timed(&best).expect("acyclic").makespan, best.makespan);
        assert_eq!(search.st.makespan, best.makespan, "the search goes on from it");
        // The step returns the best it proved for the assignment: trying
        // that assignment below the new bound finds nothing.
        search.local = best.clone();
        search.iter += 10 * try_iterations;
        assert!(!search.exact_step(&mut || true));
        assert_eq!(search.best, best);
        assert_eq!(search.exact_tried.len(), 2);
        search.iter += 10 * try_iterations;
        assert!(!search.exact_step(&mut || true));
        assert_eq!(search.exact_tried.len(), 2, "not tried again");
        // The start, more than 1/EXACT_REACH above the new best, is not a
        // candidate.
        assert!(start.makespan > best.makespan + best.makespan / EXACT_REACH);
        search.local = start;
        search.iter += 10 * try_iterations;
        assert!(!search.exact_step(&mut || true));
        assert_eq!(search.exact_tried.len(), 2, "too far above the best");
    }

    /// A try starts once the step has earned what tries have cost lately
    /// (here far less than a try's budget), runs on credit, and its debt
    /// holds the next back.
    #[test]
    fn a_try_starts_once_the_step_has_earned_what_tries_cost() {
        let p = mk01();
        let inst = Instance::new(&p);
        let n = inst.operations() as u64;
        let mut search = Search::new(&inst, crate::flexible::construct::dispatch(&p, None), 1);
        search.exact_cost = 10 * n;
        let iterations = |work: u64| (work as f64 / (EXACT_SHARE * n as f64)).ceil() as u64;
        search.iter = iterations(10 * n) - 1;
        assert!(!search.exact_step(&mut || true));
        assert!(search.exact_tried.is_empty(), "not earned yet");
        search.iter = iterations(10 * n);
        assert!(search.exact_step(&mut || true), "tried and found better");
        let used = search.exact_work;
        assert!(used > 10 * n, "it ran past what it had earned ({used} units)");
        assert_eq!(search.exact_cost, 5 * n + used / 2);
        search.local = search.best.clone();
        assert!(!search.exact_step(&mut || true));
        assert_eq!(search.exact_tried.len(), 1, "the debt holds the next try back");
    }

    /// A try that runs out of work doubles the next try's, and the next
    /// try of the same assignment and bound goes on where it stopped.
    #[test]
    fn a_try_that_runs_out_doubles_the_next_and_goes_on() {
        let p = mk01();
        let inst = Instance::new(&p);
        let mut search = Search::new(&inst, crate::flexible::construct::dispatch(&p, None), 1);
        search.exact_try_work = 1;
        search.iter = 1_000;
        assert!(!search.exact_step(&mut || true));
        assert_eq!(search.exact_try_work, 2);
        assert!(search.exact_tried.is_empty(), "not remembered as tried: it may go on");
        let work = search.exact_paused.as_ref().expect("paused").1.effort().work;
        assert!(!search.exact_step(&mut || true));
        let (key, paused) = search.exact_paused.as_ref().expect("paused again");
        assert_eq!(*key, search.exact_key(&search.local));
        // Begun again, it would have stopped where the first did.
        assert!(paused.effort().work > work, "went on from {work} units");
        assert_eq!(search.exact_try_work, 4);
    }

    #[test]
    fn a_search_is_a_function_of_its_seed_and_improves() {
        let p = mk01();
        let inst = Instance::new(&p);
        let start = crate::flexible::construct::dispatch(&p, None);
        let first = start.makespan;
        let run = |seed| {
            let mut search = Search::new(&inst, start.clone(), seed);
            let mut trace = Vec::new();
            // Long enough for spent trajectories, the pool and relinking.
            search.run(60_000, 0, &mut || true, &mut |m| trace.push(m));
            assert!(search.elite.len() >= 2, "the pool formed");
            (trace, search.best.clone())
        };
        assert_eq!(run(4), run(4));
        let (_, best) = run(4);
        assert!(best.makespan < first, "from {first} to {}", best.makespan);
        assert!(best.makespan <= 44, "mk01's optimum is 40; the search gets close ({})", best.makespan);
        assert_eq!(inst.timed(&best).unwrap().makespan, best.makespan);
    }

    /// A relinked schedule is a schedule: acyclic, each operation on one of
    /// its two ends' machines with that machine's duration, and closer to
    /// where it heads than where it started.
    #[test]
    fn relinking_gives_a_schedule_between_its_ends() {
        let p = mk01();
        let inst = Instance::new(&p);
        let mut search = Search::new(&inst, crate::flexible::construct::dispatch(&p, None), 1);
        let mut pos = vec![0; inst.operations()];
        let mut rng = Rng::new(11);
        for k in 0..40 {
            let from = crate::flexible::construct::dispatch(&p, Some(&mut rng));
            let to = crate::flexible::construct::dispatch(&p, Some(&mut rng));
            let left = [0.0, 0.3, 0.5, 0.7][k % 4];
            let mid = search.relink(&from, &to, left);
            let timed = inst.timed(&mid).expect("acyclic");
            assert_eq!(timed.makespan, mid.makespan);
            for o in 0..inst.operations() {
                assert!(mid.machine[o] == from.machine[o] || mid.machine[o] == to.machine[o]);
                assert_eq!(Some(mid.dur[o]), inst.alternatives[o].iter().find(|a| a.0 == mid.machine[o]).map(|a| a.1));
                assert_eq!(mid.seq[mid.machine[o]].iter().filter(|&&x| x == o).count(), 1);
            }
            let (whole, back) = (distance(&from, &to, &mut pos), distance(&mid, &to, &mut pos));
            assert!(whole == 0 || back < whole, "relinking moved toward `to` ({back} of {whole} left)");
        }
    }
}
