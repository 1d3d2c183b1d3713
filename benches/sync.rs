//! `storages sync` of a real tree from `file:` into Garage, against `rclone sync` of the same tree into the same
//! Garage, as ratios measured in one run.
//!
//! The tree is the corpus's mid-sized cut (`common::corpus::mid_sized`: every file of 4 KiB to 1 MiB of Django's
//! admin and seventeen npm packages, about 5,200 files and 190 MB), fetched once and cached. Both tools get the
//! same concurrency (`--jobs 32`; rclone `--transfers 32 --checkers 32`) and the same Garage, each round into
//! fresh prefixes of their own, the side going first alternating between rounds; the figures are medians over
//! the rounds:
//!
//! - first run into an empty prefix, against `rclone sync`: aim at least 1.5x faster;
//! - unchanged re-run, against `rclone sync --checksum` (both then hash every local file and compare it with the
//!   object's MD5; neither uploads anything): aim at least 2x faster;
//! - the peak RSS of the `storages sync` process (`/usr/bin/time -f %M`, else its `VmHWM` polled from `/proc`):
//!   aim at most 64 MiB.
//!
//! Beside wall times it prints the CPU time of each tool and of Garage during each tool's runs: on two cores
//! shared by client and server, whose work the time is (Garage's own per-object work is a floor neither client can
//! go under).
//!
//! rclone is the Debian package (`apt-get install rclone`, which the bench runs itself when rclone is missing and
//! it runs as root), configured through environment variables only: an S3 remote with `provider = Other`, the
//! Garage endpoint, path style and region `garage`.
//!
//! Run with `cargo bench --features s3 --bench sync` (a few minutes on two cores; it needs `garage`, which
//! `scripts/test` installs, and fetches the corpus on first use). Without `--bench` (as `cargo test
//! --all-targets` runs benches) it syncs a small generated tree once each way, so the bench is checked quickly.
//! Our side runs the `storages` binary of the same profile, as an operator would.

#[path = "../tests/support/mod.rs"]
mod support;

mod common;
use common::{BenchResult, corpus};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Concurrency of both tools.
const JOBS: &str = "32";

fn main() -> BenchResult<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let work = tempfile::Builder::new()
        .prefix("storages-bench-sync-")
        .tempdir()?;
    let (tree, _, bytes) = if full {
        corpus::mid_sized()?
    } else {
        small_tree(&work.path().join("tree"))?
    };
    // Every file both tools copy: the cut's own marker (`.complete`) included.
    let files = count_files(&tree)?;
    let rounds = if full { 3 } else { 1 };
    println!(
        "tree: {} ({files} files, {:.1} MB)",
        tree.display(),
        bytes as f64 / 1e6
    );
    let rclone = rclone()?;
    let garage = support::s3::Garage::start();
    println!(
        "Garage at {}; {rounds} round(s), medians; concurrency {JOBS} on both sides",
        garage.endpoint()
    );

    let src = format!("file://{}", tree.display());
    let mut runs: [[Vec<Run>; 2]; 2] = Default::default();
    for round in 0..rounds {
        let prefix = support::s3::unique(&format!("r{round}"));
        let ours_url = garage.settings_url(&format!("{prefix}-storages"));
        let theirs_remote = format!("garage:{}/{prefix}-rclone", garage.bucket());
        for (phase, label) in [(FIRST, "first run"), (AGAIN, "re-run")] {
            // The side going first alternates: a warm page cache or a busy Garage favours neither.
            for side in sides(round + phase) {
                let run = match side {
                    OURS => {
                        let mut command = Command::new(support::storages_bin());
                        command.args(["sync", &src, &ours_url, "--jobs", JOBS, "--no-input"]);
                        let run = measure(command, garage.pid())?;
                        expect_copied(&run.stdout, if phase == FIRST { files } else { 0 })?;
                        run
                    }
                    _ => measure(
                        rclone_sync(&rclone, &garage, &tree, &theirs_remote, phase == AGAIN),
                        garage.pid(),
                    )?,
                };
                if common::verbose() {
                    eprintln!(
                        "round {round} {} {label}: {:.2} s, client CPU {:.2} s, Garage CPU {:.2} s; {}",
                        ["storages sync", "rclone sync"][side],
                        secs(run.took),
                        run.client_cpu,
                        run.server_cpu,
                        run.stdout.trim()
                    );
                }
                runs[phase][side].push(run);
            }
        }
    }

    let peak_kib = runs.iter().flat_map(|p| &p[OURS]).map(|r| r.rss_kib).max();
    for (phase, title, baseline, aim) in [
        (FIRST, "first run into an empty prefix", "rclone sync", 1.5),
        (
            AGAIN,
            "unchanged re-run (nothing to upload)",
            "rclone sync --checksum",
            2.0,
        ),
    ] {
        let [ours, theirs] = [&runs[phase][OURS], &runs[phase][THEIRS]].map(|r| Medians::of(r));
        println!("{title}:   wall time, and CPU time of the client and of Garage (medians)");
        for (name, m) in [("storages sync", &ours), (baseline, &theirs)] {
            println!(
                "  {name:<24} {:>7.2} s   client {:>6.2} s   Garage {:>6.2} s",
                m.took, m.client_cpu, m.server_cpu
            );
        }
        println!(
            "  {baseline} / storages sync: {:.2}x   (aim: at least {aim}x)",
            theirs.took / ours.took
        );
    }
    match peak_kib {
        Some(kib) if kib > 0 => println!(
            "peak RSS of storages sync: {:.1} MiB   (aim: at most 64 MiB; the highest of every run)",
            kib as f64 / 1024.0
        ),
        _ => println!("peak RSS of storages sync: not measured"),
    }
    Ok(())
}

const FIRST: usize = 0;
const AGAIN: usize = 1;
const OURS: usize = 0;
const THEIRS: usize = 1;

/// Which side goes first in round-and-phase `n`.
fn sides(n: usize) -> [usize; 2] {
    if n % 2 == 0 {
        [OURS, THEIRS]
    } else {
        [THEIRS, OURS]
    }
}

/// One run of a tool: its wall time, its CPU time and peak RSS (from `/usr/bin/time`, else the RSS polled from
/// `/proc` and no CPU time), Garage's CPU time meanwhile, and what it printed.
#[derive(Debug, Default)]
struct Run {
    took: Duration,
    client_cpu: f64,
    server_cpu: f64,
    rss_kib: u64,
    stdout: String,
}

/// Medians of wall and CPU times, in seconds.
struct Medians {
    took: f64,
    client_cpu: f64,
    server_cpu: f64,
}

impl Medians {
    fn of(runs: &[Run]) -> Self {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or_default()
        };
        Self {
            took: median(runs.iter().map(|r| secs(r.took)).collect()),
            client_cpu: median(runs.iter().map(|r| r.client_cpu).collect()),
            server_cpu: median(runs.iter().map(|r| r.server_cpu).collect()),
        }
    }
}

/// Runs `command` to its end and measures it (see [`Run`]); fails unless it succeeds.
fn measure(command: Command, server: u32) -> BenchResult<Run> {
    let time = Path::new("/usr/bin/time");
    let report = tempfile::NamedTempFile::new()?;
    let mut command = if time.is_file() {
        let mut timed = Command::new(time);
        timed
            .args(["-f", "%M %U %S", "-o"])
            .arg(report.path())
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => timed.env(key, value),
                None => timed.env_remove(key),
            };
        }
        timed
    } else {
        command
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let server_before = cpu_seconds(server)?;
    let started = Instant::now();
    let mut child = command.spawn()?;
    // Without /usr/bin/time: VmHWM polled while the process lives (it only grows).
    let mut polled = 0;
    while child.try_wait()?.is_none() {
        if let Ok(rss) = common::peak_rss_kib_of(child.id()) {
            polled = polled.max(rss);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = started.elapsed();
    let server_cpu = cpu_seconds(server)? - server_before;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(format!(
            "{:?} failed ({}): {}",
            command.get_args().collect::<Vec<_>>(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let mut run = Run {
        took,
        server_cpu,
        rss_kib: polled,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        ..Run::default()
    };
    if time.is_file() {
        let text = std::fs::read_to_string(report.path())?;
        let fields: Vec<&str> = text.lines().last().unwrap_or_default().split(' ').collect();
        if let [rss, user, system] = fields.as_slice() {
            run.rss_kib = rss.parse()?;
            run.client_cpu = user.parse::<f64>()? + system.parse::<f64>()?;
        }
    }
    Ok(run)
}

/// User plus system CPU time of process `pid` so far, in seconds (`/proc/PID/stat`, at 100 ticks a second).
fn cpu_seconds(pid: u32) -> BenchResult<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').ok_or("no ) in /proc/PID/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    let ticks: u64 = fields.get(11).ok_or("short stat")?.parse::<u64>()?
        + fields.get(12).ok_or("short stat")?.parse::<u64>()?;
    Ok(ticks as f64 / 100.0)
}

/// Fails unless the summary says `copied N files`.
fn expect_copied(summary: &str, files: usize) -> BenchResult<()> {
    if summary.starts_with(&format!("copied {files} files ")) {
        Ok(())
    } else {
        Err(format!("expected {files} files copied, got: {summary}").into())
    }
}

/// The rclone binary: on PATH, else installed from Debian (as root), else an error saying how to install it.
fn rclone() -> BenchResult<PathBuf> {
    let found = || {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join("rclone"))
            .find(|p| p.is_file())
    };
    if let Some(path) = found() {
        return Ok(path);
    }
    if support::mount::is_root() {
        eprintln!("rclone is missing: apt-get install -y rclone");
        let status = Command::new("apt-get")
            .args(["install", "-y", "rclone"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()?;
        if status.success() {
            if let Some(path) = found() {
                return Ok(path);
            }
        }
    }
    Err(
        "rclone is not installed: run `apt-get install rclone` (Debian) and run the bench again"
            .into(),
    )
}

/// `rclone sync TREE REMOTE --transfers 32 --checkers 32 [--checksum]`, configured through the environment only.
fn rclone_sync(
    rclone: &Path,
    garage: &support::s3::Garage,
    tree: &Path,
    remote: &str,
    checksum: bool,
) -> Command {
    let mut command = Command::new(rclone);
    command
        .arg("sync")
        .arg(tree)
        .arg(remote)
        .args(["--transfers", JOBS, "--checkers", JOBS])
        // No configuration file: the remote is all in the environment.
        .env("RCLONE_CONFIG", "/nonexistent/rclone.conf")
        .env("RCLONE_CONFIG_GARAGE_TYPE", "s3")
        .env("RCLONE_CONFIG_GARAGE_PROVIDER", "Other")
        .env("RCLONE_CONFIG_GARAGE_ENDPOINT", garage.endpoint())
        .env("RCLONE_CONFIG_GARAGE_REGION", garage.region())
        .env("RCLONE_CONFIG_GARAGE_FORCE_PATH_STYLE", "true")
        .env("RCLONE_CONFIG_GARAGE_ACCESS_KEY_ID", garage.access_key())
        .env(
            "RCLONE_CONFIG_GARAGE_SECRET_ACCESS_KEY",
            garage.secret_key(),
        )
        // rclone 1.60's AWS SDK cannot use a custom CA bundle with its own transport, and Garage is plain HTTP.
        .env_remove("AWS_CA_BUNDLE");
    if checksum {
        command.arg("--checksum");
    }
    command
}

/// The smoke test's tree: 40 files of 4 to 200 KiB in a few directories.
fn small_tree(root: &Path) -> BenchResult<(PathBuf, usize, u64)> {
    let mut rng = fastrand::Rng::with_seed(0x5EED_5A1C);
    let mut bytes = 0;
    for i in 0..40 {
        let path = root.join(format!("d{}/f{i}.bin", i % 5));
        std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
        let len = rng.usize(4 << 10..200 << 10);
        let data: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(len).collect();
        std::fs::write(&path, data)?;
        bytes += len as u64;
    }
    Ok((root.to_path_buf(), 40, bytes))
}

fn count_files(dir: &Path) -> BenchResult<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            count += count_files(&entry.path())?;
        } else {
            count += 1;
        }
    }
    Ok(count)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
