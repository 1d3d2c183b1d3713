//! The photo apps on a three-node Garage cluster under load and node failures: the figures of
//! `storages_testkit::photos_cluster` (the scenario `tests/cluster/cluster.rs` asserts), printed.
//!
//! Run with `cargo bench --bench cluster` (the apps and the cluster in release builds; a few minutes on two
//! cores). Without `--bench` (as `cargo test --benches` runs it) it runs the same scenario with a small load.
//!
//! For each load (node 3 killed and restarted; node 2, the endpoint of apps 3-4, killed and restarted; then every
//! acknowledged upload read through every app), each phase (before, down, back), kind of request and pair of
//! apps: requests that succeeded and failed (by status), p50/p99/max latency, and MB/s of what succeeded.

use std::path::Path;

use storages_testkit::photos_cluster::{
    Kind, Load, OpenUpload, Plan, Programs, Table, figures, run,
};

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let plan = if measuring {
        Plan::issue()
    } else {
        println!("smoke run, too small to measure anything: run `cargo bench --bench cluster`");
        Plan::smoke()
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let storages = storages_testkit::storages_bin(workspace);
    let example = |name| storages_testkit::example(workspace, name);
    let programs = Programs {
        photos: example("photos"),
        photos_actix: example("photos_actix"),
        storages: storages.clone(),
    };
    let report = run(&programs, &plan);
    let w = report.workload;
    println!(
        "workload: {} uploads, {:.1} MB, {} multipart (> {} MiB), {} B to {:.1} MiB, concurrency {}",
        w.count,
        w.bytes as f64 / 1e6,
        w.multipart,
        plan.part_size >> 20,
        w.smallest,
        w.largest as f64 / (1 << 20) as f64,
        plan.concurrency
    );
    for (part, took) in report.durations {
        println!("{part}: {:.1} s", took.as_secs_f64());
    }
    print!("{}", Table(&figures(&report.records)));
    let failed = |load| {
        report
            .of(load)
            .filter(|r| r.kind == Kind::Upload && !r.ok())
            .count()
    };
    // Garage may list uploads it completed while a node died; `ListParts` tells the real ones.
    let open = |uploads: &[OpenUpload]| {
        let real = uploads.iter().filter(|u| u.exists).count();
        format!("{real} open ({} listed)", uploads.len())
    };
    println!(
        "node 3 killed: {} uploads failed, multipart uploads after: {}; node 2 killed: left by the outage: {}, \
         at the end: {}; final reads: {} of {} byte-exact",
        failed(Load::NodeFailure),
        open(&report.open_after_node_failure),
        open(&report.outage.left_open),
        open(&report.open_at_end),
        report.of(Load::Verification).filter(|r| r.ok()).count(),
        report.of(Load::Verification).count(),
    );
    println!(
        "storages check while node 2 was down: exit {:?} in {:.2} s: {}",
        report.outage.check_down.code,
        report.outage.check_down.took.as_secs_f64(),
        report.outage.check_down.stdout.trim()
    );
}
