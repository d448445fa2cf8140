//! The registry's policy decisions as pure functions, shared by the server's pull gate
//! (`portcullis-core`) and the `portcullis gate` CLI so that the two cannot drift apart:
//!
//! - [`threshold`]: the severity at which findings block, from a project's
//!   `prevent_vul`/`severity` metadata or from the CLI's `--severity` words;
//! - [`allowlist`]: which CVE allowlist applies to a project, and whether it has expired;
//! - [`vulnerability`]: a report's findings counted after the allowlist, and the verdict
//!   with Harbor's `412 PROJECTPOLICYVIOLATION` texts;
//! - [`immutable`]: Harbor's immutable tag rules, validated, compiled and matched;
//! - [`quota`]: storage sizes as Harbor prints them and the quota warning arithmetic.
//!
//! Nothing here reads a database, a file or the network; callers bring the data.

pub mod allowlist;
#[cfg(test)]
mod fuzz_targets;
pub mod immutable;
pub mod quota;
pub mod threshold;
pub mod vulnerability;

pub use portcullis_types::Severity;
pub use threshold::{InvalidThreshold, Threshold, finding_severity};
pub use vulnerability::{Blocked, ScanState, Tally, after_allowlist, verdict};
