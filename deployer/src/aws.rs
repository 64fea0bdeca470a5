//! The clients, built once from the standard SDK configuration (profile,
//! region, `AWS_ENDPOINT_URL`), and the account they act in.

use crate::errors::DeployError;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub struct Aws {
    pub region: String,
    pub account: String,
    /// Who `deploy` acts as (the caller identity's ARN).
    pub caller: String,
    /// The chain's credentials, for what signs its own requests (`deploy console`).
    pub credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    pub cfn: aws_sdk_cloudformation::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Aws {
    /// The region comes from `flag_region`, else the SDK's own chain
    /// (`AWS_REGION`, then the profile), else `config_region` (deploy.yaml).
    pub async fn connect(profile: Option<&str>, flag_region: Option<&str>, config_region: Option<&str>) -> anyhow::Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = flag_region {
            loader = loader.region(Region::new(r.to_owned()));
        } else {
            let mut from_profile = aws_config::profile::ProfileFileRegionProvider::builder();
            if let Some(p) = profile {
                from_profile = from_profile.profile_name(p);
            }
            let mut chain =
                aws_config::meta::region::RegionProviderChain::first_try(aws_config::environment::EnvironmentVariableRegionProvider::new()).or_else(from_profile.build());
            if let Some(r) = config_region {
                chain = chain.or_else(Region::new(r.to_owned()));
            }
            loader = loader.region(chain);
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(ToString::to_string).ok_or(DeployError::NoRegion)?;
        let sts = aws_sdk_sts::Client::new(&sdk);
        let identity = sts.get_caller_identity().send().await.map_err(|e| DeployError::NoCredentials { detail: job_store::aws::describe(&e) })?;
        Ok(Self {
            account: identity.account().unwrap_or_default().to_owned(),
            caller: identity.arn().unwrap_or_default().to_owned(),
            credentials: sdk.credentials_provider(),
            region,
            cfn: aws_sdk_cloudformation::Client::new(&sdk),
            ec2: aws_sdk_ec2::Client::new(&sdk),
            ecr: aws_sdk_ecr::Client::new(&sdk),
            ecs: job_store::aws::ecs_client(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            lambda: aws_sdk_lambda::Client::new(&sdk),
            s3: job_store::aws::s3_client(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
        })
    }
}

/// An SDK failure as a user reads it: the action, and a permission hint when
/// that is what went wrong.
pub fn failed<E>(action: &str, e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = job_store::aws::describe(&e);
    if matches!(e.code(), Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError")) {
        return DeployError::AccessDenied { action: action.to_owned(), message }.into();
    }
    anyhow::anyhow!("{action} failed: {message}")
}
