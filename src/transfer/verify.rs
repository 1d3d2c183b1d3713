//! Reading copies back: every file the target should hold is read from it and hashed, and its MD5 compared with
//! the source's, so that a copy damaged on its way or behind the storage's back (a stale hash record, a file
//! changed in place) is found. Nothing is trusted but the bytes read.

use std::fmt;

use futures_util::{StreamExt, TryStreamExt};
use storages_core::{Error, Md5, Name, Result, Storage};

use super::Progress;

/// A file the target does not hold as the source does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Its name.
    pub name: Name,
    /// The MD5 of the source's content.
    pub expected: Md5,
    /// The MD5 of the content read back from the target, `None` when the target does not hold the file.
    pub found: Option<Md5>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.found {
            Some(found) => write!(
                f,
                "`{}` differs: the source's MD5 is {}, the copy's {found}",
                self.name, self.expected
            ),
            None => write!(f, "`{}` is missing from the target", self.name),
        }
    }
}

/// Reads every `(name, md5)` back from `target`, `jobs` at a time, and returns those whose content differs, sorted
/// by name (the caller sets the stage).
pub(crate) async fn verify(
    target: &dyn Storage,
    expected: Vec<(Name, Md5)>,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<Mismatch>> {
    let mut mismatches: Vec<Mismatch> =
        futures_util::stream::iter(expected.into_iter().map(|(name, expected)| async move {
            let found = match target.get(&name, None).await {
                Ok(got) => {
                    let stream = got
                        .stream
                        .inspect(|chunk| {
                            if let Ok(chunk) = chunk {
                                progress.bytes(chunk.len() as u64);
                            }
                        })
                        .boxed();
                    let (_, md5) = Md5::of_stream(stream)
                        .await
                        .map_err(|e| Error::io("read back", name.as_str(), e))?;
                    Some(md5)
                }
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            progress.file_done();
            Ok((found != Some(expected)).then_some(Mismatch {
                name,
                expected,
                found,
            }))
        }))
        .buffer_unordered(jobs.max(1))
        .try_filter_map(|m| futures_util::future::ready(Ok(m)))
        .try_collect()
        .await?;
    mismatches.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(mismatches)
}
