//! The web layer against named baselines, as ratios measured in one run.
//!
//! Run with `cargo bench --bench web --features axum` (about six minutes on two cores; needs `wrk` and
//! nginx: `apt-get install wrk nginx-light`). Without `--bench` (as `cargo test --benches` runs it) it does one
//! tiny round of each part and needs no `wrk`.
//!
//! Every load is `wrk` (one thread, 32 connections, 5 s) on loopback. The two sides of a comparison run in
//! alternating order, round after round, and each side's median round is printed with the ratio and the aim.
//!
//! - serving: a real tree first (the corpus's mid-sized cut, `common::corpus::mid_sized`: every file of 4 KiB to
//!   1 MiB in Django's admin and the npm packages' published folders, about 5,000 files and 180 MB; each request
//!   asks for the next file, round the whole tree, through a `wrk` script), then 4 KiB and 1 MiB files (the
//!   issue's fixed sizes), from a local storage through the axum adapter (`serve_storage`) against tower-http's
//!   `ServeDir` over the same directory, both on `axum::serve` in this process.
//! - nginx: the photo apps (`examples/photos.rs` and `photos_actix.rs`, built in this profile, media in that
//!   directory, each with two workers) against nginx (`nginx-light`, one worker process, `sendfile on`) serving the
//!   same files from the same directory (the real tree, then the fixed sizes), as the server people put in front
//!   of media. Our floor: nginx hands the
//!   page cache to the socket with `sendfile`, while a framework's body is bytes in memory, so every byte is
//!   copied out of the cache and into the socket (two copies nginx does not make).
//! - upload: a 1 GiB file through the photo app, posted as a multipart form streamed from the file, against
//!   `storages put` of the same file into a directory on the same disk. Medians of alternating rounds; the app's
//!   peak RSS is printed too.
//!
//! `STORAGES_BENCH_ONLY=serving` (or `nginx`, or `upload`) runs one part.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/nginx.rs"]
mod nginx;

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
    // `STORAGES_BENCH_ONLY=serving`, `=nginx` or `=upload` runs one part.
    let only = std::env::var("STORAGES_BENCH_ONLY").unwrap_or_default();
    let runs = |part: &str| only.is_empty() || only == part;
    let dir = tmp.path().join("served");
    write_served(&dir)?;
    // The real tree is fetched (once, then cached) only to measure.
    let tree = if measuring {
        Some(Tree::link_into(&dir, tmp.path())?)
    } else {
        None
    };
    if runs("serving") {
        runtime.block_on(serving(scale, &dir, tree.as_ref()))?;
    }
    if runs("nginx") {
        runtime.block_on(behind_nginx(scale, &dir, tmp.path(), tree.as_ref()))?;
    }
    if runs("upload") {
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

/// The files every serving part loads, with random bytes.
fn write_served(dir: &Path) -> BenchResult<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = fastrand::Rng::with_seed(7);
    for (name, size) in FILES {
        let mut bytes = vec![0u8; size];
        rng.fill(&mut bytes);
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// The real tree, linked under the served directory as `tree/`, and the `wrk` script that asks for each of its
/// files in turn under a mount point.
struct Tree {
    files: usize,
    bytes: u64,
    /// Each file's path under `tree/`, percent-encoded as a URL's.
    paths: Vec<String>,
    work: PathBuf,
}

impl Tree {
    fn link_into(dir: &Path, work: &Path) -> BenchResult<Self> {
        let (cut, _, _) = common::corpus::mid_sized()?;
        let into = dir.join("tree");
        // Hard links where the cache and the served directory share a filesystem, else a copy.
        let copied = ["-al", "-a"].into_iter().any(|how| {
            let _ = std::fs::remove_dir_all(&into);
            Command::new("cp")
                .arg(how)
                .arg(&cut)
                .arg(&into)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !copied {
            return Err(format!("cannot copy {} to {}", cut.display(), into.display()).into());
        }
        let (mut files, mut bytes, mut paths) = (0, 0, Vec::new());
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            for entry in std::fs::read_dir(dir.join("tree").join(&rel))? {
                let entry = entry?;
                let path = rel.join(entry.file_name());
                if entry.file_type()?.is_dir() {
                    stack.push(path);
                    continue;
                }
                // The cut's own marker is no asset; a name a storage would refuse is not asked for.
                if path.as_os_str() == ".complete" {
                    continue;
                }
                let Ok(name) = storages::Name::new(format!("tree/{}", path.display())) else {
                    continue;
                };
                files += 1;
                bytes += entry.metadata()?.len();
                paths.push(storages::encode_name(&name));
            }
        }
        paths.sort();
        Ok(Self {
            files,
            bytes,
            paths,
            work: work.to_path_buf(),
        })
    }

    /// The `wrk` script asking for every file under `mount` (`/files`) in turn.
    fn script(&self, mount: &str) -> BenchResult<PathBuf> {
        let list = self
            .work
            .join(format!("tree-paths{}.txt", mount.replace('/', "-")));
        let lines: Vec<String> = self.paths.iter().map(|p| format!("{mount}/{p}")).collect();
        std::fs::write(&list, lines.join("\n") + "\n")?;
        let script = self
            .work
            .join(format!("tree{}.lua", mount.replace('/', "-")));
        std::fs::write(
            &script,
            format!(
                "local paths = {{}}\n\
                 for line in io.lines(\"{}\") do paths[#paths + 1] = line end\n\
                 local i = 0\n\
                 request = function()\n\
                 \x20 i = i % #paths + 1\n\
                 \x20 return wrk.format(\"GET\", paths[i])\n\
                 end\n",
                list.display()
            ),
        )?;
        Ok(script)
    }

    fn label(&self) -> String {
        format!(
            "real tree ({} files, {:.0} MB)",
            self.files,
            self.bytes as f64 / 1e6
        )
    }
}

/// Both sides send every file whole, or the comparison means nothing.
async fn check_served(bases: &[String]) -> BenchResult<()> {
    let http = reqwest::Client::new();
    for (name, size) in FILES {
        for base in bases {
            let got = http.get(format!("{base}/{name}")).send().await?;
            if got.status() != 200 || got.bytes().await?.len() != size {
                return Err(format!("{base} does not serve {name} whole").into());
            }
        }
    }
    Ok(())
}

/// Every 100th file of the tree, asked of each base (`.../files`, the tree under it), is its file's bytes.
async fn check_tree(dir: &Path, bases: &[String], tree: &Tree) -> BenchResult<()> {
    let http = reqwest::Client::new();
    for path in tree.paths.iter().step_by(100) {
        let name = percent_encoding::percent_decode_str(path).decode_utf8()?;
        let want = std::fs::read(dir.join(name.as_ref()))?;
        for base in bases {
            let got = http.get(format!("{base}/{path}")).send().await?;
            if got.status() != 200 || got.bytes().await? != want {
                return Err(format!("{base} does not serve {path} whole").into());
            }
        }
    }
    Ok(())
}

async fn serving(scale: Scale, dir: &Path, tree: Option<&Tree>) -> BenchResult<()> {
    let storage = storages::Settings::parse(&format!("file://{}", dir.display()))?.build()?;
    let ours: axum::Router =
        axum::Router::new().nest("/files", serve_storage(storage, ServeOptions::media()));
    let baseline: axum::Router = axum::Router::new().nest_service("/files", ServeDir::new(dir));
    let ours = format!("http://{}/files", spawn_server(ours).await?);
    let baseline = format!("http://{}/files", spawn_server(baseline).await?);
    check_served(&[ours.clone(), baseline.clone()]).await?;
    if scale.wrk_seconds == 0 {
        println!("serving: both servers answer; the load is measured with --bench");
        return Ok(());
    }
    println!(
        "serving from a local directory in this process, wrk -t1 -c32 -d{}s, median of {} alternating rounds",
        scale.wrk_seconds, scale.rounds
    );
    print_header("axum adapter", "ServeDir");
    if let Some(tree) = tree {
        check_tree(dir, &[ours.clone(), baseline.clone()], tree).await?;
        let script = tree.script("/files")?;
        let (ours, base) = paired(
            scale,
            Side::url(&ours).script(&script),
            Side::url(&baseline).script(&script),
        )
        .await?;
        print_row(&tree.label(), ours, base, 0.9);
    }
    for (name, _) in FILES {
        let (ours_url, base_url) = (format!("{ours}/{name}"), format!("{baseline}/{name}"));
        let (ours, base) = paired(scale, Side::url(&ours_url), Side::url(&base_url)).await?;
        print_row(name, ours, base, 0.9);
    }
    Ok(())
}

/// The aims against nginx, for 4 KiB and 1 MiB.
const NGINX_AIMS: [f64; 2] = [0.7, 0.9];

async fn behind_nginx(
    scale: Scale,
    dir: &Path,
    tmp: &Path,
    tree: Option<&Tree>,
) -> BenchResult<()> {
    let server = format!(
        "location /media/ {{ alias {}/; }}",
        dir.canonicalize()?.display()
    );
    let front = nginx::Nginx::start(&server)?;
    let nginx_base = front.url("/media");
    let media = format!("file://{}?base_url=/media/", dir.display());
    let mut apps = Vec::new();
    for example in ["photos", "photos_actix"] {
        let app = start_app(
            &build_example(example)?,
            &tmp.join(example),
            &[("STORAGES_MEDIA_URL", &media)],
        )
        .await?;
        apps.push((example, app));
    }
    let mut bases = vec![nginx_base.clone()];
    bases.extend(apps.iter().map(|(_, app)| format!("{}/media", app.base)));
    check_served(&bases).await?;
    if scale.wrk_seconds == 0 {
        println!("nginx: nginx and both photo apps answer; the load is measured with --bench");
        return Ok(());
    }
    println!(
        "media of the photo apps (2 workers) against nginx (1 worker, sendfile on), wrk -t1 -c32 -d{}s, median of {} alternating rounds",
        scale.wrk_seconds, scale.rounds
    );
    if let Some(tree) = tree {
        check_tree(dir, &bases, tree).await?;
    }
    for (example, app) in &apps {
        print_header(&format!("{example} app"), "nginx");
        if let Some(tree) = tree {
            let script = tree.script("/media")?;
            let ours = format!("{}/media", app.base);
            let (ours, base) = paired(
                scale,
                Side::process(&ours, app.child.id()).script(&script),
                Side::process(&nginx_base, front.pid()).script(&script),
            )
            .await?;
            // The aim for the mix of sizes: the lower of the two fixed sizes' aims.
            print_row(&tree.label(), ours, base, NGINX_AIMS[0]);
        }
        for ((name, _), aim) in FILES.into_iter().zip(NGINX_AIMS) {
            let ours = format!("{}/media/{name}", app.base);
            let base = format!("{nginx_base}/{name}");
            let (ours, base) = paired(
                scale,
                Side::process(&ours, app.child.id()),
                Side::process(&base, front.pid()),
            )
            .await?;
            print_row(name, ours, base, aim);
        }
    }
    Ok(())
}

/// One side of a comparison: where to load it, the `wrk` script that chooses the requests (`None`: `url` alone),
/// and its process when it has its own (to count its CPU time).
#[derive(Debug, Clone, Copy)]
struct Side<'a> {
    url: &'a str,
    script: Option<&'a Path>,
    pid: Option<u32>,
}

impl<'a> Side<'a> {
    fn url(url: &'a str) -> Self {
        Self {
            url,
            script: None,
            pid: None,
        }
    }

    fn process(url: &'a str, pid: u32) -> Self {
        Self {
            pid: Some(pid),
            ..Self::url(url)
        }
    }

    fn script(self, script: &'a Path) -> Self {
        Self {
            script: Some(script),
            ..self
        }
    }
}

/// A side's median round: requests per second, and (for a process of its own) CPU microseconds per request,
/// which other work on a shared machine disturbs far less than the rate.
#[derive(Debug, Clone, Copy)]
struct Measured {
    per_second: f64,
    cpu_us: Option<f64>,
}

/// Loads `ours` and `baseline` in alternating order, round after round (after one warm-up second each), and
/// returns each side's medians.
async fn paired(
    scale: Scale,
    ours: Side<'_>,
    baseline: Side<'_>,
) -> BenchResult<(Measured, Measured)> {
    // Warm both up (page cache, connection setup, allocator) before anything counts.
    wrk(ours, 1).await?;
    wrk(baseline, 1).await?;
    let mut rounds: [(Vec<f64>, Vec<f64>); 2] = Default::default();
    for round in 0..scale.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for index in order {
            let side = [ours, baseline][index];
            let before = side.pid.map(cpu_ticks).transpose()?;
            let load = wrk(side, scale.wrk_seconds).await?;
            let (rates, cpu) = &mut rounds[index];
            rates.push(load.per_second);
            if let (Some(pid), Some(before)) = (side.pid, before) {
                let ticks = cpu_ticks(pid)?.saturating_sub(before);
                cpu.push(ticks as f64 * 10_000.0 / load.requests.max(1) as f64);
            }
        }
    }
    if common_verbose() {
        eprintln!(
            "rounds (r/s, CPU us per request): ours {:?}, baseline {:?}",
            rounds[0], rounds[1]
        );
    }
    let [ours, baseline] = rounds.map(|(rates, cpu)| Measured {
        per_second: median(rates),
        cpu_us: (!cpu.is_empty()).then(|| median(cpu)),
    });
    Ok((ours, baseline))
}

fn median(mut rounds: Vec<f64>) -> f64 {
    rounds.sort_by(f64::total_cmp);
    rounds.get(rounds.len() / 2).copied().unwrap_or_default()
}

fn common_verbose() -> bool {
    std::env::var_os("STORAGES_BENCH_VERBOSE").is_some()
}

fn print_header(ours: &str, baseline: &str) {
    println!(
        "{:<8} {:>16} {:>16} {:>7} {:>6}",
        "file", ours, baseline, "ratio", "aim"
    );
}

fn print_row(name: &str, ours: Measured, baseline: Measured, aim: f64) {
    let cpu = match (ours.cpu_us, baseline.cpu_us) {
        (Some(ours), Some(baseline)) => {
            format!("   CPU per request {ours:.1} us vs {baseline:.1} us")
        }
        _ => String::new(),
    };
    println!(
        "{:<8} {:>12.0} r/s {:>12.0} r/s {:>6.2}x {:>5.2}x{cpu}",
        name,
        ours.per_second,
        baseline.per_second,
        ours.per_second / baseline.per_second,
        aim
    );
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

/// One `wrk` run: requests per second, and requests in all.
#[derive(Debug, Clone, Copy)]
struct Load {
    per_second: f64,
    requests: u64,
}

/// What `wrk` reaches on `side` in `seconds`; any non-2xx answer is an error.
async fn wrk(side: Side<'_>, seconds: u32) -> BenchResult<Load> {
    let url = side.url;
    let mut command = tokio::process::Command::new("wrk");
    command.args(["-t1", "-c32", &format!("-d{seconds}s")]);
    if let Some(script) = side.script {
        command.arg("-s").arg(script);
    }
    let out = command.arg(url).output().await?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!(
            "wrk {url} failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let per_second = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok());
    // "  123456 requests in 5.00s, 1.23GB read"
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    match (per_second, requests) {
        (Some(per_second), Some(requests)) => Ok(Load {
            per_second,
            requests,
        }),
        _ => Err(format!("no request counts in wrk's output:\n{text}").into()),
    }
}

/// The CPU time process `pid` has used so far (user and system), in clock ticks (10 ms on Linux).
fn cpu_ticks(pid: u32) -> BenchResult<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // utime and stime are the 14th and 15th fields, the 12th and 13th after the parenthesised command name.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| -> BenchResult<u64> {
        Ok(fields.get(i).ok_or("a short /proc/PID/stat")?.parse()?)
    };
    Ok(field(11)? + field(12)?)
}

// ---- upload ----

async fn upload(scale: Scale, tmp: &Path) -> BenchResult<()> {
    let source = tmp.join("source.png");
    write_source(&source, scale.upload_bytes)?;
    let app_bin = build_example("photos")?;
    let cli_bin = storages_testkit::storages_bin(Path::new(env!("CARGO_MANIFEST_DIR")));
    let mb = scale.upload_bytes as f64 / 1e6;
    let (mut app_rounds, mut cli_rounds) = (Vec::new(), Vec::new());
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
                app_rounds.push(took.as_secs_f64());
                peak_rss = peak_rss.max(rss);
            } else {
                cli_rounds.push(put_with_cli(&cli_bin, &source, &target)?.as_secs_f64());
            }
            std::fs::remove_dir_all(&target)?;
        }
    }
    let (app, cli) = (median(app_rounds), median(cli_rounds));
    let rate = |seconds: f64| mb / seconds;
    println!(
        "upload of {:.0} MiB into a local directory, median of {} alternating rounds",
        scale.upload_bytes as f64 / f64::from(1 << 20),
        scale.rounds
    );
    println!(
        "{:<28} {:>10.0} MB/s ({:.2} s)",
        "photo app (POST multipart)",
        rate(app),
        app
    );
    println!(
        "{:<28} {:>10.0} MB/s ({:.2} s)",
        "storages put",
        rate(cli),
        cli
    );
    println!("{:<28} {:>10.2}x", "ratio app / put", rate(app) / rate(cli));
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

/// Builds the photo apps (`photos`, `photos_actix`) in this bench's profile, once, and returns the path of
/// `example`.
fn build_example(example: &str) -> BenchResult<PathBuf> {
    static BUILT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the bench is not in target/<profile>/deps")?;
    let built = *BUILT.get_or_init(|| {
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "--example",
                "photos",
                "--example",
                "photos_actix",
            ])
            .args(["--features", "local,axum,actix"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            build.arg("--release");
        }
        build.status().is_ok_and(|status| status.success())
    });
    if !built {
        return Err("cargo build --example photos --example photos_actix failed".into());
    }
    Ok(profile_dir.join("examples").join(example))
}

/// An app process, killed on drop.
struct App {
    child: Child,
    base: String,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the photo app `bin` in `work` (its static files go there) with `envs`, on a free loopback port, and
/// waits until it answers.
async fn start_app(bin: &Path, work: &Path, envs: &[(&str, &str)]) -> BenchResult<App> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    std::fs::create_dir_all(work)?;
    let child = Command::new(bin)
        .current_dir(work)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .spawn()?;
    let app = App {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(&app.base).send().await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("{} did not start in 30 s", bin.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(app)
}

/// Posts `source` to a fresh photo app storing into `media`; the time from the first byte sent to the answer, and
/// the app's peak RSS in KiB.
async fn upload_through_app(
    bin: &Path,
    source: &Path,
    media: &Path,
    size: u64,
) -> BenchResult<(Duration, u64)> {
    let media_url = format!("file://{}?base_url=/media/", media.display());
    let limit = (size + 1).to_string();
    let app = start_app(
        bin,
        &media.join("work"),
        &[
            ("STORAGES_MEDIA_URL", &media_url),
            ("PHOTOS_UPLOAD_LIMIT", &limit),
        ],
    )
    .await?;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
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
    let rss = peak_rss_kib_of(app.child.id())?;
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
