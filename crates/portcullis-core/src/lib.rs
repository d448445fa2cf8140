//! Registry services below HTTP: push, pull, uploads, projects, authentication and
//! authorization. Handlers in `portcullis-api` call these; nothing here knows about HTTP.

pub mod access;
pub mod accounts;
pub mod additions;
pub mod admission;
pub mod artifacts;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod browse;
pub mod cache;
pub mod context;
pub mod error;
pub mod events;
#[cfg(test)]
mod fuzz_targets;
pub mod jobservice;
pub mod labels;
pub mod manifests;
pub mod metrics;
pub mod policy;
pub mod projects;
pub mod pulls;
pub mod purge;
pub mod pushes;
pub mod rbac;
pub mod registry;
pub mod request_id;
pub mod sboms;
pub mod scanners;
pub mod scanning;
pub mod schedules;
pub mod setup;
pub mod uploads;
pub mod webhooks;

pub use access::login;
pub use access::{Access, ProjectAccess, ProjectInfo, Refusal};
pub use accounts::{members, robots, users};
pub use audit::Actor;
pub use auth::{Actions, Principal};
pub use context::RequestCtx;
pub use error::{Error, Result};
pub use events::{Event, EventType};
pub use policy::{Policy, signatures, trusted_keys};
pub use projects::ProjectPolicies;
pub use registry::{Registry, Settings};
