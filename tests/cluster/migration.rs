//! Moving a live site's media from an NFS share to S3 without downtime, end to end, as the README's "Moving media
//! from NFS to S3 without downtime" describes it: two photo apps (axum and actix-web) serve media from an NFS share
//! (a tmpfs mount with a sentinel) holding 500 files, while a load driver keeps uploading through both and reading
//! every acknowledged photo back through the other app. Then, the apps restarted one at a time between steps:
//!
//! 1. both apps on `mirror:?primary=nfs&mirrors=s3` (writes land on both; reads stay on the share);
//! 2. `storages sync nfs s3 --verify` copies what was there before, checked byte for byte;
//! 3. both apps on `mirror:?primary=s3&mirrors=nfs` (reads move to the bucket; the share still gets every write, so
//!    an app not yet restarted still finds every photo);
//! 4. both apps on `s3:` alone.
//!
//! Every upload ever acknowledged, before, during and after, must be in the bucket byte-exact and served by both
//! apps; no upload may fail and no read through the other app may miss. The bucket is a three-node Garage cluster.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use storages::{Settings, StorageExt};
use storages_core::conformance::pattern;
use storages_testkit::Server;
use storages_testkit::photos_cluster::{
    Upload, client, get_photo, post_photo, same_bytes, stored_name,
};
use storages_testkit::s3::GarageCluster;
use support::mount::TmpfsMount;

/// Files on the share before the migration starts.
const SEEDED: u64 = 500;
/// Upload loops the driver runs at once.
const CONCURRENCY: usize = 4;
/// How long the load runs between two steps, besides the restarts themselves.
const BETWEEN_STEPS: Duration = Duration::from_secs(3);
/// The share's sentinel file: the proof that the share, not an empty mount point, is there.
const SENTINEL: &str = ".storages-share";

/// Photo `seed`: a size from 1 byte to 48 KiB, stored as `photos/m<seed>.png`.
fn photo(seed: u64) -> Upload {
    Upload {
        seed,
        size: 1 + (seed.wrapping_mul(2_654_435_761) % (48 << 10)),
        file_name: format!("m{seed:05}.png"),
    }
}

fn bytes(photo: &Upload) -> Vec<u8> {
    pattern(photo.seed, 0, photo.size as usize)
}

/// What the driver saw go wrong, with the step it happened in.
#[derive(Debug, Default)]
struct Failures(Mutex<Vec<String>>);

impl Failures {
    fn add(&self, what: String) {
        self.0.lock().expect("failures").push(what);
    }
}

/// A photo app the driver may send to: its base URL while it runs, and the requests it is answering.
struct App {
    program: PathBuf,
    dir: PathBuf,
    base: RwLock<Option<String>>,
    in_flight: AtomicUsize,
    server: Mutex<Option<Server>>,
}

impl App {
    fn start(program: PathBuf, dir: &Path, envs: &[(&str, String)]) -> Arc<Self> {
        let app = Arc::new(Self {
            program,
            dir: dir.to_path_buf(),
            base: RwLock::new(None),
            in_flight: AtomicUsize::new(0),
            server: Mutex::new(None),
        });
        app.run(envs);
        app
    }

    fn run(&self, envs: &[(&str, String)]) {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = Server::start(&self.program, &self.dir, &envs);
        *self.base.write().expect("base") = Some(server.base.clone());
        *self.server.lock().expect("server") = Some(server);
    }

    /// Restarts it on other settings as an operator's rolling restart does: taken out of the rotation, drained of
    /// the requests it is answering, stopped, started again, put back.
    async fn restart(&self, envs: &[(&str, String)]) {
        *self.base.write().expect("base") = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            assert!(
                Instant::now() < deadline,
                "requests to a restarting app never finished"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(self.server.lock().expect("server").take());
        self.run(envs);
    }

    fn base(&self) -> Option<String> {
        self.base.read().expect("base").clone()
    }
}

/// Uploads `photo` through `base`: `Ok` when the app answered `201` with the name it stores photos under.
async fn upload(client: &reqwest::Client, base: &str, photo: &Upload) -> Result<(), String> {
    let answer = post_photo(client, base, photo)
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = answer.status();
    let text = answer
        .text()
        .await
        .map_err(|e| format!("answer broke off: {e}"))?;
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("{status}: {text}"));
    }
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    match json["name"].as_str() {
        Some(name) if name == stored_name(photo) => Ok(()),
        _ => Err(format!("stored as {}", json["name"])),
    }
}

/// Reads `photo` through `base` and compares it byte for byte.
async fn read(client: &reqwest::Client, base: &str, photo: &Upload) -> Result<(), String> {
    let answer = get_photo(client, base, photo)
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    if answer.status() != reqwest::StatusCode::OK {
        return Err(format!("{}", answer.status()));
    }
    same_bytes(answer, photo).await
}

/// Uploads through the apps in turn (whichever are in the rotation) until `stop`, reading each acknowledged photo
/// back through the next app, and records every acknowledged photo and every failure with its step.
#[allow(clippy::too_many_arguments)]
async fn drive(
    apps: Vec<Arc<App>>,
    next_seed: Arc<AtomicU64>,
    acknowledged: Arc<Mutex<Vec<Upload>>>,
    failures: Arc<Failures>,
    step: Arc<Mutex<&'static str>>,
    stop: Arc<AtomicBool>,
) {
    let client = client();
    let mut turn = next_seed.load(Ordering::SeqCst) as usize;
    while !stop.load(Ordering::SeqCst) {
        turn += 1;
        let (writer, reader) = (&apps[turn % apps.len()], &apps[(turn + 1) % apps.len()]);
        // Counted in flight before the base is read, so a restart waits for this request.
        writer.in_flight.fetch_add(1, Ordering::SeqCst);
        let Some(base) = writer.base() else {
            writer.in_flight.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let photo = photo(next_seed.fetch_add(1, Ordering::SeqCst));
        let now = *step.lock().expect("step");
        let uploaded = upload(&client, &base, &photo).await;
        writer.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Err(e) = uploaded {
            failures.add(format!("{now}: upload of {} failed: {e}", photo.file_name));
            continue;
        }
        acknowledged
            .lock()
            .expect("acknowledged")
            .push(photo.clone());
        reader.in_flight.fetch_add(1, Ordering::SeqCst);
        if let Some(base) = reader.base() {
            if let Err(e) = read(&client, &base, &photo).await {
                failures.add(format!(
                    "{now}: {} acknowledged, then not served by the other app: {e}",
                    photo.file_name
                ));
            }
        }
        reader.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn media_moves_from_nfs_to_s3_under_load_and_no_upload_is_lost() {
    let _alone = crate::alone();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(migrate());
}

async fn migrate() {
    let started = Instant::now();
    let share = TmpfsMount::new();
    let media = share.path().join("media");
    std::fs::create_dir_all(&media).expect("media on the share");
    std::fs::write(media.join(SENTINEL), "").expect("sentinel");
    let nfs = format!(
        "nfs://{}?sentinel={SENTINEL}&base_url=/media/",
        media.display()
    );
    let cluster = tokio::task::spawn_blocking(GarageCluster::start)
        .await
        .expect("start the cluster");
    let s3 = cluster.settings_url(1, "media");

    eprintln!(
        "migration: cluster up at {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The share as it is before the migration: 500 photos.
    let share_storage = Settings::parse(&nfs)
        .expect("nfs")
        .build()
        .expect("open the share");
    let mut seeded = Vec::new();
    for seed in 0..SEEDED {
        let photo = photo(seed);
        share_storage
            .save(stored_name(&photo).as_str(), bytes(&photo))
            .await
            .expect("seed the share");
        seeded.push(photo);
    }

    eprintln!(
        "migration: share seeded at {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let work = tempfile::tempdir().expect("apps' directory");
    let on = |media_url: &str| -> Vec<(&'static str, String)> {
        vec![
            ("STORAGES_MEDIA_URL", media_url.to_owned()),
            ("STORAGES_NFS_URL", nfs.clone()),
            ("STORAGES_S3_URL", s3.clone()),
        ]
    };
    let programs = [support::example("photos"), support::example("photos_actix")];
    let apps: Vec<Arc<App>> = programs
        .iter()
        .map(|p| App::start(p.clone(), work.path(), &on(&nfs)))
        .collect();

    let next_seed = Arc::new(AtomicU64::new(SEEDED));
    let acknowledged = Arc::new(Mutex::new(seeded));
    let failures = Arc::new(Failures::default());
    let step = Arc::new(Mutex::new("apps on nfs"));
    let stop = Arc::new(AtomicBool::new(false));
    let drivers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            tokio::spawn(drive(
                apps.clone(),
                Arc::clone(&next_seed),
                Arc::clone(&acknowledged),
                Arc::clone(&failures),
                Arc::clone(&step),
                Arc::clone(&stop),
            ))
        })
        .collect();
    tokio::time::sleep(BETWEEN_STEPS).await;

    let mut per_step = Vec::new();
    let count = |label: &str, per_step: &mut Vec<(String, usize)>| {
        eprintln!(
            "migration: `{label}` done at {:.1} s",
            started.elapsed().as_secs_f64()
        );
        per_step.push((
            label.to_owned(),
            acknowledged.lock().expect("acknowledged").len(),
        ));
    };
    count("apps on nfs", &mut per_step);
    for (label, url) in [(
        "apps on mirror:?primary=nfs&mirrors=s3",
        "mirror:?primary=nfs&mirrors=s3",
    )] {
        *step.lock().expect("step") = label;
        for app in &apps {
            app.restart(&on(url)).await;
        }
        tokio::time::sleep(BETWEEN_STEPS).await;
        count(label, &mut per_step);
    }

    // What was on the share before the apps mirrored: copied, then every copy read back and compared.
    *step.lock().expect("step") = "storages sync nfs s3 --verify";
    let sync_envs = [
        ("STORAGES_NFS_URL", nfs.clone()),
        ("STORAGES_S3_URL", s3.clone()),
    ];
    let synced = tokio::task::spawn_blocking(move || {
        std::process::Command::new(support::storages_bin())
            .args(["sync", "nfs", "s3", "--verify", "--no-input"])
            .envs(sync_envs.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("STORAGES_MEDIA_URL")
            .output()
            .expect("run storages sync")
    })
    .await
    .expect("sync");
    assert!(
        synced.status.success(),
        "storages sync failed: {}\n{}",
        String::from_utf8_lossy(&synced.stdout),
        String::from_utf8_lossy(&synced.stderr)
    );
    count("storages sync nfs s3 --verify", &mut per_step);

    for (label, url) in [
        (
            "apps on mirror:?primary=s3&mirrors=nfs",
            "mirror:?primary=s3&mirrors=nfs".to_owned(),
        ),
        ("apps on s3 alone", s3.clone()),
    ] {
        *step.lock().expect("step") = label;
        for app in &apps {
            app.restart(&on(&url)).await;
        }
        tokio::time::sleep(BETWEEN_STEPS).await;
        count(label, &mut per_step);
    }
    stop.store(true, Ordering::SeqCst);
    for driver in drivers {
        driver.await.expect("driver");
    }

    let failures = failures.0.lock().expect("failures").clone();
    assert!(
        failures.is_empty(),
        "{} failure(s): {failures:#?}",
        failures.len()
    );
    let acknowledged = acknowledged.lock().expect("acknowledged").clone();
    let mut before = 0;
    for (label, total) in &per_step {
        assert!(
            *total > before,
            "no upload was acknowledged during `{label}`: {per_step:?}"
        );
        before = *total;
    }

    eprintln!(
        "migration: load stopped at {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Every photo ever acknowledged is in the bucket, byte-exact, and served by both apps.
    let bucket = Settings::parse(&s3)
        .expect("s3")
        .build()
        .expect("open the bucket");
    let mut stored: Vec<String> = bucket
        .list(None)
        .map_ok(|m| m.name.to_string())
        .try_collect()
        .await
        .expect("list the bucket");
    stored.sort();
    let mut expected: Vec<String> = acknowledged.iter().map(stored_name).collect();
    expected.sort();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|n| stored.binary_search(n).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged photo(s) missing from the bucket: {missing:?}",
        missing.len()
    );
    let client = client();
    let bases: Vec<String> = apps.iter().map(|a| a.base().expect("running")).collect();
    futures_util::stream::iter(acknowledged.iter().map(|photo| {
        let (bucket, client, bases) = (&bucket, &client, &bases);
        async move {
            let name = stored_name(photo);
            assert_eq!(
                bucket
                    .read_to_bytes(name.as_str())
                    .await
                    .expect("read from the bucket"),
                bytes(photo),
                "{name} differs in the bucket"
            );
            for base in bases {
                read(client, base, photo)
                    .await
                    .unwrap_or_else(|e| panic!("{name} through {base}: {e}"));
            }
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<()>>()
    .await;
    eprintln!(
        "migration: {} photos ({} uploaded during it), steps {per_step:?}, {:.1} s",
        acknowledged.len(),
        acknowledged.len() as u64 - SEEDED,
        started.elapsed().as_secs_f64()
    );
}
