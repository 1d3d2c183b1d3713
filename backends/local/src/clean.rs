//! Cleaning up after writers that crashed: a writer killed mid-save (SIGKILL, power loss, a server that went away)
//! leaves its temporary file behind. Listings never show such files; this removes them once they are old enough
//! that no live writer can still own them, and never touches anything else.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use storages_core::{Error, Result};

use crate::hooks::retry_stale;
use crate::paths::is_temp;

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

/// Removes every regular file under `root` whose name starts with [`crate::TEMP_PREFIX`] and which was last
/// written at least `older_than` ago. Directories are walked without following symbolic links, so nothing outside
/// the root is reached; files that vanish meanwhile (their writer finished) are skipped.
pub(crate) fn clean(root: &Path, older_than: Duration, retries: u32) -> Result<CleanReport> {
    let now = SystemTime::now();
    let mut report = CleanReport::default();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let shown = || rel.display().to_string();
        let entries = retry_stale(retries, || {
            fs::read_dir(&dir)
                .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
                .map_err(|e| Error::io("list for cleaning", shown(), e))
        });
        let entries = match entries {
            Ok(entries) => entries,
            // Removed meanwhile: nothing left to clean in it.
            Err(Error::NotFound { .. }) if !rel.as_os_str().is_empty() => continue,
            Err(e) if rel.as_os_str().is_empty() => return Err(e),
            Err(e) => {
                report.failed.push(e);
                continue;
            }
        };
        for entry in entries {
            let Ok(file_type) = entry.file_type() else {
                continue; // vanished
            };
            let file_name = entry.file_name();
            let path = rel.join(&file_name);
            if file_type.is_dir() {
                stack.push(path);
                continue;
            }
            if !file_type.is_file() || !file_name.to_str().is_some_and(is_temp) {
                continue;
            }
            let Ok(meta) = entry.metadata() else {
                continue; // vanished: its writer committed or removed it
            };
            // A time in the future (clocks of NFS clients and server disagree) counts as brand new.
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or(Duration::ZERO);
            if age < older_than {
                continue;
            }
            match fs::remove_file(entry.path()) {
                Ok(()) => report.removed.push(RemovedTemp {
                    path,
                    size: meta.len(),
                    age,
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => report
                    .failed
                    .push(Error::io("remove", path.display().to_string(), e)),
            }
        }
    }
    report.removed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}
