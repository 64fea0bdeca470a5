//! Instances for the unit tests: ft06, random ones with zero durations as
//! in published sets, and ft10 from the shared data.

use crate::graph::Graph;
use crate::rng::Rng;
use crate::timing::State;
use job_model::JobShop;

pub(crate) fn ft06() -> JobShop {
    JobShop::parse_orlib(
        "6 6\n2 1 0 3 1 6 3 7 5 3 4 6\n1 8 2 5 4 10 5 10 0 10 3 4\n2 5 3 4 5 8 0 9 1 1 4 7\n1 5 0 5 2 5 3 3 4 8 5 9\n2 9 1 3 4 5 5 4 0 3 3 1\n1 3 3 3 5 9 0 10 4 4 2 1\n",
    )
    .unwrap()
}

/// A random instance: every job visits every machine once, some
/// operations take no time (as in published sets).
pub(crate) fn random_instance(jobs: usize, machines: usize, seed: u64) -> JobShop {
    let mut rng = Rng::new(seed);
    let mut text = format!("{jobs} {machines}\n");
    for _ in 0..jobs {
        let mut order: Vec<usize> = (0..machines).collect();
        for i in (1..machines).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for m in order {
            let d = if rng.below(5) == 0 { 0 } else { 1 + rng.below(20) };
            text.push_str(&format!("{m} {d} "));
        }
        text.push('\n');
    }
    JobShop::parse_orlib(&text).unwrap()
}

/// A random instance's graph and its dispatching schedule, timed.
pub(crate) fn random_timed(jobs: usize, machines: usize, seed: u64) -> (Graph, State) {
    let p = random_instance(jobs, machines, seed);
    let g = Graph::new(&p);
    let mut st = State::new(&g, g.sequences(&crate::construct::dispatch(&p, None)));
    assert!(st.retime(&g));
    (g, st)
}

pub(crate) fn random_schedule(p: &JobShop, g: &Graph, seed: u64) -> Vec<Vec<usize>> {
    g.sequences(&crate::construct::dispatch(p, Some(&mut Rng::new(seed))))
}

/// As the integration tests find it: relative to the directory cargo
/// runs tests in, or under `SHARED_DATA` (not through a compile-time
/// path, which a shared build cache can carry over from another clone).
pub(crate) fn testkit_ft10() -> std::path::PathBuf {
    std::env::var_os("SHARED_DATA").map_or_else(|| std::path::PathBuf::from("../../../shared/data"), Into::into).join("jobshop/instances/ft10")
}
