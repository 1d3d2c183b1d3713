//! The load driver: sends requests with a bounded number in flight, and kills and restarts a node of the cluster
//! between them: before, down and back are counted in requests sent, the outage also in time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// A node killed while requests are sent, and started again.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// The node (1 to 3).
    pub node: usize,
    /// Requests sent before the kill.
    pub before: usize,
    /// Requests sent while the node is down, at least.
    pub down: usize,
    /// How long the node stays down, at least (requests go on meanwhile).
    pub down_for: Duration,
    /// Requests sent once it is started again.
    pub back: usize,
    /// `true`: the requests sent while it was down are finished before it is started again, and the next are sent
    /// once the cluster is healthy, so that each request meets the node either down or back. `false`: requests go
    /// on while it rejoins.
    pub between_requests: bool,
}

/// How requests are sent: a number of them with every node up, or around a fault.
#[derive(Debug, Clone, Copy)]
pub enum Schedule {
    /// This many requests, nothing killed.
    Steady(usize),
    /// Around a node killed and restarted.
    Fault(Fault),
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

/// Requests in flight, and what the finished ones recorded.
struct InFlight {
    tasks: JoinSet<Record>,
    records: Vec<Record>,
}

impl InFlight {
    /// Keeps what has ended, so that records do not wait for the end in a growing set of tasks.
    fn collect_finished(&mut self) {
        while let Some(done) = self.tasks.try_join_next() {
            self.records.push(done.expect("a request task"));
        }
    }

    async fn finish(&mut self) {
        while let Some(done) = self.tasks.join_next().await {
            self.records.push(done.expect("a request task"));
        }
    }
}

/// Sends request `request(i)` for `i` from 0 to the apps at `bases` (app `n` at `bases[n - 1]`), at most
/// `concurrency` at once, as `schedule` says. `while_down` runs (blocking) right after a kill, while requests go
/// on; the node is not restarted before it has returned.
pub async fn drive<T: Send + 'static>(
    bases: &[String],
    load: Load,
    concurrency: usize,
    request: impl Fn(usize) -> Request,
    schedule: Schedule,
    cluster: &SharedCluster,
    while_down: impl FnOnce() -> T + Send + 'static,
) -> Driven<T> {
    let client = requests::client();
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut in_flight = InFlight {
        tasks: JoinSet::new(),
        records: Vec::new(),
    };
    let mut driven = Driven {
        records: Vec::new(),
        killed: None,
        restarted: None,
        healthy: None,
        while_down: None,
    };
    let mut while_down = Some(while_down);
    let mut down_task = None;
    let mut rejoining = None;
    let mut phase = Phase::Before;
    let mut back_from = 0;
    for i in 0.. {
        match (schedule, phase) {
            (Schedule::Steady(n), _) if i == n => break,
            (Schedule::Steady(_), _) => {}
            (Schedule::Fault(fault), Phase::Before) if i == fault.before => {
                on_cluster(cluster, move |c| c.kill(fault.node))
                    .await
                    .expect("kill a node");
                driven.killed = Some(Instant::now());
                phase = Phase::Down;
                down_task = while_down.take().map(tokio::task::spawn_blocking);
            }
            (Schedule::Fault(fault), Phase::Down)
                if i >= fault.before + fault.down
                    && driven.killed.is_some_and(|t| t.elapsed() >= fault.down_for) =>
            {
                if fault.between_requests {
                    in_flight.finish().await;
                }
                if let Some(task) = down_task.take() {
                    let ran = task.await.expect("the task run while the node is down");
                    driven.while_down = Some(ran);
                }
                driven.restarted = Some(Instant::now());
                let restart = on_cluster(cluster, move |c| {
                    c.restart(fault.node);
                    Instant::now()
                });
                if fault.between_requests {
                    driven.healthy = Some(restart.await.expect("restart a node"));
                } else {
                    rejoining = Some(restart);
                }
                phase = Phase::Back;
                back_from = i;
            }
            (Schedule::Fault(fault), Phase::Back) if i == back_from + fault.back => break,
            (Schedule::Fault(_), _) => {}
        }
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let request = request(i);
        let (client, base) = (client.clone(), bases[request.app - 1].clone());
        in_flight.tasks.spawn(async move {
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
        in_flight.collect_finished();
    }
    in_flight.finish().await;
    if let Some(rejoining) = rejoining {
        driven.healthy = Some(rejoining.await.expect("restart a node"));
    }
    driven.records = in_flight.records;
    driven
}

/// Starts `f` on the cluster in a blocking task at once (killing and restarting wait on processes and on the
/// cluster's health).
fn on_cluster<T: Send + 'static>(
    cluster: &SharedCluster,
    f: impl FnOnce(&mut GarageCluster) -> T + Send + 'static,
) -> JoinHandle<T> {
    let cluster = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || {
        let mut cluster = cluster.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut cluster)
    })
}
