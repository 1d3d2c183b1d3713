//! moto (`moto_server`): a broad S3 emulator with conditional writes and bucket policies, but no signature checks.
//! It keeps everything in memory, runs in its own temporary directory on a free loopback port, and is killed on
//! drop (or by its watchdog when the test process dies).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use super::installed::moto_server_bin;
use super::settings_url;
use crate::free_port;
use crate::process::{
    START_TIMEOUT, StartError, Watched, http_status, start_with_retries, wait_http,
};

/// The moto server used by every test of this test binary, started on first use.
pub fn shared_moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
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
        start_with_retries("moto", || Self::try_start(&bin))
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
