//! The job model every program shares: what a job request is, the status
//! document and its lifecycle (one pure state machine), where things live in the
//! results bucket, what a valid `run_id` is, the queue message, and a checker
//! that proves a job-shop or flexible job-shop schedule is real.
//!
//! Nothing here talks to AWS: it is pure data and rules, so that the API, the
//! trigger, the worker and the deployer agree by construction.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod capacity;
pub mod check;
pub mod error;
pub mod flexible;
pub mod jobshop;
pub mod keys;
pub mod lifecycle;
pub mod message;
pub mod request;
pub mod run_id;
pub mod status;

pub use capacity::{Capacity, CapacityPolicy};
pub use check::{CheckError, check_flexible_schedule, check_schedule};
pub use error::ErrorInfo;
pub use flexible::{FlexibleJobShop, FlexibleOperation};
pub use jobshop::{JobShop, JobShopResult, Operation, ScheduledOp, SolverInfo};
pub use lifecycle::{Event, Refusal};
pub use message::QueueMessage;
pub use request::{JobRequest, Problem, RequestError};
pub use run_id::{RunId, RunIdError};
pub use status::{Attempt, Progress, State, StatusDoc};
