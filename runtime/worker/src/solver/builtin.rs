use super::{SolveOutput, Solver};
use job_model::{ErrorInfo, JobRequest, Progress};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub struct Builtin {
    pub threads: usize,
}

impl Solver for Builtin {
    fn name(&self) -> String {
        jobshop::NAME.into()
    }

    fn solve(&self, request: &JobRequest, stop: &AtomicBool, progress: &(dyn Fn(Progress) + Sync)) -> Result<SolveOutput, ErrorInfo> {
        let problem = request.jobshop().map_err(|e| e.to_error_info())?;
        let params = jobshop::Params { time_limit: Duration::from_secs_f64(request.time_limit_s), threads: self.threads, seed: 1 };
        let result = jobshop::solve(&problem, &params, stop, &|imp| {
            progress(Progress { best_objective: Some(imp.makespan), lower_bound: Some(imp.lower_bound), elapsed_s: imp.elapsed_s });
        });
        let progress = Progress { best_objective: Some(result.makespan), lower_bound: Some(result.lower_bound), elapsed_s: result.solver.elapsed_s };
        let result = serde_json::to_value(&result).map_err(|e| ErrorInfo::new("INTERNAL", e.to_string()))?;
        Ok(SolveOutput { result, progress })
    }
}
