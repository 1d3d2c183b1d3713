//! The conformance suite on the in-memory backend.

use std::sync::Arc;

use storages_core::conformance::Fixture;
use storages_core::{CommonOptions, MemoryStorage};

async fn fixture() -> Fixture {
    let options = CommonOptions {
        base_url: Some("/media/".into()),
        ..CommonOptions::default()
    };
    Fixture::new(Arc::new(MemoryStorage::with_options(options)))
}

storages_core::conformance_tests!(fixture);
