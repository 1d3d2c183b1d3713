//! Server processes that never outlive the test: each is killed on drop, and a watchdog kills it when the test
//! process dies without dropping it (a server held in a `static`, a test binary killed by a timeout).
//!
//! The watchdog is a tiny `sh` that blocks reading a pipe whose only writer is this test process. When the process
//! exits, however it exits, the kernel closes the pipe, `read` returns and the watchdog kills the server.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start and answer, generous for a loaded machine.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Startups retried when the server exits early (most often: another test took one of the free ports first).
const START_ATTEMPTS: usize = 3;
/// The shell watchdog: blocks until the test process is gone (EOF on stdin), then kills the server and removes its
/// directory, which a `static` server never gets to do on drop. A dying server may still write for a moment, so the
/// removal is retried.
const WATCHDOG: &str = r#"read -r _ignored
kill -9 "$1" 2>/dev/null
for _try in 1 2 3 4 5 6 7 8 9 10; do rm -rf "$2" 2>/dev/null; [ -e "$2" ] || exit 0; sleep 0.2; done"#;

/// Why a startup failed: the server exited (worth another try on new ports), or something else (not worth it).
#[derive(Debug)]
pub(crate) enum StartError {
    Exited(String),
    Failed(String),
}

impl StartError {
    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Exited(message) | Self::Failed(message) => message,
        }
    }
}

/// Runs `attempt` until it succeeds, again (up to [`START_ATTEMPTS`] times) when the server exited early, and
/// panics with the reason otherwise.
pub(crate) fn start_with_retries<T>(
    what: &str,
    mut attempt: impl FnMut() -> Result<T, StartError>,
) -> T {
    let mut last_error = String::new();
    for _ in 0..START_ATTEMPTS {
        match attempt() {
            Ok(started) => return started,
            Err(StartError::Exited(message)) => last_error = message,
            Err(StartError::Failed(message)) => panic!("{message}"),
        }
    }
    panic!("{what} did not start in {START_ATTEMPTS} attempts; the last one: {last_error}")
}

/// A server process, its log file and its watchdog.
#[derive(Debug)]
pub(crate) struct Watched {
    pub(crate) server: Child,
    pub(crate) watchdog: Child,
    pub(crate) log: PathBuf,
}

impl Watched {
    /// Spawns `command` with its output in `dir/log_name`, and a watchdog that kills it and removes `dir` when this
    /// process exits.
    pub(crate) fn spawn(mut command: Command, dir: &Path, log_name: &str) -> Self {
        let log = dir.join(log_name);
        let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone the log file handle");
        let program = command.get_program().to_string_lossy().into_owned();
        let mut server = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        // Our end of the watchdog's stdin is close-on-exec (as every descriptor std opens), so no other child holds
        // it: it closes exactly when this process exits. The watchdog has a process group of its own, so that a
        // signal to the test's group (Ctrl-C, `timeout`) that kills the test and the server still leaves it alive to
        // clean up.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("storages-test-watchdog")
            .arg(server.id().to_string())
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        match watchdog {
            Ok(watchdog) => Self {
                server,
                watchdog,
                log,
            },
            Err(e) => {
                let _ = server.kill();
                let _ = server.wait();
                panic!("start the watchdog shell (sh) for {program}: {e}")
            }
        }
    }

    /// Kills the server (SIGKILL) and reaps it; its watchdog stays until drop.
    pub(crate) fn kill(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }

    /// Stops the server (SIGSTOP) and waits until the kernel says it is stopped: every one of its threads.
    pub(crate) fn pause(&mut self) {
        self.signal("STOP");
        self.wait_state(|state| state == 'T', "stopped");
    }

    /// Lets a stopped server go on (SIGCONT) and waits until it is no longer stopped.
    pub(crate) fn resume(&mut self) {
        self.signal("CONT");
        self.wait_state(|state| state != 'T', "running again");
    }

    /// Waits (up to 5 s) until every thread's state letter in `/proc` satisfies `wanted`.
    fn wait_state(&self, wanted: impl Fn(char) -> bool, what: &str) {
        let pid = self.server.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let states = thread_states(pid);
            if !states.is_empty() && states.iter().all(|&state| wanted(state)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "process {pid} is not {what} after 5 s: thread states {states:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server with `kill(1)`, panicking if it cannot be delivered.
    fn signal(&mut self, signal: &str) {
        if let Ok(Some(status)) = self.server.try_wait() {
            panic!("cannot send SIG{signal}: the server has exited ({status})");
        }
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.server.id().to_string())
            .status()
            .unwrap_or_else(|e| panic!("run kill -{signal}: {e}"));
        assert!(sent.success(), "kill -{signal} {} failed", self.server.id());
    }

    /// An error if the server has exited, with its status and log.
    pub(crate) fn check_running(&mut self) -> Result<(), StartError> {
        match self.server.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(StartError::Exited(format!(
                "the server exited ({status}); the end of {}:\n{}",
                self.log.display(),
                self.log_tail()
            ))),
            Err(e) => Err(self.failure(&format!("wait for the server: {e}"))),
        }
    }

    /// A startup failure: `what`, then the end of the server log.
    pub(crate) fn failure(&self, what: &str) -> StartError {
        StartError::Failed(format!(
            "{what}\nthe end of {}:\n{}",
            self.log.display(),
            self.log_tail()
        ))
    }

    fn log_mentions(&self, text: &str) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains(text))
    }

    fn log_tail(&self) -> String {
        const LINES: usize = 40;
        let text =
            std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(unreadable: {e})"));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LINES)..].join("\n")
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // The watchdog first, so that it never acts on a server pid that has been reaped (and maybe reused).
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The state letter (`R`, `S`, `T`, ...) of each thread of process `pid`, from `/proc/PID/task/*/stat`.
fn thread_states(pid: u32) -> Vec<char> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        // The command name in parentheses may hold spaces; the state follows its closing parenthesis.
        .filter_map(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .collect()
}

/// Waits until `GET path` on `port` answers with a status that `ready` accepts, and the server's log names the port.
pub(crate) fn wait_http(
    process: &mut Watched,
    deadline: Instant,
    port: u16,
    path: &str,
    ready: impl Fn(u16) -> bool,
) -> Result<(), StartError> {
    // Both servers log the address they bound; checking it guards against a free port taken meanwhile by another
    // server, which would answer in our server's place.
    let address = format!("127.0.0.1:{port}");
    loop {
        let answer = http_status(port, "GET", path);
        if answer.as_ref().is_ok_and(|&status| ready(status)) && process.log_mentions(&address) {
            return Ok(());
        }
        process.check_running()?;
        if Instant::now() > deadline {
            return Err(process.failure(&format!(
                "{address}{path} did not answer as expected (with the log naming {address}) within \
                 {START_TIMEOUT:?}; the last answer: {answer:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status of a bodiless HTTP/1.1 request to loopback `port`.
pub(crate) fn http_status(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line)?;
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP status line: {status_line:?}")))
}
