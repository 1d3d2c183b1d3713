//! The S3 test servers themselves: Garage and moto start, serve signed requests from an independent client (boto3),
//! Garage checks signatures, and no server outlives the test process that started it.

use crate::support;
use support::s3::unique;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::run_test_in_child;
use support::s3::{python, shared_garage, shared_moto};

/// Set in the copy of this test binary that starts servers and exits, for the parent to watch them die.
const CHILD: &str = "STORAGES_HARNESS_CHILD";

/// A small boto3 client: `put-get` stores stdin and prints what a GET returns; `put-status` stores one byte and
/// prints the HTTP status and error code (200 when accepted).
const BOTO3: &str = r#"
import sys
import boto3, botocore.config, botocore.exceptions

mode, endpoint, region, access_key, secret_key, bucket, key = sys.argv[1:8]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name=region,
    aws_access_key_id=access_key,
    aws_secret_access_key=secret_key,
    config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)
if mode == "put-get":
    s3.put_object(Bucket=bucket, Key=key, Body=sys.stdin.buffer.read())
    sys.stdout.buffer.write(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
elif mode == "put-status":
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        print(200, "OK")
    except botocore.exceptions.ClientError as error:
        print(error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"])
else:
    sys.exit("unknown mode " + mode)
"#;

struct Target<'a> {
    endpoint: String,
    region: &'a str,
    access_key: &'a str,
    secret_key: &'a str,
    bucket: &'a str,
}

fn boto3(mode: &str, target: &Target<'_>, key: &str, stdin: &[u8]) -> Output {
    let mut child = Command::new(python())
        .args(["-c", BOTO3, mode, &target.endpoint, target.region])
        .args([target.access_key, target.secret_key, target.bucket, key])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python with boto3");
    let mut input = child.stdin.take().expect("python stdin");
    std::io::Write::write_all(&mut input, stdin).expect("write to python");
    drop(input);
    child.wait_with_output().expect("wait for python")
}

fn assert_round_trip(target: &Target<'_>, key: &str) {
    // Every byte value, and more than one network buffer's worth.
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let output = boto3("put-get", target, key, &body);
    assert!(
        output.status.success(),
        "boto3 put/get of {key} in {} at {} failed: {}",
        target.bucket,
        target.endpoint,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout.len(), body.len(), "length read back");
    assert!(
        output.stdout == body,
        "the bytes read back differ from those written"
    );
}

#[test]
fn garage_stores_and_returns_an_object_signed_by_boto3() {
    let garage = shared_garage();
    let target = Target {
        endpoint: garage.endpoint(),
        region: garage.region(),
        access_key: garage.access_key(),
        secret_key: garage.secret_key(),
        bucket: garage.bucket(),
    };
    assert_round_trip(&target, &format!("{}/object.bin", unique("round-trip")));
}

#[test]
fn garage_buckets_created_by_the_harness_are_usable_by_its_key() {
    let garage = shared_garage();
    let bucket = unique("bucket");
    garage.create_bucket(&bucket);
    let target = Target {
        endpoint: garage.endpoint(),
        region: garage.region(),
        access_key: garage.access_key(),
        secret_key: garage.secret_key(),
        bucket: &bucket,
    };
    assert_round_trip(&target, "object.bin");
}

#[test]
fn garage_refuses_a_request_signed_with_a_wrong_secret() {
    let garage = shared_garage();
    let wrong_secret = garage.secret_key().replace(|c: char| c != '0', "0");
    assert_ne!(wrong_secret, garage.secret_key());
    let target = Target {
        endpoint: garage.endpoint(),
        region: garage.region(),
        access_key: garage.access_key(),
        secret_key: &wrong_secret,
        bucket: garage.bucket(),
    };
    let output = boto3("put-status", &target, &unique("refused"), b"");
    let answer = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        answer.starts_with("403 "),
        "a wrong secret must get 403, got: {answer}"
    );
}

#[test]
fn moto_stores_and_returns_an_object_signed_by_boto3() {
    let moto = shared_moto();
    let bucket = unique("bucket");
    moto.create_bucket(&bucket);
    let target = Target {
        endpoint: moto.endpoint(),
        region: moto.region(),
        access_key: moto.access_key(),
        secret_key: moto.secret_key(),
        bucket: &bucket,
    };
    assert_round_trip(&target, "dir/object.bin");
}

#[test]
fn settings_urls_name_bucket_prefix_endpoint_region_and_credentials() {
    let garage = shared_garage();
    let query = format!(
        "?endpoint={}&region=garage&aws_access_key_id={}&aws_secret_access_key={}",
        garage.endpoint(),
        garage.access_key(),
        garage.secret_key()
    );
    assert_eq!(
        garage.settings_url("media/2026"),
        format!("s3://{}/media/2026{query}", garage.bucket())
    );
    assert_eq!(
        garage.settings_url(""),
        format!("s3://{}{query}", garage.bucket())
    );
    let moto = shared_moto();
    assert_eq!(
        moto.settings_url("static", ""),
        format!(
            "s3://static?endpoint={}&region=us-east-1&aws_access_key_id={}&aws_secret_access_key={}",
            moto.endpoint(),
            moto.access_key(),
            moto.secret_key()
        )
    );
}

/// In the child (CHILD set): starts both shared servers, which live in statics and are never dropped, prints what
/// the parent must watch, and exits. In the parent: runs the child and checks that the servers, their watchdogs and
/// their temporary directories are gone soon after it exits.
#[test]
fn servers_and_their_directories_do_not_outlive_the_test_process() {
    if std::env::var_os(CHILD).is_some() {
        let (garage, moto) = (shared_garage(), shared_moto());
        for pid in [
            garage.pid(),
            garage.watchdog_pid(),
            moto.pid(),
            moto.watchdog_pid(),
        ] {
            let start = start_time(pid).expect("a running process has a start time");
            println!("harness-process {pid} {start}");
        }
        for dir in [garage.dir(), moto.dir()] {
            println!("harness-dir {}", dir.display());
        }
        return;
    }

    // The test's path inside this binary, as the test harness filters it (`module::test`).
    let module = module_path!()
        .split_once("::")
        .map_or("", |(_, module)| module);
    let stdout = run_test_in_child(
        &format!("{module}::servers_and_their_directories_do_not_outlive_the_test_process"),
        |child| {
            child.env(CHILD, "1");
        },
    );
    let processes: Vec<(u32, u64)> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("harness-process "))
        .map(|rest| {
            let (pid, start) = rest.split_once(' ').expect("pid and start time");
            (
                pid.parse().expect("a pid"),
                start.parse().expect("a start time"),
            )
        })
        .collect();
    let dirs: Vec<&Path> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("harness-dir "))
        .map(Path::new)
        .collect();
    assert_eq!(processes.len(), 4, "the child's output:\n{stdout}");
    assert_eq!(dirs.len(), 2, "the child's output:\n{stdout}");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<u32> = processes
            .iter()
            .filter(|&&(pid, start)| start_time(pid) == Some(start))
            .map(|&(pid, _)| pid)
            .collect();
        let left: Vec<&&Path> = dirs.iter().filter(|dir| dir.exists()).collect();
        if alive.is_empty() && left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "10 s after the test process exited, processes {alive:?} still run and directories {left:?} remain"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The start time of a live process (field 22 of /proc/PID/stat): with the pid, it names one process even if the
/// pid is reused. `None` when the process is gone or a zombie (dead, waiting for a parent that may never reap it).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if matches!(fields.first(), Some(&("Z" | "X"))) {
        return None;
    }
    fields.get(19)?.parse().ok()
}
