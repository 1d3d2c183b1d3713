//! The cost of `nfs://`'s guarantees: `nfs://` against `file://` on the same disk, with the workload of
//! `benches/local.rs`, as ratios measured in one run.
//!
//! Run with `cargo bench --features nfs --bench nfs` (a few minutes on two cores: the synced side writes every byte
//! to the disk). Without `--bench` (as `cargo test --all-targets` runs it) it does one tiny round, so the bench stays
//! checked.
//!
//! Three sides, each built from its settings URL as an app builds it, all under one temporary directory:
//! - `file://` with its defaults (no sync);
//! - `nfs://` with its defaults: the mount guard on (the `nfs://` roots lie under a bind mount of a directory onto
//!   itself, a mount point on the same disk; when mounting is not allowed, the guard is off and the header says
//!   so), host-tagged temporary files, and `fsync` on: data synced before each file becomes visible, the directory
//!   after;
//! - `nfs://` with `fsync=false`, to show how much of the cost is the sync and how much the rest.
//!
//! The workload: one 1 GiB `save` streamed as 1 MiB chunks, in a child process per save (this binary re-executed
//! with `--big-child`) so its peak RSS is its own; then 10,000 files of 4 KiB in 100 directories of 100, saved by
//! 32 tasks taking the next index from a shared counter, then opened and read fully by 32 tasks. Every root
//! exists and is empty before its round; creating the 100 subdirectories is part of the timed saves.
//!
//! Each measurement runs three times, the sides taking turns at going first, and each side's median round is
//! printed, the rounds paired in time. A big file is deleted, untimed, as soon as it is
//! measured; the small files stay until the end (see `benches/local.rs` on ext4's reuse of freed inodes).
//! Ratios are `nfs://`'s throughput over `file://`'s: 1.00x costs nothing, 0.50x takes twice as long.
//! `STORAGES_BENCH_VERBOSE=1` prints every round to stderr as well.

mod common;
use common::{BenchError, BenchResult, concurrently, expect_size, median, peak_rss_kib, verbose};

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, TryStreamExt};
use storages::{Content, Settings, Storage, StorageExt};

/// How much work one run does: the full benchmark, or a smoke test when not run by `cargo bench`.
#[derive(Debug, Clone, Copy)]
struct Scale {
    rounds: usize,
    small_files: usize,
    big_bytes: u64,
}

const FULL: Scale = Scale {
    rounds: 3,
    small_files: 10_000,
    big_bytes: 1 << 30,
};
const SMOKE: Scale = Scale {
    rounds: 1,
    small_files: 200,
    big_bytes: 16 << 20,
};

const SMALL_SIZE: usize = 4 * 1024;
const FILES_PER_DIR: usize = 100;
const BIG_CHUNK: usize = 1 << 20;
const BIG_NAME: &str = "big.bin";
const CHILD_FLAG: &str = "--big-child";

/// One configuration measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    File,
    Nfs,
    NfsNoSync,
}

const SIDES: [Side; 3] = [Side::File, Side::Nfs, Side::NfsNoSync];

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::File => "file",
            Side::Nfs => "nfs",
            Side::NfsNoSync => "nfs-nosync",
        }
    }

    /// The sides in the order of `round`: each goes first in turn.
    fn order(round: usize) -> [Side; 3] {
        let mut sides = SIDES;
        sides.rotate_left(round % SIDES.len());
        sides
    }
}

/// Where each side's roots go and how its URLs are written.
#[derive(Debug)]
struct Layout {
    /// `file://` roots are made under this.
    file_dir: PathBuf,
    /// `nfs://` roots are made under this (a bind mount when `guarded`).
    nfs_dir: PathBuf,
    /// Whether the mount guard is on for `nfs://`.
    guarded: bool,
}

impl Layout {
    /// A fresh, existing, empty root for `side`, and the settings URL of a storage on it.
    fn root(&self, side: Side, what: &str) -> BenchResult<(PathBuf, String)> {
        let parent = match side {
            Side::File => &self.file_dir,
            Side::Nfs | Side::NfsNoSync => &self.nfs_dir,
        };
        let root = parent.join(format!("{what}-{}", side.label()));
        let root = fresh_path(root);
        std::fs::create_dir_all(&root)?;
        let url = match side {
            Side::File => format!("file://{}", root.display()),
            Side::Nfs => format!("nfs://{}?require_mount={}", root.display(), self.guarded),
            Side::NfsNoSync => format!(
                "nfs://{}?require_mount={}&fsync=false",
                root.display(),
                self.guarded
            ),
        };
        Ok((root, url))
    }
}

/// `path`, or `path-2`, `path-3`, ... whichever does not exist yet.
fn fresh_path(path: PathBuf) -> PathBuf {
    let mut candidate = path.clone();
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = PathBuf::from(format!("{}-{n}", path.display()));
    }
    candidate
}

/// A directory bind-mounted onto itself: a mount point on the same disk, unmounted on drop.
#[derive(Debug)]
struct BindMount {
    path: PathBuf,
}

impl BindMount {
    fn new(path: &Path) -> Option<Self> {
        let status = Command::new("mount")
            .arg("--bind")
            .arg(path)
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Self {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let done = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !done {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, bytes, url] = args.as_slice() {
        if flag == CHILD_FLAG {
            return big_child(bytes.parse()?, url);
        }
    }
    let scale = if args.iter().any(|a| a == "--bench") {
        FULL
    } else {
        SMOKE
    };
    let tmp = tempfile::tempdir()?;
    let file_dir = tmp.path().join("file");
    let nfs_dir = tmp.path().join("nfs");
    std::fs::create_dir_all(&file_dir)?;
    std::fs::create_dir_all(&nfs_dir)?;
    let mount = BindMount::new(&nfs_dir);
    let layout = Layout {
        file_dir,
        nfs_dir,
        guarded: mount.is_some(),
    };
    let fstype = storages::nfs::mountinfo::read_mount_of(&tmp.path().canonicalize()?)?
        .map_or_else(|| "unknown".to_owned(), |m| m.fstype);
    println!(
        "nfs:// vs file:// on the same disk ({fstype}), median of {} round(s), order rotating, in {}",
        scale.rounds,
        tmp.path().display()
    );
    println!(
        "nfs:// mount guard {}",
        if layout.guarded {
            "on (its roots lie under a bind mount on the same disk)"
        } else {
            "OFF (mounting was not allowed: run as root to include its cost)"
        }
    );
    big(scale, &layout)?;
    runtime()?.block_on(small(scale, &layout))?;
    drop(mount);
    Ok(())
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn open(url: &str) -> BenchResult<Arc<dyn Storage>> {
    Ok(Settings::parse(url)?.build()?)
}

/// `nfs://`'s throughput over `file://`'s, from their times.
fn ratio(file: Duration, other: Duration) -> f64 {
    file.as_secs_f64() / other.as_secs_f64()
}

// ---- one big streamed file ----

/// What a child process reports about its one big save.
#[derive(Debug, Clone, Copy)]
struct BigRun {
    elapsed: Duration,
    peak_rss_kib: u64,
}

fn big(scale: Scale, layout: &Layout) -> BenchResult<()> {
    let mut times: [Vec<Duration>; 3] = Default::default();
    let mut peaks = [0u64; 3];
    for round in 0..scale.rounds {
        for side in Side::order(round) {
            let (root, url) = layout.root(side, "big")?;
            let run = run_big_child(scale.big_bytes, &url)?;
            std::fs::remove_dir_all(&root)?;
            if verbose() {
                eprintln!(
                    "  round {round} big   {:<10} {:>7.3} s  VmHWM {} KiB",
                    side.label(),
                    run.elapsed.as_secs_f64(),
                    run.peak_rss_kib
                );
            }
            times[side as usize].push(run.elapsed);
            peaks[side as usize] = peaks[side as usize].max(run.peak_rss_kib);
        }
    }
    let [file, nfs, nosync] = times.map(median);
    let mb_per_s = |t: Duration| scale.big_bytes as f64 / t.as_secs_f64() / 1e6;
    println!(
        "big save {:>4} MiB  file:// {:>6.0} MB/s   nfs:// {:>6.0} MB/s  ratio {:.2}x   nfs:// fsync=false {:>6.0} MB/s  ratio {:.2}x",
        scale.big_bytes >> 20,
        mb_per_s(file),
        mb_per_s(nfs),
        ratio(file, nfs),
        mb_per_s(nosync),
        ratio(file, nosync),
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "peak RSS (VmHWM)   file:// {:>6.1} MiB    nfs:// {:>6.1} MiB               nfs:// fsync=false {:>6.1} MiB",
        mib(peaks[Side::File as usize]),
        mib(peaks[Side::Nfs as usize]),
        mib(peaks[Side::NfsNoSync as usize]),
    );
    Ok(())
}

fn run_big_child(bytes: u64, url: &str) -> BenchResult<BigRun> {
    let output = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .arg(bytes.to_string())
        .arg(url)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("the big-save child for {url} failed: {}", output.status).into());
    }
    let report = String::from_utf8(output.stdout)?;
    let mut fields = report.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(nanos)), Some(Ok(peak_rss_kib))) => Ok(BigRun {
            elapsed: Duration::from_nanos(nanos),
            peak_rss_kib,
        }),
        _ => {
            Err(format!("the big-save child reported `{report}`, expected `<nanos> <kib>`").into())
        }
    }
}

/// The child: one big save into the storage at `url`, then `<elapsed nanoseconds> <VmHWM in KiB>` on stdout.
fn big_child(bytes: u64, url: &str) -> BenchResult<()> {
    let elapsed = runtime()?.block_on(async {
        let storage = open(url)?;
        let chunk = Bytes::from((0..BIG_CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let chunks = stream::iter((0..bytes / BIG_CHUNK as u64).map(move |_| Ok(chunk.clone())));
        let start = Instant::now();
        let name = storage.save(BIG_NAME, Content::from_stream(chunks)).await?;
        let elapsed = start.elapsed();
        expect_size(BIG_NAME, storage.size(&name).await?, bytes)?;
        Ok::<_, BenchError>(elapsed)
    })?;
    println!("{} {}", elapsed.as_nanos(), peak_rss_kib()?);
    Ok(())
}

// ---- many small files ----

/// One round's timings of one side.
#[derive(Debug, Clone, Copy)]
struct SmallRun {
    save: Duration,
    read: Duration,
}

async fn small(scale: Scale, layout: &Layout) -> BenchResult<()> {
    let payload = Bytes::from(
        (0..SMALL_SIZE)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>(),
    );
    let names: Arc<[String]> = (0..scale.small_files)
        .map(|i| format!("d{:02}/f{:02}.bin", i / FILES_PER_DIR, i % FILES_PER_DIR))
        .collect();
    let mut runs: [Vec<SmallRun>; 3] = Default::default();
    for round in 0..scale.rounds {
        for side in Side::order(round) {
            let (_root, url) = layout.root(side, "small")?;
            let run = small_round(&url, &names, &payload).await?;
            if verbose() {
                eprintln!(
                    "  round {round} small {:<10} save {:>7.3} s  open+read {:>7.3} s",
                    side.label(),
                    run.save.as_secs_f64(),
                    run.read.as_secs_f64()
                );
            }
            runs[side as usize].push(run);
        }
    }
    let files = scale.small_files as f64;
    let line = |what: &str, of: fn(&SmallRun) -> Duration| {
        let [file, nfs, nosync] = runs
            .each_ref()
            .map(|side| median(side.iter().map(of).collect()));
        println!(
            "{what:<18} file:// {:>6.0} files/s  nfs:// {:>6.0} files/s  ratio {:.2}x   nfs:// fsync=false {:>6.0} files/s  ratio {:.2}x",
            files / file.as_secs_f64(),
            files / nfs.as_secs_f64(),
            ratio(file, nfs),
            files / nosync.as_secs_f64(),
            ratio(file, nosync),
        );
    };
    line("small save", |r| r.save);
    line("small open+read", |r| r.read);
    line("small combined", |r| r.save + r.read);
    Ok(())
}

async fn small_round(url: &str, names: &Arc<[String]>, payload: &Bytes) -> BenchResult<SmallRun> {
    let storage = open(url)?;
    let save = {
        let (storage, names, payload) = (storage.clone(), names.clone(), payload.clone());
        concurrently(names.len(), move |i| {
            let (storage, names, payload) = (storage.clone(), names.clone(), payload.clone());
            async move {
                let saved = storage
                    .save(names[i].as_str(), Content::from_bytes(payload))
                    .await?;
                if saved.as_str() != names[i] {
                    return Err(format!("`{}` was saved as `{saved}`", names[i]).into());
                }
                Ok(())
            }
        })
        .await?
    };
    let read = {
        let names = names.clone();
        concurrently(names.len(), move |i| {
            let (storage, names) = (storage.clone(), names.clone());
            async move {
                let got = storage.open(names[i].as_str()).await?;
                let len = got
                    .stream
                    .try_fold(0, |len, chunk| async move { Ok(len + chunk.len()) })
                    .await?;
                expect_size(&names[i], len as u64, SMALL_SIZE as u64)
            }
        })
        .await?
    };
    Ok(SmallRun { save, read })
}

// ---- shared ----
