//! Real S3 servers for the tests: Garage (verifies SigV4 signatures; no conditional writes, no bucket policies) and
//! moto (a broad S3 emulator with conditional writes and policies; no signature checks).
//!
//! Each server runs in its own temporary directory on free loopback ports, logs to a file there, and is killed on
//! drop. A server held in a `static` (see [`shared_garage`], [`shared_moto`]) is never dropped, so every server also
//! gets a watchdog: a tiny `sh` that blocks reading a pipe whose only writer is this test process. When the process
//! exits, however it exits, the kernel closes the pipe, `read` returns and the watchdog kills the server.
//!
//! `scripts/test` installs both: `cargo install --locked garage@2.5.0` and a virtualenv with `moto[server]` and
//! `boto3`, named by `STORAGES_TEST_VENV`.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::free_port;

/// How long a server may take to start and answer, generous for a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Startups retried when the server exits early (most often: another test took one of the free ports first).
const START_ATTEMPTS: usize = 3;
/// The shell watchdog: blocks until the test process is gone (EOF on stdin), then kills the server and removes its
/// directory, which a `static` server never gets to do on drop. A dying server may still write for a moment, so the
/// removal is retried.
const WATCHDOG: &str = r#"read -r _ignored
kill -9 "$1" 2>/dev/null
for _try in 1 2 3 4 5 6 7 8 9 10; do rm -rf "$2" 2>/dev/null; [ -e "$2" ] || exit 0; sleep 0.2; done"#;

/// The Garage server used by every test of this test binary, started on first use.
pub fn shared_garage() -> &'static Garage {
    static GARAGE: OnceLock<Garage> = OnceLock::new();
    GARAGE.get_or_init(Garage::start)
}

/// The moto server used by every test of this test binary, started on first use.
pub fn shared_moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
}

/// A single-node Garage 2.5 server with one access key and one bucket it may read, write and own.
#[derive(Debug)]
pub struct Garage {
    process: Watched,
    config: PathBuf,
    s3_port: u16,
    admin_port: u16,
    access_key: String,
    secret_key: String,
    bucket: String,
    dir: tempfile::TempDir,
}

impl Garage {
    /// Starts a fresh server, lays out its single node and creates the key and the bucket.
    pub fn start() -> Self {
        let bin = garage_bin();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin) {
                Ok(garage) => return garage,
                Err(StartError::Exited(message)) => last_error = message,
                Err(StartError::Failed(message)) => panic!("{message}"),
            }
        }
        panic!("Garage did not start in {START_ATTEMPTS} attempts; the last one: {last_error}")
    }

    fn try_start(bin: &Path) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("storages-garage-")
            .tempdir()
            .expect("create a temporary directory for Garage");
        let (s3_port, rpc_port, admin_port) = (free_port(), free_port(), free_port());
        let config = dir.path().join("garage.toml");
        let config_text = format!(
            r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{rpc_secret}"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:{admin_port}"
admin_token = "{admin_token}"
"#,
            meta = dir.path().join("meta").display(),
            data = dir.path().join("data").display(),
            rpc_secret = random_hex(64),
            admin_token = random_hex(32),
        );
        std::fs::write(&config, config_text).expect("write garage.toml");

        let process = Watched::spawn(garage_server(bin, &config), dir.path(), "garage.log");
        let mut garage = Self {
            process,
            config,
            s3_port,
            admin_port,
            access_key: format!("GK{}", random_hex(24)),
            secret_key: random_hex(64),
            bucket: "storages-test".to_owned(),
            dir,
        };
        garage.bootstrap()?;
        Ok(garage)
    }

    fn bootstrap(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + START_TIMEOUT;
        // The node key exists once the server has started; assigning a role succeeds once its RPC answers.
        let node = self.retry_cli(deadline, &["node", "id", "-q"])?;
        // `node id` prints `<64-hex id>@<rpc_public_addr>`; `layout assign` wants the id alone.
        let node = node.trim().split('@').next().unwrap_or_default().to_owned();
        self.retry_cli(
            deadline,
            &["layout", "assign", "-z", "dc1", "-c", "1G", &node],
        )?;
        self.try_cli(&["layout", "apply", "--version", "1"])?;
        // Keys and buckets are refused ("Layout not ready") until the node serves its layout; /health says when.
        self.wait_http(deadline, self.admin_port, "/health", |status| status == 200)?;
        let (access_key, secret_key) = (self.access_key.clone(), self.secret_key.clone());
        self.try_cli(&[
            "key",
            "import",
            "--yes",
            "-n",
            "storages-test",
            &access_key,
            &secret_key,
        ])?;
        self.try_cli(&["key", "allow", "--create-bucket", &access_key])?;
        let bucket = self.bucket.clone();
        self.try_create_bucket(&bucket)?;
        // Any answer will do (anonymous requests get 403): the S3 API is listening.
        self.wait_http(deadline, self.s3_port, "/", |_| true)
    }

    /// Kills the server at once (SIGKILL), as a crash or a pulled plug would: nothing it was doing is finished.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the server again after [`Garage::kill`], on the same ports and data, and waits until it serves.
    pub fn restart(&mut self) {
        let command = garage_server(&garage_bin(), &self.config);
        self.process = Watched::spawn(command, self.dir.path(), "garage-restarted.log");
        let deadline = Instant::now() + START_TIMEOUT;
        let ready = self
            .wait_http(deadline, self.admin_port, "/health", |status| status == 200)
            .and_then(|()| self.wait_http(deadline, self.s3_port, "/", |_| true));
        if let Err(error) = ready {
            panic!("Garage did not come back: {}", error.message());
        }
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The region Garage signs for (`s3_region` in its configuration).
    pub fn region(&self) -> &str {
        "garage"
    }

    /// The access key id (`GK` and 24 hex digits) allowed to create buckets and to use [`Garage::bucket`].
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret of [`Garage::access_key`].
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The bucket created at start, readable, writable and owned by the key.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The process id of the server (not of its watchdog).
    pub fn pid(&self) -> u32 {
        self.process.server.id()
    }

    /// The process id of the watchdog that kills the server when this test process exits.
    pub fn watchdog_pid(&self) -> u32 {
        self.process.watchdog.id()
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.process.log
    }

    /// The server's temporary directory (configuration, metadata, data, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates bucket `name` with read, write and owner access for the key (panics on failure).
    pub fn create_bucket(&self, name: &str) {
        if let Err(error) = self.try_create_bucket(name) {
            panic!("{}", error.message());
        }
    }

    /// Runs the `garage` command line against this server and returns its standard output (panics on failure).
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args)
            .unwrap_or_else(|error| panic!("{}", error.message()))
    }

    /// A settings URL for `prefix` (may be empty) in the bucket, with endpoint, region and credentials.
    pub fn settings_url(&self, prefix: &str) -> String {
        settings_url(
            &self.bucket,
            prefix,
            &self.endpoint(),
            self.region(),
            &self.access_key,
            &self.secret_key,
        )
    }

    fn try_create_bucket(&self, name: &str) -> Result<(), StartError> {
        self.try_cli(&["bucket", "create", name])?;
        let key = self.access_key.as_str();
        self.try_cli(&[
            "bucket", "allow", "--read", "--write", "--owner", name, "--key", key,
        ])?;
        Ok(())
    }

    fn try_cli(&self, args: &[&str]) -> Result<String, StartError> {
        let output = self.run_cli(args);
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(self.process.failure(&format!(
                "`garage {}` failed ({}):\n{}{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            )))
        }
    }

    /// Retries a command until it succeeds, the server exits or the deadline passes.
    fn retry_cli(&mut self, deadline: Instant, args: &[&str]) -> Result<String, StartError> {
        loop {
            let output = self.run_cli(args);
            if output.status.success() {
                return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
            }
            self.process.check_running()?;
            if Instant::now() > deadline {
                return Err(self.process.failure(&format!(
                    "`garage {}` kept failing for {START_TIMEOUT:?}; the last time:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr),
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn run_cli(&self, args: &[&str]) -> Output {
        Command::new(garage_bin())
            .args(args)
            .env("GARAGE_CONFIG_FILE", &self.config)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run garage {}: {e}", args.join(" ")))
    }

    fn wait_http(
        &mut self,
        deadline: Instant,
        port: u16,
        path: &str,
        ready: impl Fn(u16) -> bool,
    ) -> Result<(), StartError> {
        wait_http(&mut self.process, deadline, port, path, ready)
    }
}

/// A moto server (`moto_server`), which accepts any credentials.
#[derive(Debug)]
pub struct Moto {
    process: Watched,
    port: u16,
    dir: tempfile::TempDir,
}

impl Moto {
    /// Starts a fresh server with no buckets.
    pub fn start() -> Self {
        let bin = moto_server_bin();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin) {
                Ok(moto) => return moto,
                Err(StartError::Exited(message)) => last_error = message,
                Err(StartError::Failed(message)) => panic!("{message}"),
            }
        }
        panic!("moto did not start in {START_ATTEMPTS} attempts; the last one: {last_error}")
    }

    fn try_start(bin: &Path) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("storages-moto-")
            .tempdir()
            .expect("create a temporary directory for moto");
        let port = free_port();
        let mut command = Command::new(bin);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path());
        let mut process = Watched::spawn(command, dir.path(), "moto.log");
        let deadline = Instant::now() + START_TIMEOUT;
        wait_http(&mut process, deadline, port, "/", |status| status == 200)?;
        Ok(Self { process, port, dir })
    }

    /// Kills the server at once (SIGKILL); moto keeps everything in memory, so it does not come back.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The region the tests use on moto.
    pub fn region(&self) -> &str {
        "us-east-1"
    }

    /// An access key id; moto does not check signatures, any value works.
    pub fn access_key(&self) -> &str {
        "storages-test-access-key"
    }

    /// A secret key; moto does not check signatures, any value works.
    pub fn secret_key(&self) -> &str {
        "storages-test-secret-key"
    }

    /// The process id of the server (not of its watchdog).
    pub fn pid(&self) -> u32 {
        self.process.server.id()
    }

    /// The process id of the watchdog that kills the server when this test process exits.
    pub fn watchdog_pid(&self) -> u32 {
        self.process.watchdog.id()
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.process.log
    }

    /// The server's temporary directory (its working directory and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates bucket `name` (an unsigned `PUT /NAME`, which moto accepts; panics on failure).
    pub fn create_bucket(&self, name: &str) {
        let status = http_status(self.port, "PUT", &format!("/{name}"))
            .unwrap_or_else(|e| panic!("create bucket {name} on moto at {}: {e}", self.endpoint()));
        assert_eq!(
            status,
            200,
            "create bucket {name} on moto at {}",
            self.endpoint()
        );
    }

    /// A settings URL for `prefix` (may be empty) in `bucket`, with endpoint, region and credentials.
    pub fn settings_url(&self, bucket: &str, prefix: &str) -> String {
        settings_url(
            bucket,
            prefix,
            &self.endpoint(),
            self.region(),
            self.access_key(),
            self.secret_key(),
        )
    }
}

/// `tag` and ten random lowercase alphanumerics: a bucket name or prefix no other test uses.
pub fn unique(tag: &str) -> String {
    let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(10)
        .collect();
    format!("{tag}-{}", suffix.to_lowercase())
}

/// `garage server` with the configuration file `config`.
fn garage_server(bin: &Path, config: &Path) -> Command {
    let mut command = Command::new(bin);
    command
        .arg("server")
        .env("GARAGE_CONFIG_FILE", config)
        .env("NO_COLOR", "1");
    command
}

/// boto3, the independent client the tests check against: where it talks to, and as whom.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The S3 endpoint.
    pub endpoint: String,
    /// The region requests are signed for.
    pub region: String,
    /// The access key id.
    pub key: String,
    /// The secret access key.
    pub secret: String,
}

impl Peer {
    /// boto3 on `g`, with its key.
    pub fn garage(g: &Garage) -> Self {
        Self {
            endpoint: g.endpoint(),
            region: g.region().into(),
            key: g.access_key().into(),
            secret: g.secret_key().into(),
        }
    }

    /// boto3 on `m`.
    pub fn moto(m: &Moto) -> Self {
        Self {
            endpoint: m.endpoint(),
            region: m.region().into(),
            key: m.access_key().into(),
            secret: m.secret_key().into(),
        }
    }

    /// A settings URL for `bucket` on this server.
    pub fn url(&self, bucket: &str) -> String {
        format!(
            "s3://{bucket}?endpoint={}&region={}&aws_access_key_id={}&aws_secret_access_key={}",
            self.endpoint, self.region, self.key, self.secret
        )
    }

    /// Runs `code` with `s3` (a boto3 client), `args` (the extra arguments) and `sys`; returns its standard output.
    pub fn boto3(&self, code: &str, args: &[&str]) -> String {
        let script = format!(
            "import sys, json, boto3\nfrom botocore.config import Config\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id=sys.argv[3], \
             aws_secret_access_key=sys.argv[4], config=Config(s3={{'addressing_style': 'path'}}))\nargs = sys.argv[5:]\n{code}\n"
        );
        let out = Command::new(python())
            .arg("-c")
            .arg(script)
            .args([&self.endpoint, &self.region, &self.key, &self.secret])
            .args(args)
            .output()
            .expect("run python with boto3");
        assert!(
            out.status.success(),
            "boto3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// The `garage` binary: on `PATH`, else where `cargo install` puts it (`$CARGO_HOME/bin`, `~/.cargo/bin`).
pub fn garage_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo_homes = [
            std::env::var_os("CARGO_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")),
        ];
        on_path("garage")
            .or_else(|| {
                cargo_homes
                    .into_iter()
                    .flatten()
                    .map(|home| home.join("bin").join("garage"))
                    .find(|path| path.is_file())
            })
            .unwrap_or_else(|| {
                panic!(
                    "garage is not installed (looked on PATH, in $CARGO_HOME/bin and ~/.cargo/bin): run scripts/test, \
                     which installs it with `cargo install --locked garage@2.5.0`"
                )
            })
    })
    .clone()
}

/// The test virtualenv with moto and boto3: `$STORAGES_TEST_VENV`, else `${XDG_CACHE_HOME:-~/.cache}/storages-test-venv`
/// when it exists.
pub fn venv() -> Option<PathBuf> {
    if let Some(venv) = non_empty_var("STORAGES_TEST_VENV") {
        return Some(PathBuf::from(venv));
    }
    let cache = non_empty_var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty_var("HOME").map(|home| Path::new(&home).join(".cache")))?;
    let venv = cache.join("storages-test-venv");
    venv.join("bin").join("python").is_file().then_some(venv)
}

/// The Python with boto3 for interop tests: the virtualenv's, else `python3` on `PATH`.
pub fn python() -> PathBuf {
    venv_program("python", "python3")
}

/// `moto_server`: the virtualenv's, else on `PATH`.
pub fn moto_server_bin() -> PathBuf {
    venv_program("moto_server", "moto_server")
}

fn venv_program(in_venv: &str, on_path_name: &str) -> PathBuf {
    if let Some(venv) = venv() {
        let path = venv.join("bin").join(in_venv);
        assert!(
            path.is_file(),
            "{} does not exist: run scripts/test, which creates the test virtualenv with moto and boto3",
            path.display()
        );
        return path;
    }
    on_path(on_path_name).unwrap_or_else(|| {
        panic!(
            "no test virtualenv (STORAGES_TEST_VENV, ~/.cache/storages-test-venv) and no {on_path_name} on PATH: \
             run scripts/test, which creates the virtualenv with moto and boto3"
        )
    })
}

fn non_empty_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|value| !value.is_empty())
}

fn on_path(name: impl AsRef<OsStr>) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name.as_ref()))
        .find(|candidate| candidate.is_file())
}

fn settings_url(
    bucket: &str,
    prefix: &str,
    endpoint: &str,
    region: &str,
    access_key: &str,
    secret_key: &str,
) -> String {
    let mut url = format!("s3://{bucket}");
    if !prefix.is_empty() {
        url.push('/');
        url.push_str(prefix.trim_start_matches('/'));
    }
    write!(
        url,
        "?endpoint={endpoint}&region={region}&aws_access_key_id={access_key}&aws_secret_access_key={secret_key}"
    )
    .expect("write to a String");
    url
}

fn random_hex(digits: usize) -> String {
    (0..digits)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).expect("a hex digit"))
        .collect()
}

/// Why a startup failed: the server exited (worth another try on new ports), or something else (not worth it).
enum StartError {
    Exited(String),
    Failed(String),
}

impl StartError {
    fn message(&self) -> &str {
        match self {
            Self::Exited(message) | Self::Failed(message) => message,
        }
    }
}

/// A server process, its log file and its watchdog.
#[derive(Debug)]
struct Watched {
    server: Child,
    watchdog: Child,
    log: PathBuf,
}

impl Watched {
    /// Spawns `command` with its output in `dir/log_name`, and a watchdog that kills it and removes `dir` when this
    /// process exits.
    fn spawn(mut command: Command, dir: &Path, log_name: &str) -> Self {
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
    fn kill(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }

    /// An error if the server has exited, with its status and log.
    fn check_running(&mut self) -> Result<(), StartError> {
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
    fn failure(&self, what: &str) -> StartError {
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

/// Waits until `GET path` on `port` answers with a status that `ready` accepts, and the server's log names the port.
fn wait_http(
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
fn http_status(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
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
