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
}

impl Config {
    /// Where tasks run and results go, with the defaults for the rest: the
    /// `worker` container, the default `startedBy`, a public IP.
    pub fn new(cluster: String, task_definition: String, subnets: Vec<String>, security_groups: Vec<String>, bucket: String, region: String) -> Self {
        Self { cluster, task_definition, subnets, security_groups, bucket, region, container: "worker".into(), started_by: crate::STARTED_BY_DEFAULT.into(), assign_public_ip: true }
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
        Ok(config)
    }
}
