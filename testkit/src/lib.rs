//! Test support shared by the storages tests and benches: real S3 servers started on loopback and stopped on drop
//! (Garage as one node or a three-node cluster, moto; boto3 as an independent client), app processes, and the
//! photo apps' load-and-failure scenario on a Garage cluster.
//!
//! Nothing here is a mock: every server is the real program, installed by `scripts/test`.

mod app;
mod child;
pub mod fs;
pub mod photos_cluster;
mod process;
pub mod s3;

pub use app::{Server, example, free_port, storages_bin};
pub use child::run_test_in_child;
