//! `deploy --hotswap`: when the only thing that changed since the last
//! deploy is Lambda code, the functions are updated directly (seconds)
//! instead of through a change set (a minute or more on AWS), and the deploy
//! is recorded so that the next full deploy sees nothing to do.
//!
//! The stack's own parameters then still name the old code keys: the next
//! change set that changes anything else sets the new ones, which is the
//! code already running, so nothing drifts in what runs.

use crate::aws::{Aws, failed};
use crate::config::Names;
use std::collections::BTreeMap;
use std::time::Duration;

/// The code parameters of the template, and whose code each is.
fn functions(names: &Names) -> [(&'static str, String); 2] {
    [("ApiCodeKey", names.api_function.clone()), ("TriggerCodeKey", names.trigger_function.clone())]
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The functions to update, each with its new code key.
    Code(Vec<(String, String)>),
    /// Why a change set is needed instead.
    ChangeSet(String),
}

/// Pure: the last deploy's parameters and template against this one's.
pub fn decide(names: &Names, before: Option<&BTreeMap<String, String>>, template_unchanged: bool, after: &BTreeMap<String, String>) -> Decision {
    let Some(before) = before else { return Decision::ChangeSet("no record of the last deploy's settings (the stack was deployed by an older deploy, or never)".into()) };
    if !template_unchanged {
        return Decision::ChangeSet("the template changed".into());
    }
    let code: Vec<&str> = functions(names).iter().map(|(p, _)| *p).collect();
    let others: Vec<&String> = after.iter().filter(|(k, v)| before.get(*k) != Some(*v) && !code.contains(&k.as_str())).map(|(k, _)| k).collect();
    if !others.is_empty() {
        return Decision::ChangeSet(format!("settings besides the code changed: {}", others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
    }
    Decision::Code(functions(names).into_iter().filter(|(p, _)| before.get(*p) != after.get(*p)).filter_map(|(p, f)| Some((f, after.get(p)?.clone()))).collect())
}

/// Updates each function's code from the artifacts bucket and waits until
/// it is active with it.
pub async fn update(aws: &Aws, bucket: &str, code: &[(String, String)]) -> anyhow::Result<Vec<String>> {
    for (function, key) in code {
        aws.lambda
            .update_function_code()
            .function_name(function)
            .s3_bucket(bucket)
            .s3_key(key)
            .send()
            .await
            .map_err(|e| failed(&format!("lambda:UpdateFunctionCode {function}"), e))?;
    }
    for (function, _) in code {
        wait_until_updated(aws, function).await?;
    }
    Ok(code.iter().map(|(f, _)| f.clone()).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        crate::config::Settings::load(std::path::Path::new("/nonexistent/deploy.yaml"), None).unwrap().names
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn only_code_changed_updates_just_the_changed_functions() {
        let before = params(&[("ApiCodeKey", "a1"), ("TriggerCodeKey", "t1"), ("BatchSize", "10")]);
        let after = params(&[("ApiCodeKey", "a2"), ("TriggerCodeKey", "t1"), ("BatchSize", "10")]);
        assert_eq!(decide(&names(), Some(&before), true, &after), Decision::Code(vec![("scheduling-solver-api".into(), "a2".into())]));
        assert_eq!(decide(&names(), Some(&before), true, &before), Decision::Code(vec![]), "nothing to update");
    }

    #[test]
    fn anything_else_changed_needs_a_change_set_and_says_what() {
        let before = params(&[("ApiCodeKey", "a1"), ("BatchSize", "10")]);
        let after = params(&[("ApiCodeKey", "a2"), ("BatchSize", "5")]);
        assert_eq!(decide(&names(), Some(&before), true, &after), Decision::ChangeSet("settings besides the code changed: BatchSize".into()));
        assert_eq!(decide(&names(), Some(&before), false, &before), Decision::ChangeSet("the template changed".into()));
        assert!(matches!(decide(&names(), None, true, &after), Decision::ChangeSet(why) if why.starts_with("no record")));
    }
}
