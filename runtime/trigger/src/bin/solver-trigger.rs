use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use solver_trigger::{Config, Trigger};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    job_store::init_logging();
    let config = Config::from_env()?;
    let sdk = job_store::aws::load().await;
    let trigger = Trigger::new(config, job_store::aws::s3_client(&sdk), job_store::aws::ecs_client(&sdk), aws_sdk_sqs::Client::new(&sdk));
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let trigger = trigger.clone();
        async move { Ok::<_, lambda_runtime::Error>(trigger.handle_batch(event.payload).await) }
    }))
    .await
}
