//! Test support: the built binaries, and app processes that stop when dropped.

#![allow(dead_code)] // each test file uses a different part

pub mod mount;
pub mod nginx;
pub mod s3;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
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

fn keep(log: &Mutex<String>, line: &str) {
    if let Ok(mut log) = log.lock() {
        log.push_str(line);
        log.push('\n');
    }
}

/// The `storages` command built for these tests.
pub fn storages_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_storages"))
}

/// An example program of this package, built on first use with the same profile as the tests.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = storages_bin().parent().expect("bin dir").join("examples");
    let path = dir.join(name);
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = dir
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|p| p == "release");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--examples", "--all-features"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build --examples");
        assert!(status.success(), "cargo build --examples failed");
    });
    assert!(path.is_file(), "{} was not built", path.display());
    path
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

/// Waits (up to 2 s) until a file appears below `dir` and checks that it is one temporary file, as a streaming
/// upload writes.
pub async fn expect_one_temporary_file(dir: &Path) {
    let mut found = Vec::new();
    for _ in 0..200 {
        found = files_under(dir);
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let temporary = |f: &String| {
        f.rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with(".storages-tmp."))
    };
    assert!(
        found.len() == 1 && found.iter().all(temporary),
        "expected one temporary file being written below {}: {found:?}",
        dir.display()
    );
}

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
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

/// A server process, killed (and reaped) on drop. What it prints is kept: standard error line by line (and echoed
/// to the test's), standard output and standard error together in [`Server::log`].
pub struct Server {
    child: Child,
    pub base: String,
    stderr: Arc<Mutex<Vec<String>>>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `program` with `envs` in `dir` on a free port and waits until it prints that it listens. The test's
    /// own `RUST_LOG` is not passed on, so the app logs at its default level unless `envs` say otherwise.
    pub fn start(program: &Path, dir: &Path, envs: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut child = Command::new(program)
            .current_dir(dir)
            .env("PORT", port.to_string())
            .env_remove("RUST_LOG")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::new(Mutex::new(String::new()));
        let (lines, stderr_log) = (Arc::clone(&stderr), Arc::clone(&log));
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("{line}");
                keep(&stderr_log, &line);
                lines.lock().expect("stderr lines").push(line);
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let stdout_log = Arc::clone(&log);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
                keep(&stdout_log, &line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stderr,
            log,
        };
        rx.recv_timeout(deadline - Instant::now())
            .expect("the server did not start listening in 60 s");
        server
    }

    /// [`Server::start`]: standard error is always kept in [`Server::log`].
    pub fn start_logged(program: &Path, dir: &Path, envs: &[(&str, &str)]) -> Self {
        Self::start(program, dir, envs)
    }

    /// What the process printed so far, standard output and standard error.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's process id (for reading `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines the server wrote to stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("stderr lines").clone()
    }

    /// How many file descriptors the server has open now.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("read /proc/PID/fd")
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
