//! Cleaning up after writers that crashed: a writer killed mid-save (SIGKILL, power loss, a server that went away)
//! leaves its temporary file behind. Listings never show such files; this removes them once they are old enough
//! that no live writer can still own them, and never touches anything else.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Mode, OFlags, RawDir};
use rustix::io::Errno;
use storages_core::{Cleaned, Error, Leftover, LeftoverKind, Result};

use crate::hooks::retry_stale;
use crate::paths::is_temp;
use crate::root::{Kind, kind_of, modified, stat_at};

/// A temporary file removed by cleaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedTemp {
    /// Its path relative to the storage root.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// How long before the cleaning it was last written.
    pub age: Duration,
}

/// What cleaning did: the files it removed and the entries it could not handle (it goes on past them).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct CleanReport {
    /// Removed temporary files, sorted by path.
    pub removed: Vec<RemovedTemp>,
    /// Directories that could not be read and files that could not be removed, each naming its path.
    pub failed: Vec<Error>,
}

/// The report every backend's cleaning gives.
impl From<CleanReport> for Cleaned {
    fn from(report: CleanReport) -> Self {
        Cleaned::new(LeftoverKind::TempFiles, report.removed, report.failed)
    }
}

impl From<RemovedTemp> for Leftover {
    fn from(removed: RemovedTemp) -> Self {
        Leftover::TempFile {
            path: removed.path,
            size: removed.size,
            age: removed.age,
        }
    }
}

/// Removes every regular file under the root whose name starts with [`crate::TEMP_PREFIX`] and which was last
/// written at least `older_than` ago. The walk starts from the root's handle and opens each directory beneath the
/// one it was found in with `O_NOFOLLOW`, and removes with `unlinkat` in that directory: no symbolic link is ever
/// followed, so nothing outside the root can be reached. Files that vanish meanwhile (their writer finished) are
/// skipped.
pub(crate) fn clean(
    root: BorrowedFd<'_>,
    older_than: Duration,
    retries: u32,
) -> Result<CleanReport> {
    let now = SystemTime::now();
    let mut report = CleanReport::default();
    // Directories still to walk, each with the handle of the directory it is in (none: the root itself).
    let mut stack: Vec<(PathBuf, Option<Arc<OwnedFd>>)> = vec![(PathBuf::new(), None)];
    while let Some((rel, parent)) = stack.pop() {
        let shown = || rel.display().to_string();
        let opened = retry_stale(retries, || {
            let (at, segment) = match (&parent, rel.file_name()) {
                (Some(parent), Some(segment)) => (parent.as_fd(), segment),
                _ => (root, OsStr::new(".")),
            };
            rustix::fs::openat(
                at,
                segment,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Error::io("list for cleaning", shown(), e.into()))
        });
        let dir = match opened {
            Ok(dir) => Arc::new(dir),
            // Removed meanwhile, or replaced by a link: nothing of ours to clean in it.
            Err(Error::NotFound { .. }) if parent.is_some() => continue,
            Err(Error::Io { source, .. })
                if parent.is_some()
                    && matches!(
                        Errno::from_io_error(&source),
                        Some(Errno::LOOP | Errno::NOTDIR)
                    ) =>
            {
                continue;
            }
            Err(e) if parent.is_none() => return Err(e),
            Err(e) => {
                report.failed.push(e);
                continue;
            }
        };
        let mut buf = Vec::with_capacity(32 * 1024);
        let mut entries = RawDir::new(dir.as_fd(), buf.spare_capacity_mut());
        while let Some(entry) = entries.next() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    report
                        .failed
                        .push(Error::io("list for cleaning", shown(), e.into()));
                    break;
                }
            };
            let Ok(segment) = entry.file_name().to_str() else {
                continue;
            };
            if segment == "." || segment == ".." {
                continue;
            }
            let path = rel.join(segment);
            let Ok(stat) = stat_at(dir.as_fd(), segment) else {
                continue; // vanished
            };
            match kind_of(&stat) {
                Kind::Dir => {
                    stack.push((path, Some(Arc::clone(&dir))));
                    continue;
                }
                Kind::File if is_temp(segment) => {}
                _ => continue,
            }
            // A time in the future (clocks of NFS clients and server disagree) counts as brand new.
            let age = now
                .duration_since(modified(&stat))
                .unwrap_or(Duration::ZERO);
            if age < older_than {
                continue;
            }
            match rustix::fs::unlinkat(dir.as_fd(), segment, AtFlags::empty()) {
                Ok(()) => report.removed.push(RemovedTemp {
                    path,
                    size: stat.stx_size,
                    age,
                }),
                Err(Errno::NOENT) => {}
                Err(e) => {
                    report
                        .failed
                        .push(Error::io("remove", path.display().to_string(), e.into()))
                }
            }
        }
    }
    report.removed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}
