//! The CloudFormation stack as it is deployed (read-only), and the pure
//! judgements about it: can it take a change set, is a template and its
//! parameters already what it runs. Change sets themselves are made and
//! executed by `execute::stack`.

use crate::aws::{Aws, failed};
use crate::errors::DeployError;
use aws_sdk_cloudformation::types::{Stack, TemplateStage};
use std::collections::BTreeMap;

/// A resource change as the change set lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: Option<String>,
}

/// What a deployed stack is now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deployed {
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    /// As DescribeStacks gives them (the emulator keeps the first deploy's: MOTO.md).
    pub parameters: BTreeMap<String, String>,
    /// The template it was last deployed with, as given; `None` before its first execution.
    #[serde(skip)]
    pub template: Option<String>,
    /// Logical ids of its resources.
    pub resources: Vec<String>,
}

pub async fn describe(aws: &Aws, stack: &str) -> anyhow::Result<Option<Stack>> {
    match aws.cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(e) if job_store::aws::describe(&e).contains("does not exist") => Ok(None),
        Err(e) => Err(failed(&format!("cloudformation:DescribeStacks {stack}"), e)),
    }
}

pub fn parameters_of(stack: &Stack) -> BTreeMap<String, String> {
    stack.parameters().iter().filter_map(|p| Some((p.parameter_key()?.to_owned(), p.parameter_value().unwrap_or_default().to_owned()))).collect()
}

/// The stack, its parameters, template and resources; `None` when there is none.
pub async fn read(aws: &Aws, name: &str) -> anyhow::Result<Option<Deployed>> {
    let Some(stack) = describe(aws, name).await? else { return Ok(None) };
    let status = stack.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
    // A stack that only holds a change set (REVIEW_IN_PROGRESS) has neither.
    let (template, resources) = if status == "REVIEW_IN_PROGRESS" {
        (None, Vec::new())
    } else {
        let template = aws.cfn.get_template().stack_name(name).template_stage(TemplateStage::Original).send().await.map_err(|e| failed("cloudformation:GetTemplate", e))?;
        (template.template_body().map(str::to_owned), resource_ids(aws, name).await?)
    };
    Ok(Some(Deployed { name: name.to_owned(), status_reason: stack.stack_status_reason().map(str::to_owned), parameters: parameters_of(&stack), status, template, resources }))
}

pub async fn resource_ids(aws: &Aws, stack: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut pages = aws.cfn.list_stack_resources().stack_name(stack).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failed("cloudformation:ListStackResources", e))?;
        ids.extend(page.stack_resource_summaries().iter().filter_map(|r| r.logical_resource_id().map(str::to_owned)));
    }
    Ok(ids)
}

/// Whether a change set updates the stack (`true`) or creates it (`false`,
/// a stack that only ever held a change set); a stack that cannot take one
/// is refused, saying what to do instead.
pub fn check_updatable(stack: &Deployed) -> Result<bool, DeployError> {
    let bad = |help: &str| Err(DeployError::StackInBadState { stack: stack.name.clone(), status: stack.status.clone(), help: help.into() });
    match stack.status.as_str() {
        "REVIEW_IN_PROGRESS" => Ok(false),
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "DELETE_FAILED" => {
            bad("its creation failed and was rolled back; run `deploy destroy`, fix the cause shown in its events, then `deploy`")
        }
        "UPDATE_ROLLBACK_FAILED" => bad("run `aws cloudformation continue-update-rollback --stack-name <stack>`, then `deploy` again"),
        s if s.ends_with("_IN_PROGRESS") => bad("another operation is running on it; wait for it to finish (`deploy status`), then run `deploy` again"),
        _ => Ok(true),
    }
}

/// What a deploy of this template and these parameters is, in one word: the
/// last successful deploy's is recorded beside the artifacts (`record`).
pub fn fingerprint(template: &str, params: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(template.trim().as_bytes());
    for (k, v) in params {
        h.update(format!("\n{k}={v}").as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the stack already runs this template with these parameters.
///
/// The emulator keeps a stack's old parameters after an update (partial
/// updates, MOTO.md), so the comparison with DescribeStacks misses there;
/// the recorded fingerprint of the last successful deploy does not.
pub fn is_current(stack: &Deployed, template: &str, params: &BTreeMap<String, String>, recorded_fingerprint: Option<&str>) -> bool {
    if stack.status == "REVIEW_IN_PROGRESS" {
        return false;
    }
    let same_template = stack.template.as_deref().map(str::trim) == Some(template.trim());
    (same_template && &stack.parameters == params) || recorded_fingerprint == Some(fingerprint(template, params).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(status: &str, template: &str, params: &[(&str, &str)]) -> Deployed {
        Deployed {
            name: "s".into(),
            status: status.into(),
            status_reason: None,
            parameters: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            template: Some(template.into()),
            resources: vec![],
        }
    }

    #[test]
    fn a_stack_is_current_by_its_template_and_parameters_or_by_the_record() {
        let params: BTreeMap<String, String> = [("A".to_owned(), "1".to_owned())].into();
        assert!(is_current(&stack("UPDATE_COMPLETE", "t\n", &[("A", "1")]), "t", &params, None));
        let stale = stack("UPDATE_COMPLETE", "t", &[("A", "0")]);
        assert!(!is_current(&stale, "t", &params, None), "other parameters");
        assert!(is_current(&stale, "t", &params, Some(&fingerprint("t", &params))), "the record of the last deploy wins over the emulator's stale parameters");
        assert!(!is_current(&stack("REVIEW_IN_PROGRESS", "t", &[("A", "1")]), "t", &params, None), "a stack that only held a change set");
    }

    #[test]
    fn a_stack_in_a_failed_state_is_refused_with_what_to_do() {
        assert_eq!(check_updatable(&stack("UPDATE_COMPLETE", "", &[])).ok(), Some(true));
        assert_eq!(check_updatable(&stack("REVIEW_IN_PROGRESS", "", &[])).ok(), Some(false));
        let refused = check_updatable(&stack("ROLLBACK_COMPLETE", "", &[])).unwrap_err().to_string();
        assert!(refused.contains("deploy destroy"), "{refused}");
        assert!(check_updatable(&stack("UPDATE_IN_PROGRESS", "", &[])).unwrap_err().to_string().contains("another operation"));
    }
}
