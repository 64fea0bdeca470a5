use super::{SolveJob, SolveOutput, Solver};
use job_model::{ErrorInfo, JobShopResult, Problem, Progress};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// How often the search hands its best schedule out as a checkpoint.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

pub struct Builtin {
    pub threads: usize,
}

impl Solver for Builtin {
    fn name(&self) -> String {
        jobshop::NAME.into()
    }

    fn solve(&self, job: &SolveJob, stop: &AtomicBool, progress: &(dyn Fn(Progress) + Sync), checkpoint: &(dyn Fn(serde_json::Value) + Sync)) -> Result<SolveOutput, ErrorInfo> {
        let problem = job.request.problem().map_err(|e| e.to_error_info())?;
        // An unreadable checkpoint only costs the head start, not the job.
        let initial: Option<JobShopResult> = job.initial.and_then(|v| serde_json::from_value(v.clone()).ok());
        let params = jobshop::Params { time_limit: Duration::from_secs_f64(job.time_limit_s.max(0.0)), threads: self.threads, seed: 1 };
        let on_improve = |imp: jobshop::Improvement| {
            progress(Progress { best_objective: Some(imp.makespan), lower_bound: Some(imp.lower_bound), elapsed_s: imp.elapsed_s });
        };
        let on_checkpoint = |r: JobShopResult| {
            if let Ok(v) = serde_json::to_value(&r) {
                checkpoint(v);
            }
        };
        let hooks = jobshop::Hooks { on_improve: &on_improve, on_checkpoint: Some((&on_checkpoint, CHECKPOINT_EVERY)) };
        let result = match &problem {
            Problem::JobShop(p) => jobshop::solve_from(p, &params, initial.as_ref(), stop, &hooks),
            Problem::Flexible(p) => jobshop::flexible::solve_from(p, &params, initial.as_ref(), stop, &hooks),
        };
        let progress = Progress { best_objective: Some(result.makespan), lower_bound: Some(result.lower_bound), elapsed_s: result.solver.elapsed_s };
        let result = serde_json::to_value(&result).map_err(|e| ErrorInfo::new("INTERNAL", e.to_string()))?;
        Ok(SolveOutput { result, progress })
    }
}
