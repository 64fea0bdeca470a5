use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use solver_api::{Api, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    job_store::init_logging();
    // A missing variable is a start-up error naming it, not a panic later.
    let config = Config::from_env()?;
    let sdk = job_store::aws::load().await;
    let api = Api::new(&config, job_store::aws::s3_client(&sdk), aws_sdk_sqs::Client::new(&sdk));
    lambda_runtime::run(service_fn(|event: LambdaEvent<LambdaFunctionUrlRequest>| {
        let api = api.clone();
        async move { Ok::<_, lambda_runtime::Error>(solver_api::handle(&api, event.payload).await) }
    }))
    .await
}
