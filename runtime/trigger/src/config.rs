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
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            cluster: env::required("ECS_CLUSTER", "the ECS cluster to run tasks in")?,
            task_definition: env::required("ECS_TASK_DEFINITION", "the worker's task definition family or ARN")?,
            subnets: env::list("ECS_SUBNETS", "comma-separated subnet ids for the tasks")?,
            security_groups: env::list("ECS_SECURITY_GROUPS", "comma-separated security group ids for the tasks")?,
            bucket: env::required("S3_RESULTS_BUCKET", "the results bucket's name")?,
            region: env::required("AWS_REGION", "the region (Lambda sets it)")?,
            container: env::optional("ECS_CONTAINER_NAME").unwrap_or_else(|| "worker".into()),
            started_by: env::optional("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| crate::STARTED_BY_DEFAULT.into()),
            assign_public_ip: match env::optional("ECS_ASSIGN_PUBLIC_IP") {
                None => true,
                Some(_) => env::flag("ECS_ASSIGN_PUBLIC_IP", "true or false")?,
            },
        })
    }
}
