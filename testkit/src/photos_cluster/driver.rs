//! The load driver: sends requests with a bounded number in flight, round-robin over the apps as given, and kills
//! and restarts a node of the cluster when the requests before a given index have been sent.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use super::requests::{self, Kind, Load, Phase, Record, Target};
use super::workload::Upload;
use crate::s3::GarageCluster;

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Upload or read.
    pub kind: Kind,
    /// The app (1 to 4).
    pub app: usize,
    /// The photo.
    pub upload: Upload,
}

/// A node to kill while the requests are sent, and when to start it again.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// The node (1 to 3).
    pub node: usize,
    /// Killed before request `kill_before` is sent.
    pub kill_before: usize,
    /// Started again before request `restart_before` is sent.
    pub restart_before: usize,
    /// Whether sending waits until the cluster is healthy again (else requests keep going while the node rejoins).
    pub wait_for_health: bool,
}

impl Fault {
    /// `node` killed after a third of `requests` were sent and restarted after two thirds.
    pub fn in_the_middle(node: usize, requests: usize, wait_for_health: bool) -> Self {
        Self {
            node,
            kill_before: requests / 3,
            restart_before: requests * 2 / 3,
            wait_for_health,
        }
    }
}

/// What happened: every request, when the node went down and came back, and what ran while it was down.
#[derive(Debug)]
pub struct Driven<T> {
    /// Every request, in the order they ended.
    pub records: Vec<Record>,
    /// When the node was killed.
    pub killed: Option<Instant>,
    /// When it was started again.
    pub restarted: Option<Instant>,
    /// When the cluster was healthy again.
    pub healthy: Option<Instant>,
    /// What `while_down` gave.
    pub while_down: Option<T>,
}

/// The cluster, shared with the blocking tasks that kill and restart its nodes.
pub type SharedCluster = Arc<Mutex<GarageCluster>>;

/// Sends `requests` to the apps at `bases` (app `n` at `bases[n - 1]`), at most `concurrency` at once, with
/// `fault` injected; `while_down` runs (blocking) right after the kill, while requests go on, and the node is not
/// restarted before it has returned.
pub async fn drive<T: Send + 'static>(
    bases: &[String],
    load: Load,
    requests: Vec<Request>,
    concurrency: usize,
    fault: Option<(Fault, &SharedCluster)>,
    while_down: impl FnOnce() -> T + Send + 'static,
) -> Driven<T> {
    let client = requests::client();
    let phase = Arc::new(AtomicU8::new(Phase::Before as u8));
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    let mut driven = Driven {
        records: Vec::with_capacity(requests.len()),
        killed: None,
        restarted: None,
        healthy: None,
        while_down: None,
    };
    let mut while_down = Some(while_down);
    let mut down_task = None;
    let mut rejoining = None;
    for (i, request) in requests.into_iter().enumerate() {
        if let Some((fault, cluster)) = fault {
            if i == fault.kill_before {
                with_cluster(cluster, move |c| c.kill(fault.node))
                    .await
                    .expect("kill a node");
                driven.killed = Some(Instant::now());
                phase.store(Phase::Down as u8, Ordering::SeqCst);
                down_task = while_down.take().map(tokio::task::spawn_blocking);
            }
            if i == fault.restart_before {
                if let Some(task) = down_task.take() {
                    driven.while_down =
                        Some(task.await.expect("the task run while the node is down"));
                }
                driven.restarted = Some(Instant::now());
                let restart = with_cluster(cluster, move |c| {
                    c.restart(fault.node);
                    Instant::now()
                });
                if fault.wait_for_health {
                    driven.healthy = Some(restart.await.expect("restart a node"));
                } else {
                    rejoining = Some(restart);
                }
                phase.store(Phase::Back as u8, Ordering::SeqCst);
            }
        }
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (client, base) = (client.clone(), bases[request.app - 1].clone());
        let phase = match phase.load(Ordering::SeqCst) {
            p if p == Phase::Down as u8 => Phase::Down,
            p if p == Phase::Back as u8 => Phase::Back,
            _ => Phase::Before,
        };
        tasks.spawn(async move {
            let target = Target {
                app: request.app,
                base: &base,
                load,
                phase,
            };
            let record = match request.kind {
                Kind::Upload => requests::send(&client, target, &request.upload).await,
                Kind::Read => requests::read(&client, target, &request.upload).await,
            };
            drop(slot);
            record
        });
        // Keep what has ended, so that the records do not wait for the end in a growing set of tasks.
        while let Some(done) = tasks.try_join_next() {
            driven.records.push(done.expect("a request task"));
        }
    }
    while let Some(done) = tasks.join_next().await {
        driven.records.push(done.expect("a request task"));
    }
    if let Some(rejoining) = rejoining {
        driven.healthy = Some(rejoining.await.expect("restart a node"));
    }
    driven
}

/// Starts `f` on the cluster in a blocking task at once (killing and restarting wait on processes and on the
/// cluster's health).
pub fn with_cluster<T: Send + 'static>(
    cluster: &SharedCluster,
    f: impl FnOnce(&mut GarageCluster) -> T + Send + 'static,
) -> JoinHandle<T> {
    let cluster = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || {
        let mut cluster = cluster.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut cluster)
    })
}
