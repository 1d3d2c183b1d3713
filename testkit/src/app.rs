//! App processes for the tests: the photo apps and the `storages` command, built by cargo and started on free
//! loopback ports, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Example program `name` of the package in `manifest_dir` (every example of it, with all its features), built on
/// first use with the profile of the running test or bench.
pub fn example(manifest_dir: &Path, name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        cargo_build(
            manifest_dir,
            &["build", "--quiet", "--examples", "--all-features"],
        );
    });
    let path = profile_dir().join("examples").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The `storages` command (the `storages-cli` package of the workspace in `workspace_dir`), built on first use
/// with the profile of the running test or bench.
///
/// It is built as `cargo test --workspace --all-features` (what `scripts/test` runs) builds it, through the
/// `storages-cli` test that runs it: under that run the binary is already there, fresh, and a single test of
/// another package rebuilds nothing it shares with the binary.
pub fn storages_bin(workspace_dir: &Path) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        cargo_build(
            workspace_dir,
            &[
                "test",
                "--quiet",
                "--no-run",
                "--workspace",
                "--all-features",
                "--test",
                "backends",
            ],
        );
    });
    let path = profile_dir().join("storages");
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The directory the running test or bench was built into (`target/debug`, `target/release`): its executable lies
/// in `deps/` below it, and cargo puts binaries and examples of the same profile beside `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test runs from target/PROFILE/deps")
        .to_path_buf()
}

/// Runs `cargo ARGS` in `dir`, in release mode when the running test or bench is a release build.
fn cargo_build(dir: &Path, args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(dir);
    if profile_dir().file_name().is_some_and(|p| p == "release") {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("run cargo {args:?}: {e}"));
    assert!(status.success(), "cargo {args:?} failed");
}

fn keep(log: &Mutex<String>, line: &str) {
    if let Ok(mut log) = log.lock() {
        log.push_str(line);
        log.push('\n');
    }
}

/// A free TCP port on loopback (bound, read, released), never one this process handed out before: the kernel may
/// give a just-released port again, and a server given the same port twice (Garage's S3 and admin APIs, once) starts
/// half broken.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
}

/// A server process, killed (and reaped) on drop. What it prints is kept: standard error line by line (and echoed
/// to the test's), standard output and standard error together in [`Server::log`].
#[derive(Debug)]
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
