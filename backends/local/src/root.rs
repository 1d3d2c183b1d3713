//! Names resolved beneath a directory handle of the storage root, never by joining path strings.
//!
//! Every operation starts from a file descriptor of the root and resolves the name relative to it with
//! `openat2(2)` and `RESOLVE_BENEATH`: the kernel refuses, atomically and with no window between a check and its
//! use, any resolution that would leave the root, whether through `..`, an absolute symbolic link or a relative one
//! that climbs out. The last segment of a change is never resolved at all: the directory holding it is opened
//! beneath the root, and `linkat`, `renameat` and `unlinkat` act on the one segment inside it, which they never
//! follow when it is a symbolic link.
//!
//! The policy, beside nginx's `disable_symlinks`:
//! - a symbolic link that stays beneath the root is followed (`current -> releases/42` works): nginx `off`
//!   follows every link, `on` none, `if_not_owner` those owned like their target; none of them confines links to
//!   the root, which is what this storage does;
//! - a link that leads outside (absolute, or climbing out with `..`) is refused with [`Error::OutsideRoot`], for
//!   reads and changes alike;
//! - listings never descend into linked directories (so `a -> .` cannot make them loop), and list a linked file
//!   only when it resolves to a regular file beneath the root;
//! - cleaning never follows a link at all.
//!
//! Kernels without `openat2` (before Linux 5.6, or a seccomp filter that refuses it) get a stricter walk: one
//! segment at a time with `O_NOFOLLOW`, where every symbolic link counts as leaving the root (nginx's
//! `disable_symlinks on`).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, Statx, StatxFlags};
use rustix::io::Errno;
use storages_core::{Error, Md5, Metadata, Name, Result};

/// How names are resolved on this system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// `openat2` with `RESOLVE_BENEATH`: links beneath the root are followed, links leaving it refused.
    Beneath,
    /// One segment at a time with `O_NOFOLLOW`: no link is followed.
    NoSymlinks,
}

/// How often a resolution is retried when the kernel answers `EAGAIN` (a rename raced with it).
const RACE_RETRIES: usize = 8;

/// The root of a storage: its path (for messages and `local_path`) and how to get a handle of it.
#[derive(Debug)]
pub(crate) struct Root {
    path: PathBuf,
    /// Held for the storage's life (`file://`), or `None` when every operation opens the root afresh (a share: an
    /// unmount under a running server must not be blocked by our handle, and each change must land in the very
    /// directory its guard just verified).
    held: Option<OwnedFd>,
    resolution: Resolution,
    /// Cleared the first time the filesystem or kernel turns out to lack `O_TMPFILE` (or the process may not link
    /// such a file), so later writes go straight to named temporary files.
    tmpfile: AtomicBool,
    /// Cleared the first time the kernel turns out not to know `RESOLVE_CACHED` (before 5.12), so later reads go
    /// straight to the blocking pool instead of failing one `openat2` each.
    cached: AtomicBool,
}

/// A handle of the root for one operation.
#[derive(Debug)]
pub(crate) enum Handle<'a> {
    Held(BorrowedFd<'a>),
    Opened(OwnedFd),
}

impl AsFd for Handle<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Self::Held(fd) => *fd,
            Self::Opened(fd) => fd.as_fd(),
        }
    }
}

impl Root {
    /// The root at `path` (absolute, canonical), held open when `hold`, resolved by `openat2` where the kernel
    /// has it.
    pub fn open(path: PathBuf, hold: bool) -> io::Result<Self> {
        let fd = open_root(&path)?;
        let resolution = probe(fd.as_fd());
        Ok(Self {
            path,
            held: hold.then_some(fd),
            resolution,
            tmpfile: AtomicBool::new(true),
            cached: AtomicBool::new(true),
        })
    }

    /// The same root resolved the strict way, as on a kernel without `openat2` (for tests of that path).
    #[cfg(test)]
    pub fn without_openat2(mut self) -> Self {
        self.resolution = Resolution::NoSymlinks;
        self
    }

    /// Whether anonymous temporary files (`O_TMPFILE`) are worth trying here.
    pub fn tmpfile_supported(&self) -> bool {
        self.tmpfile.load(Ordering::Relaxed)
    }

    /// Records that anonymous temporary files do not work here.
    pub fn tmpfile_unsupported(&self) {
        self.tmpfile.store(false, Ordering::Relaxed);
    }

    /// The root's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle of the root for one operation.
    pub fn handle(&self) -> io::Result<Handle<'_>> {
        match &self.held {
            Some(fd) => Ok(Handle::Held(fd.as_fd())),
            None => open_root(&self.path).map(Handle::Opened),
        }
    }

    /// Opens `rel` (a validated name, or `.`) beneath `root` with `flags`; `shown` names it in errors.
    pub fn beneath(
        &self,
        root: BorrowedFd<'_>,
        rel: &str,
        flags: OFlags,
        shown: &str,
    ) -> Result<OwnedFd> {
        let flags = open_flags(flags);
        let opened = match self.resolution {
            Resolution::Beneath => retry_races(|| {
                rustix::fs::openat2(
                    root,
                    rel,
                    flags,
                    Mode::empty(),
                    ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
                )
            }),
            Resolution::NoSymlinks => walk_no_symlinks(root, rel, flags),
        };
        opened.map_err(|e| resolve_error(e, shown))
    }

    /// Opens `rel` beneath the held root using only what the kernel has cached (`RESOLVE_CACHED`), so that it
    /// never waits for a disk: `None` when the lookup would have to read a directory, when a rename raced with it,
    /// or when this root is not held or not resolved by `openat2` (the caller then opens on the blocking pool).
    pub fn beneath_cached(&self, rel: &str, flags: OFlags, shown: &str) -> Option<Result<OwnedFd>> {
        let held = self.held.as_ref()?;
        if self.resolution != Resolution::Beneath || !self.cached.load(Ordering::Relaxed) {
            return None;
        }
        match rustix::fs::openat2(
            held,
            rel,
            open_flags(flags),
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::CACHED,
        ) {
            Err(Errno::AGAIN) => None,
            // A kernel before 5.12, which does not know RESOLVE_CACHED.
            Err(Errno::INVAL) => {
                self.cached.store(false, Ordering::Relaxed);
                None
            }
            other => Some(other.map_err(|e| resolve_error(e, shown))),
        }
    }

    /// The directory that holds `name` and the segment naming it there.
    pub fn parent<'n>(
        &self,
        root: BorrowedFd<'_>,
        name: &'n Name,
        flags: OFlags,
    ) -> Result<(OwnedFd, &'n str)> {
        let dir = name.parent().unwrap_or(".");
        let fd = self.beneath(root, dir, flags | OFlags::DIRECTORY, name.as_str())?;
        Ok((fd, name.file_name()))
    }
}

/// The flags every open beneath the root adds: `O_CLOEXEC` always, `O_NOCTTY` where allowed (openat2 refuses,
/// with EINVAL, any flag beside `O_PATH` but `O_DIRECTORY`, `O_NOFOLLOW` and `O_CLOEXEC`).
fn open_flags(flags: OFlags) -> OFlags {
    if flags.contains(OFlags::PATH) {
        flags | OFlags::CLOEXEC
    } else {
        flags | OFlags::CLOEXEC | OFlags::NOCTTY
    }
}

/// `O_PATH` is enough for a root: it only ever serves as the starting point of `*at` calls.
fn open_root(path: &Path) -> io::Result<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// Whether this kernel resolves with `openat2`; `ENOSYS` (too old) and `EPERM` (a seccomp filter) say no.
fn probe(root: BorrowedFd<'_>) -> Resolution {
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(
        root,
        ".",
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        how,
    ) {
        Err(Errno::NOSYS | Errno::PERM) => Resolution::NoSymlinks,
        _ => Resolution::Beneath,
    }
}

fn retry_races(mut op: impl FnMut() -> rustix::io::Result<OwnedFd>) -> rustix::io::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        match op() {
            Err(Errno::AGAIN) if tries < RACE_RETRIES => tries += 1,
            other => return other,
        }
    }
}

/// What a refused resolution means: `EXDEV` is the kernel's "this leaves the root"; the strict walk reports every
/// link as `EXDEV` too.
fn resolve_error(e: Errno, shown: &str) -> Error {
    if e == Errno::XDEV {
        Error::OutsideRoot {
            name: shown.to_owned(),
        }
    } else {
        Error::io("open", shown, e.into())
    }
}

/// Opens `rel` beneath `root` one segment at a time, following no symbolic link (`EXDEV` for any link met).
fn walk_no_symlinks(root: BorrowedFd<'_>, rel: &str, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let segments: Vec<&str> = rel.split('/').filter(|s| *s != ".").collect();
    let Some((last, dirs)) = segments.split_last() else {
        return rustix::fs::openat(root, ".", flags, Mode::empty());
    };
    let mut dir: Option<OwnedFd> = None;
    for segment in dirs {
        let at = dir.as_ref().map_or(root, AsFd::as_fd);
        let next = rustix::fs::openat(
            at,
            *segment,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        );
        dir = Some(refuse_links(at, segment, next)?);
    }
    let at = dir.as_ref().map_or(root, AsFd::as_fd);
    let opened = rustix::fs::openat(at, *last, flags | OFlags::NOFOLLOW, Mode::empty());
    let fd = refuse_links(at, last, opened)?;
    // `O_PATH | O_NOFOLLOW` opens a link itself instead of failing.
    if flags.contains(OFlags::PATH) && kind_of(&stat_fd(fd.as_fd())?) == Kind::Symlink {
        return Err(Errno::XDEV);
    }
    Ok(fd)
}

/// `ELOOP` (or `ENOTDIR` from a link where a directory was asked for) from an `O_NOFOLLOW` open means a link.
fn refuse_links(
    dir: BorrowedFd<'_>,
    segment: &str,
    opened: rustix::io::Result<OwnedFd>,
) -> rustix::io::Result<OwnedFd> {
    match opened {
        Err(Errno::LOOP) => Err(Errno::XDEV),
        Err(Errno::NOTDIR) if stat_at(dir, segment).is_ok_and(|s| kind_of(&s) == Kind::Symlink) => {
            Err(Errno::XDEV)
        }
        other => other,
    }
}

/// What a directory entry or an open file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

const WANTED: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::MODE)
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE)
    .union(StatxFlags::MTIME);

/// The attributes of an open file (or `O_PATH` handle).
pub(crate) fn stat_fd(fd: BorrowedFd<'_>) -> rustix::io::Result<Statx> {
    rustix::fs::statx(fd, "", AtFlags::EMPTY_PATH, WANTED)
}

/// The attributes of `segment` in `dir`, of a link itself rather than its target.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, segment: &str) -> rustix::io::Result<Statx> {
    rustix::fs::statx(dir, segment, AtFlags::SYMLINK_NOFOLLOW, WANTED)
}

/// The attributes of an open `File`.
pub(crate) fn stat_file(file: &File) -> io::Result<Statx> {
    stat_fd(file.as_fd()).map_err(io::Error::from)
}

pub(crate) fn kind_of(stat: &Statx) -> Kind {
    use rustix::fs::{FileType, RawMode};
    match FileType::from_raw_mode(RawMode::from(stat.stx_mode)) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    }
}

/// The same file: device and inode.
pub(crate) fn same_file(a: &Statx, b: &Statx) -> bool {
    a.stx_ino == b.stx_ino
        && a.stx_dev_major == b.stx_dev_major
        && a.stx_dev_minor == b.stx_dev_minor
}

/// When it was last written.
pub(crate) fn modified(stat: &Statx) -> SystemTime {
    let t = stat.stx_mtime;
    match u64::try_from(t.tv_sec) {
        Ok(secs) => UNIX_EPOCH + Duration::new(secs, t.tv_nsec),
        // Before 1970: an odd clock, not worth a negative offset.
        Err(_) => UNIX_EPOCH,
    }
}

/// The extended attribute holding a file's content MD5, as recorded when it was written: the digest, then the size
/// and modification time it was recorded for (so a file changed later by something else is not trusted).
const MD5_RECORD: &str = "user.storages.md5";
const RECORD_LEN: usize = 16 + 8 + 8 + 4;

fn record_for(stat: &Statx, md5: Md5) -> [u8; RECORD_LEN] {
    let mut record = [0u8; RECORD_LEN];
    record[..16].copy_from_slice(md5.as_bytes());
    record[16..24].copy_from_slice(&stat.stx_size.to_le_bytes());
    record[24..32].copy_from_slice(&stat.stx_mtime.tv_sec.to_le_bytes());
    record[32..36].copy_from_slice(&stat.stx_mtime.tv_nsec.to_le_bytes());
    record
}

/// Records `md5` as the content hash of the open `file` whose attributes are `stat`. Best effort: a filesystem
/// without user extended attributes (or a full one) keeps no record, and comparisons then read the file.
pub(crate) fn record_md5(file: &File, stat: &Statx, md5: Md5) {
    let _ = rustix::fs::fsetxattr(
        file,
        MD5_RECORD,
        &record_for(stat, md5),
        rustix::fs::XattrFlags::empty(),
    );
}

/// The content MD5 recorded for the open `file`, if one was and it still describes the file (`stat`).
pub(crate) fn recorded_md5(file: BorrowedFd<'_>, stat: &Statx) -> Option<Md5> {
    let mut record = [0u8; RECORD_LEN];
    let len = rustix::fs::fgetxattr(file, MD5_RECORD, &mut record).ok()?;
    if len != RECORD_LEN {
        return None;
    }
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&record[..16]);
    let md5 = Md5::from_bytes(digest);
    (record == record_for(stat, md5)).then_some(md5)
}

/// Metadata from a file's attributes: the ETag changes with the inode (a replaced file), the modification time and
/// the size.
pub(crate) fn metadata_of(name: Name, stat: &Statx) -> Metadata {
    let modified = modified(stat);
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Metadata {
        etag: Some(format!(
            "\"{:x}-{nanos:x}-{:x}\"",
            stat.stx_ino, stat.stx_size
        )),
        content_type: Some(storages_core::guess_content_type(&name)),
        // A file system keeps neither: the content is read when its hash is needed.
        cache_control: None,
        content_md5: None,
        size: stat.stx_size,
        modified: Some(modified),
        name,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A root with `real/f.txt`, `inside -> real`, `f-link -> real/f.txt` and `out -> ..` (which leaves it).
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("real")).expect("mkdir");
        std::fs::write(root.join("real/f.txt"), "f").expect("write");
        std::fs::write(dir.path().join("secret"), "s").expect("write");
        symlink("real", root.join("inside")).expect("symlink");
        symlink("real/f.txt", root.join("f-link")).expect("symlink");
        symlink("..", root.join("out")).expect("symlink");
        (dir, root)
    }

    fn open(root: &Root, rel: &str) -> Result<OwnedFd> {
        let handle = root.handle().expect("handle");
        root.beneath(handle.as_fd(), rel, OFlags::RDONLY, rel)
    }

    fn outside(result: Result<OwnedFd>) -> bool {
        matches!(result, Err(Error::OutsideRoot { .. }))
    }

    #[test]
    fn openat2_follows_links_inside_and_refuses_links_out() {
        let (_dir, path) = tree();
        let root = Root::open(path, true).expect("root");
        assert_eq!(
            root.resolution,
            Resolution::Beneath,
            "this kernel has openat2"
        );
        assert!(open(&root, "real/f.txt").is_ok());
        assert!(open(&root, "inside/f.txt").is_ok());
        assert!(open(&root, "f-link").is_ok());
        assert!(outside(open(&root, "out/secret")));
        assert!(
            outside(open(&root, "out/root/real/f.txt")),
            "leaving and coming back is leaving"
        );
    }

    #[test]
    fn without_openat2_no_link_is_followed_at_all() {
        let (_dir, path) = tree();
        let root = Root::open(path, false).expect("root").without_openat2();
        assert!(open(&root, "real/f.txt").is_ok());
        assert!(outside(open(&root, "inside/f.txt")), "a directory link");
        assert!(outside(open(&root, "f-link")), "a file link");
        assert!(outside(open(&root, "out/secret")));
        let handle = root.handle().expect("handle");
        assert!(outside(root.beneath(
            handle.as_fd(),
            "f-link",
            OFlags::PATH,
            "f-link"
        )));
        assert!(matches!(
            open(&root, "real/missing"),
            Err(Error::NotFound { .. })
        ));
    }
}
