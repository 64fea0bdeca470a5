use lambda_runtime::{LambdaEvent, service_fn};
use solver_trigger::{Config, Trigger};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    job_store::init_logging();
    let config = Config::from_env()?;
    let sdk = job_store::aws::load().await;
    let trigger = Trigger::new(config, job_store::aws::s3_client(&sdk), job_store::aws::ecs_client(&sdk), aws_sdk_sqs::Client::new(&sdk));
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let trigger = trigger.clone();
        async move { trigger.handle(event.payload).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
