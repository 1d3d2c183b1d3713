//! What a backend built on [`crate::LocalStorage`] may change about it. The NFS backend uses every hook: it keeps
//! the local backend's writes, reads and listings, and adds its mount guard, host-tagged temporary files, retries of
//! stale handles and tolerance of a root-squashed share.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::{Arc, Mutex};

use storages_core::{Error, Result};

/// A check run on the writer's blocking thread before anything is created, replaced or removed under the root
/// (before every `put` and `delete`, and before cleaning). An error stops the change: nothing is touched.
pub trait WriteCheck: fmt::Debug + Send + Sync + 'static {
    /// Checks that `root` (absolute) may be changed now through `handle`, the directory handle the change will be
    /// made beneath (so a check of its identity is a check of exactly where the bytes go).
    fn before_change(&self, root: &Path, handle: BorrowedFd<'_>) -> Result<()>;
}

/// How a storage differs from plain `file://`. [`Hooks::default`] is `file://` itself.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Hooks {
    /// The backend's name, as `Storage::backend` and errors give it.
    pub backend: &'static str,
    /// Added to temporary file names after [`crate::TEMP_PREFIX`], so a file left behind says who wrote it (the
    /// NFS backend puts `<host>.` here; the process id and a random part always follow).
    pub temp_tag: String,
    /// Whether every operation opens the root afresh instead of holding one handle for the storage's life. A
    /// share wants this: a handle held open would keep an unmount under a running server busy, and a fresh one
    /// is the directory the `before_change` check verifies.
    pub reopen_root: bool,
    /// Whether create-only writes may use anonymous temporary files (`O_TMPFILE`), which leave nothing behind when
    /// a writer dies. A share says no: NFS has no `O_TMPFILE`, and its named, host-tagged temporary files tell
    /// `clean` which server left them.
    pub anonymous_temp: bool,
    /// How many more times opening, stat-ing and listing are tried when they fail with `ESTALE` (a file handle
    /// another NFS client made stale by replacing or removing the file). Local disks never answer `ESTALE`.
    pub stale_retries: u32,
    /// Where an `EPERM` from setting `file_mode`/`dir_mode` goes: `None` fails the write (`file://`: the modes are a
    /// promise); `Some` records it there as a warning, once, and the write goes on (a root-squashed share).
    pub permission_warnings: Option<Arc<Warnings>>,
    /// Run before every change under the root.
    pub before_change: Option<Arc<dyn WriteCheck>>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            backend: "local",
            temp_tag: String::new(),
            reopen_root: false,
            anonymous_temp: true,
            stale_retries: 0,
            permission_warnings: None,
            before_change: None,
        }
    }
}

impl Hooks {
    /// Runs the `before_change` check, if any.
    pub(crate) fn check_change(&self, root: &Path, handle: BorrowedFd<'_>) -> Result<()> {
        match &self.before_change {
            Some(check) => check.before_change(root, handle),
            None => Ok(()),
        }
    }
}

/// Conditions a storage reports instead of failing, each kind once: recorded for [`Warnings::all`] and printed to
/// standard error (`storages: warning: ...`) the first time, so an operator sees it in the server log without a
/// flood of repeats.
#[derive(Debug, Default)]
pub struct Warnings {
    seen: Mutex<Vec<(&'static str, String)>>,
}

impl Warnings {
    /// A new, empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` under `kind` unless that kind was recorded already; returns whether it was new.
    pub fn once(&self, kind: &'static str, message: impl FnOnce() -> String) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.iter().any(|(k, _)| *k == kind) {
            return false;
        }
        let message = message();
        eprintln!("storages: warning: {message}");
        seen.push((kind, message));
        true
    }

    /// Every warning recorded so far, oldest first.
    pub fn all(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }
}

/// Whether an I/O error is `ESTALE`: a file handle the NFS server no longer knows.
pub fn is_stale(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StaleNetworkFileHandle
}

/// Runs `op`, and again up to `retries` more times while it fails with `ESTALE`. The kernel drops the stale handle
/// when it reports it, so a new attempt looks the path up afresh and finds the file that replaced it.
pub fn retry_stale<T>(retries: u32, mut op: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 0;
    loop {
        match op() {
            Err(Error::Io { source, .. }) if attempt < retries && is_stale(&source) => {
                attempt += 1;
                // A short pause from the second retry on lets a burst of replacements settle.
                if attempt > 1 {
                    std::thread::sleep(std::time::Duration::from_millis(5 * u64::from(attempt)));
                }
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stale() -> Error {
        Error::io("open", "a.txt", io::Error::from_raw_os_error(116))
    }

    #[test]
    fn estale_is_recognised_by_its_os_error() {
        assert!(is_stale(&io::Error::from_raw_os_error(116)));
        assert!(!is_stale(&io::Error::from_raw_os_error(2)));
    }

    #[test]
    fn stale_handles_are_retried_a_bounded_number_of_times() {
        let mut calls = 0;
        let got = retry_stale(3, || {
            calls += 1;
            if calls < 3 { Err(stale()) } else { Ok(calls) }
        });
        assert_eq!(got.expect("third attempt succeeds"), 3);

        let mut calls = 0;
        let err = retry_stale(2, || -> Result<()> {
            calls += 1;
            Err(stale())
        })
        .expect_err("always stale");
        assert_eq!(calls, 3, "one attempt and two retries");
        assert!(
            matches!(err, Error::Io { ref source, .. } if is_stale(source)),
            "{err:?}"
        );
    }

    #[test]
    fn other_errors_and_file_urls_are_not_retried() {
        let mut calls = 0;
        let _ = retry_stale(3, || -> Result<()> {
            calls += 1;
            Err(Error::NotFound { name: "a".into() })
        });
        assert_eq!(calls, 1);
        let mut calls = 0;
        let _ = retry_stale(0, || -> Result<()> {
            calls += 1;
            Err(stale())
        });
        assert_eq!(calls, 1);
    }

    #[test]
    fn each_kind_of_warning_is_recorded_once() {
        let w = Warnings::new();
        assert!(w.once("chmod", || "first".into()));
        assert!(!w.once("chmod", || unreachable!("not built again")));
        assert!(w.once("other", || "second".into()));
        assert_eq!(w.all(), ["first", "second"]);
    }
}
