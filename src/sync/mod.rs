//! `sync`: make one storage hold every file of another, for any pair of backends (a directory, an NFS share, an S3
//! bucket, memory), on the transfer engine collectstatic uses.
//!
//! One run lists each side once (under `prefix` when given), skips every file the target already holds with the
//! same size and content MD5 (from listings where they give one, a `stat` of S3 objects whose ETag is no MD5,
//! reading files on this machine only when sizes match), streams the others `jobs` at a time with their
//! `Content-Type` and `Cache-Control`, then with `delete` removes what the source lacks, and with `verify` reads
//! every file back from the target and compares its MD5 with the source's. Each copy is atomic on every backend:
//! a run that is stopped (a signal, a crash, a server gone) leaves whole files or none, and the next run copies
//! what is still missing.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use storages::sync::{SyncOptions, sync};
//! use storages::{MemoryStorage, Storage, StorageExt};
//! let source: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
//! let target = MemoryStorage::new();
//! source.save("css/site.css", "body {}").await?;
//! source.save("img/logo.png", b"\x89PNG".to_vec()).await?;
//!
//! let first = sync(&source, &target, &SyncOptions::default()).await?;
//! assert_eq!((first.copied, first.unchanged), (2, 0));
//! let again = sync(&source, &target, &SyncOptions::default()).await?;
//! assert_eq!((again.copied, again.unchanged), (0, 2));
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use storages_core::{Md5, Name, Storage};

use crate::transfer::{self, Body, Item, Progress, Stage};

pub use crate::transfer::{Confirm, Mismatch};

/// How [`sync`] works. Start from `SyncOptions::default()` and set what differs.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Change nothing; the report says what would be done.
    pub dry_run: bool,
    /// Remove from the target the files the source does not have (under `prefix`), after copying.
    pub delete: bool,
    /// After copying, read every file back from the target and compare its MD5 with the source's.
    pub verify: bool,
    /// Only names under this directory, on both sides.
    pub prefix: Option<Name>,
    /// Copies (and stored-file checks) in flight at once; `None`: [`transfer::default_jobs`] for the target.
    pub jobs: Option<usize>,
    /// Told what the run does as it goes (the command line draws a bar on a terminal); `None`: nothing.
    pub progress: Option<Arc<dyn Progress>>,
    /// Asked before any deletion, before anything is copied; `None` deletes without asking.
    pub confirm: Option<Confirm>,
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("dry_run", &self.dry_run)
            .field("delete", &self.delete)
            .field("verify", &self.verify)
            .field("prefix", &self.prefix)
            .field("jobs", &self.jobs)
            .field("progress", &self.progress.as_ref().map(|_| "Progress"))
            .field("confirm", &self.confirm.as_ref().map(|_| "Fn"))
            .finish()
    }
}

/// What a run did, or with `dry_run` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Files copied.
    pub copied: usize,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Files the target already held with the same content, not copied.
    pub unchanged: usize,
    /// Files removed from the target (`delete`).
    pub deleted: usize,
    /// Every name copied, sorted.
    pub copied_names: Vec<Name>,
    /// Every name removed, sorted.
    pub deleted_names: Vec<Name>,
    /// Files the source listed but no longer had when they were to be copied (removed meanwhile), sorted: not
    /// copied, and not an error (the next run deletes them from the target with `delete`).
    pub vanished: Vec<Name>,
    /// Files read back (`verify`).
    pub verified: usize,
    /// Files that `verify` found different in the target from the source, sorted by name.
    pub mismatches: Vec<Mismatch>,
    /// Nothing was changed: the counts say what would have been.
    pub dry_run: bool,
    /// How long it took.
    pub elapsed: Duration,
}

impl SyncReport {
    /// Writes what a dry run would do (`would copy NAME`, `would delete NAME`) and every mismatch `verify` found,
    /// one per line.
    pub fn write_details(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.dry_run {
            for name in &self.copied_names {
                writeln!(out, "would copy {name}")?;
            }
            for name in &self.deleted_names {
                writeln!(out, "would delete {name}")?;
            }
        }
        for name in &self.vanished {
            writeln!(out, "vanished from the source before it was copied: {name}")?;
        }
        for mismatch in &self.mismatches {
            writeln!(out, "MISMATCH {mismatch}")?;
        }
        Ok(())
    }
}

/// `copied N files (B bytes), M unchanged, D deleted, in T s`, and what `verify` found.
impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "copied {} files ({} bytes), {} unchanged, {} deleted, in {:.2} s",
            self.copied,
            self.bytes_copied,
            self.unchanged,
            self.deleted,
            self.elapsed.as_secs_f64()
        )?;
        if !self.vanished.is_empty() {
            write!(
                f,
                "; {} vanished from the source meanwhile",
                self.vanished.len()
            )?;
        }
        if self.verified > 0 || !self.mismatches.is_empty() {
            write!(
                f,
                "; verified {} files, {} differ",
                self.verified,
                self.mismatches.len()
            )?;
        }
        if self.dry_run {
            f.write_str(" (dry run: nothing was changed)")?;
        }
        Ok(())
    }
}

/// Why a run stopped. Nothing is copied after the first error, and every copy already made is whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// An option that cannot be used.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option (`--jobs`, ...).
        option: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The deletions were not confirmed; nothing was changed.
    #[error("cancelled: {0}")]
    Cancelled(String),

    /// The source or the target failed.
    #[error(transparent)]
    Storage(#[from] storages_core::Error),
}

/// Makes `target` hold every file of `source` (under `options.prefix`). See the module docs.
pub async fn sync(
    source: &Arc<dyn Storage>,
    target: &dyn Storage,
    options: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let jobs =
        transfer::jobs_for(options.jobs, target).ok_or_else(|| SyncError::InvalidOption {
            option: "--jobs".into(),
            reason: "must be at least 1".into(),
        })?;
    let progress = transfer::reporter(options.progress.as_ref());
    let result = run(source, target, options, jobs, progress).await;
    progress.finish();
    let mut report = result?;
    report.elapsed = started.elapsed();
    Ok(report)
}

async fn run(
    source: &Arc<dyn Storage>,
    target: &dyn Storage,
    options: &SyncOptions,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<SyncReport, SyncError> {
    let prefix = options.prefix.as_ref();
    progress.stage(Stage::Listing, 0, 0);
    let (listed, stored) = futures_util::future::try_join(
        transfer::listing(&**source, prefix),
        transfer::listing(target, prefix),
    )
    .await?;
    let mut stale: Vec<Name> = if options.delete {
        let names: HashSet<&str> = listed.keys().map(String::as_str).collect();
        stored
            .values()
            .filter(|m| !names.contains(m.name.as_str()))
            .map(|m| m.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    stale.sort();
    // Asked before anything changes, so that "no" leaves the target as it was.
    if !options.dry_run && !stale.is_empty() {
        if let Some(confirm) = &options.confirm {
            if !confirm(stale.len()) {
                return Err(SyncError::Cancelled(format!(
                    "{} file(s) would have been deleted; nothing was changed",
                    stale.len()
                )));
            }
        }
    }
    let mut items: Vec<Item> = listed
        .into_values()
        .map(|meta| {
            let mut item = Item::new(meta.name, Body::Stored(Arc::clone(source)), meta.size);
            item.md5 = meta.content_md5;
            item
        })
        .collect();
    // In name order, so that a stopped run has copied a predictable part and progress reads naturally.
    items.sort_by(|a, b| a.name.cmp(&b.name));

    progress.stage(Stage::Comparing, items.len() as u64, 0);
    let decided = transfer::decide(items, &stored, target, jobs, progress).await?;
    let mut report = SyncReport {
        unchanged: decided.unchanged.len(),
        dry_run: options.dry_run,
        ..SyncReport::default()
    };
    report.bytes_copied = decided.upload.iter().map(|i| i.size).sum();
    report.copied = decided.upload.len();
    report.copied_names = decided.upload.iter().map(|i| i.name.clone()).collect();
    report.deleted = stale.len();
    if options.dry_run {
        report.deleted_names = stale;
        return Ok(report);
    }

    progress.stage(
        Stage::Copying,
        decided.upload.len() as u64,
        report.bytes_copied,
    );
    let budget = transfer::Budget::new();
    let uploaded = transfer::upload(
        target,
        decided.upload,
        jobs,
        options.verify,
        &budget,
        progress,
    )
    .await?;
    let copied = uploaded.copied;
    if !uploaded.vanished.is_empty() {
        let mut vanished: Vec<Name> = uploaded.vanished.into_iter().map(|i| i.name).collect();
        vanished.sort();
        report.copied -= vanished.len();
        report.bytes_copied = copied.iter().map(|i| i.size).sum();
        report
            .copied_names
            .retain(|n| vanished.binary_search(n).is_err());
        report.vanished = vanished;
    }
    if !stale.is_empty() {
        progress.stage(Stage::Deleting, stale.len() as u64, 0);
        transfer::delete(target, &stale, jobs, progress).await?;
    }
    report.deleted_names = stale;

    if options.verify {
        let expected: Vec<(Name, Md5, u64)> = copied
            .iter()
            .chain(&decided.unchanged)
            .filter_map(|item| Some((item.name.clone(), item.md5?, item.size)))
            .collect();
        let bytes = expected.iter().map(|(_, _, size)| size).sum();
        progress.stage(Stage::Verifying, expected.len() as u64, bytes);
        report.verified = expected.len();
        let expected = expected.into_iter().map(|(n, m, _)| (n, m)).collect();
        report.mismatches = transfer::verify(target, expected, jobs, progress).await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_one_line() {
        let report = SyncReport {
            copied: 3,
            bytes_copied: 1234,
            unchanged: 4,
            deleted: 1,
            elapsed: Duration::from_millis(1500),
            ..SyncReport::default()
        };
        assert_eq!(
            report.to_string(),
            "copied 3 files (1234 bytes), 4 unchanged, 1 deleted, in 1.50 s"
        );
    }
}
