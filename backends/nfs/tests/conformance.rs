//! The conformance suite on `nfs://` over a plain directory with `require_mount=false` (the suite over a real mount
//! point, a tmpfs the tests mount as root, is in the workspace's `tests/storage/nfs.rs`).

use std::sync::Arc;

use storages_core::CommonOptions;
use storages_core::conformance::Fixture;
use storages_nfs::{NfsConfig, NfsStorage};

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("a/b/c/share");
    std::fs::create_dir_all(&root).expect("the share's directory exists before the storage");
    let mut config = NfsConfig::new(&root);
    config.require_mount = false;
    config.local.common = CommonOptions {
        base_url: Some("/media/".into()),
        ..CommonOptions::default()
    };
    let storage = NfsStorage::new(config).expect("nfs storage");
    let root = storage.root().to_path_buf();
    Fixture {
        storage: Arc::new(storage),
        outside: Some(dir.path().to_path_buf()),
        root: Some(root),
        guard: Some(Box::new(dir)),
    }
}

storages_core::conformance_tests!(fixture);
storages_core::filesystem_conformance_tests!(fixture);
