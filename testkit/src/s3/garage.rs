//! Garage 2.5: a real distributed S3 server that verifies SigV4 signatures (no conditional writes, no bucket
//! policies). [`Garage`] is one node; `GarageCluster` (in `cluster.rs`) is three. Both are made of [`Node`]s: one
//! `garage server` process each, with its own configuration, directories and loopback ports, driven by the
//! `garage` command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::installed::garage_bin;
use super::{random_hex, settings_url};
use crate::free_port;
use crate::process::{START_TIMEOUT, StartError, Watched, start_with_retries, wait_http};

/// The Garage server used by every test of this test binary, started on first use.
pub fn shared_garage() -> &'static Garage {
    static GARAGE: OnceLock<Garage> = OnceLock::new();
    GARAGE.get_or_init(Garage::start)
}

/// The region Garage signs for (`s3_region` in its configuration).
pub(crate) const REGION: &str = "garage";

/// What the configuration files of one server or cluster share; the rest (ports, directories) each node picks for
/// itself.
pub(crate) struct Setup {
    /// Copies of each object (`replication_factor`): 1 for one node, 3 for a cluster.
    replication_factor: u8,
    /// The RPC secret (64 hex digits) every node of one cluster shares.
    rpc_secret: String,
    /// The temporary directory of every node.
    pub(crate) dir: tempfile::TempDir,
}

impl Setup {
    /// A fresh secret and directory (named `storages-<name>-...`) for nodes keeping `replication_factor` copies.
    pub(crate) fn new(name: &str, replication_factor: u8) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("storages-{name}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("create a temporary directory for {name}: {e}"));
        Self {
            replication_factor,
            rpc_secret: random_hex(64),
            dir,
        }
    }
}

/// One `garage server` process: its configuration, ports and log, started again on the same data by
/// [`Node::restart`].
#[derive(Debug)]
pub(crate) struct Node {
    process: Watched,
    config: PathBuf,
    /// The directory of every node of the server or cluster: logs are written there, and the watchdog removes it.
    root: PathBuf,
    /// The stem of this node's log files (`garage`, `node2`).
    label: String,
    pub(crate) s3_port: u16,
    pub(crate) admin_port: u16,
    starts: usize,
}

impl Node {
    /// Writes the configuration of node `label` (its directories in the setup's directory under `label`, or in it
    /// for `garage`) on free ports and starts it.
    ///
    /// The options and their values follow Garage's reference manual, "Configuration file format"
    /// (garagehq.deuxfleurs.fr/documentation/reference-manual/configuration/): `metadata_dir` and `data_dir` per
    /// node, `db_engine`, `replication_factor` (3 is the recommended cluster setting) with `consistency_mode =
    /// "consistent"` (read and write quorums that give read-after-write consistency: 2 of 3), `rpc_bind_addr` and
    /// `rpc_public_addr` (the address the other nodes are told to dial), one `rpc_secret` (32 bytes in hex) shared
    /// by the nodes, `[s3_api]` with `s3_region`, `api_bind_addr` and `root_domain`, and `[admin]` with
    /// `api_bind_addr` and `admin_token` (for `/health` and the cluster health endpoint).
    pub(crate) fn start(setup: &Setup, label: &str) -> Self {
        let root = setup.dir.path();
        let dir = if label == "garage" {
            root.to_path_buf()
        } else {
            root.join(label)
        };
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let (s3_port, rpc_port, admin_port) = (free_port(), free_port(), free_port());
        let config = dir.join("garage.toml");
        let config_text = format!(
            r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "sqlite"
replication_factor = {replication_factor}
consistency_mode = "consistent"
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{rpc_secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:{admin_port}"
admin_token = "{admin_token}"
"#,
            meta = dir.join("meta").display(),
            data = dir.join("data").display(),
            replication_factor = setup.replication_factor,
            rpc_secret = setup.rpc_secret,
            admin_token = random_hex(32),
        );
        std::fs::write(&config, config_text).expect("write garage.toml");
        let process = Watched::spawn(server(&config), root, &format!("{label}.log"));
        Self {
            process,
            config,
            root: root.to_path_buf(),
            label: label.to_owned(),
            s3_port,
            admin_port,
            starts: 1,
        }
    }

    /// Kills the server at once (SIGKILL), as a crash or a pulled plug would: nothing it was doing is finished.
    pub(crate) fn kill(&mut self) {
        self.process.kill();
    }

    /// Stops the process (SIGSTOP): it holds its connections and answers nothing, as a hung machine would.
    pub(crate) fn pause(&mut self) {
        self.process.pause();
    }

    /// Lets a paused process go on (SIGCONT).
    pub(crate) fn resume(&mut self) {
        self.process.resume();
    }

    /// Starts the server again after [`Node::kill`], on the same configuration, ports and data (the old process
    /// is killed first if it still runs). Does not wait.
    pub(crate) fn restart(&mut self) {
        self.process.kill();
        self.starts += 1;
        let log = format!("{}-start{}.log", self.label, self.starts);
        self.process = Watched::spawn(server(&self.config), &self.root, &log);
    }

    /// Waits until the node's admin API says it can serve (`/health`: 200 once every partition has a quorum) and
    /// its S3 API answers.
    pub(crate) fn wait_serving(&mut self, deadline: Instant) -> Result<(), StartError> {
        let (admin, s3) = (self.admin_port, self.s3_port);
        self.wait_http(deadline, admin, "/health", |status| status == 200)?;
        // Any answer will do (anonymous requests get 403): the S3 API is listening.
        self.wait_http(deadline, s3, "/", |_| true)
    }

    /// This node's id and RPC address, `<64 hex digits>@127.0.0.1:PORT`, once the server has made its key.
    pub(crate) fn address(&mut self, deadline: Instant) -> Result<String, StartError> {
        let printed = self.retry_cli(deadline, &["node", "id", "-q"])?;
        Ok(printed.trim().to_owned())
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.process.server.id()
    }

    pub(crate) fn watchdog_pid(&self) -> u32 {
        self.process.watchdog.id()
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.process.log
    }

    /// Runs the `garage` command line against this node and returns its standard output.
    pub(crate) fn try_cli(&self, args: &[&str]) -> Result<String, StartError> {
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
    pub(crate) fn retry_cli(
        &mut self,
        deadline: Instant,
        args: &[&str],
    ) -> Result<String, StartError> {
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

    pub(crate) fn wait_http(
        &mut self,
        deadline: Instant,
        port: u16,
        path: &str,
        ready: impl Fn(u16) -> bool,
    ) -> Result<(), StartError> {
        wait_http(&mut self.process, deadline, port, path, ready)
    }
}

/// `garage server` with the configuration file `config`.
fn server(config: &Path) -> Command {
    let mut command = Command::new(garage_bin());
    command
        .arg("server")
        .env("GARAGE_CONFIG_FILE", config)
        .env("NO_COLOR", "1");
    command
}

/// An access key allowed to create buckets, and one bucket it may read, write and own.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) bucket: String,
}

impl Tenant {
    /// A fresh key (`GK` and 24 hex digits, as Garage's own) for bucket `storages-test`.
    pub(crate) fn new() -> Self {
        Self {
            access_key: format!("GK{}", random_hex(24)),
            secret_key: random_hex(64),
            bucket: "storages-test".to_owned(),
        }
    }

    /// Imports the key and creates the bucket through `node` (of a cluster whose layout is applied).
    pub(crate) fn create(&self, node: &Node) -> Result<(), StartError> {
        let key = self.access_key.as_str();
        node.try_cli(&[
            "key",
            "import",
            "--yes",
            "-n",
            "storages-test",
            key,
            &self.secret_key,
        ])?;
        node.try_cli(&["key", "allow", "--create-bucket", key])?;
        self.create_bucket(node, &self.bucket)
    }

    /// A settings URL for `prefix` (may be empty) in the bucket through `endpoint`, with the key.
    pub(crate) fn settings_url(&self, endpoint: &str, prefix: &str) -> String {
        settings_url(
            &self.bucket,
            prefix,
            endpoint,
            REGION,
            &self.access_key,
            &self.secret_key,
        )
    }

    /// Creates bucket `name` with read, write and owner access for the key.
    pub(crate) fn create_bucket(&self, node: &Node, name: &str) -> Result<(), StartError> {
        node.try_cli(&["bucket", "create", name])?;
        let key = self.access_key.as_str();
        node.try_cli(&[
            "bucket", "allow", "--read", "--write", "--owner", name, "--key", key,
        ])?;
        Ok(())
    }
}

/// A single-node Garage 2.5 server with one access key and one bucket it may read, write and own.
#[derive(Debug)]
pub struct Garage {
    node: Node,
    tenant: Tenant,
    dir: tempfile::TempDir,
}

impl Garage {
    /// Starts a fresh server, lays out its single node and creates the key and the bucket.
    pub fn start() -> Self {
        start_with_retries("Garage", Self::try_start)
    }

    fn try_start() -> Result<Self, StartError> {
        let setup = Setup::new("garage", 1);
        let mut node = Node::start(&setup, "garage");
        let deadline = Instant::now() + START_TIMEOUT;
        // The node key exists once the server has started; assigning a role succeeds once its RPC answers.
        let address = node.address(deadline)?;
        // `node id` prints `<64-hex id>@<rpc_public_addr>`; `layout assign` wants the id alone.
        let id = address.split('@').next().unwrap_or_default().to_owned();
        node.retry_cli(
            deadline,
            &["layout", "assign", "-z", "dc1", "-c", "1G", &id],
        )?;
        node.try_cli(&["layout", "apply", "--version", "1"])?;
        // Keys and buckets are refused ("Layout not ready") until the node serves its layout; /health says when.
        let admin = node.admin_port;
        node.wait_http(deadline, admin, "/health", |status| status == 200)?;
        let tenant = Tenant::new();
        tenant.create(&node)?;
        node.wait_serving(deadline)?;
        Ok(Self {
            node,
            tenant,
            dir: setup.dir,
        })
    }

    /// Kills the server at once (SIGKILL), as a crash or a pulled plug would: nothing it was doing is finished.
    pub fn kill(&mut self) {
        self.node.kill();
    }

    /// Stops the server (SIGSTOP): connections are accepted by the kernel but nothing is answered, as a hung
    /// machine would. [`Garage::resume`] lets it go on.
    pub fn pause(&mut self) {
        self.node.pause();
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&mut self) {
        self.node.resume();
    }

    /// Starts the server again after [`Garage::kill`], on the same ports and data, and waits until it serves.
    pub fn restart(&mut self) {
        self.node.restart();
        let deadline = Instant::now() + START_TIMEOUT;
        if let Err(error) = self.node.wait_serving(deadline) {
            panic!("Garage did not come back: {}", error.message());
        }
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.node.endpoint()
    }

    /// The region Garage signs for (`s3_region` in its configuration).
    pub fn region(&self) -> &str {
        REGION
    }

    /// The access key id (`GK` and 24 hex digits) allowed to create buckets and to use [`Garage::bucket`].
    pub fn access_key(&self) -> &str {
        &self.tenant.access_key
    }

    /// The secret of [`Garage::access_key`].
    pub fn secret_key(&self) -> &str {
        &self.tenant.secret_key
    }

    /// The bucket created at start, readable, writable and owned by the key.
    pub fn bucket(&self) -> &str {
        &self.tenant.bucket
    }

    /// The process id of the server (not of its watchdog).
    pub fn pid(&self) -> u32 {
        self.node.pid()
    }

    /// The process id of the watchdog that kills the server when this test process exits.
    pub fn watchdog_pid(&self) -> u32 {
        self.node.watchdog_pid()
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        self.node.log_path()
    }

    /// The server's temporary directory (configuration, metadata, data, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates bucket `name` with read, write and owner access for the key (panics on failure).
    pub fn create_bucket(&self, name: &str) {
        if let Err(error) = self.tenant.create_bucket(&self.node, name) {
            panic!("{}", error.message());
        }
    }

    /// Runs the `garage` command line against this server and returns its standard output (panics on failure).
    pub fn cli(&self, args: &[&str]) -> String {
        self.node
            .try_cli(args)
            .unwrap_or_else(|error| panic!("{}", error.message()))
    }

    /// A settings URL for `prefix` (may be empty) in the bucket, with endpoint, region and credentials.
    pub fn settings_url(&self, prefix: &str) -> String {
        self.tenant.settings_url(&self.endpoint(), prefix)
    }
}
