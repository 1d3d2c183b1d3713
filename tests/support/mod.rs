//! Test support of this package: its built binaries and helpers for local files. The servers (Garage, moto, app
//! processes) are `storages-testkit`'s, shared with the benches.

#![allow(dead_code)] // each test file uses a different part

pub mod mount;

#[allow(unused_imports)] // each test file uses a different part
pub use storages_testkit::{Server, free_port, s3};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `storages` command built for these tests.
pub fn storages_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_storages"))
}

/// An example program of this package, built on first use with the same profile as the tests.
pub fn example(name: &str) -> PathBuf {
    storages_testkit::example(&storages_bin(), Path::new(env!("CARGO_MANIFEST_DIR")), name)
}

/// Every file below `dir` (recursively), as paths relative to it; none when `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("under dir");
                found.push(relative.display().to_string());
            }
        }
    }
    found
}

/// Waits (up to 2 s) until a file appears below `dir` and checks that it is one temporary file, as a streaming
/// upload writes.
pub async fn expect_one_temporary_file(dir: &Path) {
    let mut found = Vec::new();
    for _ in 0..200 {
        found = files_under(dir);
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let temporary = |f: &String| {
        f.rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with(".storages-tmp."))
    };
    assert!(
        found.len() == 1 && found.iter().all(temporary),
        "expected one temporary file being written below {}: {found:?}",
        dir.display()
    );
}
