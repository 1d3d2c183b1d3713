//! A real nginx (Debian's `nginx-light`, which `scripts/test` installs) on a loopback port, from a temporary
//! directory that holds its configuration, pid file, logs and temporary files, killed on drop.
//!
//! It runs as one process that is its own single worker (`master_process off`): nothing is left behind when it is
//! killed, and it reads the files of the test's directories as the user running the test (a worker forked by a
//! master running as root would switch to `nobody`).
//!
//! Also used by `benches/web.rs` (through `#[path]`), so it depends on nothing but std and tempfile.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx, killed on drop.
pub struct Nginx {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

/// The nginx binary: `nginx` on the `PATH`, else Debian's `/usr/sbin/nginx` (not on a normal user's `PATH`).
pub fn nginx_bin() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    let found = on_path.or_else(|| {
        let debian = PathBuf::from("/usr/sbin/nginx");
        debian.is_file().then_some(debian)
    });
    found.ok_or_else(|| {
        "nginx is not installed: `apt-get install nginx-light` (scripts/test installs it)"
            .to_owned()
    })
}

impl Nginx {
    /// Starts nginx with `server` as the body of its one `server {}` block (locations and their directives), on
    /// a free loopback port, `sendfile on`, access log off, and waits until it accepts connections.
    pub fn start(server: &str) -> Result<Self, String> {
        let bin = nginx_bin()?;
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port: {e}"))?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let root = dir.path();
        let temp = |name: &str| root.join(name).display().to_string();
        let config = format!(
            "worker_processes 1;\n\
             master_process off;\n\
             daemon off;\n\
             pid {pid};\n\
             error_log {error} warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             access_log off;\n\
             sendfile on;\n\
             tcp_nopush on;\n\
             keepalive_requests 1000000;\n\
             client_body_temp_path {body};\n\
             proxy_temp_path {proxy};\n\
             fastcgi_temp_path {fastcgi};\n\
             uwsgi_temp_path {uwsgi};\n\
             scgi_temp_path {scgi};\n\
             server {{\n\
             listen {addr};\n\
             {server}\n\
             }}\n\
             }}\n",
            pid = temp("nginx.pid"),
            error = temp("error.log"),
            body = temp("body"),
            proxy = temp("proxy"),
            fastcgi = temp("fastcgi"),
            uwsgi = temp("uwsgi"),
            scgi = temp("scgi"),
        );
        let conf = root.join("nginx.conf");
        std::fs::write(&conf, config).map_err(|e| format!("write {}: {e}", conf.display()))?;
        let child = Command::new(&bin)
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(root.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let mut nginx = Self { child, addr, dir };
        nginx.wait_until_listening()?;
        Ok(nginx)
    }

    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(pipe) = self.child.stderr.as_mut() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return Err(format!(
                    "nginx exited ({status}): {stderr}{}",
                    self.error_log()
                ));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "nginx did not listen on {} in 20 s: {}",
                    self.addr,
                    self.error_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Its process id (the one process that serves).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What nginx logged (warnings and errors).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
