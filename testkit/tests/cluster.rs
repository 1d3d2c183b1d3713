//! The three-node Garage cluster the scale-out tests run on: laid out over three zones with three copies of every
//! object, serving with any one node killed or paused, healthy again once the node is back, and gone when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use storages_testkit::s3::{GarageCluster, Peer};

/// Stores `body` under `key` through `peer` (boto3).
fn put(peer: &Peer, bucket: &str, key: &str, body: &str) {
    peer.boto3(
        "s3.put_object(Bucket=args[0], Key=args[1], Body=args[2].encode())",
        &[bucket, key, body],
    );
}

/// The object under `key`, read through `peer`.
fn get(peer: &Peer, bucket: &str, key: &str) -> String {
    peer.boto3(
        "print(s3.get_object(Bucket=args[0], Key=args[1])['Body'].read().decode())",
        &[bucket, key],
    )
}

/// Whether `endpoint` (`http://127.0.0.1:PORT`) answers a request within a second.
fn answers(endpoint: &str) -> std::io::Result<()> {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut first = [0u8; 1];
    stream.read_exact(&mut first)
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        // A zombie (state Z) is dead, only not yet reaped.
        .is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
}

#[test]
fn three_zones_three_copies_any_one_node_down_and_nothing_left_after_drop() {
    let mut cluster = GarageCluster::start();
    let bucket = cluster.bucket().to_owned();
    let health = cluster.health();
    assert_eq!(health.status, "healthy", "{health:?}");
    assert_eq!(health.storage_nodes_up, 3, "{health:?}");
    let layout = cluster.cli(&["layout", "show"]);
    for zone in ["dc1", "dc2", "dc3"] {
        assert!(layout.contains(zone), "{layout}");
    }

    // One write, read through every node's endpoint.
    put(&cluster.peer(1), &bucket, "first.txt", "one");
    for n in 1..=3 {
        assert_eq!(
            get(&cluster.peer(n), &bucket, "first.txt"),
            "one",
            "via node {n}"
        );
    }

    // Node 3 killed: writes and reads through the other two go on (a quorum of 2 of 3).
    cluster.kill(3);
    put(&cluster.peer(1), &bucket, "second.txt", "two");
    assert_eq!(get(&cluster.peer(2), &bucket, "second.txt"), "two");
    cluster.restart(3);
    assert_eq!(cluster.health().status, "healthy");
    assert_eq!(get(&cluster.peer(3), &bucket, "second.txt"), "two");

    // Node 2 paused: its endpoint takes connections (the kernel does) and answers nothing, until resumed.
    cluster.pause(2);
    assert!(
        answers(&cluster.endpoint(2)).is_err(),
        "a paused node answered"
    );
    cluster.resume(2);
    assert!(answers(&cluster.endpoint(2)).is_ok());
    assert_eq!(get(&cluster.peer(2), &bucket, "first.txt"), "one");

    let pids: Vec<u32> = (1..=3).map(|n| cluster.pid(n)).collect();
    let dir = cluster.dir().to_path_buf();
    drop(cluster);
    for pid in pids {
        assert!(!alive(pid), "node process {pid} outlived the cluster");
    }
    assert!(!dir.exists(), "{} outlived the cluster", dir.display());
}
