//! Test support: the built binaries, and app processes that stop when dropped.

#![allow(dead_code)] // each test file uses a different part

#[cfg(feature = "nfs")]
pub mod mount;
pub mod s3;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A server process, killed (and reaped) on drop.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts `program` with `envs` in `dir` on a free port and waits until it prints that it listens.
    pub fn start(program: &Path, dir: &Path, envs: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut child = Command::new(program)
            .current_dir(dir)
            .env("PORT", port.to_string())
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        rx.recv_timeout(deadline - Instant::now())
            .expect("the server did not start listening in 60 s");
        server
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's process id (for reading `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
