//! Test support: the built binaries, and app processes that stop when dropped.

#![allow(dead_code)] // each test file uses a different part

pub mod mount;
pub mod s3;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
