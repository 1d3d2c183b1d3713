//! The conformance suite on `file://`, with the root four levels inside a watched temporary directory so that
//! any escape would be seen.

use std::sync::Arc;

use storages_core::CommonOptions;
use storages_core::conformance::Fixture;
use storages_local::{LocalConfig, LocalStorage};

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("a/b/c/root");
    let mut config = LocalConfig::new(&root);
    config.common = CommonOptions {
        base_url: Some("/media/".into()),
        ..CommonOptions::default()
    };
    let storage = LocalStorage::new(config).expect("local storage");
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
