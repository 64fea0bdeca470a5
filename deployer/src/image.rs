//! The worker image the task definition points at: which one, whether it
//! exists, and pinned by digest.
//!
//! A task definition that names an image nobody pushed deploys fine and
//! fails at the first job, when the task cannot pull it. So an image in this
//! account's ECR is looked up before the stack is touched (a clear refusal
//! when the repository or the tag is missing) and written into the task
//! definition by digest, so that re-tagging `latest` never changes what
//! running jobs execute without a deploy. Images elsewhere (another
//! registry) are used as given and reported as not checked.

use crate::aws::{Aws, failed};
use aws_sdk_ecr::types::ImageIdentifier;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Image {
    /// As configured (`--image`, `worker.image`, or the default repository).
    pub requested: String,
    /// What the task definition gets: `repo@sha256:…` when it was checked.
    pub pinned: String,
    /// Found in this account's ECR.
    pub checked: bool,
}

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG|@DIGEST]`, parsed.
#[derive(Debug, PartialEq, Eq)]
struct EcrRef<'a> {
    account: &'a str,
    region: &'a str,
    registry: &'a str,
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

fn parse_ecr(image: &str) -> Option<EcrRef<'_>> {
    let (registry, path) = image.split_once('/')?;
    let mut host = registry.split('.');
    let (account, dkr, ecr, region) = (host.next()?, host.next()?, host.next()?, host.next()?);
    if dkr != "dkr" || ecr != "ecr" || host.next() != Some("amazonaws") || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (repository, tag, digest) = match path.split_once('@') {
        Some((repo, digest)) => (repo, None, Some(digest)),
        None => match path.rsplit_once(':') {
            Some((repo, tag)) => (repo, Some(tag), None),
            None => (path, None, None),
        },
    };
    Some(EcrRef { account, region, registry, repository, tag, digest })
}

/// The default image: the task family's repository in this account, `latest`.
pub fn default_image(aws: &Aws, repository: &str) -> String {
    format!("{}.dkr.ecr.{}.amazonaws.com/{repository}:latest", aws.account, aws.region)
}

pub async fn resolve(aws: &Aws, requested: &str) -> anyhow::Result<Image> {
    anyhow::ensure!(
        !requested.trim().is_empty() && !requested.contains(char::is_whitespace),
        "the worker image {requested:?} is not an image reference: give REGISTRY/REPOSITORY:TAG (--image or worker.image)"
    );
    let Some(r) = parse_ecr(requested).filter(|r| r.account == aws.account && r.region == aws.region) else {
        return Ok(Image { requested: requested.to_owned(), pinned: requested.to_owned(), checked: false });
    };
    let id = match (r.digest, r.tag) {
        (Some(digest), _) => ImageIdentifier::builder().image_digest(digest).build(),
        (None, tag) => ImageIdentifier::builder().image_tag(tag.unwrap_or("latest")).build(),
    };
    let push_hint = format!("build and push it (`cargo xtask deploy --image {}/{}:TAG` does both where Docker runs), or set worker.image in deploy.yaml", r.registry, r.repository);
    let out = match aws.ecr.describe_images().repository_name(r.repository).image_ids(id).send().await {
        Ok(out) => out,
        Err(e) if e.code() == Some("RepositoryNotFoundException") => {
            anyhow::bail!(
                "the worker image {requested} cannot be pulled: ECR has no repository {} in {} ({}): make it with `deploy repository`, then {push_hint}",
                r.repository,
                r.region,
                r.account
            )
        }
        Err(e) if e.code() == Some("ImageNotFoundException") => {
            anyhow::bail!("the worker image {requested} cannot be pulled: repository {} has no such image: {push_hint}", r.repository)
        }
        Err(e) => return Err(failed("ecr:DescribeImages", e)),
    };
    let digest = out.image_details().first().and_then(|d| d.image_digest()).ok_or_else(|| anyhow::anyhow!("ECR describes {requested} without a digest"))?;
    Ok(Image { requested: requested.to_owned(), pinned: format!("{}/{}@{digest}", r.registry, r.repository), checked: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_references_are_told_apart_from_other_registries() {
        let r = parse_ecr("123456789012.dkr.ecr.eu-west-1.amazonaws.com/solver-worker:v1").unwrap();
        assert_eq!((r.account, r.region, r.repository, r.tag, r.digest), ("123456789012", "eu-west-1", "solver-worker", Some("v1"), None));
        let r = parse_ecr("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/solver@sha256:abc").unwrap();
        assert_eq!((r.repository, r.tag, r.digest), ("team/solver", None, Some("sha256:abc")));
        assert_eq!(parse_ecr("123456789012.dkr.ecr.us-east-1.amazonaws.com/solver").unwrap().tag, None);
        for other in ["ghcr.io/acme/solver:v1", "solver-worker:latest", "public.ecr.aws/acme/solver:1", "12345.dkr.ecr.us-east-1.amazonaws.com/x:1"] {
            assert_eq!(parse_ecr(other), None, "{other}");
        }
    }
}
