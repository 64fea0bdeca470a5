use job_store::env::{self, EnvError};

#[derive(Debug, Clone)]
pub struct Config {
    pub cluster: String,
    pub task_definition: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub bucket: String,
    pub region: String,
    /// Container that receives the overrides (`worker` unless renamed).
    pub container: String,
    /// `startedBy` on every task, so operators can list what the trigger ran.
    pub started_by: String,
    /// Default-VPC subnets are public: without a public IP a task cannot
    /// pull its image. Private subnets with NAT set `ECS_ASSIGN_PUBLIC_IP=false`.
    pub assign_public_ip: bool,
    /// The job queue, for the messages that wake a job up again (a new
    /// attempt, the reconciler's re-sends). `SQS_QUEUE_URL`.
    pub queue_url: Option<String>,
    /// The queue's `maxReceiveCount`: at that delivery a job whose launch
    /// keeps failing is failed before its message goes to the DLQ.
    pub max_receive_count: Option<u32>,
    /// Attempts for jobs whose request does not say (`MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Fargate capacity for jobs whose request does not say (`CAPACITY`:
    /// on-demand, spot or spot-first), and the bound on what they may ask.
    pub capacity: job_model::CapacityPolicy,
    /// Spot interruptions after which a `spot-first` job goes on-demand
    /// (`SPOT_INTERRUPTIONS_MAX`).
    pub max_spot_interruptions: u32,
    /// Tasks this trigger keeps running at most (`MAX_RUNNING_TASKS`; unset
    /// or 0: no cap).
    pub max_running_tasks: Option<u32>,
    /// Task memory (MiB) for the attempts after out-of-memory stops, in
    /// order (`MEMORY_ON_OOM`, comma-separated; empty: never raised).
    pub memory_on_oom: Vec<u32>,
    /// How long a slot of the cap may be held before the reconciler judges
    /// its holder (`cap::SLOT_GRACE`; shorter in tests).
    pub slot_grace: time::Duration,
}

impl Config {
    /// Where tasks run and results go, with the defaults for the rest: the
    /// `worker` container, the default `startedBy`, a public IP.
    pub fn new(cluster: String, task_definition: String, subnets: Vec<String>, security_groups: Vec<String>, bucket: String, region: String) -> Self {
        Self {
            cluster,
            task_definition,
            subnets,
            security_groups,
            bucket,
            region,
            container: "worker".into(),
            started_by: crate::STARTED_BY_DEFAULT.into(),
            assign_public_ip: true,
            queue_url: None,
            max_receive_count: None,
            max_attempts: job_model::lifecycle::DEFAULT_MAX_ATTEMPTS,
            capacity: job_model::CapacityPolicy::OnDemand,
            max_spot_interruptions: 1,
            max_running_tasks: None,
            memory_on_oom: Vec::new(),
            slot_grace: crate::cap::SLOT_GRACE,
        }
    }

    pub fn from_env() -> Result<Self, EnvError> {
        let mut config = Self::new(
            env::required("ECS_CLUSTER", "the ECS cluster to run tasks in")?,
            env::required("ECS_TASK_DEFINITION", "the worker's task definition family or ARN")?,
            env::list("ECS_SUBNETS", "comma-separated subnet ids for the tasks")?,
            env::list("ECS_SECURITY_GROUPS", "comma-separated security group ids for the tasks")?,
            env::required("S3_RESULTS_BUCKET", "the results bucket's name")?,
            env::required("AWS_REGION", "the region (Lambda sets it)")?,
        );
        if let Some(container) = env::optional("ECS_CONTAINER_NAME") {
            config.container = container;
        }
        if let Some(function) = env::optional("AWS_LAMBDA_FUNCTION_NAME") {
            config.started_by = function;
        }
        if env::optional("ECS_ASSIGN_PUBLIC_IP").is_some() {
            config.assign_public_ip = env::flag("ECS_ASSIGN_PUBLIC_IP", "true or false")?;
        }
        config.queue_url = env::optional("SQS_QUEUE_URL");
        config.max_receive_count = env::number("MAX_RECEIVE_COUNT", 1, 1000)?;
        if let Some(n) = env::number("MAX_ATTEMPTS", 1, job_model::lifecycle::MAX_ATTEMPTS_CAP)? {
            config.max_attempts = n;
        }
        if let Some(raw) = env::optional("CAPACITY") {
            config.capacity = job_model::CapacityPolicy::parse(&raw).ok_or_else(|| EnvError::Malformed {
                name: "CAPACITY",
                value: raw,
                hint: format!("expected {}", job_model::CapacityPolicy::NAMES).into(),
            })?;
        }
        config.max_running_tasks = env::number("MAX_RUNNING_TASKS", 0, 100_000)?.filter(|&n| n > 0);
        if let Some(raw) = env::optional("MEMORY_ON_OOM") {
            config.memory_on_oom = raw.split(',').map(|m| m.trim().parse::<u32>().ok().filter(|&m| m >= 512)).collect::<Option<Vec<_>>>().ok_or_else(|| EnvError::Malformed {
                name: "MEMORY_ON_OOM",
                value: raw.clone(),
                hint: "comma-separated MiB, e.g. 4096,8192".into(),
            })?;
        }
        if let Some(n) = env::number("SPOT_INTERRUPTIONS_MAX", 0, 100)? {
            config.max_spot_interruptions = n;
        }
        Ok(config)
    }
}
