//! `deploy repository`: the worker image's ECR repository, owned by a small
//! stack of its own (`stacks/image-repository.yaml`: scan on push, a
//! lifecycle rule keeping the last `worker.keep_images` images).
//!
//! Why not in the pipeline's stack: the task definition may only name an
//! image that exists (`image::resolve` refuses one that does not), and an
//! image can only be pushed once its repository exists. So the repository
//! comes first, the push second, the pipeline third: `cargo xtask deploy`
//! runs the three in that order.
//!
//! A repository of that name made outside (the old system's, where its
//! image lives) is adopted as it is, like the queue: neither duplicated nor
//! refused, and not put under a stack.

use crate::aws::{Aws, failed};
use crate::config::Settings;
use crate::progress::ResourceProgress;
use crate::stack;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::BTreeMap;

pub const TEMPLATE: &str = include_str!("../../stacks/image-repository.yaml");

/// Who owns the repository, as found before anything changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// The repository stack (`deploy repository` made it).
    Stack { stack: String },
    /// Made outside `deploy`: used, never changed.
    Adopted,
    /// Neither exists yet.
    Missing,
}

impl Owner {
    /// The one wording of each owner, for `deploy repository` and the plan.
    pub fn describe(&self) -> String {
        match self {
            Owner::Stack { stack } => format!("stack {stack}"),
            Owner::Adopted => "adopted (made outside deploy; left as it is)".to_owned(),
            Owner::Missing => "missing (`deploy repository` makes it)".to_owned(),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Facts {
    pub repository: String,
    pub stack: String,
    pub owner: Owner,
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY`, the same whether it exists or not.
    pub uri: String,
}

/// The repository stack's name: one per repository, not per stage (every
/// stage runs images from the one repository).
pub fn stack_name(repository: &str) -> String {
    let safe: String = repository.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("{}-image-repository", safe.trim_matches('-'))
}

pub fn parameters(settings: &Settings) -> BTreeMap<String, String> {
    BTreeMap::from([("RepositoryName".to_owned(), settings.image_repository.clone()), ("KeepImages".to_owned(), settings.keep_images.to_string())])
}

/// Read-only: whether the repository exists, and whose it is.
pub async fn facts(aws: &Aws, settings: &Settings) -> anyhow::Result<Facts> {
    let repository = settings.image_repository.clone();
    let stack = stack_name(&repository);
    let uri = format!("{}.dkr.ecr.{}.amazonaws.com/{repository}", aws.account, aws.region);
    let owner = if stack::describe(aws, &stack).await?.is_some() {
        Owner::Stack { stack: stack.clone() }
    } else {
        match aws.ecr.describe_repositories().repository_names(&repository).send().await {
            Ok(out) if !out.repositories().is_empty() => Owner::Adopted,
            Ok(_) => Owner::Missing,
            Err(e) if e.code() == Some("RepositoryNotFoundException") => Owner::Missing,
            Err(e) => return Err(failed("ecr:DescribeRepositories", e)),
        }
    };
    Ok(Facts { repository, stack, owner, uri })
}

#[derive(Debug, serde::Serialize)]
pub struct RepositoryReport {
    pub repository: String,
    pub uri: String,
    /// `stack NAME`, or `adopted (made outside deploy; left as it is)`.
    pub owner: String,
    /// Whether this run created or updated the repository stack.
    pub changed: bool,
    pub keep_images: Option<u32>,
    pub scan_on_push: Option<bool>,
}

impl std::fmt::Display for RepositoryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "image repository {}: {}{}", self.repository, self.owner, if self.changed { " (changed)" } else { " (up to date)" })?;
        writeln!(f, "  uri:          {}", self.uri)?;
        if let Some(n) = self.keep_images {
            writeln!(f, "  keeps:        the last {n} images")?;
        }
        if let Some(scan) = self.scan_on_push {
            writeln!(f, "  scan on push: {}", if scan { "yes" } else { "no" })?;
        }
        writeln!(f, "push with:      docker push {}:TAG   (`cargo xtask deploy` builds, pushes and deploys)", self.uri)
    }
}

/// Creates or updates the repository stack, unless the repository is
/// adopted; a run with nothing to change makes no mutating call.
pub async fn ensure(aws: &Aws, settings: &Settings) -> anyhow::Result<RepositoryReport> {
    let facts = facts(aws, settings).await?;
    let mut changed = false;
    let owner = match &facts.owner {
        Owner::Adopted => Owner::Adopted,
        Owner::Stack { .. } | Owner::Missing => {
            let mut progress = ResourceProgress::on_stderr();
            let params = parameters(settings);
            let deployed = stack::read(aws, &facts.stack).await?;
            let update = match &deployed {
                Some(s) => stack::check_updatable(s)?,
                None => false,
            };
            let current = update && deployed.as_ref().is_some_and(|s| stack::is_current(s, TEMPLATE, &params, None));
            if !current && let Some(cs) = crate::execute::stack::create(aws, &facts.stack, TEMPLATE, &params, !update).await? {
                progress.note(&format!("{} stack {} (the worker image repository)", if update { "updating" } else { "creating" }, facts.stack));
                crate::execute::stack::execute(aws, &cs, &mut progress).await?;
                changed = true;
            }
            progress.finish();
            Owner::Stack { stack: facts.stack.clone() }
        }
    };
    let described = aws.ecr.describe_repositories().repository_names(&facts.repository).send().await.map_err(|e| failed("ecr:DescribeRepositories", e))?;
    let repo = described.repositories().first();
    Ok(RepositoryReport {
        repository: facts.repository.clone(),
        uri: repo.and_then(|r| r.repository_uri()).map_or(facts.uri.clone(), str::to_owned),
        keep_images: (owner != Owner::Adopted).then_some(settings.keep_images),
        owner: owner.describe(),
        changed,
        scan_on_push: repo.and_then(|r| r.image_scanning_configuration()).map(|c| c.scan_on_push()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stack_per_repository_with_a_name_cloudformation_takes() {
        assert_eq!(stack_name("solver-worker"), "solver-worker-image-repository");
        assert_eq!(stack_name("team/solver_worker.v2"), "team-solver-worker-v2-image-repository");
    }

    /// The emulator keeps no lifecycle policy from a template, so the rule
    /// itself is checked here.
    #[test]
    fn the_lifecycle_rule_keeps_the_configured_number_of_images_whatever_their_tags() {
        let template: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).unwrap();
        let repo = &template["Resources"]["Repository"];
        assert_eq!(repo["DeletionPolicy"].as_str(), Some("Retain"), "the images outlive the stack");
        assert_eq!(repo["Properties"]["ImageScanningConfiguration"]["ScanOnPush"].as_bool(), Some(true));
        let serde_yaml::Value::Tagged(sub) = &repo["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"] else { panic!("a !Sub") };
        let text = sub.value.as_str().unwrap().replace("${KeepImages}", "30");
        let rule: serde_json::Value = serde_json::from_str(&text).unwrap();
        let selection = &rule["rules"][0]["selection"];
        assert_eq!((selection["tagStatus"].as_str(), selection["countType"].as_str(), selection["countNumber"].as_u64()), (Some("any"), Some("imageCountMoreThan"), Some(30)));
        assert_eq!(rule["rules"][0]["action"]["type"], "expire");
    }
}
