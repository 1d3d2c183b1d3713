//! A loopback HTTP listener that answers every request with one status and counts the connections: where a test
//! must see whether a request was made at all (instance metadata), or stand where a gateway answers for a server
//! behind it that is down; and the storage `s3://media` those tests build from their options.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Answers every connection with `status` (`"503 Service Unavailable"`) and an S3-style error body, and counts
/// them, until dropped (its thread ends with it).
pub struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    pub fn start(status: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (connections, stop) = (Arc::clone(&connections), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            connections.fetch_add(1, Ordering::Relaxed);
                            answer(stream, status);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Self {
            port,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections made so far, once those already queued have been accepted.
    pub fn connections(&self) -> usize {
        std::thread::sleep(Duration::from_millis(100));
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads the request's head (enough that the client is not cut off mid-send) and answers with `status`.
fn answer(mut stream: TcpStream, status: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut head = Vec::new();
    let mut buf = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let code = status.split(' ').next().unwrap_or("500");
    let body = format!("<?xml version=\"1.0\"?><Error><Code>Status{code}</Code></Error>");
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The storage `s3://media?{query}` (options `k=v` joined by `&`).
pub fn media(query: &str) -> storages_s3::S3Storage {
    let config = <storages_s3::S3Config as storages_core::BackendConfig>::from_url_str(&format!(
        "s3://media?{query}"
    ))
    .expect("settings");
    storages_s3::S3Storage::new(config).expect("storage")
}
