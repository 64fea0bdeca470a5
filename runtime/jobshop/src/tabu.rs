//! Tabu search on the disjunctive graph with the N5 neighbourhood (Nowicki &
//! Smutnicki): swap the first or last two operations of each critical block.
//! A move is judged by re-timing the whole graph (heads by topological
//! order), which is exact and, at these sizes, cheap; a swap of adjacent
//! critical operations never creates a cycle, so every move stays feasible.

use crate::rng::Rng;
use crate::schedule::Schedule;
use job_model::JobShop;

const NONE: usize = usize::MAX;

/// The instance, flattened: operation `o` of job `job[o]`.
pub struct Graph {
    dur: Vec<i64>,
    machine: Vec<usize>,
    job_prev: Vec<usize>,
    job_next: Vec<usize>,
    first_of_job: Vec<usize>,
    machines: usize,
}

impl Graph {
    pub fn new(p: &JobShop) -> Self {
        let (mut dur, mut machine, mut job_prev, mut job_next, mut first_of_job) = (vec![], vec![], vec![], vec![], vec![]);
        for job in &p.jobs {
            first_of_job.push(dur.len());
            for (k, op) in job.iter().enumerate() {
                let o = dur.len();
                dur.push(op.duration);
                machine.push(op.machine);
                job_prev.push(if k == 0 { NONE } else { o - 1 });
                job_next.push(if k + 1 == job.len() { NONE } else { o + 1 });
            }
        }
        Self { dur, machine, job_prev, job_next, first_of_job, machines: p.machines }
    }

    /// Machine sequences of a schedule: operations ordered by start time.
    pub fn sequences(&self, s: &Schedule) -> Vec<Vec<usize>> {
        let starts: Vec<i64> = s.starts.iter().flatten().copied().collect();
        let mut seq = vec![Vec::new(); self.machines];
        for o in 0..self.dur.len() {
            seq[self.machine[o]].push(o);
        }
        for s in &mut seq {
            s.sort_by_key(|&o| (starts[o], o));
        }
        seq
    }
}

/// Heads (earliest starts) for machine sequences, or `None` on a cycle.
struct Timing {
    head: Vec<i64>,
    mach_prev: Vec<usize>,
    makespan: i64,
    last: usize,
}

fn time(g: &Graph, seq: &[Vec<usize>], t: &mut Timing, indeg: &mut [u8], mach_next: &mut [usize], stack: &mut Vec<usize>) -> bool {
    let n = g.dur.len();
    for s in seq {
        for (i, &o) in s.iter().enumerate() {
            t.mach_prev[o] = if i == 0 { NONE } else { s[i - 1] };
            mach_next[o] = s.get(i + 1).copied().unwrap_or(NONE);
        }
    }
    stack.clear();
    for o in 0..n {
        indeg[o] = u8::from(g.job_prev[o] != NONE) + u8::from(t.mach_prev[o] != NONE);
        t.head[o] = 0;
        if indeg[o] == 0 {
            stack.push(o);
        }
    }
    let (mut seen, mut makespan, mut last) = (0, 0, 0);
    while let Some(o) = stack.pop() {
        seen += 1;
        let end = t.head[o] + g.dur[o];
        if end > makespan {
            (makespan, last) = (end, o);
        }
        for next in [g.job_next[o], mach_next[o]] {
            if next != NONE {
                t.head[next] = t.head[next].max(end);
                indeg[next] -= 1;
                if indeg[next] == 0 {
                    stack.push(next);
                }
            }
        }
    }
    t.makespan = makespan;
    t.last = last;
    seen == n
}

/// Critical blocks: maximal runs of one machine on a critical path, as
/// (machine, first index, last index) into that machine's sequence.
fn blocks(g: &Graph, t: &Timing, seq: &[Vec<usize>]) -> Vec<(usize, usize, usize)> {
    let mut path = vec![t.last];
    let mut o = t.last;
    loop {
        let mp = t.mach_prev[o];
        let jp = g.job_prev[o];
        // Prefer the machine predecessor: longer blocks, more moves.
        if mp != NONE && t.head[mp] + g.dur[mp] == t.head[o] {
            o = mp;
        } else if jp != NONE && t.head[jp] + g.dur[jp] == t.head[o] {
            o = jp;
        } else {
            break;
        }
        path.push(o);
    }
    path.reverse();
    let pos = |o: usize| seq[g.machine[o]].iter().position(|&x| x == o).expect("on its machine");
    let mut out = Vec::new();
    let mut i = 0;
    while i < path.len() {
        let mut j = i;
        while j + 1 < path.len() && g.machine[path[j + 1]] == g.machine[path[i]] && t.mach_prev[path[j + 1]] == path[j] {
            j += 1;
        }
        if j > i {
            out.push((g.machine[path[i]], pos(path[i]), pos(path[j])));
        }
        i = j + 1;
    }
    out
}

pub struct Search<'a> {
    g: &'a Graph,
    rng: Rng,
}

pub struct Found {
    pub seq: Vec<Vec<usize>>,
    pub makespan: i64,
}

impl<'a> Search<'a> {
    pub fn new(g: &'a Graph, seed: u64) -> Self {
        Self { g, rng: Rng::new(seed) }
    }

    /// Runs until `keep_going` says no; `improved` sees each new best.
    pub fn run(&mut self, start: Vec<Vec<usize>>, lower_bound: i64, keep_going: &mut dyn FnMut() -> bool, improved: &mut dyn FnMut(&Found)) -> Found {
        let g = self.g;
        let n = g.dur.len();
        let mut t = Timing { head: vec![0; n], mach_prev: vec![NONE; n], makespan: 0, last: 0 };
        let (mut indeg, mut mach_next, mut stack) = (vec![0u8; n], vec![NONE; n], Vec::with_capacity(n));
        let mut seq = start;
        assert!(time(g, &seq, &mut t, &mut indeg, &mut mach_next, &mut stack), "the start is a schedule");
        let mut best = Found { seq: seq.clone(), makespan: t.makespan };
        let mut tabu: std::collections::HashMap<(usize, usize), u64> = std::collections::HashMap::new();
        let (mut iter, mut since_best) = (0u64, 0u64);
        let stall = 2000 + 20 * n as u64;
        while best.makespan > lower_bound && (iter % 32 != 0 || keep_going()) {
            iter += 1;
            since_best += 1;
            if since_best > stall {
                // Back to the best, shaken a little: a restart that keeps what was learnt.
                seq = best.seq.clone();
                time(g, &seq, &mut t, &mut indeg, &mut mach_next, &mut stack);
                for _ in 0..3 {
                    let bl = blocks(g, &t, &seq);
                    if bl.is_empty() {
                        break;
                    }
                    let (m, a, b) = bl[self.rng.below(bl.len())];
                    let i = a + self.rng.below(b - a);
                    seq[m].swap(i, i + 1);
                    time(g, &seq, &mut t, &mut indeg, &mut mach_next, &mut stack);
                }
                tabu.clear();
                since_best = 0;
            }
            let bl = blocks(g, &t, &seq);
            if bl.is_empty() {
                break; // the critical path is one job: optimal
            }
            let mut moves = Vec::with_capacity(2 * bl.len());
            for (k, &(m, a, b)) in bl.iter().enumerate() {
                if k > 0 {
                    moves.push((m, a));
                }
                if k + 1 < bl.len() && (b - 1 != a || k == 0) {
                    moves.push((m, b - 1));
                }
            }
            if moves.is_empty() {
                moves.push((bl[0].0, bl[0].1));
            }
            let tenure = 8 + self.rng.below(1 + n / 10) as u64;
            let mut chosen: Option<(i64, usize, usize)> = None;
            for &(m, i) in &moves {
                let (u, v) = (seq[m][i], seq[m][i + 1]);
                seq[m].swap(i, i + 1);
                let ok = time(g, &seq, &mut t, &mut indeg, &mut mach_next, &mut stack);
                seq[m].swap(i, i + 1);
                if !ok {
                    continue;
                }
                let is_tabu = tabu.get(&(u.min(v), u.max(v))).is_some_and(|&until| until > iter);
                if is_tabu && t.makespan >= best.makespan {
                    continue;
                }
                let score = t.makespan * 64 + self.rng.below(64) as i64;
                if chosen.is_none_or(|(s, _, _)| score < s) {
                    chosen = Some((score, m, i));
                }
            }
            let (m, i) = chosen.map_or_else(|| moves[self.rng.below(moves.len())], |(_, m, i)| (m, i));
            let (u, v) = (seq[m][i], seq[m][i + 1]);
            seq[m].swap(i, i + 1);
            tabu.insert((u.min(v), u.max(v)), iter + tenure);
            time(g, &seq, &mut t, &mut indeg, &mut mach_next, &mut stack);
            if t.makespan < best.makespan {
                best = Found { seq: seq.clone(), makespan: t.makespan };
                since_best = 0;
                improved(&best);
            }
        }
        best
    }

    /// The schedule (start times per job and operation) of machine sequences.
    pub fn schedule(g: &Graph, seq: &[Vec<usize>]) -> Schedule {
        let n = g.dur.len();
        let mut t = Timing { head: vec![0; n], mach_prev: vec![NONE; n], makespan: 0, last: 0 };
        let ok = time(g, seq, &mut t, &mut vec![0; n], &mut vec![NONE; n], &mut Vec::new());
        assert!(ok, "a found solution is acyclic");
        let mut starts = Vec::with_capacity(g.first_of_job.len());
        for (j, &first) in g.first_of_job.iter().enumerate() {
            let end = g.first_of_job.get(j + 1).copied().unwrap_or(n);
            starts.push(t.head[first..end].to_vec());
        }
        Schedule { starts, makespan: t.makespan }
    }
}
