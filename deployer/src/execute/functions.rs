//! The Lambda functions changed outside a change set: code updated directly
//! (`--hotswap`), and the trigger's environment put right where it drifted.

use crate::aws::{Aws, failed};
use std::collections::BTreeMap;
use std::time::Duration;

/// Updates a function's code from the artifacts bucket and waits until it
/// is active with it.
pub async fn update_code(aws: &Aws, function: &str, bucket: &str, key: &str) -> anyhow::Result<()> {
    aws.lambda
        .update_function_code()
        .function_name(function)
        .s3_bucket(bucket)
        .s3_key(key)
        .send()
        .await
        .map_err(|e| failed(&format!("lambda:UpdateFunctionCode {function}"), e))?;
    wait_until_updated(aws, function).await
}

async fn wait_until_updated(aws: &Aws, function: &str) -> anyhow::Result<()> {
    use aws_sdk_lambda::types::LastUpdateStatus;
    for _ in 0..300 {
        let conf = aws.lambda.get_function_configuration().function_name(function).send().await.map_err(|e| failed("lambda:GetFunctionConfiguration", e))?;
        match conf.last_update_status() {
            Some(LastUpdateStatus::InProgress) => tokio::time::sleep(Duration::from_secs(1)).await,
            Some(LastUpdateStatus::Failed) => {
                anyhow::bail!("the code update of {function} failed: {}", conf.last_update_status_reason().unwrap_or("no reason given"))
            }
            _ => return Ok(()),
        }
    }
    anyhow::bail!("the code update of {function} did not finish in 5 minutes")
}

/// Sets the variables of `expected` that differ on the function, keeping
/// its others (AWS_REGION is Lambda's own); the names of those it set.
pub async fn align_environment(aws: &Aws, function: &str, expected: &BTreeMap<String, String>) -> anyhow::Result<Vec<String>> {
    let conf = aws.lambda.get_function_configuration().function_name(function).send().await.map_err(|e| failed("lambda:GetFunctionConfiguration", e))?;
    let mut vars = conf.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    let fixed = crate::plan::environment_drift(&vars, expected);
    if fixed.is_empty() {
        return Ok(fixed);
    }
    for name in &fixed {
        vars.insert(name.clone(), expected[name].clone());
    }
    aws.lambda
        .update_function_configuration()
        .function_name(function)
        .environment(aws_sdk_lambda::types::Environment::builder().set_variables(Some(vars)).build())
        .send()
        .await
        .map_err(|e| failed("lambda:UpdateFunctionConfiguration", e))?;
    Ok(fixed)
}
