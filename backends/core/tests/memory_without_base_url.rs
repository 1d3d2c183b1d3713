//! A storage without a base URL says so instead of inventing URLs.

use std::sync::Arc;

use storages_core::MemoryStorage;
use storages_core::conformance::{Fixture, public_urls_are_percent_encoded};

#[tokio::test]
async fn url_without_base_url_is_unsupported() {
    public_urls_are_percent_encoded(&Fixture::new(Arc::new(MemoryStorage::new()))).await;
}
