//! Storages on real servers and disks: S3 on Garage and moto, NFS on tmpfs mounts, collectstatic, sync, and the `storages` command.
//!
//! One test binary for all of them: each `tests/*.rs` file used to be its own binary, linked against the whole
//! dependency tree, and linking dominated the test build on two cores.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

#[path = "../collect_fixture/mod.rs"]
mod collect_fixture;

mod cli;
mod collect;
mod collect_s3;
mod nfs;
mod nfs_servers;
mod s3;
mod s3_multipart;
mod s3_servers;
mod s3_settings;
mod s3_unreachable;
mod secrets;
mod sync;
