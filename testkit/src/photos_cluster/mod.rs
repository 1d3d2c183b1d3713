//! Four photo apps (two axum, two actix-web) sharing one bucket on a three-node Garage cluster, under load and node
//! failures (issue 10). Apps 1 and 2 use node 1's S3 endpoint, apps 3 and 4 node 2's; node 3 serves no app.
//!
//! 1. Node failure: the uploads of [`Plan`] go round-robin to the four apps; node 3 is SIGKILLed after a third
//!    of them were sent and started again after two thirds, while the load goes on.
//! 2. Endpoint outage: requests (new uploads and reads of acknowledged ones, verified byte for byte) go
//!    round-robin to the four apps; node 2 is SIGKILLed after a third and stays down for another third and at
//!    least [`Plan::outage`], while `storages check` runs on apps 3-4's settings; once the requests in flight have
//!    finished it is started again, and the last third is sent when the cluster is healthy (apps are not
//!    restarted).
//! 3. Every acknowledged upload of both loads is read through each of the four apps and compared with its pattern
//!    as it streams; the bucket is listed for objects nobody acknowledged and for incomplete multipart uploads.
//!
//! [`run`] records everything in a [`Report`] and judges nothing: the test asserts the promises, the bench prints
//! the figures.

mod bucket;
mod driver;
mod figures;
mod requests;
mod workload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use bucket::{Object, OpenUpload};
use driver::{Fault, Request, Schedule, SharedCluster, drive};
pub use figures::{Apps, Figures, Table, figures};
pub use requests::{
    Kind, Load, Phase, Record, client, get_photo, post_photo, same_bytes, stored_name,
};
pub use workload::{Plan, Totals, Upload};

use crate::Server;
use crate::s3::{GarageCluster, unique};

/// The programs the scenario runs, built by the package that owns them.
#[derive(Debug, Clone)]
pub struct Programs {
    /// The axum photo app (`examples/photos.rs`).
    pub photos: PathBuf,
    /// The actix-web photo app (`examples/photos_actix.rs`).
    pub photos_actix: PathBuf,
    /// The `storages` command.
    pub storages: PathBuf,
}

/// A run of `storages` with its exit code, output and time.
#[derive(Debug, Clone)]
pub struct CommandRun {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// What it printed.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// How long it ran.
    pub took: Duration,
}

/// What the endpoint outage showed besides the requests.
#[derive(Debug, Clone)]
pub struct Outage {
    /// Node 2's S3 endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// When node 2 was killed.
    pub killed: Instant,
    /// `storages check` on apps 3-4's settings while node 2 was down.
    pub check_down: CommandRun,
    /// The same once the cluster was healthy again.
    pub check_back: CommandRun,
    /// Incomplete multipart uploads found once node 2 was back: uploads cut off by the outage whose abort could
    /// not reach node 2 either.
    pub left_open: Vec<OpenUpload>,
    /// `storages clean --older-than 0s` on the prefix, which removes them.
    pub clean: CommandRun,
}

/// Everything a run recorded.
#[derive(Debug)]
pub struct Report {
    /// The plan it ran.
    pub plan: Plan,
    /// The first load's uploads, added up.
    pub workload: Totals,
    /// Every request: both loads and the final reads.
    pub records: Vec<Record>,
    /// When node 3 was killed.
    pub node3_killed: Instant,
    /// Incomplete multipart uploads after the node failure's load.
    pub open_after_node_failure: Vec<OpenUpload>,
    /// What the nodes logged about the uploads that failed or were left open, for a failure's message.
    pub node_logs: Vec<String>,
    /// The endpoint outage.
    pub outage: Outage,
    /// Incomplete multipart uploads at the end.
    pub open_at_end: Vec<OpenUpload>,
    /// Objects in the bucket no app acknowledged.
    pub unacknowledged: Vec<Object>,
    /// Each app's stderr (app `n` at index `n - 1`).
    pub logs: Vec<Vec<String>>,
    /// How long each part took: start-up, node failure, endpoint outage, final reads.
    pub durations: [(&'static str, Duration); 4],
}

impl Report {
    /// The requests of `load`.
    pub fn of(&self, load: Load) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(move |r| r.load == load)
    }

    /// The uploads acknowledged (`201`) during either load.
    pub fn acknowledged(&self) -> Vec<&Upload> {
        self.records
            .iter()
            .filter(|r| r.kind == Kind::Upload && r.ok())
            .map(|r| &r.upload)
            .collect()
    }
}

/// The apps: program and the node whose endpoint it uses.
fn apps(programs: &Programs) -> [(&Path, usize); 4] {
    [
        (&programs.photos, 1),
        (&programs.photos_actix, 1),
        (&programs.photos, 2),
        (&programs.photos_actix, 2),
    ]
}

/// Runs the scenario (see the module's documentation) and returns what it recorded.
pub fn run(programs: &Programs, plan: &Plan) -> Report {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let start = Instant::now();
    let cluster: SharedCluster = Arc::new(Mutex::new(GarageCluster::start()));
    let prefix = unique("photos");
    let (urls, peer, bucket, endpoint2) = {
        let c = cluster.lock().unwrap_or_else(PoisonError::into_inner);
        let url = |n| {
            format!(
                "{}&part_size={}",
                c.settings_url(n, &prefix),
                plan.part_size
            )
        };
        (
            [url(1), url(2)],
            c.peer(1),
            c.bucket().to_owned(),
            c.endpoint(2),
        )
    };
    let dirs: Vec<tempfile::TempDir> = (0..4)
        .map(|_| tempfile::tempdir().expect("a directory for an app"))
        .collect();
    let limit = (32 * 1024 * 1024).to_string();
    let apps: Vec<Server> = apps(programs)
        .iter()
        .zip(&dirs)
        .map(|((program, node), dir)| {
            let envs = [
                ("STORAGES_MEDIA_URL", urls[node - 1].as_str()),
                ("PHOTOS_UPLOAD_LIMIT", limit.as_str()),
            ];
            Server::start(program, dir.path(), &envs)
        })
        .collect();
    let bases: Vec<String> = apps.iter().map(|app| app.base.clone()).collect();
    let setup = start.elapsed();

    // 1. Node 3 fails under load.
    let loaded = Instant::now();
    let uploads = plan.node_failure_uploads();
    let workload = Totals::of(&uploads, plan.part_size);
    let request = |i: usize| Request {
        kind: Kind::Upload,
        app: i % 4 + 1,
        upload: uploads[i].clone(),
    };
    // Killed after a third, started again after two thirds; uploads keep going while it rejoins.
    let third = plan.uploads / 3;
    let fault = Fault {
        node: 3,
        before: third,
        down: third,
        down_for: Duration::ZERO,
        back: plan.uploads - 2 * third,
        between_requests: false,
    };
    let first = runtime.block_on(drive(
        &bases,
        Load::NodeFailure,
        plan.concurrency,
        request,
        Schedule::Fault(fault),
        &cluster,
        || (),
    ));
    let open_after_node_failure = bucket::open_uploads(&peer, &bucket, &prefix);
    let mut needles: Vec<String> = open_after_node_failure
        .iter()
        .map(|open| open.key.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    needles.extend(
        first
            .records
            .iter()
            .filter(|r| !r.ok())
            .map(|r| r.upload.file_name.clone()),
    );
    let node_logs = {
        let c = cluster.lock().unwrap_or_else(PoisonError::into_inner);
        lines_naming(c.dir(), &needles)
    };
    let node_failure = loaded.elapsed();

    // 2. Node 2, the endpoint of apps 3 and 4, fails under load.
    let outage_started = Instant::now();
    let acknowledged: Vec<Upload> = first
        .records
        .iter()
        .filter(|r| r.ok())
        .map(|r| r.upload.clone())
        .collect();
    assert!(
        !acknowledged.is_empty(),
        "no upload succeeded during the node failure: nothing to read during the outage"
    );
    let request = |j: usize| Request {
        kind: if j % 2 == 0 { Kind::Upload } else { Kind::Read },
        app: j % 4 + 1,
        upload: if j % 2 == 0 {
            plan.upload(plan.uploads + j / 2)
        } else {
            acknowledged[j * 7919 % acknowledged.len()].clone()
        },
    };
    // Down for a third of the requests and at least `outage`; the last third, sent once the cluster is healthy,
    // shows that apps 3-4 serve again without being restarted.
    let third = plan.outage_requests / 3;
    let fault = Fault {
        node: 2,
        before: third,
        down: third,
        down_for: plan.outage,
        back: third,
        between_requests: true,
    };
    let check = {
        let (storages, url) = (programs.storages.clone(), urls[1].clone());
        move || storages_command(&storages, &["check", &url])
    };
    let second = runtime.block_on(drive(
        &bases,
        Load::EndpointOutage,
        plan.concurrency,
        request,
        Schedule::Fault(fault),
        &cluster,
        check,
    ));
    let check_back = storages_command(&programs.storages, &["check", &urls[1]]);
    let left_open = bucket::open_uploads(&peer, &bucket, &prefix);
    let clean = storages_command(
        &programs.storages,
        &["clean", &urls[0], "--older-than", "0s"],
    );
    let outage = Outage {
        endpoint: endpoint2,
        killed: second.killed.expect("node 2 was killed"),
        check_down: second
            .while_down
            .expect("storages check ran while node 2 was down"),
        check_back,
        left_open,
        clean,
    };
    let endpoint_outage = outage_started.elapsed();

    // 3. Every acknowledged upload, through every app.
    let verified = Instant::now();
    let mut records = first.records;
    records.extend(second.records);
    let stored: Vec<&Upload> = records
        .iter()
        .filter(|r| r.kind == Kind::Upload && r.ok())
        .map(|r| &r.upload)
        .collect();
    let request = |i: usize| Request {
        kind: Kind::Read,
        app: i % 4 + 1,
        upload: stored[i / 4].clone(),
    };
    let last = runtime.block_on(drive(
        &bases,
        Load::Verification,
        plan.concurrency,
        request,
        Schedule::Steady(stored.len() * 4),
        &cluster,
        || (),
    ));
    records.extend(last.records);
    let final_reads = verified.elapsed();

    let open_at_end = bucket::open_uploads(&peer, &bucket, &prefix);
    let acknowledged: HashMap<String, &Upload> = records
        .iter()
        .filter(|r| r.kind == Kind::Upload && r.ok())
        .map(|r| (format!("{prefix}/{}", stored_name(&r.upload)), &r.upload))
        .collect();
    let unacknowledged = bucket::objects(&peer, &bucket, &prefix)
        .into_iter()
        .filter(|object| !acknowledged.contains_key(&object.key))
        .collect();
    let logs = apps.iter().map(Server::stderr).collect();
    Report {
        plan: plan.clone(),
        workload,
        node3_killed: first.killed.expect("node 3 was killed"),
        records,
        open_after_node_failure,
        node_logs,
        outage,
        open_at_end,
        unacknowledged,
        logs,
        durations: [
            ("start-up", setup),
            ("node failure", node_failure),
            ("endpoint outage", endpoint_outage),
            ("final reads", final_reads),
        ],
    }
}

/// The lines of the logs (`*.log`) in `dir` that contain one of `needles`.
fn lines_naming(dir: &Path, needles: &[String]) -> Vec<String> {
    if needles.is_empty() {
        return Vec::new();
    }
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    logs.sort();
    logs.iter()
        .flat_map(|log| {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let name = log
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            text.lines()
                .filter(|line| needles.iter().any(|needle| line.contains(needle.as_str())))
                .map(|line| format!("{name}: {line}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Runs `storages` with `args` to its end.
fn storages_command(storages: &Path, args: &[&str]) -> CommandRun {
    let started = Instant::now();
    let out = Command::new(storages)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", storages.display()));
    CommandRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}
