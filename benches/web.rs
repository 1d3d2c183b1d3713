//! The web layer against named baselines, as ratios measured in one run.
//!
//! Run with `cargo bench --bench web` (about three minutes on two cores; needs `wrk`: `apt-get install wrk`).
//! Without `--bench` (as `cargo test --benches` runs it) it does one tiny round of each part and needs no `wrk`.
//!
//! - serving: 4 KiB and 1 MiB files from a local storage through the axum adapter (`serve_storage`) against
//!   tower-http's `ServeDir` over the same directory, both on `axum::serve` in this process, each loaded by `wrk`
//!   (one thread, 32 connections, 5 s) on loopback. Rounds alternate which side goes first; each side's best
//!   round counts (other work on a shared machine only ever takes requests away).
//! - upload: a 1 GiB file through the photo app (`examples/photos.rs`, built in this profile, media in a local
//!   directory), posted as a multipart form streamed from the file, against `storages put` of the same file
//!   into a directory on the same disk. Best of three, alternating; the app's peak RSS is printed too.
//!
//! `STORAGES_BENCH_ONLY=serving` (or `upload`) runs one part.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use storages::web::ServeOptions;
use storages::web::axum::serve_storage;
use tower_http::services::ServeDir;

mod common;
use common::{BenchResult, peak_rss_kib_of};

#[derive(Debug, Clone, Copy)]
struct Scale {
    rounds: usize,
    wrk_seconds: u32,
    upload_bytes: u64,
}

const FULL: Scale = Scale {
    rounds: 3,
    wrk_seconds: 5,
    upload_bytes: 1 << 30,
};
const SMOKE: Scale = Scale {
    rounds: 1,
    wrk_seconds: 0,
    upload_bytes: 8 << 20,
};

const FILES: [(&str, usize); 2] = [("4k.bin", 4 << 10), ("1m.bin", 1 << 20)];

fn main() -> BenchResult<()> {
    let measuring = std::env::args().any(|a| a == "--bench");
    let scale = if measuring { FULL } else { SMOKE };
    if measuring {
        check_wrk()?;
    } else {
        println!("smoke test, too small to measure anything: run `cargo bench --bench web`");
    }
    let tmp = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // `STORAGES_BENCH_ONLY=serving` or `=upload` runs one part.
    let only = std::env::var("STORAGES_BENCH_ONLY").unwrap_or_default();
    if only != "upload" {
        runtime.block_on(serving(scale, tmp.path()))?;
    }
    if only != "serving" {
        runtime.block_on(upload(scale, tmp.path()))?;
    }
    Ok(())
}

fn check_wrk() -> BenchResult<()> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "wrk is needed to load the servers ({e}): install it with `apt-get install wrk`"
        )
        .into()),
    }
}

// ---- serving ----

async fn serving(scale: Scale, tmp: &Path) -> BenchResult<()> {
    let dir = tmp.join("served");
    std::fs::create_dir_all(&dir)?;
    let mut rng = fastrand::Rng::with_seed(7);
    for (name, size) in FILES {
        let mut bytes = vec![0u8; size];
        rng.fill(&mut bytes);
        std::fs::write(dir.join(name), bytes)?;
    }
    let storage = storages::Settings::parse(&format!("file://{}", dir.display()))?.build()?;
    let ours: axum::Router =
        axum::Router::new().nest("/files", serve_storage(storage, ServeOptions::media()));
    let baseline: axum::Router = axum::Router::new().nest_service("/files", ServeDir::new(&dir));
    let ours = spawn_server(ours).await?;
    let baseline = spawn_server(baseline).await?;

    // Both sides send the same bytes, or the comparison means nothing.
    let http = reqwest::Client::new();
    for (name, size) in FILES {
        for addr in [ours, baseline] {
            let got = http
                .get(format!("http://{addr}/files/{name}"))
                .send()
                .await?;
            if got.status() != 200 || got.bytes().await?.len() != size {
                return Err(format!("{addr} does not serve {name} whole").into());
            }
        }
    }
    if scale.wrk_seconds == 0 {
        println!("serving: both servers answer; the load is measured with --bench");
        return Ok(());
    }
    println!(
        "serving from a local directory, wrk -t1 -c32 -d{}s on loopback, best of {} rounds",
        scale.wrk_seconds, scale.rounds
    );
    println!(
        "{:<8} {:>14} {:>14} {:>7}",
        "file", "axum adapter", "ServeDir", "ratio"
    );
    for (name, _) in FILES {
        let url = |addr: SocketAddr| format!("http://{addr}/files/{name}");
        // Warm both up (page cache, connection setup, allocator) before anything counts.
        wrk(&url(ours), 1).await?;
        wrk(&url(baseline), 1).await?;
        let (mut best_ours, mut best_base) = (0.0f64, 0.0f64);
        for round in 0..scale.rounds {
            let order = if round % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_ours in order {
                if is_ours {
                    best_ours = best_ours.max(wrk(&url(ours), scale.wrk_seconds).await?);
                } else {
                    best_base = best_base.max(wrk(&url(baseline), scale.wrk_seconds).await?);
                }
            }
        }
        println!(
            "{:<8} {:>10.0} r/s {:>10.0} r/s {:>6.2}x",
            name,
            best_ours,
            best_base,
            best_ours / best_base
        );
    }
    Ok(())
}

/// Serves `router` on a loopback port. `TCP_NODELAY` on both sides: with Nagle's algorithm, a response written in
/// two pieces (headers, then a small body) waits for the client's delayed ACK, which measures the kernel's 40 ms
/// timer instead of the server.
async fn spawn_server(router: axum::Router) -> BenchResult<SocketAddr> {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("TCP_NODELAY: {e}");
        }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server {addr}: {e}");
        }
    });
    Ok(addr)
}

/// Requests per second `wrk` reaches on `url` in `seconds`; any non-2xx answer is an error.
async fn wrk(url: &str, seconds: u32) -> BenchResult<f64> {
    let out = tokio::process::Command::new("wrk")
        .args(["-t1", "-c32", &format!("-d{seconds}s"), url])
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!(
            "wrk {url} failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{text}").into())
}

// ---- upload ----

async fn upload(scale: Scale, tmp: &Path) -> BenchResult<()> {
    let source = tmp.join("source.png");
    write_source(&source, scale.upload_bytes)?;
    let app_bin = build_photos()?;
    let cli_bin = storages_testkit::storages_bin(Path::new(env!("CARGO_MANIFEST_DIR")));
    let mb = scale.upload_bytes as f64 / 1e6;
    let (mut best_app, mut best_cli) = (Duration::MAX, Duration::MAX);
    let mut peak_rss = 0;
    for round in 0..scale.rounds {
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for through_app in order {
            let target = tmp.join(format!("media-{round}-{through_app}"));
            std::fs::create_dir_all(&target)?;
            if through_app {
                let (took, rss) =
                    upload_through_app(&app_bin, &source, &target, scale.upload_bytes).await?;
                best_app = best_app.min(took);
                peak_rss = peak_rss.max(rss);
            } else {
                best_cli = best_cli.min(put_with_cli(&cli_bin, &source, &target)?);
            }
            std::fs::remove_dir_all(&target)?;
        }
    }
    let rate = |d: Duration| mb / d.as_secs_f64();
    println!(
        "upload of {:.0} MiB into a local directory, best of {} rounds",
        scale.upload_bytes as f64 / f64::from(1 << 20),
        scale.rounds
    );
    println!(
        "{:<28} {:>10.0} MB/s ({:.2} s)",
        "photo app (POST multipart)",
        rate(best_app),
        best_app.as_secs_f64()
    );
    println!(
        "{:<28} {:>10.0} MB/s ({:.2} s)",
        "storages put",
        rate(best_cli),
        best_cli.as_secs_f64()
    );
    println!(
        "{:<28} {:>10.2}x",
        "ratio app / put",
        rate(best_app) / rate(best_cli)
    );
    println!("{:<28} {:>10} KiB", "app peak RSS (VmHWM)", peak_rss);
    Ok(())
}

fn write_source(path: &Path, size: u64) -> BenchResult<()> {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut block = vec![0u8; 1 << 20];
    fastrand::Rng::with_seed(11).fill(&mut block);
    let mut written = 0;
    let mut index = 0u64;
    while written < size {
        block[..8].copy_from_slice(&index.to_le_bytes());
        let n = block.len().min((size - written) as usize);
        file.write_all(&block[..n])?;
        written += n as u64;
        index += 1;
    }
    file.flush()?;
    Ok(())
}

/// Builds `examples/photos.rs` in this bench's profile and returns its path.
fn build_photos() -> BenchResult<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the bench is not in target/<profile>/deps")?;
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--quiet",
            "--example",
            "photos",
            "--features",
            "local,axum,collect",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        build.arg("--release");
    }
    if !build.status()?.success() {
        return Err("cargo build --example photos failed".into());
    }
    Ok(profile_dir.join("examples").join("photos"))
}

/// The app, killed on drop.
struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Posts `source` to a fresh photo app storing into `media`; the time from the first byte sent to the answer, and
/// the app's peak RSS in KiB.
async fn upload_through_app(
    bin: &Path,
    source: &Path,
    media: &Path,
    size: u64,
) -> BenchResult<(Duration, u64)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let work = media.join("work");
    std::fs::create_dir_all(&work)?;
    let app = App(Command::new(bin)
        .current_dir(&work)
        .env("PORT", port.to_string())
        .env(
            "STORAGES_MEDIA_URL",
            format!("file://{}?base_url=/media/", media.display()),
        )
        .env("PHOTOS_UPLOAD_LIMIT", (size + 1).to_string())
        .stdout(Stdio::null())
        .spawn()?);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(&base).send().await.is_err() {
        if Instant::now() > deadline {
            return Err("the photo app did not start in 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let boundary = "storages-bench-boundary";
    let head = Bytes::from(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    ));
    let tail = Bytes::from(format!("\r\n--{boundary}--\r\n"));
    let file = chunks(tokio::fs::File::open(source).await?);
    let body = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(head) })
        .chain(file)
        .chain(futures_util::stream::once(async move { Ok(tail) }));
    let started = Instant::now();
    let res = http
        .post(format!("{base}/upload"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("accept", "application/json")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    let took = started.elapsed();
    if res.status() != 201 {
        return Err(format!("the app answered {}: {}", res.status(), res.text().await?).into());
    }
    let stored = std::fs::metadata(media.join("photos/big.png"))?.len();
    if stored != size {
        return Err(format!("the app stored {stored} bytes of {size}").into());
    }
    let rss = peak_rss_kib_of(app.0.id())?;
    Ok((took, rss))
}

/// The file as a stream of chunks of up to 256 KiB.
fn chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}

fn put_with_cli(bin: &Path, source: &Path, media: &Path) -> BenchResult<Duration> {
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["put", &format!("file://{}", media.display())])
        .arg(source)
        .arg("photos/big.png")
        .output()?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "storages put failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(took)
}
