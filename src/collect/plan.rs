//! What to publish and what is already there: every file the collection produces, checked against the one listing
//! of the target taken before any upload. A file is skipped only when its size and content hash match what is
//! stored; modification times never decide.

use std::collections::HashMap;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use storages_core::{Metadata, Name, Storage};

use super::error::CollectError;
use super::report::Progress;
use super::sources::{Digest16, hash_stream, hex};

/// Where an output's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// A source file, streamed when uploaded.
    File(PathBuf),
    /// Bytes made here: rewritten CSS/JS, compressed siblings, the manifest.
    Bytes(Bytes),
}

/// What an output is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A collected file under its own name (or its compressed sibling).
    Original,
    /// A hashed copy (or its compressed sibling).
    Hashed,
    /// `staticfiles.json`.
    Manifest,
}

/// One file to publish.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub name: Name,
    pub body: Body,
    pub size: u64,
    pub md5: Digest16,
    pub kind: Kind,
    pub cache_control: Option<String>,
    /// The name carries the content's hash (a hashed copy), so a stored file of that name and size holds this
    /// content even where the storage's ETag cannot be compared (multipart uploads).
    pub content_addressed: bool,
}

/// How an output compares with the listing.
enum Check {
    Upload,
    Unchanged,
    /// The storage's ETag says nothing about the content, but the file is on this machine: read it back through
    /// the storage (confined to its root, like every read) and hash it.
    HashStored,
}

/// The ETag as a bare lower-case MD5, when it is one: a single-part S3 object's ETag is the MD5 of its content;
/// multipart ETags (`<md5 of md5s>-<parts>`) and other backends' validators are not.
fn etag_md5(etag: &str) -> Option<String> {
    let bare = etag.trim_start_matches("W/").trim_matches('"');
    (bare.len() == 32 && bare.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| bare.to_ascii_lowercase())
}

fn check(output: &Output, stored: Option<&Metadata>, target: &dyn Storage) -> Check {
    let Some(stored) = stored else {
        return Check::Upload;
    };
    if stored.size != output.size {
        return Check::Upload;
    }
    if let Some(md5) = stored.etag.as_deref().and_then(etag_md5) {
        return if md5 == hex(&output.md5) {
            Check::Unchanged
        } else {
            Check::Upload
        };
    }
    if target.capabilities().local_paths {
        return Check::HashStored;
    }
    if output.content_addressed {
        Check::Unchanged
    } else {
        Check::Upload
    }
}

/// The outputs split into those to upload and those already stored, in output order.
#[derive(Debug, Default)]
pub(crate) struct Decided {
    pub upload: Vec<Output>,
    pub unchanged: Vec<Output>,
}

/// Compares every output with the listing, hashing stored files on this machine `jobs` at a time.
pub(crate) async fn decide(
    outputs: Vec<Output>,
    listing: &HashMap<String, Metadata>,
    target: &dyn Storage,
    jobs: usize,
    progress: &Progress,
) -> Result<Decided, CollectError> {
    progress.stage("comparing", outputs.len());
    let checks = futures_util::stream::iter(outputs.into_iter().map(|output| {
        let decision = check(&output, listing.get(output.name.as_str()), target);
        async move {
            let same = match decision {
                Check::Upload => false,
                Check::Unchanged => true,
                Check::HashStored => {
                    // A stored file that vanished or cannot be read is simply sent again.
                    let hashed = match target.get(&output.name, None).await {
                        Ok(got) => hash_stream(got.stream).await.ok(),
                        Err(_) => None,
                    };
                    hashed.is_some_and(|(size, md5)| size == output.size && md5 == output.md5)
                }
            };
            Ok::<_, CollectError>((output, same))
        }
    }))
    .buffered(jobs.max(1));
    let mut decided = Decided::default();
    let mut checks = std::pin::pin!(checks);
    while let Some((output, same)) = checks.try_next().await? {
        progress.step();
        if same {
            decided.unchanged.push(output);
        } else {
            decided.upload.push(output);
        }
    }
    Ok(decided)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_md5_etags_are_compared() {
        assert_eq!(
            etag_md5("\"9DD4E461268C8034F5C8564E155C67A6\"").as_deref(),
            Some("9dd4e461268c8034f5c8564e155c67a6")
        );
        assert_eq!(etag_md5("\"3858f62230ac3c915f300c664312c11f-2\""), None);
        assert_eq!(etag_md5("\"1a2b-5f-10\""), None);
    }
}
