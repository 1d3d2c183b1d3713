//! The photo apps as processes: uploads, serving, big files, S3, nginx in front, a real browser.
//!
//! One test binary for all of them: each `tests/*.rs` file used to be its own binary, linked against the whole
//! dependency tree, and linking dominated the test build on two cores.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod browser;
mod nginx;
mod photos;
mod photos_big;
mod photos_s3;
