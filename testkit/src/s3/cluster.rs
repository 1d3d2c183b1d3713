//! A three-node Garage cluster on loopback, every object stored on all three nodes (`replication_factor = 3`),
//! written and read with a quorum of two: it serves with any one node down. Nodes can be killed, restarted on
//! their data, paused and resumed, as operators lose machines.
//!
//! The steps are those of Garage's manual: "Deploying on a real-world cluster" (each node its own configuration
//! with the same `rpc_secret`, then `garage node connect <id>@<addr>` from one node to the others) and "Cluster
//! layout management" (`garage layout assign -z <zone> -c <capacity> <id>` for each node, one zone per node so
//! that the three copies land in three zones, then `garage layout apply --version 1`). The configuration file is
//! described on [`Node::start`](super::garage::Node::start).

use std::path::Path;
use std::time::{Duration, Instant};

use super::Peer;
use super::garage::{Node, REGION, Setup, Tenant};
use crate::process::{START_TIMEOUT, StartError, start_with_retries};

/// The zones of nodes 1, 2 and 3: one each, as three data centres.
const ZONES: [&str; 3] = ["dc1", "dc2", "dc3"];

/// What became of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Killed,
    Paused,
}

/// How the cluster sees itself (Garage's `GetClusterHealth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterHealth {
    /// `healthy` (every node up), `degraded` (a quorum everywhere, some node down) or `unavailable`.
    pub status: String,
    /// Nodes the answering node is connected to, itself included.
    pub connected_nodes: u64,
    /// Storage nodes that are up.
    pub storage_nodes_up: u64,
    /// Partitions whose every node is up.
    pub partitions_all_ok: u64,
    /// Partitions in all.
    pub partitions: u64,
}

/// Three Garage 2.5 nodes in zones dc1, dc2 and dc3, with one access key and one bucket it may read, write and
/// own. Nodes are numbered 1 to 3. Everything stops on drop (and the watchdogs stop it if the test process dies).
#[derive(Debug)]
pub struct GarageCluster {
    nodes: Vec<Node>,
    /// Each node's `<id>@<rpc address>`.
    addresses: Vec<String>,
    states: [State; 3],
    tenant: Tenant,
    dir: tempfile::TempDir,
}

impl GarageCluster {
    /// Starts three fresh nodes, connects them, applies a layout with one node per zone, waits until the cluster
    /// is healthy and creates the key and the bucket.
    pub fn start() -> Self {
        start_with_retries("the Garage cluster", Self::try_start)
    }

    fn try_start() -> Result<Self, StartError> {
        let setup = Setup::new("garage-cluster", 3);
        let mut nodes: Vec<Node> = (1..=3)
            .map(|n| Node::start(&setup, &format!("node{n}")))
            .collect();
        let deadline = Instant::now() + START_TIMEOUT;
        let addresses = nodes
            .iter_mut()
            .map(|node| node.address(deadline))
            .collect::<Result<Vec<_>, _>>()?;
        let (first, _) = nodes.split_first_mut().expect("three nodes");
        for address in &addresses[1..] {
            first.retry_cli(deadline, &["node", "connect", address])?;
        }
        for (address, zone) in addresses.iter().zip(ZONES) {
            let id = address.split('@').next().unwrap_or_default();
            // Capacity only weighs nodes against each other; with three copies in three zones each holds all.
            first.retry_cli(deadline, &["layout", "assign", "-z", zone, "-c", "10G", id])?;
        }
        first.try_cli(&["layout", "apply", "--version", "1"])?;
        let mut cluster = Self {
            nodes,
            addresses,
            states: [State::Up; 3],
            tenant: Tenant::new(),
            dir: setup.dir,
        };
        cluster.try_wait_healthy(deadline)?;
        cluster.tenant.create(&cluster.nodes[0])?;
        for node in &mut cluster.nodes {
            node.wait_serving(deadline)?;
        }
        Ok(cluster)
    }

    /// Kills node `n` at once (SIGKILL), as a crash or a pulled plug would.
    pub fn kill(&mut self, n: usize) {
        self.node(n).kill();
        self.states[n - 1] = State::Killed;
    }

    /// Starts node `n` again on its configuration, ports and data, connects it to the running nodes (as
    /// `bootstrap_peers` would at start; left alone, Garage takes from one to thirty seconds to find its peers
    /// again) and waits until the cluster is healthy again (every node connected to every other, every partition
    /// on nodes that are up).
    pub fn restart(&mut self, n: usize) {
        self.node(n).restart();
        self.states[n - 1] = State::Up;
        let deadline = Instant::now() + START_TIMEOUT;
        for peer in 1..=3 {
            if peer == n || self.states[peer - 1] != State::Up {
                continue;
            }
            // Both ways: a running node that saw this one die retries it on a growing backoff, and goes on
            // counting it as down for up to half a minute unless it connects itself.
            for (from, to) in [(n, peer), (peer, n)] {
                let address = self.addresses[to - 1].clone();
                let connect =
                    self.nodes[from - 1].retry_cli(deadline, &["node", "connect", &address]);
                if let Err(error) = connect {
                    panic!(
                        "node {from} did not connect to node {to}: {}",
                        error.message()
                    );
                }
            }
        }
        self.wait_healthy();
    }

    /// Stops node `n` (SIGSTOP): its connections stay open and nothing is answered, as a hung machine would.
    pub fn pause(&mut self, n: usize) {
        self.node(n).pause();
        self.states[n - 1] = State::Paused;
    }

    /// Lets paused node `n` go on (SIGCONT) and waits until the cluster is healthy again.
    pub fn resume(&mut self, n: usize) {
        self.node(n).resume();
        self.states[n - 1] = State::Up;
        self.wait_healthy();
    }

    /// Waits (up to a minute) until every running node reports the cluster healthy (`degraded` while a node is
    /// down); panics otherwise.
    pub fn wait_healthy(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        if let Err(error) = self.try_wait_healthy(deadline) {
            panic!(
                "the Garage cluster did not become healthy: {}",
                error.message()
            );
        }
    }

    /// Waits until every running node is connected to every other and serves; with all three running, until the
    /// cluster is `healthy` (with a node down it can only be `degraded`).
    fn try_wait_healthy(&mut self, deadline: Instant) -> Result<(), StartError> {
        let running = self.states.iter().filter(|s| **s == State::Up).count();
        let wanted = if running == 3 { "healthy" } else { "degraded" };
        for n in 1..=3 {
            if self.states[n - 1] != State::Up {
                continue;
            }
            loop {
                let health = self.try_health_from(n);
                if health
                    .as_ref()
                    .is_ok_and(|h| h.status == wanted && h.connected_nodes >= running as u64)
                {
                    break;
                }
                if Instant::now() > deadline {
                    let node = &self.nodes[n - 1];
                    return Err(node.try_cli(&["status"]).map_or_else(
                        |error| error,
                        |status| StartError::Failed(format!("node {n}: {health:?}\n{status}")),
                    ));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            self.node(n).wait_serving(deadline)?;
        }
        Ok(())
    }

    /// How the cluster sees itself, as a running node reports it.
    pub fn health(&self) -> ClusterHealth {
        self.try_health_from(self.running())
            .unwrap_or_else(|error| panic!("{}", error.message()))
    }

    fn try_health_from(&self, n: usize) -> Result<ClusterHealth, StartError> {
        let text = self.nodes[n - 1].try_cli(&["json-api", "GetClusterHealth"])?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| StartError::Failed(format!("GetClusterHealth: {e}: {text}")))?;
        let number = |key: &str| json[key].as_u64().unwrap_or_default();
        Ok(ClusterHealth {
            status: json["status"].as_str().unwrap_or_default().to_owned(),
            connected_nodes: number("connectedNodes"),
            storage_nodes_up: number("storageNodesUp"),
            partitions_all_ok: number("partitionsAllOk"),
            partitions: number("partitions"),
        })
    }

    /// Runs the `garage` command line against a running node and returns its standard output (panics on
    /// failure).
    pub fn cli(&self, args: &[&str]) -> String {
        self.nodes[self.running() - 1]
            .try_cli(args)
            .unwrap_or_else(|error| panic!("{}", error.message()))
    }

    /// Node `n`'s S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self, n: usize) -> String {
        self.nodes[index(n)].endpoint()
    }

    /// The region Garage signs for.
    pub fn region(&self) -> &str {
        REGION
    }

    /// The access key id allowed to create buckets and to use [`GarageCluster::bucket`].
    pub fn access_key(&self) -> &str {
        &self.tenant.access_key
    }

    /// The secret of [`GarageCluster::access_key`].
    pub fn secret_key(&self) -> &str {
        &self.tenant.secret_key
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        &self.tenant.bucket
    }

    /// A settings URL for `prefix` (may be empty) in the bucket through node `n`'s endpoint.
    pub fn settings_url(&self, n: usize, prefix: &str) -> String {
        self.tenant.settings_url(&self.endpoint(n), prefix)
    }

    /// boto3 on node `n`'s endpoint, with the key.
    pub fn peer(&self, n: usize) -> Peer {
        Peer {
            endpoint: self.endpoint(n),
            region: self.region().into(),
            key: self.access_key().into(),
            secret: self.secret_key().into(),
        }
    }

    /// Node `n`'s server process id.
    pub fn pid(&self, n: usize) -> u32 {
        self.nodes[index(n)].pid()
    }

    /// Node `n`'s current log file (each start has its own).
    pub fn log_path(&self, n: usize) -> &Path {
        self.nodes[index(n)].log_path()
    }

    /// The cluster's temporary directory (each node's configuration, metadata and data; the logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn node(&mut self, n: usize) -> &mut Node {
        &mut self.nodes[index(n)]
    }

    /// A node that is up, for the command line.
    fn running(&self) -> usize {
        (1..=3)
            .find(|&n| self.states[n - 1] == State::Up)
            .expect("no node of the cluster is running")
    }
}

/// The index of node `n` (1 to 3).
fn index(n: usize) -> usize {
    assert!(
        (1..=3).contains(&n),
        "the cluster has nodes 1 to 3, not {n}"
    );
    n - 1
}
