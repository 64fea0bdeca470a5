//! Lower bounds that are cheap and proven: a job cannot finish faster than
//! its own work, and a machine cannot start before its earliest head nor end
//! its work before its smallest tail.

use job_model::JobShop;

pub fn lower_bound(problem: &JobShop) -> i64 {
    let mut bound = 0;
    let m = problem.machines;
    let (mut load, mut min_head, mut min_tail) = (vec![0i64; m], vec![i64::MAX; m], vec![i64::MAX; m]);
    for job in &problem.jobs {
        let total: i64 = job.iter().map(|o| o.duration).sum();
        bound = bound.max(total);
        let mut head = 0;
        for op in job {
            let tail = total - head - op.duration;
            load[op.machine] += op.duration;
            min_head[op.machine] = min_head[op.machine].min(head);
            min_tail[op.machine] = min_tail[op.machine].min(tail);
            head += op.duration;
        }
    }
    for k in 0..m {
        if load[k] > 0 {
            bound = bound.max(min_head[k] + load[k] + min_tail[k]);
        }
    }
    bound
}
