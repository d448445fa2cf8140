//! Pluggable scanners end to end: registrations through Harbor's API, the built-in
//! scanner served as an adapter, and external adapters driven by the registry.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod adapter;
mod external;
mod fixtures;
mod registrations;
mod tiny_adapter;
