//! The local backend against plain `tokio::fs` on the same disk, as ratios measured in one run.
//!
//! Run with `cargo bench --bench local` (one to two minutes on two cores). Without `--bench` (as
//! `cargo test --all-targets` runs it) it does one tiny round, so the bench stays checked cheaply.
//!
//! - big save: one 1 GiB `save` streamed as 1 MiB chunks (one `Bytes` cloned, never a 1 GiB
//!   buffer) against the same chunks written with `tokio::fs::File::write_all` and a flush.
//!   Neither side syncs to disk.
//! - peak RSS: `VmHWM` of a process that did nothing but the 1 GiB save. Each big save runs in a
//!   child process (this binary re-executed with `--big-child`), so the high-water mark is that
//!   save's alone: in one process the small files, or whichever side ran before, would have
//!   raised it already, and `VmHWM` never falls.
//! - small files: 10,000 files of 4 KiB in 100 directories of 100, saved by 32 tasks taking the
//!   next index from a shared counter, then opened and read fully by 32 tasks; against
//!   `tokio::fs::write` and `tokio::fs::read` of the same bytes in the same layout. Both sides
//!   start from an existing, empty root; creating the 100 subdirectories is timed on both sides
//!   (the storage makes each on the first save into it, the baseline makes all 100 with
//!   `tokio::fs::create_dir_all`, 32 at a time, before its writes). Reads find the files in the
//!   page cache on both sides, as they were just written.
//!
//! Every measurement runs five times, the two sides alternating which goes first (the big saves
//! after one untimed warm-up), and each side's median round is printed, the two sides' rounds
//! paired in time so that a disturbance hits both. `STORAGES_BENCH_VERBOSE=1` prints every round to
//! stderr as well.
//!
//! Each round writes into fresh directories. A big file is deleted (untimed) as soon as it is
//! measured, so gigabytes of dirty pages never pile up. The small files stay until the end: ext4
//! without a journal (as on this machine) does not reuse an inode freed less than 60 s ago (360 s
//! while its inode table block is dirty), and every file creation walks past each such inode of
//! its block group, so deleting a round's 20,000 files would slow the next round's creations.

mod common;
use common::{BenchResult, concurrently, expect_size, median, peak_rss_kib, verbose};

use std::io;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, Stream, TryStreamExt};
use storages_core::{Content, StorageExt};
use storages_local::{LocalConfig, LocalStorage};
use tokio::io::AsyncWriteExt;

/// How much work one run does: the full benchmark, or a smoke test when not run by `cargo bench`.
#[derive(Debug, Clone, Copy)]
struct Scale {
    rounds: usize,
    small_files: usize,
    big_bytes: u64,
}

const FULL: Scale = Scale {
    rounds: 5,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Storages,
    Tokio,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Storages => "storages",
            Side::Tokio => "tokio",
        }
    }

    fn parse(text: &str) -> BenchResult<Self> {
        match text {
            "storages" => Ok(Side::Storages),
            "tokio" => Ok(Side::Tokio),
            other => Err(format!("unknown side `{other}`, expected `storages` or `tokio`").into()),
        }
    }

    /// Round 0 starts with the storage, round 1 with the baseline, and so on.
    fn order(round: usize) -> [Side; 2] {
        if round % 2 == 0 {
            [Side::Storages, Side::Tokio]
        } else {
            [Side::Tokio, Side::Storages]
        }
    }
}

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, side, bytes, dir] = args.as_slice() {
        if flag == CHILD_FLAG {
            return big_child(Side::parse(side)?, bytes.parse()?, Path::new(dir));
        }
    }
    let measuring = args.iter().any(|a| a == "--bench");
    let scale = if measuring { FULL } else { SMOKE };
    let tmp = tempfile::tempdir()?;
    if !measuring {
        println!("smoke test, too small to measure anything: run `cargo bench --bench local`");
    }
    println!(
        "storages-local vs tokio::fs, medians of {} paired round(s), order alternating, in {}",
        scale.rounds,
        tmp.path().display()
    );
    big(scale, tmp.path())?;
    runtime()?.block_on(small(scale, tmp.path()))?;
    Ok(())
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

// ---- one big streamed file ----

/// What a child process reports about its one big save.
#[derive(Debug, Clone, Copy)]
struct BigRun {
    elapsed: Duration,
    peak_rss_kib: u64,
}

fn big(scale: Scale, tmp: &Path) -> BenchResult<()> {
    let mut times = [Vec::new(), Vec::new()];
    let mut peaks = [0u64; 2];
    // Untimed: after a pause, the first gigabyte written here runs several times slower whichever
    // side writes it (the VM seems to fault memory it handed back to the host in again), which
    // would always fall on the side that goes first in round 0.
    let warm_up = tmp.join("big-warm-up");
    run_big_child(Side::Tokio, scale.big_bytes, &warm_up)?;
    std::fs::remove_dir_all(&warm_up)?;
    for round in 0..scale.rounds {
        for side in Side::order(round) {
            let dir = tmp.join(format!("big-{}-{round}", side.label()));
            let run = run_big_child(side, scale.big_bytes, &dir)?;
            std::fs::remove_dir_all(&dir)?;
            if verbose() {
                eprintln!(
                    "  round {round} big   {:<8} {:>7.3} s  VmHWM {} KiB",
                    side.label(),
                    run.elapsed.as_secs_f64(),
                    run.peak_rss_kib
                );
            }
            times[side as usize].push(run.elapsed);
            peaks[side as usize] = peaks[side as usize].max(run.peak_rss_kib);
        }
    }
    let [ours, theirs] = times.map(median);
    let mb_per_s = |t: Duration| scale.big_bytes as f64 / t.as_secs_f64() / 1e6;
    println!(
        "big save {:>4} MiB  storages {:>7.0} MB/s      tokio::fs {:>7.0} MB/s      ratio {:.2}x (aim >= 0.90x)",
        scale.big_bytes >> 20,
        mb_per_s(ours),
        mb_per_s(theirs),
        theirs.as_secs_f64() / ours.as_secs_f64(),
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "peak RSS (VmHWM)   storages {:>7.1} MiB       tokio::fs {:>7.1} MiB       (storages target < 32 MiB; \
         highest of the rounds, whole child process)",
        mib(peaks[Side::Storages as usize]),
        mib(peaks[Side::Tokio as usize]),
    );
    Ok(())
}

fn run_big_child(side: Side, bytes: u64, dir: &Path) -> BenchResult<BigRun> {
    let output = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .arg(side.label())
        .arg(bytes.to_string())
        .arg(dir)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the {} big-save child failed: {}",
            side.label(),
            output.status
        )
        .into());
    }
    let report = String::from_utf8(output.stdout)?;
    let mut fields = report.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(nanos)), Some(Ok(peak_rss_kib))) => Ok(BigRun {
            elapsed: Duration::from_nanos(nanos),
            peak_rss_kib,
        }),
        _ => Err(format!(
            "the {} big-save child reported `{report}`, expected `<nanos> <kib>`",
            side.label()
        )
        .into()),
    }
}

/// The child: one big save, then `<elapsed nanoseconds> <VmHWM in KiB>` on stdout.
fn big_child(side: Side, bytes: u64, dir: &Path) -> BenchResult<()> {
    let elapsed = runtime()?.block_on(async {
        match side {
            Side::Storages => big_storages(bytes, dir).await,
            Side::Tokio => big_tokio(bytes, dir).await,
        }
    })?;
    println!("{} {}", elapsed.as_nanos(), peak_rss_kib()?);
    Ok(())
}

/// `bytes` as a stream of 1 MiB chunks that all share one buffer.
fn big_chunks(bytes: u64) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let chunk = Bytes::from((0..BIG_CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let count = bytes / BIG_CHUNK as u64;
    stream::iter((0..count).map(move |_| Ok(chunk.clone())))
}

async fn big_storages(bytes: u64, dir: &Path) -> BenchResult<Duration> {
    let storage = LocalStorage::new(LocalConfig::new(dir))?;
    let chunks = big_chunks(bytes);
    let start = Instant::now();
    let name = storage.save(BIG_NAME, Content::from_stream(chunks)).await?;
    let elapsed = start.elapsed();
    expect_size(BIG_NAME, storage.size(&name).await?, bytes)?;
    Ok(elapsed)
}

async fn big_tokio(bytes: u64, dir: &Path) -> BenchResult<Duration> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(BIG_NAME);
    let mut chunks = std::pin::pin!(big_chunks(bytes));
    let start = Instant::now();
    let mut file = tokio::fs::File::create(&path).await?;
    while let Some(chunk) = chunks.try_next().await? {
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    drop(file);
    let elapsed = start.elapsed();
    expect_size(BIG_NAME, tokio::fs::metadata(&path).await?.len(), bytes)?;
    Ok(elapsed)
}

// ---- many small files ----

/// One round's timings of one side.
#[derive(Debug, Clone, Copy)]
struct SmallRun {
    save: Duration,
    read: Duration,
}

async fn small(scale: Scale, tmp: &Path) -> BenchResult<()> {
    let payload = Bytes::from(
        (0..SMALL_SIZE)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>(),
    );
    let names: Arc<[String]> = (0..scale.small_files)
        .map(|i| format!("d{:02}/f{:02}.bin", i / FILES_PER_DIR, i % FILES_PER_DIR))
        .collect();
    let mut runs = [Vec::new(), Vec::new()];
    for round in 0..scale.rounds {
        for side in Side::order(round) {
            let root = tmp.join(format!("small-{}-{round}", side.label()));
            let run = match side {
                Side::Storages => small_storages(&root, &names, &payload).await?,
                Side::Tokio => small_tokio(&root, &names, &payload).await?,
            };
            if verbose() {
                eprintln!(
                    "  round {round} small {:<8} save {:>7.3} s  open+read {:>7.3} s",
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
        let [ours, theirs] = runs
            .each_ref()
            .map(|side| median(side.iter().map(of).collect()));
        println!(
            "{what:<18} storages {:>7.0} files/s   tokio::fs {:>7.0} files/s   ratio {:.2}x (aim >= 0.90x)",
            files / ours.as_secs_f64(),
            files / theirs.as_secs_f64(),
            theirs.as_secs_f64() / ours.as_secs_f64(),
        );
    };
    line("small save", |r| r.save);
    line("small open+read", |r| r.read);
    line("small combined", |r| r.save + r.read);
    Ok(())
}

async fn small_storages(
    root: &Path,
    names: &Arc<[String]>,
    payload: &Bytes,
) -> BenchResult<SmallRun> {
    let storage = Arc::new(LocalStorage::new(LocalConfig::new(root))?);
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

async fn small_tokio(root: &Path, names: &Arc<[String]>, payload: &Bytes) -> BenchResult<SmallRun> {
    tokio::fs::create_dir_all(root).await?;
    let root: Arc<Path> = root.into();
    let dirs = names.len().div_ceil(FILES_PER_DIR);
    let save = {
        let (root, names, payload) = (root.clone(), names.clone(), payload.clone());
        let mkdir = {
            let root = root.clone();
            concurrently(dirs, move |d| {
                let dir = root.join(format!("d{d:02}"));
                async move { Ok(tokio::fs::create_dir_all(dir).await?) }
            })
            .await?
        };
        let write = concurrently(names.len(), move |i| {
            let (path, payload) = (root.join(&names[i]), payload.clone());
            async move { Ok(tokio::fs::write(path, payload).await?) }
        })
        .await?;
        mkdir + write
    };
    let read = {
        let names = names.clone();
        concurrently(names.len(), move |i| {
            let path = root.join(&names[i]);
            let name = names[i].clone();
            async move {
                expect_size(
                    &name,
                    tokio::fs::read(path).await?.len() as u64,
                    SMALL_SIZE as u64,
                )
            }
        })
        .await?
    };
    Ok(SmallRun { save, read })
}

// ---- shared ----
