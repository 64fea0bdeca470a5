//! `deploy.yaml`: what the operator wrote (`RawConfig`, every field optional)
//! and what the deployer works with (`Settings`, every name resolved to its
//! DESIGN.md default). Only `Settings` is passed around.

use crate::errors::DeployError;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub region: Option<String>,
    /// Appended (`-STAGE`) to the stack's and every resource's name, so that
    /// staging and production live side by side in one account.
    pub stage: Option<String>,
    pub stack_name: Option<String>,
    #[serde(default)]
    pub names: RawNames,
    #[serde(default)]
    pub network: RawNetwork,
    #[serde(default)]
    pub worker: RawWorker,
    #[serde(default)]
    pub api: RawApi,
    #[serde(default)]
    pub trigger: RawTrigger,
    #[serde(default)]
    pub limits: RawLimits,
    /// Fargate prices for `deploy cost` (the table's when absent).
    pub pricing: Option<RawPricing>,
    pub log_retention_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPricing {
    pub on_demand: crate::pricing::Rate,
    pub spot: Option<crate::pricing::Rate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Worker tasks running at once at most (0: no cap).
    pub max_running_tasks: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNames {
    pub queue: Option<String>,
    pub dead_letter_queue: Option<String>,
    pub trigger_function: Option<String>,
    pub api_function: Option<String>,
    pub cluster: Option<String>,
    pub task_family: Option<String>,
    pub container: Option<String>,
    pub service: Option<String>,
    pub bucket: Option<String>,
    /// Appended to the bucket name: real bucket names are global.
    pub bucket_suffix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub subnets: Option<Vec<String>>,
    pub security_groups: Option<Vec<String>>,
    pub assign_public_ip: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorker {
    pub image: Option<String>,
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    pub architecture: Option<String>,
    /// Attempts a job gets when its tasks are lost (a request may ask for its own).
    pub max_attempts: Option<u32>,
    /// `on-demand`, `spot` or `spot-first` (the default).
    pub capacity: Option<String>,
    /// Spot interruptions after which a spot-first job goes on-demand.
    pub spot_interruptions_max: Option<u32>,
    /// Task memory (MiB) for the attempts after out-of-memory stops.
    pub memory_on_oom: Option<Vec<u32>>,
    /// Images the repository keeps (`deploy repository`); older ones expire.
    pub keep_images: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub public: Option<bool>,
    pub cors_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    pub batch_size: Option<u32>,
    pub max_concurrency: Option<u32>,
    pub max_receive_count: Option<u32>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Names {
    pub stack: String,
    pub queue: String,
    pub dead_letter_queue: String,
    pub trigger_function: String,
    pub api_function: String,
    pub cluster: String,
    pub task_family: String,
    pub container: String,
    pub service: String,
    pub bucket: String,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub region: Option<String>,
    pub stage: Option<String>,
    pub names: Names,
    /// The worker image's default repository: the task family's name
    /// without the stage, so that every stage runs images from one
    /// repository (each pinned by digest at its own deploy).
    pub image_repository: String,
    pub subnets: Option<Vec<String>>,
    pub security_groups: Option<Vec<String>>,
    pub assign_public_ip: bool,
    pub worker_image: Option<String>,
    pub worker_cpu: u32,
    pub worker_memory: u32,
    pub architecture: String,
    pub api_public: bool,
    pub cors_origins: Vec<String>,
    pub batch_size: u32,
    pub max_concurrency: u32,
    pub max_receive_count: u32,
    pub max_attempts: u32,
    pub capacity: job_model::CapacityPolicy,
    pub spot_interruptions_max: u32,
    /// Images the worker image repository keeps (its lifecycle rule).
    pub keep_images: u32,
    pub max_running_tasks: u32,
    pub memory_on_oom: Vec<u32>,
    pub pricing: Option<RawPricing>,
    pub log_retention_days: u32,
}

/// Fargate's valid CPU units, and the memory (MiB) range each allows.
const FARGATE_SIZES: [(u32, u32, u32); 5] = [(256, 512, 2048), (512, 1024, 4096), (1024, 2048, 8192), (2048, 4096, 16384), (4096, 8192, 30720)];

impl Settings {
    /// Reads `path`; a missing file means every default. `stage` (the
    /// `--stage` flag) replaces the file's `stage:`.
    pub fn load(path: &Path, stage: Option<&str>) -> Result<Self, DeployError> {
        let mut raw = match std::fs::read_to_string(path) {
            Ok(text) => serde_yaml::from_str::<Option<RawConfig>>(&text)
                .map_err(|e| DeployError::InvalidConfig {
                    path: path.display().to_string(),
                    location: e.location().map_or_else(String::new, |l| format!(" line {} column {}", l.line(), l.column())),
                    message: e.to_string(),
                })?
                .unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RawConfig::default(),
            Err(e) => return Err(DeployError::InvalidConfig { path: path.display().to_string(), location: String::new(), message: e.to_string() }),
        };
        if let Some(stage) = stage {
            raw.stage = Some(stage.to_owned());
        }
        Self::resolve(raw).map_err(|message| DeployError::InvalidConfig { path: path.display().to_string(), location: String::new(), message })
    }

    pub fn resolve(raw: RawConfig) -> Result<Self, String> {
        let n = raw.names;
        let stage = raw.stage.filter(|s| !s.is_empty());
        if let Some(stage) = &stage
            && (stage.len() > 20 || !stage.starts_with(|c: char| c.is_ascii_lowercase()) || !stage.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(format!("stage {stage:?}: use 1 to 20 lowercase letters, digits and '-', starting with a letter (it ends every resource name)"));
        }
        let staged = |name: String| match &stage {
            Some(stage) => format!("{name}-{stage}"),
            None => name,
        };
        let bucket = staged(format!("{}{}", n.bucket.unwrap_or_else(|| "scheduling-solver-results".into()), n.bucket_suffix.unwrap_or_default()));
        if !(3..=63).contains(&bucket.len()) || !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
            return Err(format!("names.bucket + names.bucket_suffix = {bucket:?} is not a valid S3 bucket name (3-63 lowercase letters, digits, '-', '.')"));
        }
        let cpu = raw.worker.cpu.unwrap_or(1024);
        let memory = raw.worker.memory.unwrap_or(2048);
        match FARGATE_SIZES.iter().find(|(c, _, _)| *c == cpu) {
            None => return Err(format!("worker.cpu {cpu} is not a Fargate size: use one of 256, 512, 1024, 2048, 4096")),
            Some((_, lo, hi)) if memory < *lo || memory > *hi => return Err(format!("worker.memory {memory} MiB does not fit worker.cpu {cpu}: use {lo} to {hi}")),
            _ => {}
        }
        let architecture = raw.worker.architecture.unwrap_or_else(|| "x86_64".into());
        if !["x86_64", "arm64"].contains(&architecture.as_str()) {
            return Err(format!("worker.architecture {architecture:?}: use x86_64 or arm64"));
        }
        let cors_origins = raw.api.cors_origins.unwrap_or_default();
        let api_public = raw.api.public.unwrap_or(false);
        if !cors_origins.is_empty() && !api_public {
            return Err("api.cors_origins is set but api.public is false: a browser cannot sign AWS_IAM requests; set api.public: true".into());
        }
        for list in [&raw.network.subnets, &raw.network.security_groups].into_iter().flatten() {
            if list.is_empty() {
                return Err("network.subnets and network.security_groups, when given, must not be empty".into());
            }
        }
        let batch_size = raw.trigger.batch_size.unwrap_or(10);
        if !(1..=10).contains(&batch_size) {
            return Err(format!("trigger.batch_size {batch_size}: use 1 to 10"));
        }
        let max_concurrency = raw.trigger.max_concurrency.unwrap_or(10);
        if !(2..=1000).contains(&max_concurrency) {
            return Err(format!("trigger.max_concurrency {max_concurrency}: use 2 to 1000"));
        }
        let max_attempts = raw.worker.max_attempts.unwrap_or(job_model::lifecycle::DEFAULT_MAX_ATTEMPTS);
        if !(1..=job_model::lifecycle::MAX_ATTEMPTS_CAP).contains(&max_attempts) {
            return Err(format!("worker.max_attempts {max_attempts}: use 1 to {}", job_model::lifecycle::MAX_ATTEMPTS_CAP));
        }
        let capacity = match raw.worker.capacity.as_deref() {
            None => job_model::CapacityPolicy::SpotFirst,
            Some(c) => job_model::CapacityPolicy::parse(c).ok_or_else(|| format!("worker.capacity {c:?}: use {}", job_model::CapacityPolicy::NAMES))?,
        };
        if capacity != job_model::CapacityPolicy::OnDemand && architecture == "arm64" {
            return Err("worker.capacity spot and spot-first need worker.architecture x86_64: Fargate Spot runs no arm64 tasks (set capacity: on-demand to keep arm64)".into());
        }
        let memory_on_oom = raw.worker.memory_on_oom.unwrap_or_default();
        let (_, lo, hi) = FARGATE_SIZES.iter().find(|(c, _, _)| *c == cpu).copied().unwrap_or((cpu, memory, memory));
        let mut previous = memory;
        for &m in &memory_on_oom {
            if m <= previous || m < lo || m > hi {
                return Err(format!(
                    "worker.memory_on_oom {memory_on_oom:?}: each size must be larger than the one before (starting from worker.memory {memory}) and fit worker.cpu {cpu} ({lo} to {hi} MiB)"
                ));
            }
            previous = m;
        }
        let spot_interruptions_max = raw.worker.spot_interruptions_max.unwrap_or(1);
        if spot_interruptions_max > 100 {
            return Err(format!("worker.spot_interruptions_max {spot_interruptions_max}: use 0 to 100"));
        }
        let keep_images = raw.worker.keep_images.unwrap_or(30);
        if !(1..=1000).contains(&keep_images) {
            return Err(format!("worker.keep_images {keep_images}: use 1 to 1000 (a task definition pins one of them; keep more than your deploys between pushes)"));
        }
        let task_family = n.task_family.unwrap_or_else(|| "solver-worker".into());
        Ok(Self {
            region: raw.region,
            names: Names {
                stack: staged(raw.stack_name.unwrap_or_else(|| "scheduling-solver".into())),
                queue: staged(n.queue.unwrap_or_else(|| "scheduling-solver-jobs".into())),
                dead_letter_queue: staged(n.dead_letter_queue.unwrap_or_else(|| "scheduling-solver-jobs-dlq".into())),
                trigger_function: staged(n.trigger_function.unwrap_or_else(|| "scheduling-solver-sqs-trigger".into())),
                api_function: staged(n.api_function.unwrap_or_else(|| "scheduling-solver-api".into())),
                cluster: staged(n.cluster.unwrap_or_else(|| "scheduling-solver-cluster".into())),
                task_family: staged(task_family.clone()),
                // Inside the task definition: no other stage's name to meet.
                container: n.container.unwrap_or_else(|| "worker".into()),
                service: staged(n.service.unwrap_or_else(|| "solver-worker".into())),
                bucket,
            },
            image_repository: task_family,
            stage,
            subnets: raw.network.subnets,
            security_groups: raw.network.security_groups,
            assign_public_ip: raw.network.assign_public_ip.unwrap_or(true),
            worker_image: raw.worker.image,
            worker_cpu: cpu,
            worker_memory: memory,
            architecture,
            api_public,
            cors_origins,
            batch_size,
            max_concurrency,
            max_receive_count: raw.trigger.max_receive_count.unwrap_or(10),
            max_attempts,
            capacity,
            spot_interruptions_max,
            keep_images,
            max_running_tasks: raw.limits.max_running_tasks.unwrap_or(20),
            memory_on_oom,
            pricing: raw.pricing,
            log_retention_days: raw.log_retention_days.unwrap_or(30),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<Settings, DeployError> {
        let dir = std::env::temp_dir().join(format!("deploy-config-{}-{}", std::process::id(), yaml.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("deploy.yaml");
        std::fs::write(&path, yaml).unwrap();
        Settings::load(&path, None)
    }

    #[test]
    fn a_missing_or_empty_file_means_the_design_defaults() {
        let s = Settings::load(Path::new("/nonexistent/deploy.yaml"), None).unwrap();
        assert_eq!(s.names.queue, "scheduling-solver-jobs");
        assert_eq!(s.names.trigger_function, "scheduling-solver-sqs-trigger");
        assert_eq!(s.names.bucket, "scheduling-solver-results");
        assert_eq!(s.names.stack, "scheduling-solver");
        assert!(!s.api_public);
        assert_eq!(load("").unwrap().names.cluster, "scheduling-solver-cluster");
    }

    #[test]
    fn the_example_file_is_valid_and_says_the_defaults() {
        let example = Settings::load(Path::new("../deploy.example.yaml"), None).unwrap();
        let defaults = Settings::load(Path::new("/nonexistent/deploy.yaml"), None).unwrap();
        assert_eq!(format!("{:?}", example.names), format!("{:?}", defaults.names));
        assert_eq!((example.worker_cpu, example.worker_memory, example.api_public), (defaults.worker_cpu, defaults.worker_memory, defaults.api_public));
    }

    #[test]
    fn names_are_overridable_and_the_bucket_takes_a_suffix() {
        let s = load("names:\n  queue: q\n  bucket_suffix: -123456789012\napi:\n  public: true\n  cors_origins: [https://app.example.com]\n").unwrap();
        assert_eq!(s.names.queue, "q");
        assert_eq!(s.names.bucket, "scheduling-solver-results-123456789012");
        assert_eq!(s.cors_origins, ["https://app.example.com"]);
    }

    #[test]
    fn a_stage_ends_every_name_but_the_container_s_and_the_image_repository() {
        let s = load("stage: staging\nnames:\n  queue: q\n  bucket_suffix: -1234\n").unwrap();
        let n = &s.names;
        assert_eq!((n.stack.as_str(), n.queue.as_str(), n.dead_letter_queue.as_str()), ("scheduling-solver-staging", "q-staging", "scheduling-solver-jobs-dlq-staging"));
        assert_eq!((n.trigger_function.as_str(), n.api_function.as_str()), ("scheduling-solver-sqs-trigger-staging", "scheduling-solver-api-staging"));
        assert_eq!((n.cluster.as_str(), n.task_family.as_str(), n.service.as_str()), ("scheduling-solver-cluster-staging", "solver-worker-staging", "solver-worker-staging"));
        assert_eq!((n.bucket.as_str(), n.container.as_str(), s.image_repository.as_str()), ("scheduling-solver-results-1234-staging", "worker", "solver-worker"));
        for bad in ["Prod", "-x", "a_b", "abcdefghijklmnopqrstu"] {
            let e = load(&format!("stage: {bad:?}\n")).unwrap_err().to_string();
            assert!(e.contains("stage") && e.contains("lowercase"), "{bad}: {e}");
        }
        assert_eq!(load("stage: \"\"\n").unwrap().names.stack, "scheduling-solver", "an empty stage is none");
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let e = load("names:\n  queue: q\n  queues: typo\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("queues"), "{e}");
        let e = load("worker:\n  cpu: 1000\n").unwrap_err().to_string();
        assert!(e.contains("worker.cpu"), "{e}");
        let e = load("worker:\n  architecture: arm64\n").unwrap_err().to_string();
        assert!(e.contains("Fargate Spot runs no arm64") && e.contains("capacity: on-demand"), "arm64 with the spot-first default: {e}");
        assert_eq!(load("worker:\n  architecture: arm64\n  capacity: on-demand\n").unwrap().capacity, job_model::CapacityPolicy::OnDemand);
        assert!(load("worker:\n  capacity: cheap\n").unwrap_err().to_string().contains("worker.capacity"));
        assert_eq!(load("worker:\n  memory_on_oom: [4096, 8192]\n").unwrap().memory_on_oom, [4096, 8192]);
        for bad in ["[2048]", "[8192, 4096]", "[16384]"] {
            let e = load(&format!("worker:\n  memory_on_oom: {bad}\n")).unwrap_err().to_string();
            assert!(e.contains("worker.memory_on_oom"), "{bad}: {e}");
        }
        let e = load("api:\n  cors_origins: [x]\n").unwrap_err().to_string();
        assert!(e.contains("api.public"), "{e}");
        let e = load("names:\n  bucket: Bad_Name\n").unwrap_err().to_string();
        assert!(e.contains("bucket"), "{e}");
    }
}
