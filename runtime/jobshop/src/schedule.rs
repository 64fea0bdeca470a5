use job_model::{JobShop, ScheduledOp};

/// Start times indexed like the problem: `starts[j][k]`.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub starts: Vec<Vec<i64>>,
    pub makespan: i64,
}

impl Schedule {
    pub fn makespan(&self) -> i64 {
        self.makespan
    }

    pub fn to_result_schedule(&self, problem: &JobShop) -> Vec<Vec<ScheduledOp>> {
        problem
            .jobs
            .iter()
            .zip(&self.starts)
            .map(|(job, starts)| job.iter().zip(starts).map(|(o, &start)| ScheduledOp { machine: o.machine, start, duration: o.duration }).collect())
            .collect()
    }
}
