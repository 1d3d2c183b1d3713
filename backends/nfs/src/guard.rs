//! The mount guard: the root must really be the share before anything is written to it.
//!
//! The scar it covers: a share that failed to mount (or was unmounted under a running server) leaves an ordinary
//! directory at its mount point, and an app that writes there fills the local disk with files that vanish from
//! every other server, and from this one when the share returns.

use std::fs;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, StatxFlags};
use storages_core::Name;
use storages_local::WriteCheck;

use crate::MountError;
use crate::mountinfo::{MOUNTINFO, Mount, read_mount_of};

/// No root verified yet.
const UNVERIFIED: u64 = u64::MAX;

/// What the guard saw when it verified the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The root (canonical).
    pub root: PathBuf,
    /// The mount the root lies on (`None` when the mount table could not be read and no mount is required).
    pub mount: Option<Mount>,
    /// Whether a mount was required.
    pub require_mount: bool,
    /// The sentinel found at the root, if one is configured.
    pub sentinel: Option<PathBuf>,
}

/// Verifies the root, fully when asked and before changes whenever the filesystem under the root changed.
#[derive(Debug)]
pub(crate) struct MountGuard {
    root: PathBuf,
    require_mount: bool,
    sentinel: Option<Name>,
    stale_retries: u32,
    /// The device and inode of the root directory last verified: another pair at the root's path means another
    /// directory is there now (the mount point under an unmounted share, even one on the same device).
    verified_dev: AtomicU64,
    verified_ino: AtomicU64,
}

impl MountGuard {
    /// A guard for `root` (canonical) that has verified nothing yet.
    pub fn new(
        root: PathBuf,
        require_mount: bool,
        sentinel: Option<Name>,
        stale_retries: u32,
    ) -> Self {
        Self {
            root,
            require_mount,
            sentinel,
            stale_retries,
            verified_dev: AtomicU64::new(UNVERIFIED),
            verified_ino: AtomicU64::new(UNVERIFIED),
        }
    }

    /// Whether there is anything to verify.
    fn active(&self) -> bool {
        self.require_mount || self.sentinel.is_some()
    }

    /// The full check: the root is an existing directory, lies on a mount other than `/` (when required) and
    /// holds the sentinel (when named). Remembers the filesystem it verified.
    pub fn verify(&self) -> Result<Share, MountError> {
        let (dev, ino) = self.root_id()?;
        let mount = match read_mount_of(&self.root) {
            Ok(mount) => mount,
            Err(source) if self.require_mount => {
                return Err(MountError::MountTable {
                    root: self.root.clone(),
                    table: PathBuf::from(MOUNTINFO),
                    source,
                });
            }
            Err(_) => None, // only reported by `check`, as an unknown filesystem
        };
        if self.require_mount {
            // Every path lies on `/` at least; a table without it is one we cannot trust to say "mounted".
            let on_root_fs = mount
                .as_ref()
                .is_none_or(|m| m.mount_point == Path::new("/"));
            if on_root_fs {
                return Err(MountError::NotMounted {
                    root: self.root.clone(),
                    fstype: mount.map_or_else(|| "unknown".to_owned(), |m| m.fstype),
                });
            }
        }
        let sentinel = match &self.sentinel {
            Some(name) => {
                let path = self.root.join(name.as_str());
                match retry(self.stale_retries, || fs::symlink_metadata(&path)) {
                    Ok(_) => Some(path),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Err(MountError::SentinelMissing {
                            root: self.root.clone(),
                            sentinel: path,
                        });
                    }
                    Err(source) => return Err(MountError::Inspect { path, source }),
                }
            }
            None => None,
        };
        self.verified_ino.store(ino, Ordering::SeqCst);
        self.verified_dev.store(dev, Ordering::SeqCst);
        Ok(Share {
            root: self.root.clone(),
            mount,
            require_mount: self.require_mount,
            sentinel,
        })
    }

    /// The cheap check before a change: one `fstat` of the root handle the change will be made beneath. The
    /// directory verified passes; another one (the share was unmounted, or remounted, before the handle was
    /// opened) is verified in full first, and must then be the one the handle holds.
    fn before_change(&self, handle: BorrowedFd<'_>) -> Result<(), MountError> {
        if !self.active() {
            return Ok(());
        }
        let held = self.handle_id(handle)?;
        if held == self.verified() {
            return Ok(());
        }
        self.verify()?;
        if held == self.verified() {
            Ok(())
        } else {
            // Mounted or unmounted between the handle's opening and now: the next attempt opens the new root.
            Err(MountError::Changed {
                root: self.root.clone(),
            })
        }
    }

    fn verified(&self) -> (u64, u64) {
        (
            self.verified_dev.load(Ordering::SeqCst),
            self.verified_ino.load(Ordering::SeqCst),
        )
    }

    /// The device and inode of the directory `handle` holds.
    fn handle_id(&self, handle: BorrowedFd<'_>) -> Result<(u64, u64), MountError> {
        let stat =
            rustix::fs::statx(handle, "", AtFlags::EMPTY_PATH, StatxFlags::INO).map_err(|e| {
                MountError::Inspect {
                    path: self.root.clone(),
                    source: e.into(),
                }
            })?;
        // The same encoding as `MetadataExt::dev`, which `root_id` reads.
        let dev = rustix::fs::makedev(stat.stx_dev_major, stat.stx_dev_minor);
        Ok((dev, stat.stx_ino))
    }

    /// The device and inode of the root directory.
    fn root_id(&self) -> Result<(u64, u64), MountError> {
        match retry(self.stale_retries, || fs::metadata(&self.root)) {
            Ok(m) if m.is_dir() => Ok((m.dev(), m.ino())),
            Ok(_) => Err(MountError::NotADirectory {
                root: self.root.clone(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(MountError::RootMissing {
                root: self.root.clone(),
            }),
            Err(source) => Err(MountError::Inspect {
                path: self.root.clone(),
                source,
            }),
        }
    }
}

impl WriteCheck for MountGuard {
    fn before_change(&self, _root: &Path, handle: BorrowedFd<'_>) -> storages_core::Result<()> {
        Ok(MountGuard::before_change(self, handle)?)
    }
}

/// `op`, tried again up to `retries` times while it answers `ESTALE`.
fn retry<T>(retries: u32, mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut attempt = 0;
    loop {
        match op() {
            Err(e) if attempt < retries && storages_local::is_stale(&e) => attempt += 1,
            other => return other,
        }
    }
}
