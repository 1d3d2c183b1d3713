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
    let (mut ours_first, mut ours_again, mut theirs_first, mut theirs_again) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut peak_kib = 0;
    for round in 0..rounds {
        let prefix = support::s3::unique(&format!("r{round}"));
        let ours_url = garage.settings_url(&format!("{prefix}-storages"));
        let theirs_remote = format!("garage:{}/{prefix}-rclone", garage.bucket());
        let ours = |label: &str| -> BenchResult<(Duration, u64, String)> {
            let run = storages_sync(&src, &ours_url)?;
            if common::verbose() {
                eprintln!(
                    "round {round} storages {label}: {:.2} s, {}",
                    secs(run.0),
                    run.2
                );
            }
            Ok(run)
        };
        let theirs = |checksum: bool| -> BenchResult<Duration> {
            let took = rclone_sync(&rclone, &garage, &tree, &theirs_remote, checksum)?;
            if common::verbose() {
                eprintln!(
                    "round {round} rclone (checksum: {checksum}): {:.2} s",
                    secs(took)
                );
            }
            Ok(took)
        };
        // The side going first alternates: a warm page cache or a busy Garage favours neither.
        let (first, first_rss, summary, rclone_first) = if round % 2 == 0 {
            let (t, rss, summary) = ours("first run")?;
            (t, rss, summary, theirs(false)?)
        } else {
            let rclone_first = theirs(false)?;
            let (t, rss, summary) = ours("first run")?;
            (t, rss, summary, rclone_first)
        };
        expect_copied(&summary, files)?;
        let (again, again_rss, summary, rclone_again) = if round % 2 == 0 {
            let rclone_again = theirs(true)?;
            let (t, rss, summary) = ours("re-run")?;
            (t, rss, summary, rclone_again)
        } else {
            let (t, rss, summary) = ours("re-run")?;
            (t, rss, summary, theirs(true)?)
        };
        expect_copied(&summary, 0)?;
        ours_first.push(first);
        ours_again.push(again);
        theirs_first.push(rclone_first);
        theirs_again.push(rclone_again);
        peak_kib = peak_kib.max(first_rss).max(again_rss);
    }

    let (of, oa, tf, ta) = (
        median(ours_first),
        median(ours_again),
        median(theirs_first),
        median(theirs_again),
    );
    println!("first run into an empty prefix:");
    println!("  storages sync                     {:>8.2} s", secs(of));
    println!("  rclone sync                       {:>8.2} s", secs(tf));
    println!(
        "  rclone sync / storages sync       {:>8.2}x   (aim: at least 1.5x)",
        secs(tf) / secs(of)
    );
    println!("unchanged re-run (nothing to upload):");
    println!("  storages sync                     {:>8.2} s", secs(oa));
    println!("  rclone sync --checksum            {:>8.2} s", secs(ta));
    println!(
        "  rclone sync --checksum / storages {:>8.2}x   (aim: at least 2x)",
        secs(ta) / secs(oa)
    );
    println!(
        "peak RSS of storages sync          {:>8.1} MiB (aim: at most 64 MiB; highest of every run)",
        peak_kib as f64 / 1024.0
    );
    Ok(())
}

/// Runs `storages sync SRC DST --jobs 32 --no-input`: its time, peak RSS in KiB and summary line.
fn storages_sync(src: &str, dst: &str) -> BenchResult<(Duration, u64, String)> {
    let bin = support::storages_bin();
    let time = Path::new("/usr/bin/time");
    let rss_file = tempfile::NamedTempFile::new()?;
    let mut command = if time.is_file() {
        let mut c = Command::new(time);
        c.args(["-f", "%M", "-o"]).arg(rss_file.path()).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    command
        .args(["sync", src, dst, "--jobs", JOBS, "--no-input"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(format!(
            "storages sync failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let rss = if time.is_file() {
        std::fs::read_to_string(rss_file.path())?
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .parse()?
    } else {
        polled
    };
    let summary = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Ok((took, rss, summary))
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
) -> BenchResult<Duration> {
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
        .env_remove("AWS_CA_BUNDLE")
        .stdin(Stdio::null());
    if checksum {
        command.arg("--checksum");
    }
    let started = Instant::now();
    let output = command.output()?;
    let took = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "rclone sync failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(took)
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

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
