//! Everything a deploy decides from, gathered before anything changes:
//! account and region, the network, the stack and the record of its last
//! deploy, what the old architecture left outside the stack, the worker
//! image, the Lambda zips, the queue's consumers and the trigger's
//! environment. Architecture invariant: nothing here mutates AWS; `plan`
//! computes from these facts alone.

use crate::artifacts::{self, Artifacts};
use crate::aws::Aws;
use crate::config::{Names, Settings};
use crate::consumers::{self, Consumers};
use crate::discover::{self, Existing, Network};
use crate::image::{self, Image};
use crate::record::{self, Record};
use crate::repository;
use crate::stack::{self, Deployed};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, Clone)]
pub struct Facts {
    pub region: String,
    pub account: String,
    /// `aws`, `aws-cn` or `aws-us-gov`: the caller's ARN says which.
    pub partition: String,
    pub network: Network,
    pub stack: Option<Deployed>,
    pub record: Record,
    pub adopted: Existing,
    pub image: Image,
    pub image_repository: repository::Facts,
    pub artifacts: Artifacts,
    /// The consumers under the configured names.
    pub consumers: Consumers,
    /// Under the last deploy's names where those differ (a renamed queue or
    /// trigger does not exist yet under the new ones): what consumes the queue now.
    pub deployed_consumers: Option<Consumers>,
    /// The trigger function's environment; `None` before it exists.
    pub trigger_environment: Option<HashMap<String, String>>,
}

pub async fn gather(aws: &Aws, settings: &Settings, artifacts_dir: &Path) -> anyhow::Result<Facts> {
    let names = &settings.names;
    // First what can refuse the deploy outright, with the clearest message:
    // a worker image that cannot be pulled, the Lambda zips, the network.
    let requested = settings.worker_image.clone().unwrap_or_else(|| image::default_image(aws, &settings.image_repository));
    let image = image::resolve(aws, &requested).await?;
    let artifacts = artifacts::read(aws, &names.stack, artifacts_dir).await?;
    let network = discover::network(aws, settings).await?;
    let stack = stack::read(aws, &names.stack).await?;
    let adopted = discover::existing_outside_stack(aws, settings, stack.as_ref().map_or(&[][..], |s| &s.resources)).await?;
    let record = record::read(aws, &names.stack).await;
    let consumers = consumers::read(aws, names).await?;
    let deployed = deployed_names(names, record.parameters.as_ref().or(stack.as_ref().map(|s| &s.parameters)));
    let deployed_consumers = if same_consumers(&deployed, names) { None } else { Some(consumers::read(aws, &deployed).await?) };
    Ok(Facts {
        region: aws.region.clone(),
        account: aws.account.clone(),
        partition: partition(&aws.caller),
        network,
        image_repository: repository::facts(aws, settings).await?,
        trigger_environment: discover::environment(aws, &names.trigger_function).await?,
        stack,
        record,
        adopted,
        image,
        artifacts,
        consumers,
        deployed_consumers,
    })
}

/// The partition of an ARN (`arn:PARTITION:…`); `aws` when it says none.
pub fn partition(arn: &str) -> String {
    arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws").to_owned()
}

fn same_consumers(a: &Names, b: &Names) -> bool {
    (&a.queue, &a.trigger_function, &a.cluster, &a.service) == (&b.queue, &b.trigger_function, &b.cluster, &b.service)
}

/// The consumers' names as the last deploy set them (its parameters), else
/// the configured ones.
pub fn deployed_names(names: &Names, deployed: Option<&BTreeMap<String, String>>) -> Names {
    let mut current = names.clone();
    if let Some(p) = deployed {
        for (key, name) in [
            ("QueueName", &mut current.queue),
            ("TriggerFunctionName", &mut current.trigger_function),
            ("ClusterName", &mut current.cluster),
            ("ServiceName", &mut current.service),
        ] {
            if let Some(v) = p.get(key) {
                v.clone_into(name);
            }
        }
    }
    current
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_partition_comes_from_the_caller_s_arn() {
        assert_eq!(super::partition("arn:aws-cn:iam::123456789012:user/a"), "aws-cn");
        assert_eq!(super::partition("arn:aws:sts::123456789012:assumed-role/r/s"), "aws");
        assert_eq!(super::partition(""), "aws");
    }
}
