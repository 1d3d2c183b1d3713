//! A tmpfs mounted for one test and unmounted when dropped, even when the test panics.

use std::path::Path;
use std::process::Command;

/// A fresh tmpfs (at most 256 MiB) mounted on its own temporary directory, so that directory is a mount point
/// distinct from its parent's filesystem, as an NFS share's is. Unmounted on drop (lazily if still busy), then the
/// directory is removed.
#[derive(Debug)]
pub struct TmpfsMount {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl TmpfsMount {
    /// Mounts it. Mounting needs root: these tests run as root (as CI does), and fail saying so otherwise.
    pub fn new() -> Self {
        Self::with_size("256m")
    }

    /// Mounts one of at most `size` (`mount -o size=` syntax: `64k`, `256m`), to fill up on purpose.
    pub fn with_size(size: &str) -> Self {
        assert!(
            is_root(),
            "this test mounts a tmpfs and needs root (effective uid 0); run the tests as root, as CI does"
        );
        let dir = tempfile::tempdir().expect("tempdir for the mount");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs on {} failed ({}): {}",
            dir.path().display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir, mounted: true }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Unmounts it now (as an operator or a failing server would), leaving the empty mount point directory.
    pub fn unmount(&mut self) {
        let status = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .expect("run umount");
        assert!(
            status.success(),
            "umount {} failed",
            self.dir.path().display()
        );
        self.mounted = false;
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        if !self.mounted {
            return;
        }
        let path = self.dir.path();
        let unmounted = Command::new("umount")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Busy (a child process still has a file open there): detach it now, the kernel frees it later.
            let lazy = Command::new("umount").arg("-l").arg(path).status();
            if !lazy.is_ok_and(|s| s.success()) {
                eprintln!("could not unmount the test tmpfs at {}", path.display());
            }
        }
    }
}

/// Whether this process runs with effective uid 0.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let uids = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))?
                .to_owned();
            uids.split_whitespace().nth(1).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// A new temporary directory on the root filesystem (`/`), which is no share: in the first of the usual places
/// that lies on `/` (`/tmp` may be a tmpfs of its own).
#[cfg(feature = "nfs")]
pub fn dir_on_the_root_filesystem() -> tempfile::TempDir {
    let candidates = [
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        std::env::temp_dir(),
        std::path::PathBuf::from("/var/tmp"),
        std::path::PathBuf::from("/"),
    ];
    for candidate in candidates {
        let on_root = candidate
            .canonicalize()
            .ok()
            .and_then(|c| storages::nfs::mountinfo::read_mount_of(&c).ok().flatten())
            .is_some_and(|m| m.mount_point == Path::new("/"));
        if let (true, Ok(dir)) = (on_root, tempfile::tempdir_in(&candidate)) {
            return dir;
        }
    }
    panic!("no writable directory on the root filesystem to test with");
}
