//! The results bucket and the runtime's configuration as every program sees
//! them. Status writes are conditional (`If-None-Match: *` to create,
//! `If-Match: <etag>` to change), so two writers never silently overwrite
//! each other: a lost race is re-read and decided again.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod aws;
#[cfg(feature = "ecs")]
mod emulator_ecs;
pub mod env;
mod slots;
mod store;

pub use slots::SlotHolder;
pub use store::{Applied, Store, StoreError};

/// The current time, the single clock every status stamp comes from.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Logs as CloudWatch and ECS want them: plain lines, no colour, `RUST_LOG`
/// to filter (default `info`), on stderr so that stdout stays for output.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_target(false).with_writer(std::io::stderr).try_init();
}
