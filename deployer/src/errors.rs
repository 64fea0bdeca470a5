//! The errors a user will meet, each with what to do about it.

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("no AWS credentials found ({detail})\nhelp: set AWS_PROFILE or pass --profile, run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")]
    NoCredentials { detail: String },
    #[error("no AWS region configured\nhelp: pass --region, set AWS_REGION, or set region in deploy.yaml")]
    NoRegion,
    #[error("no default VPC in {region}\nhelp: set network.subnets and network.security_groups in deploy.yaml")]
    NoDefaultVpc { region: String },
    #[error("the default VPC {vpc} in {region} has no default-for-az subnets\nhelp: set network.subnets in deploy.yaml")]
    NoDefaultSubnets { vpc: String, region: String },
    #[error("{path}{location}: {message}")]
    InvalidConfig { path: String, location: String, message: String },
    #[error("artifact {path} is missing\nhelp: run `cargo xtask build` (or `cargo xtask deploy`, which builds first)")]
    MissingArtifact { path: String },
    #[error("stack {stack} is {status} and cannot be updated\nhelp: {help}")]
    StackInBadState { stack: String, status: String, help: String },
    #[error("the change set for stack {stack} failed: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    #[error("stack {stack} ended {status}:\n{}", failures.iter().map(|(id, reason)| format!("  {id}: {reason}")).collect::<Vec<_>>().join("\n"))]
    StackFailed { stack: String, status: String, failures: Vec<(String, String)> },
    #[error("stack {stack} does not exist in {region}\nhelp: run `deploy` first")]
    NotDeployed { stack: String, region: String },
    #[error("refusing to {what} without confirmation\nhelp: pass --yes")]
    NeedsConfirmation { what: String },
    #[error("access denied to {action}: {message}\nhelp: the deploying identity needs {action}")]
    AccessDenied { action: String, message: String },
}
