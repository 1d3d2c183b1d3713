//! Many app servers on a three-node Garage cluster: node failures under load, and the live move from NFS to S3. Each runs a cluster under load, so they run one at a time.
//!
//! One test binary for all of them: each `tests/*.rs` file used to be its own binary, linked against the whole
//! dependency tree, and linking dominated the test build on two cores.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod cluster;
mod migration;

/// Taken by each test for its whole run: two three-node clusters under load at once would starve each other on a
/// small machine and turn slowness into failures.
static ONE_CLUSTER_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs alone among this binary's tests (see [`ONE_CLUSTER_AT_A_TIME`]); a test that panicked before does not
/// stop the next.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_CLUSTER_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
