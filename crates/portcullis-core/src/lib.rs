//! Registry services below HTTP: push, pull, uploads, projects, authentication and
//! authorization. Handlers in `portcullis-api` call these; nothing here knows about HTTP.

pub mod access;
pub mod auth;
pub mod cache;
pub mod error;
pub mod projects;
pub mod pulls;
pub mod registry;
pub mod setup;

pub use access::{ProjectInfo, Refusal};
pub use auth::{Actions, Principal};
pub use error::{Error, Result};
pub use registry::{Registry, Settings};
