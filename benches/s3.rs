//! The S3 backend against raw object_store on a real Garage server, as ratios measured in one run.
//!
//! Run with `cargo bench --features s3 --bench s3` (about two minutes on two idle cores, Garage being the
//! bottleneck; needs `garage`, which `scripts/test` installs). Without `--bench` (as `cargo test --all-targets --features s3` runs it) it does one
//! small round, so the bench is checked without taking minutes.
//!
//! - small saves: 2,000 files of 4 KiB saved by 32 tasks pulling from a shared counter, three ways: `save`
//!   (create-only: Garage ignores `If-None-Match`, so each save is a HEAD and then a PUT, under an in-process lock
//!   on the name), `save_with(.., SaveOptions::overwrite())` (one PUT), and object_store's own `put` of the same
//!   bytes to distinct keys. Each side has its own client and connection pool, warmed up before timing (bucket
//!   check, conditional-write probe, first connections); every round writes fresh names, so create-only never
//!   meets a taken one. Besides saves/s it prints the CPU time per save of this process (the client) and of
//!   Garage, from `/proc`, and the ratio by that CPU time: whose work a save is, in figures that other load on
//!   the machine moves much less than wall time (with both on two cores, CPU time is what limits saves/s).
//! - big save: one 1 GiB `save` streamed as 1 MiB chunks (one `Bytes` cloned, never a 1 GiB buffer) against
//!   object_store's `WriteMultipart` fed the same chunks, with the part size and parts in flight the storage is set
//!   to (8 MiB, 4). Each upload runs in a child process (this binary re-executed with `STORAGES_BENCH_S3_CHILD`
//!   set) that prints its time and its `VmHWM`, so the peak RSS is that upload's alone; Garage is started once, by
//!   the parent, and the children get its settings URL. As every chunk shares one buffer, the RSS shows only what
//!   the client itself holds: copies and buffers of its own. Garage stores identical blocks once, so its disk does
//!   little and the clients' share of the time shows fully.
//! - url: 10,000 `url()` calls for distinct names that need percent-encoding, public (`base_url`, a CDN) and
//!   presigned (`presign=3600`); neither makes a request.
//!
//! Every measurement runs several rounds, the sides rotating which goes first; the figures printed are each side's
//! median round, the rounds paired in time. Objects are deleted (untimed) after each part.

mod common;
use common::{BenchResult, CONCURRENCY, concurrently, expect_size, median, peak_rss_kib};

use std::io;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use storages::settings::{Backend, Settings};
use storages::{Content, Name, S3Storage, SaveOptions, Storage, StorageExt, UrlOptions};

/// How much work one run does: the full benchmark, or a smoke test when not run by `cargo bench`.
#[derive(Debug, Clone, Copy)]
struct Scale {
    small_rounds: usize,
    small_files: usize,
    big_rounds: usize,
    big_bytes: u64,
    url_rounds: usize,
    url_calls: usize,
}

const FULL: Scale = Scale {
    small_rounds: 3,
    small_files: 2_000,
    big_rounds: 2,
    big_bytes: 1 << 30,
    url_rounds: 10,
    url_calls: 10_000,
};
const SMOKE: Scale = Scale {
    small_rounds: 1,
    small_files: 200,
    big_rounds: 1,
    big_bytes: 32 << 20,
    url_rounds: 1,
    url_calls: 1_000,
};

const SMALL_SIZE: usize = 4 * 1024;
const BIG_CHUNK: usize = 1 << 20;
const CDN: &str = "https://cdn.example.com/media/";

/// The side a child process uploads as; its presence in the environment makes this binary a child.
const CHILD_ENV: &str = "STORAGES_BENCH_S3_CHILD";
/// The settings URL of the parent's Garage (with its credentials), for the children.
const URL_ENV: &str = "STORAGES_BENCH_S3_URL";
const NAME_ENV: &str = "STORAGES_BENCH_S3_NAME";
const BYTES_ENV: &str = "STORAGES_BENCH_S3_BYTES";

fn main() -> BenchResult<()> {
    if let Ok(side) = std::env::var(CHILD_ENV) {
        return big_child(BigSide::parse(&side)?);
    }
    let scale = if std::env::args().any(|a| a == "--bench") {
        FULL
    } else {
        SMOKE
    };
    let garage = storages_testkit::s3::Garage::start();
    let suffix: String = std::iter::repeat_with(fastrand::lowercase)
        .take(8)
        .collect();
    let url = garage.settings_url(&format!("bench-{suffix}"));
    println!(
        "storages-s3 vs object_store 0.14 on Garage at {} (no conditional PUT), median round of each side, \
         order rotating",
        garage.endpoint()
    );
    let runtime = runtime()?;
    runtime.block_on(small(scale, &url, garage.pid()))?;
    big(scale, &url, &runtime)?;
    runtime.block_on(urls(scale, &url))?;
    Ok(())
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// A storage from a settings URL, as the application would build it.
fn s3_storage(url: &str) -> BenchResult<S3Storage> {
    match Settings::parse(url)?.backend() {
        Backend::S3(config) => Ok(S3Storage::new(config.clone())?),
        other => Err(format!("not an s3 settings URL: {other:?}").into()),
    }
}

/// The object_store path of `name` in `storage`: its key prefix, then the name.
fn key_of(storage: &S3Storage, name: &str) -> StorePath {
    match storage.config().prefix.as_str() {
        "" => StorePath::from(name),
        prefix => StorePath::from(format!("{prefix}/{name}")),
    }
}

/// Deletes every object under `name` (a directory of names) in one batch request per thousand.
async fn delete_under(storage: &S3Storage, name: &str) -> BenchResult<usize> {
    let store: &dyn ObjectStore = storage.object_store().as_ref();
    let locations = store
        .list(Some(&key_of(storage, name)))
        .map_ok(|meta| meta.location)
        .boxed();
    Ok(store
        .delete_stream(locations)
        .try_collect::<Vec<_>>()
        .await?
        .len())
}

// ---- many small saves ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SmallSide {
    Create,
    Overwrite,
    Raw,
}

const SMALL_SIDES: [SmallSide; 3] = [SmallSide::Create, SmallSide::Overwrite, SmallSide::Raw];

impl SmallSide {
    fn label(self) -> &'static str {
        match self {
            SmallSide::Create => "save",
            SmallSide::Overwrite => "overwrite",
            SmallSide::Raw => "raw",
        }
    }
}

/// `garage` is the server's process id, whose CPU time is read around each run.
async fn small(scale: Scale, url: &str, garage: u32) -> BenchResult<()> {
    let payload = Bytes::from(
        (0..SMALL_SIZE)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>(),
    );
    let storages = [s3_storage(url)?, s3_storage(url)?, s3_storage(url)?].map(Arc::new);
    for side in SMALL_SIDES {
        let storage = &storages[side as usize];
        storage.check().await?;
        let dir = format!("small/warm-up/{}", side.label());
        run_small(side, storage, &dir, 2 * CONCURRENCY, &payload).await?;
    }
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    // CPU time of this process (the client) and of Garage, summed over each side's rounds: unlike wall time, hardly
    // moved by other work on the machine, and it says whose work a save is.
    let mut cpu = [[Duration::ZERO; 2]; 3];
    for round in 0..scale.small_rounds {
        for k in 0..SMALL_SIDES.len() {
            let side = SMALL_SIDES[(round + k) % SMALL_SIDES.len()];
            let dir = format!("small/{round}/{}", side.label());
            let storage = &storages[side as usize];
            let before = [cpu_time(std::process::id())?, cpu_time(garage)?];
            let elapsed = run_small(side, storage, &dir, scale.small_files, &payload).await?;
            let after = [cpu_time(std::process::id())?, cpu_time(garage)?];
            times[side as usize].push(elapsed);
            for who in 0..2 {
                cpu[side as usize][who] += after[who].saturating_sub(before[who]);
            }
        }
    }
    let deleted = delete_under(&storages[0], "small").await?;
    let expected = SMALL_SIDES.len() * (2 * CONCURRENCY + scale.small_rounds * scale.small_files);
    if deleted != expected {
        return Err(format!("deleted {deleted} small objects, expected {expected}").into());
    }

    let [create, overwrite, raw] = times.map(median);
    let rate = |t: Duration| scale.small_files as f64 / t.as_secs_f64();
    println!(
        "small saves  {} x {} KiB, {CONCURRENCY} at a time, median of {} round(s):",
        scale.small_files,
        SMALL_SIZE / 1024,
        scale.small_rounds
    );
    let saves = (scale.small_rounds * scale.small_files) as f64;
    let micros = |side: SmallSide, who: usize| cpu[side as usize][who].as_secs_f64() * 1e6 / saves;
    let total = |side: SmallSide| micros(side, 0) + micros(side, 1);
    for (side, what, t) in [
        (SmallSide::Raw, "object_store put", raw),
        (SmallSide::Create, "storages save (create-only)", create),
        (
            SmallSide::Overwrite,
            "storages save_with(overwrite)",
            overwrite,
        ),
    ] {
        let ratio = match side {
            SmallSide::Raw => String::new(),
            _ => format!(
                "ratio {:.2}x (aim >= 0.90x; by CPU {:.2}x)",
                raw.as_secs_f64() / t.as_secs_f64(),
                total(SmallSide::Raw) / total(side),
            ),
        };
        println!(
            "  {what:<30}{:>5.0} saves/s  {ratio:<40}  CPU per save: client {:>4.0} us, Garage {:>5.0} us",
            rate(t),
            micros(side, 0),
            micros(side, 1),
        );
    }
    println!(
        "  note: Garage ignores If-None-Match, so a create-only save there is 2 requests (HEAD, then PUT) where the \
         baseline makes 1;\n        here that HEAD cost {:+.0} us of client CPU and {:+.0} us of Garage CPU per save \
         (against overwrite). With conditional PUT (AWS, MinIO) it is one PUT.",
        micros(SmallSide::Create, 0) - micros(SmallSide::Overwrite, 0),
        micros(SmallSide::Create, 1) - micros(SmallSide::Overwrite, 1),
    );
    Ok(())
}

/// Saves `count` files of `payload` under `dir` as `side`, 32 at a time; returns how long that took.
async fn run_small(
    side: SmallSide,
    storage: &Arc<S3Storage>,
    dir: &str,
    count: usize,
    payload: &Bytes,
) -> BenchResult<Duration> {
    let names: Arc<[String]> = (0..count).map(|i| format!("{dir}/f{i:04}.bin")).collect();
    let (storage, payload) = (storage.clone(), payload.clone());
    concurrently(count, move |i| {
        let (storage, names, payload) = (storage.clone(), names.clone(), payload.clone());
        async move {
            let name = names[i].as_str();
            let content = Content::from_bytes(payload.clone());
            let saved = match side {
                SmallSide::Create => storage.save(name, content).await?,
                SmallSide::Overwrite => {
                    storage
                        .save_with(name, content, SaveOptions::overwrite())
                        .await?
                }
                SmallSide::Raw => {
                    let path = key_of(&storage, name);
                    storage
                        .object_store()
                        .put(&path, PutPayload::from(payload))
                        .await?;
                    return Ok(());
                }
            };
            if saved.as_str() != name {
                return Err(format!("`{name}` was saved as `{saved}`").into());
            }
            Ok(())
        }
    })
    .await
}

// ---- one big streamed save ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BigSide {
    Storages,
    Raw,
}

impl BigSide {
    fn label(self) -> &'static str {
        match self {
            BigSide::Storages => "storages",
            BigSide::Raw => "object_store",
        }
    }

    fn parse(text: &str) -> BenchResult<Self> {
        match text {
            "storages" => Ok(BigSide::Storages),
            "object_store" => Ok(BigSide::Raw),
            other => {
                Err(format!("unknown side `{other}`, expected `storages` or `object_store`").into())
            }
        }
    }

    /// Round 0 starts with the storage, round 1 with the baseline, and so on.
    fn order(round: usize) -> [BigSide; 2] {
        if round % 2 == 0 {
            [BigSide::Storages, BigSide::Raw]
        } else {
            [BigSide::Raw, BigSide::Storages]
        }
    }
}

/// What a child process reports about its one upload.
#[derive(Debug, Clone, Copy)]
struct BigRun {
    elapsed: Duration,
    peak_rss_kib: u64,
}

fn big(scale: Scale, url: &str, runtime: &tokio::runtime::Runtime) -> BenchResult<()> {
    let cleaner = s3_storage(url)?;
    let mut times = [Vec::new(), Vec::new()];
    let mut peaks = [0u64; 2];
    for round in 0..scale.big_rounds {
        for side in BigSide::order(round) {
            let name = format!("big/{round}-{}.bin", side.label());
            let run = run_big_child(side, url, &name, scale.big_bytes)?;
            runtime.block_on(cleaner.remove(name.as_str()))?;
            times[side as usize].push(run.elapsed);
            peaks[side as usize] = peaks[side as usize].max(run.peak_rss_kib);
        }
    }
    let [ours, theirs] = times.map(median);
    let mb_per_s = |t: Duration| scale.big_bytes as f64 / t.as_secs_f64() / 1e6;
    let config = cleaner.config();
    println!(
        "big save     {} MiB as {} MiB chunks, parts of {} MiB, {} in flight, median of {} round(s):",
        scale.big_bytes >> 20,
        BIG_CHUNK >> 20,
        config.part_size >> 20,
        config.upload_concurrency,
        scale.big_rounds
    );
    println!(
        "  storages save {:>7.0} MB/s   object_store WriteMultipart {:>7.0} MB/s   ratio {:.2}x (aim >= 0.90x)",
        mb_per_s(ours),
        mb_per_s(theirs),
        theirs.as_secs_f64() / ours.as_secs_f64(),
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "  peak RSS (VmHWM, whole child process, highest round): storages {:.1} MiB (aim <= 64 MiB), \
         object_store {:.1} MiB",
        mib(peaks[BigSide::Storages as usize]),
        mib(peaks[BigSide::Raw as usize]),
    );
    Ok(())
}

fn run_big_child(side: BigSide, url: &str, name: &str, bytes: u64) -> BenchResult<BigRun> {
    let output = Command::new(std::env::current_exe()?)
        .env(CHILD_ENV, side.label())
        .env(URL_ENV, url)
        .env(NAME_ENV, name)
        .env(BYTES_ENV, bytes.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the {} upload child failed: {}",
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
            "the {} upload child reported `{report}`, expected `<nanos> <kib>`",
            side.label()
        )
        .into()),
    }
}

/// The child: one upload, then `<elapsed nanoseconds> <VmHWM in KiB>` on stdout.
fn big_child(side: BigSide) -> BenchResult<()> {
    let url = std::env::var(URL_ENV).map_err(|_| format!("{URL_ENV} is not set"))?;
    let name = std::env::var(NAME_ENV).map_err(|_| format!("{NAME_ENV} is not set"))?;
    let bytes: u64 = std::env::var(BYTES_ENV)
        .map_err(|_| format!("{BYTES_ENV} is not set"))?
        .parse()?;
    let elapsed = runtime()?.block_on(async {
        let storage = s3_storage(&url)?;
        // Untimed, on both sides: the bucket check and the first connection.
        storage.check().await?;
        match side {
            BigSide::Storages => big_storages(&storage, &name, bytes).await,
            BigSide::Raw => big_raw(&storage, &name, bytes).await,
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

async fn big_storages(storage: &S3Storage, name: &str, bytes: u64) -> BenchResult<Duration> {
    let chunks = big_chunks(bytes);
    let start = Instant::now();
    let saved = storage.save(name, Content::from_stream(chunks)).await?;
    let elapsed = start.elapsed();
    expect_size(name, storage.size(&saved).await?, bytes)?;
    Ok(elapsed)
}

async fn big_raw(storage: &S3Storage, name: &str, bytes: u64) -> BenchResult<Duration> {
    let (part_size, in_flight) = (
        storage.config().part_size,
        storage.config().upload_concurrency,
    );
    let store = storage.object_store();
    let path = key_of(storage, name);
    let mut chunks = std::pin::pin!(big_chunks(bytes));
    let start = Instant::now();
    let mut upload =
        WriteMultipart::new_with_chunk_size(store.put_multipart(&path).await?, part_size);
    while let Some(chunk) = chunks.try_next().await? {
        upload.wait_for_capacity(in_flight).await?;
        upload.put(chunk);
    }
    upload.finish().await?;
    let elapsed = start.elapsed();
    expect_size(name, store.head(&path).await?.size, bytes)?;
    Ok(elapsed)
}

/// The CPU time (user and system) process `pid` has used so far.
fn cpu_time(pid: u32) -> BenchResult<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are the
    // 12th and 13th of them, in USER_HZ ticks (100 a second on Linux).
    let (_, fields) = stat
        .rsplit_once(')')
        .ok_or("no command name in /proc/PID/stat")?;
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let ticks = fields
        .get(11..13)
        .ok_or("too few fields in /proc/PID/stat")?
        .iter()
        .map(|f| f.parse::<u64>())
        .sum::<Result<u64, _>>()?;
    Ok(Duration::from_millis(ticks * 10))
}

// ---- urls ----

async fn urls(scale: Scale, url: &str) -> BenchResult<()> {
    let public = s3_storage(&format!("{url}&base_url={CDN}"))?;
    let signed = s3_storage(&format!("{url}&presign=3600"))?;
    let names = (0..scale.url_calls)
        .map(|i| Name::new(format!("photos/2024/été {i:05} #1.jpg")))
        .collect::<Result<Vec<_>, _>>()?;
    let first = public.url(&names[0], &UrlOptions::default()).await?;
    if first != format!("{CDN}photos/2024/%C3%A9t%C3%A9%2000000%20%231.jpg") {
        return Err(format!("unexpected public URL {first}").into());
    }
    let first = signed.url(&names[0], &UrlOptions::default()).await?;
    if !first.contains("X-Amz-Signature=") || !first.contains("X-Amz-Expires=3600") {
        return Err(format!("not a presigned URL: {first}").into());
    }

    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..scale.url_rounds {
        for (k, storage) in [&public, &signed].into_iter().enumerate() {
            let mut length = 0;
            let start = Instant::now();
            for name in &names {
                length += storage.url(name, &UrlOptions::default()).await?.len();
            }
            times[k].push(start.elapsed());
            std::hint::black_box(length);
        }
    }
    let per_call = |t: Duration| t.as_nanos() as f64 / scale.url_calls as f64;
    let [public, signed] = times.map(median);
    println!(
        "url()        {} calls, median of {} round(s): public (base_url) {:.0} ns/call (aim < 1,000 ns)   \
         presigned (presign=3600) {:.0} ns/call (aim < 20,000 ns)",
        scale.url_calls,
        scale.url_rounds,
        per_call(public),
        per_call(signed),
    );
    Ok(())
}

// ---- shared ----
