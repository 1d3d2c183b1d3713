//! Many app servers on a real three-node Garage cluster, under load and node failures (issue 10): four photo apps
//! (two axum, two actix-web) share one bucket, apps 1-2 through node 1's S3 endpoint and apps 3-4 through node
//! 2's. The scenario (`storages_testkit::photos_cluster`, which `benches/cluster.rs` prints the figures of) sends
//! 2,000 uploads (about 750 MB, 5 % of them multipart) at concurrency 32 while node 3 is SIGKILLed and restarted,
//! then uploads and reads while node 2 is SIGKILLed and restarted, then reads every acknowledged upload through
//! every app. This test holds it to its promises:
//!
//! - node 3 down: no upload fails, none is lost (each read back byte-exact through all four apps), no multipart
//!   upload is left open (Garage may still list uploads it completed while node 3 died: each must be unknown to
//!   `ListParts`, its photo acknowledged and read back);
//! - node 2 down: apps 1-2 keep uploading and reading; apps 3-4 answer `503` with `Retry-After` within 5 s, never
//!   `500`, with one log line per failed request naming the endpoint; `storages check` on their settings exits 1
//!   naming the endpoint; once node 2 is back they serve again without a restart and every acknowledged upload is
//!   there; an upload cut off by the outage is not left as a partial object, and a multipart upload whose abort
//!   could not reach node 2 either is named in the log and removed by `storages clean`.
#![cfg(all(feature = "s3", feature = "axum", feature = "actix"))]

use crate::support;

use std::time::Duration;

use storages_testkit::photos_cluster::{
    Apps, Kind, Load, Phase, Plan, Programs, Record, Report, Table, figures, run, stored_name,
};

/// How fast apps whose endpoint is down must answer.
const WITHIN: Duration = Duration::from_secs(5);
const MB: u64 = 1_000_000;

fn report() -> Report {
    let programs = Programs {
        photos: support::example("photos"),
        photos_actix: support::example("photos_actix"),
        storages: support::storages_bin(),
    };
    let report = run(&programs, &Plan::issue());
    eprintln!("{}", Table(&figures(&report.records)));
    for (part, took) in report.durations {
        eprintln!("{part}: {:.1} s", took.as_secs_f64());
    }
    report
}

/// `records` that fail `promise`, shown (at most 10) for the assertion message.
fn breaking<'a>(
    records: impl Iterator<Item = &'a Record>,
    promise: impl Fn(&Record) -> bool,
) -> Vec<String> {
    records
        .filter(|r| !promise(r))
        .take(10)
        .map(|r| {
            format!(
                "app {} {:?} {:?} {} ({} B): status {:?}, {:?}, {} ms",
                r.app,
                r.phase,
                r.kind,
                r.upload.file_name,
                r.upload.size,
                r.status,
                r.error,
                r.latency().as_millis()
            )
        })
        .collect()
}

#[test]
fn four_apps_on_a_three_node_cluster_lose_nothing_when_nodes_fail() {
    let _alone = crate::alone();
    let report = report();
    let plan = &report.plan;

    // The load is issue 10's.
    let w = report.workload;
    assert!(w.count >= 2_000, "{w:?}");
    assert!(w.bytes >= 500 * MB, "{w:?}");
    assert!(w.multipart * 100 >= w.count * 5, "{w:?}");
    assert!(w.smallest >= 1024 && w.largest <= 20 << 20, "{w:?}");
    assert_eq!(plan.concurrency, 32);

    // Node 3 killed mid-load, then restarted: no upload failed, none left a multipart upload open.
    let failed = breaking(report.of(Load::NodeFailure), Record::ok);
    assert!(
        failed.is_empty(),
        "uploads failed around node 3: {failed:#?}\nthe nodes' logs about them:\n{}",
        report.node_logs.join("\n")
    );
    for phase in [Phase::Before, Phase::Down, Phase::Back] {
        assert!(
            report.of(Load::NodeFailure).any(|r| r.phase == phase),
            "no upload while node 3 was {phase:?}"
        );
    }
    // Garage may go on listing an upload it completed while node 3 was dying (see `OpenUpload`): each listed one
    // must be unknown to ListParts, and its photo one that was acknowledged (and is read back below).
    let acknowledged: Vec<String> = report
        .acknowledged()
        .iter()
        .map(|upload| format!("/{}", stored_name(upload)))
        .collect();
    for open in &report.open_after_node_failure {
        assert!(
            !open.exists
                && acknowledged
                    .iter()
                    .any(|name| open.key.ends_with(name.as_str())),
            "a multipart upload left open around node 3: {open:?}\nthe nodes' logs about it:\n{}",
            report.node_logs.join("\n")
        );
    }

    check_the_endpoint_outage(&report);

    // Nothing lost: every acknowledged upload of both loads, read through each of the four apps, byte-exact.
    let acknowledged = report.acknowledged();
    assert!(acknowledged.len() >= plan.uploads, "{}", acknowledged.len());
    let reads: Vec<&Record> = report.of(Load::Verification).collect();
    assert_eq!(reads.len(), acknowledged.len() * 4);
    let lost = breaking(reads.into_iter(), Record::ok);
    assert!(
        lost.is_empty(),
        "acknowledged uploads not read back: {lost:#?}"
    );
    let open: Vec<_> = report
        .open_at_end
        .iter()
        .filter(|open| open.exists)
        .collect();
    assert!(
        open.is_empty(),
        "multipart uploads open at the end: {open:?}"
    );
}

/// Node 2, the endpoint of apps 3-4, killed under load and restarted.
fn check_the_endpoint_outage(report: &Report) {
    let outage = &report.outage;
    let on = |apps: Apps| {
        report
            .of(Load::EndpointOutage)
            .filter(move |r| Apps::of(r.app) == apps)
    };
    // No request ever got a 500, or no answer at all.
    let answered = breaking(
        report.of(Load::EndpointOutage),
        |r| matches!(r.status, Some(status) if status < 500 || status == 503),
    );
    assert!(answered.is_empty(), "{answered:#?}");

    // Apps 1-2 (node 1) kept uploading and reading.
    let on_node1 = breaking(on(Apps::OnNode1), Record::ok);
    assert!(on_node1.is_empty(), "apps 1-2 failed: {on_node1:#?}");
    assert!(on(Apps::OnNode1).any(|r| r.phase == Phase::Down && r.kind == Kind::Read));
    assert!(on(Apps::OnNode1).any(|r| r.phase == Phase::Down && r.kind == Kind::Upload));

    // Apps 3-4 answered 503 with Retry-After within 5 s (of the request, or of the kill for requests that were
    // in flight): a response already under way may only have broken off.
    let unavailable = |r: &Record| {
        let since = r.ended - r.started.max(outage.killed);
        r.status == Some(503) && r.retry_after.is_some() && since < WITHIN
    };
    let down = breaking(
        on(Apps::OnNode2).filter(|r| r.phase == Phase::Down),
        unavailable,
    );
    assert!(down.is_empty(), "apps 3-4 while node 2 was down: {down:#?}");
    assert!(on(Apps::OnNode2).any(|r| r.phase == Phase::Down));
    let broken_off =
        |r: &Record| r.status == Some(200) && r.error.is_some() && r.ended > outage.killed;
    let before = breaking(
        on(Apps::OnNode2).filter(|r| r.phase == Phase::Before),
        |r| r.ok() || unavailable(r) || broken_off(r),
    );
    assert!(
        before.is_empty(),
        "apps 3-4 when node 2 was killed: {before:#?}"
    );

    // Back without an app restart.
    let back = breaking(
        on(Apps::OnNode2).filter(|r| r.phase == Phase::Back),
        Record::ok,
    );
    assert!(back.is_empty(), "apps 3-4 after node 2 was back: {back:#?}");
    assert!(on(Apps::OnNode2).any(|r| r.phase == Phase::Back));

    // One log line per failed request, naming the endpoint; none in apps 1-2.
    let address = outage.endpoint.trim_start_matches("http://");
    for app in 1..=4 {
        let log = &report.logs[app - 1];
        let lines = log
            .iter()
            .filter(|line| line.contains(address) && line.contains("unreachable"))
            .count();
        let answered_503 = report
            .of(Load::EndpointOutage)
            .filter(|r| r.app == app && r.status == Some(503))
            .count();
        assert_eq!(lines, answered_503, "app {app}: log lines naming {address}");
        if app <= 2 {
            let errors: Vec<&String> = log.iter().filter(|l| l.contains("ERROR")).collect();
            assert!(errors.is_empty(), "app {app} logged errors: {errors:#?}");
        }
    }

    // `storages check` named the endpoint while it was down, and passed once it was back.
    let check = &outage.check_down;
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(
        check
            .stdout
            .contains(&format!("endpoint {} is unreachable", outage.endpoint)),
        "{check:?}"
    );
    assert!(check.took < WITHIN, "{check:?}");
    assert_eq!(outage.check_back.code, Some(0), "{:?}", outage.check_back);

    // No partial object: whatever is stored that no app acknowledged is a whole upload whose answer was lost.
    for object in &report.unacknowledged {
        let sent = report.of(Load::EndpointOutage).find(|r| {
            object
                .key
                .ends_with(&format!("/{}", stored_name(&r.upload)))
        });
        assert!(
            sent.is_some_and(|r| r.upload.size == object.size),
            "an object nobody acknowledged: {object:?}"
        );
    }
    // A multipart upload whose abort could not reach node 2 either is named in the log by its id, and clean
    // removes it. One that node 2 made as it died, its answer lost, has an id no client ever learnt: the log names
    // its key, as a start that failed and that `clean` covers.
    let logs: Vec<&String> = report.logs[2..].iter().flatten().collect();
    for left in outage.left_open.iter().filter(|open| open.exists) {
        let name = left.key.rsplit('/').next().unwrap_or_default();
        assert!(
            logs.iter().any(|line| line.contains(&left.id)
                || (line.contains(name)
                    && line.contains("start the multipart upload (if the server made it"))),
            "an upload left open that no log names: {left:?}"
        );
    }
    assert_eq!(outage.clean.code, Some(0), "{:?}", outage.clean);
}
