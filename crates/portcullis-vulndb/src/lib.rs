//! Offline OSV vulnerability database for Portcullis.

pub mod version;
