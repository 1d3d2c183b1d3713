//! Test support of this package: its built binaries and helpers for commands and local files. The servers (Garage,
//! moto, app processes) are `storages-testkit`'s, shared with the benches.

#![allow(dead_code)] // each test file uses a different part

pub mod mount;
pub mod nginx;

#[allow(unused_imports)] // each test file uses a different part
pub use storages_testkit::{Server, free_port, run_test_in_child, s3};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `scenarios!(a, b)` runs each `async fn a(app: &str)` once per photo app, as `axum::a` (`photos`) and
/// `actix::a` (`photos_actix`); a test file takes it with `#[macro_use] mod support;`.
#[allow(unused_macros)]
macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        mod axum {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario("photos").await
            })*
        }
        mod actix {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario("photos_actix").await
            })*
        }
    };
}

/// The `storages` command (the storages-cli package), built for these tests on first use.
pub fn storages_bin() -> PathBuf {
    storages_testkit::storages_bin(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// Runs `storages ARGS` with none of the storage variables of the environment running the tests.
pub fn storages(args: &[&str]) -> std::process::Output {
    Command::new(storages_bin())
        .args(args)
        .env_remove("STORAGES_CONFIG")
        .env_remove("STORAGES_MEDIA_URL")
        .env_remove("STORAGES_STATIC_URL")
        .output()
        .expect("run storages")
}

/// A command's standard output, as text.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's standard error, as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a command's exit code, showing what it printed otherwise.
#[track_caller]
pub fn assert_exit(o: &std::process::Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

/// An example program of this package, built on first use with the same profile as the tests.
pub fn example(name: &str) -> PathBuf {
    storages_testkit::example(Path::new(env!("CARGO_MANIFEST_DIR")), name)
}

/// Every file below `dir` (recursively), as paths relative to it; none when `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("under dir");
                found.push(relative.display().to_string());
            }
        }
    }
    found
}

/// The files process `pid` holds open below `dir` as a writer of a save does: a named temporary file
/// (`.storages-tmp.*`), or an anonymous one (`O_TMPFILE`, which `/proc` shows as `dir/#inode (deleted)`).
pub fn files_being_written(pid: u32, dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .map(|target| target.display().to_string())
        .filter(|t| t.ends_with(" (deleted)") || t.contains("/.storages-tmp."))
        .collect()
}

/// Waits (up to 2 s) until process `pid` writes one file below `dir`, as a streaming upload does, and checks that
/// nothing below `dir` is visible as stored meanwhile (at most the writer's own named temporary file).
pub async fn expect_one_file_being_written(pid: u32, dir: &Path) {
    let mut writing = Vec::new();
    for _ in 0..200 {
        writing = files_being_written(pid, dir);
        if !writing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        writing.len(),
        1,
        "expected one file being written below {}: {writing:?}",
        dir.display()
    );
    let visible: Vec<String> = files_under(dir)
        .into_iter()
        .filter(|f| {
            !f.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".storages-tmp."))
        })
        .collect();
    assert!(
        visible.is_empty(),
        "an unfinished upload is visible: {visible:?}"
    );
}

/// Runs `program` with `envs` in `dir` (on a free port, for an app) until it exits by itself, and returns what it
/// printed. One still running after `timeout` (an app that started instead of refusing) is killed, and that fails.
pub fn run_until_exit(
    program: &Path,
    dir: &Path,
    envs: &[(&str, &str)],
    timeout: Duration,
) -> std::process::Output {
    let mut child = Command::new(program)
        .current_dir(dir)
        .env("PORT", free_port().to_string())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let deadline = Instant::now() + timeout;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap");
            panic!(
                "{} still runs after {timeout:?}: {}{}",
                program.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}
