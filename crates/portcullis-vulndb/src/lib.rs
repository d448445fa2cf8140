//! Offline OSV vulnerability database for Portcullis.

pub mod cvss;
pub mod version;
