//! Changing the target: uploads and deletions, `jobs` at a time. The first failure stops the rest (in-flight writes
//! are dropped, which the backends turn into "nothing stored").

use futures_util::{StreamExt, TryStreamExt};
use storages_core::{Content, Name, PutMode, Storage};

use super::error::CollectError;
use super::plan::{Body, Output};
use super::report::Progress;

/// Stores every output, replacing what is there: bytes in memory as they are, source files streamed.
pub(crate) async fn upload(
    target: &dyn Storage,
    outputs: &[Output],
    jobs: usize,
    progress: &Progress,
) -> Result<(), CollectError> {
    futures_util::stream::iter(outputs.iter().map(|output| async move {
        let mut content = match &output.body {
            Body::File(path) => Content::from_file(path.clone()).with_length(output.size),
            Body::Bytes(bytes) => Content::from_bytes(bytes.clone()),
        };
        if let Some(cache_control) = &output.cache_control {
            content = content.with_cache_control(cache_control.clone());
        }
        target
            .put(&output.name, content, PutMode::Overwrite)
            .await?;
        progress.step();
        Ok::<(), CollectError>(())
    }))
    .buffer_unordered(jobs.max(1))
    .try_collect::<()>()
    .await
}

/// Removes every name.
pub(crate) async fn delete(
    target: &dyn Storage,
    names: &[Name],
    jobs: usize,
    progress: &Progress,
) -> Result<(), CollectError> {
    futures_util::stream::iter(names.iter().map(|name| async move {
        target.delete(name).await?;
        progress.step();
        Ok::<(), CollectError>(())
    }))
    .buffer_unordered(jobs.max(1))
    .try_collect::<()>()
    .await
}
