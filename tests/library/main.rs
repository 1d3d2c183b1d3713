//! The library in this process: settings URLs and named sets, mirrors, conformance over settings URLs, generated names, tracing, uploads and serving through the web core.
//!
//! One test binary for all of them: each `tests/*.rs` file used to be its own binary, linked against the whole
//! dependency tree, and linking dominated the test build on two cores.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod conformance;
mod mirror;
mod named;
mod names;
mod settings;
mod settings_booleans;
mod traced;
mod upload_idle;
mod web;
