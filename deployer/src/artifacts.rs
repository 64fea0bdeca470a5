//! The Lambda zips as the plan sees them: found in the artifacts directory,
//! named by their content, and whether the deployer's bucket already holds
//! them. Read-only; `execute::artifacts` uploads what is missing.

use crate::aws::Aws;
use crate::errors::DeployError;
use sha2::{Digest, Sha256};
use std::path::Path;

/// One bucket per stack, account and region, made before the stack (the
/// stack's Lambdas read their code from it); it also holds the deploy record.
pub fn bucket_name(stack: &str, account: &str, region: &str) -> String {
    let mut name = format!("{stack}-artifacts-{account}-{region}").to_ascii_lowercase();
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Zip {
    /// `solver-api` or `solver-trigger`.
    pub name: String,
    pub path: String,
    /// `lambda/NAME-DIGEST.zip`: a new build is a new key.
    pub key: String,
    /// Already in the bucket.
    pub present: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Artifacts {
    pub bucket: String,
    pub bucket_exists: bool,
    pub api: Zip,
    pub trigger: Zip,
}

/// The content address of a zip's bytes.
pub fn key_of(name: &str, bytes: &[u8]) -> String {
    let digest: String = Sha256::digest(bytes).iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("lambda/{name}-{digest}.zip")
}

pub async fn read(aws: &Aws, stack: &str, dir: &Path) -> anyhow::Result<Artifacts> {
    let bucket = bucket_name(stack, &aws.account, &aws.region);
    let bucket_exists = aws.s3.head_bucket().bucket(&bucket).send().await.is_ok();
    let zip = |name: &str| {
        let path = dir.join(format!("{name}.zip"));
        let bytes = std::fs::read(&path).map_err(|_| DeployError::MissingArtifact { path: path.display().to_string() })?;
        Ok::<_, DeployError>(Zip { name: name.to_owned(), path: path.display().to_string(), key: key_of(name, &bytes), present: false })
    };
    let (mut api, mut trigger) = (zip("solver-api")?, zip("solver-trigger")?);
    if bucket_exists {
        for z in [&mut api, &mut trigger] {
            z.present = aws.s3.head_object().bucket(&bucket).key(&z.key).send().await.is_ok();
        }
    }
    Ok(Artifacts { bucket, bucket_exists, api, trigger })
}
