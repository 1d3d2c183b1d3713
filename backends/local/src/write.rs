//! Atomic writes: content goes to a temporary file in the destination directory, which is then renamed
//! (overwrite) or hard-linked (create-only) into place, so a reader sees the whole file or none of it and two
//! writers of one name never both win.
//!
//! The destination directory is opened beneath the root (`root.rs`) and every step after that is a `*at` call on
//! one segment inside it, so no name, link or race can put a byte outside the root.

use std::fs::{File, Permissions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use bytes::Bytes;
use rustix::fs::{AtFlags, Mode, OFlags, Statx};
use rustix::io::Errno;
use storages_core::naming::{Alternatives, Claim};
use storages_core::{Error, Md5, Metadata, Name, PutMode, Result};

use crate::paths::TEMP_PREFIX;
use crate::root::{
    Kind, Root, kind_of, metadata_of, record_md5, same_file, stat_at, stat_fd, stat_file,
};

/// `EPERM`, the same number on every Unix.
const EPERM: i32 = 1;

/// Everything a blocking writer needs, owned so it can move to a blocking thread.
#[derive(Debug)]
pub(crate) struct WriteJob {
    pub root: Arc<Root>,
    pub name: Name,
    pub mode: PutMode,
    pub file_mode: Option<u32>,
    pub dir_mode: Option<u32>,
    pub fsync: bool,
    pub content_type: String,
    /// The content's MD5 as the caller declared it, recorded with the file.
    pub md5: Option<Md5>,
    /// The backend's changes to plain `file://` (temporary file tag, checks, permission policy).
    pub hooks: crate::Hooks,
}

/// The file being written, in the directory it goes into. Named temporary files (`.storages-tmp.*`) are removed
/// unless committed; anonymous ones (`O_TMPFILE`: no directory entry until `linkat` gives them their name) vanish
/// by themselves when closed uncommitted, even when the process is killed.
struct Temp {
    dir: OwnedFd,
    file: File,
    /// The temporary name, or `None` for an anonymous file.
    name: Option<String>,
}

impl Temp {
    /// The file is in place under its final name: its temporary name (if any) is gone, nothing to remove.
    fn committed(&mut self) {
        self.name = None;
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            // Ignored: after a rename the file is gone already; otherwise this is best-effort cleanup of a failed
            // write.
            let _ = rustix::fs::unlinkat(&self.dir, name.as_str(), AtFlags::empty());
        }
    }
}

impl WriteJob {
    /// Writes every chunk `next` yields (until `None`) and commits the file. An `Err` from `next`, or any I/O
    /// failure, removes the temporary file and stores nothing.
    pub fn run(self, mut next: impl FnMut() -> Option<io::Result<Bytes>>) -> Result<Metadata> {
        let fail = |e: io::Error| Error::io("write", self.name.as_str(), e);
        let handle = self.root.handle().map_err(fail)?;
        self.hooks.check_change(self.root.path(), handle.as_fd())?;
        let dir = self.open_dir(handle.as_fd())?;
        let mut temp = self.create_temp(dir)?;
        while let Some(chunk) = next() {
            temp.file.write_all(&chunk.map_err(fail)?).map_err(fail)?;
        }
        if let Some(mode) = self.file_mode {
            let set = temp.file.set_permissions(Permissions::from_mode(mode));
            self.permissions_set(set, "set permissions of", self.name.as_str())?;
        }
        // The sync also reports any write error the medium deferred (NFS sends data at the latest on `close`, whose
        // error `File`'s drop cannot report): after a successful `sync_all` a close has nothing left to fail on.
        if self.fsync {
            temp.file.sync_all().map_err(fail)?;
        }
        let stat = stat_file(&temp.file).map_err(fail)?;
        if let Some(md5) = self.md5 {
            record_md5(&temp.file, &stat, md5);
        }
        let name = self.commit(&mut temp, &stat)?;
        if self.fsync {
            rustix::fs::fsync(&temp.dir).map_err(|e| fail(e.into()))?;
        }
        drop(temp);
        let mut meta = metadata_of(name, &stat);
        meta.content_type = Some(self.content_type);
        meta.content_md5 = self.md5;
        Ok(meta)
    }

    /// The directory the name goes into, opened beneath the root; created (with its missing parents) when absent.
    fn open_dir(&self, root: BorrowedFd<'_>) -> Result<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let Some(dir) = self.name.parent() else {
            return self.root.beneath(root, ".", flags, self.name.as_str());
        };
        match self.root.beneath(root, dir, flags, self.name.as_str()) {
            Err(Error::NotFound { .. }) => {
                self.create_dirs(root, dir)?;
                self.root.beneath(root, dir, flags, self.name.as_str())
            }
            other => other,
        }
    }

    /// The file to write into: anonymous (`O_TMPFILE`) where the filesystem has it (one directory entry per save,
    /// made by the final `linkat`, instead of a temporary one created and removed), named otherwise (shares keep
    /// host-tagged names `clean` can attribute).
    fn create_temp(&self, dir: OwnedFd) -> Result<Temp> {
        let anonymous = self.hooks.anonymous_temp && self.root.tmpfile_supported();
        if anonymous {
            let opened = rustix::fs::openat(
                &dir,
                ".",
                OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
                self.new_file_mode(),
            );
            match opened {
                Ok(fd) => {
                    return Ok(Temp {
                        dir,
                        file: File::from(fd),
                        name: None,
                    });
                }
                // No O_TMPFILE on this filesystem (EOPNOTSUPP) or kernel (EISDIR, EINVAL): named from now on.
                Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {
                    self.root.tmpfile_unsupported()
                }
                Err(e) => {
                    return Err(Error::io(
                        "create a temporary file for",
                        self.name.as_str(),
                        e.into(),
                    ));
                }
            }
        }
        let (file, name) = self.create_named(&dir)?;
        Ok(Temp {
            dir,
            file,
            name: Some(name),
        })
    }

    fn new_file_mode(&self) -> Mode {
        Mode::from_raw_mode(self.file_mode.unwrap_or(0o666))
    }

    /// A fresh temporary name: `.storages-tmp.<tag><pid>.<random>`.
    fn temp_name(&self) -> String {
        format!(
            "{TEMP_PREFIX}{}{}.{}",
            self.hooks.temp_tag,
            process_id(),
            std::iter::repeat_with(fastrand::alphanumeric)
                .take(12)
                .collect::<String>()
        )
    }

    /// A new temporary file named by [`WriteJob::temp_name`] in `dir`.
    fn create_named(&self, dir: &OwnedFd) -> Result<(File, String)> {
        let name = self.temp_name();
        let file = rustix::fs::openat(
            dir,
            name.as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            self.new_file_mode(),
        )
        .map_err(|e| Error::io("create a temporary file for", self.name.as_str(), e.into()))?;
        Ok((File::from(file), name))
    }

    /// Gives an anonymous file a temporary name after all, copying its bytes into a named file: for the system
    /// that has `O_TMPFILE` but lets this process link it neither by `AT_EMPTY_PATH` nor through `/proc`.
    fn name_anonymous(&self, temp: &mut Temp) -> Result<()> {
        let fail = |e: io::Error| Error::io("write", self.name.as_str(), e);
        let (mut named, name) = self.create_named(&temp.dir)?;
        // Named before the copy, so a failed copy still removes it.
        let old = std::mem::replace(&mut temp.file, named.try_clone().map_err(fail)?);
        temp.name = Some(name);
        let mut old = old;
        old.seek(SeekFrom::Start(0)).map_err(fail)?;
        io::copy(&mut old, &mut named).map_err(fail)?;
        if self.fsync {
            named.sync_all().map_err(fail)?;
        }
        Ok(())
    }

    /// Creates the directory `dir` (a name's parent) and its missing parents below the root, each with
    /// `dir_mode`; a directory another process creates at the same moment is fine.
    fn create_dirs(&self, root: BorrowedFd<'_>, dir: &str) -> Result<()> {
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        let mut parent: Option<OwnedFd> = None;
        let mut end = 0;
        for segment in dir.split('/') {
            end += segment.len();
            let so_far = &dir[..end];
            end += 1; // the `/` after it
            match self.root.beneath(root, so_far, flags, self.name.as_str()) {
                Ok(fd) => {
                    parent = Some(fd);
                    continue;
                }
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            let at = parent.as_ref().map_or(root, AsFd::as_fd);
            let mode = Mode::from_raw_mode(self.dir_mode.unwrap_or(0o777));
            match rustix::fs::mkdirat(at, segment, mode) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(dir_error(&self.name, e.into())),
            }
            // The new directory itself, never a link someone put in its place.
            let created = rustix::fs::openat(
                at,
                segment,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| match e {
                Errno::LOOP => Error::OutsideRoot {
                    name: self.name.to_string(),
                },
                e => dir_error(&self.name, e.into()),
            })?;
            if let Some(mode) = self.dir_mode {
                // `mkdirat` applied the umask; the mode asked for is a promise.
                let set = rustix::fs::fchmod(&created, Mode::from_raw_mode(mode))
                    .map_err(io::Error::from);
                self.permissions_set(set, "set permissions of the directory of", so_far)?;
            }
            parent = Some(created);
        }
        Ok(())
    }

    /// The outcome of setting a mode on `what`: an error fails the write, except `EPERM` where the hooks collect
    /// warnings (a root-squashed NFS share refuses `chmod` to the squashed user), which is reported once.
    fn permissions_set(&self, result: io::Result<()>, op: &'static str, what: &str) -> Result<()> {
        match (result, &self.hooks.permission_warnings) {
            (Ok(()), _) => Ok(()),
            (Err(e), Some(warnings)) if e.raw_os_error() == Some(EPERM) => {
                warnings.once("chmod", || {
                    format!(
                        "{} storage {}: setting permissions was refused ({e}) on {what}, as a root-squashed share \
                         does; file_mode/dir_mode are not applied where refused and files keep the server's \
                         permissions (reported once)",
                        self.hooks.backend,
                        self.root.path().display(),
                    )
                });
                Ok(())
            }
            (Err(e), _) => Err(Error::io(op, self.name.as_str(), e)),
        }
    }

    /// Gives an anonymous file a temporary name in its directory, so that a rename can put it over a taken name.
    fn name_for_rename(&self, temp: &mut Temp) -> Result<()> {
        for _ in 0..8 {
            let name = self.temp_name();
            match link_fd(temp.file.as_fd(), &temp.dir, &name) {
                Ok(()) => {
                    temp.name = Some(name);
                    return Ok(());
                }
                Err(Errno::EXIST) => continue,
                Err(Errno::NOENT | Errno::PERM | Errno::ACCESS) => {
                    self.root.tmpfile_unsupported();
                    return self.name_anonymous(temp);
                }
                Err(e) => {
                    return Err(Error::io(
                        "name the temporary file of",
                        self.name.as_str(),
                        e.into(),
                    ));
                }
            }
        }
        self.name_anonymous(temp)
    }

    /// Links the finished file into place as `name` (create-only: `AlreadyExists` when taken).
    fn link(&self, temp: &mut Temp, name: &Name, stat: &Statx) -> Result<()> {
        if temp.name.is_none() {
            if link_anonymous(temp, name, stat)? {
                return Ok(());
            }
            self.root.tmpfile_unsupported();
            self.name_anonymous(temp)?;
        }
        match temp.name.clone() {
            // The temporary name stays: it is removed when `temp` is dropped, after the link.
            Some(temp_name) => link_named(temp, &temp_name, name, stat),
            None => Err(Error::Backend {
                backend: self.hooks.backend,
                message: format!("the file written for `{name}` has no name to link"),
                source: None,
            }),
        }
    }

    /// Puts the finished temporary file (whose attributes are `stat`) in place under the name `mode` allows, and
    /// returns that name.
    fn commit(&self, temp: &mut Temp, stat: &Statx) -> Result<Name> {
        match &self.mode {
            PutMode::Overwrite => {
                // A fresh name is linked like a create; a taken one is replaced by a rename, which needs the file
                // to have a (temporary) name first.
                if temp.name.is_none() {
                    match self.link(temp, &self.name, stat) {
                        Err(Error::AlreadyExists { .. }) => {}
                        other => return other.map(|()| self.name.clone()),
                    }
                    self.name_for_rename(temp)?;
                }
                let Some(temp_name) = temp.name.as_deref() else {
                    return Err(Error::Backend {
                        backend: self.hooks.backend,
                        message: format!(
                            "the file written for `{}` has no name to rename",
                            self.name
                        ),
                        source: None,
                    });
                };
                rename_into_place(&temp.dir, temp_name, &self.name, stat)?;
                temp.committed();
                Ok(self.name.clone())
            }
            // Taken: `AlreadyExists` naming the name.
            PutMode::Create => {
                self.link_first_free(temp, stat, &Alternatives::exactly(self.name.clone()))
            }
            PutMode::CreateUnique(alternatives) => self.link_first_free(temp, stat, alternatives),
        }
    }

    /// Links the finished temporary file under the first of `alternatives` that is free.
    fn link_first_free(
        &self,
        temp: &mut Temp,
        stat: &Statx,
        alternatives: &Alternatives,
    ) -> Result<Name> {
        alternatives.first_free(|candidate| {
            if candidate.parent() != self.name.parent() {
                // Alternatives only ever change the last segment; anything else would need another directory.
                return Err(Error::Backend {
                    backend: self.hooks.backend,
                    message: format!(
                        "alternative `{candidate}` of `{}` moved to another directory",
                        self.name
                    ),
                    source: None,
                });
            }
            match self.link(temp, &candidate, stat) {
                Err(e) if e.is_already_exists() => Ok(Claim::Taken),
                Err(e) => Err(e),
                Ok(()) => Ok(Claim::Done(candidate)),
            }
        })
    }
}

/// This process's id, asked of the kernel once (every named temporary file carries it).
fn process_id() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// `link(2)` is atomic everywhere, NFS included: it fails with `EEXIST` when the name is taken. On NFS a LINK
/// request the client retransmits can answer `EEXIST` for its own earlier success, so an `EEXIST` is checked the
/// way open(2) advises: when the target is our temporary file's inode, the link was made and the name is ours.
fn link_named(temp: &Temp, temp_name: &str, name: &Name, stat: &Statx) -> Result<()> {
    let target = name.file_name();
    let linked = rustix::fs::linkat(&temp.dir, temp_name, &temp.dir, target, AtFlags::empty());
    link_outcome(linked, temp, name, stat)
}

/// `linkat` gives an anonymous file its name, by `AT_EMPTY_PATH` (Linux 6.10 allows it to the file's opener;
/// before, only with `CAP_DAC_READ_SEARCH`) or, as open(2) describes for `O_TMPFILE`, through `/proc/self/fd`.
/// `Ok(false)`: neither is allowed here.
fn link_anonymous(temp: &Temp, name: &Name, stat: &Statx) -> Result<bool> {
    let target = name.file_name();
    // Not `link_fd`: only a refusal of the way through `/proc` means "no link possible", a direct `EACCES` is an
    // error.
    let linked = match rustix::fs::linkat(&temp.file, "", &temp.dir, target, AtFlags::EMPTY_PATH) {
        Err(Errno::NOENT | Errno::PERM) => match link_by_proc(temp.file.as_fd(), &temp.dir, target)
        {
            Err(Errno::NOENT | Errno::PERM | Errno::ACCESS) => return Ok(false),
            other => other,
        },
        other => other,
    };
    link_outcome(linked, temp, name, stat).map(|()| true)
}

/// `linkat` of the open file `source` as `target` in `dir`: by `AT_EMPTY_PATH`, or through `/proc/self/fd` where
/// the kernel refuses that to this process (`ENOENT` or `EPERM`).
fn link_fd(source: BorrowedFd<'_>, dir: &OwnedFd, target: &str) -> rustix::io::Result<()> {
    match rustix::fs::linkat(source, "", dir, target, AtFlags::EMPTY_PATH) {
        Err(Errno::NOENT | Errno::PERM) => link_by_proc(source, dir, target),
        other => other,
    }
}

/// `linkat` of the open file `fd` as `target` in `dir` through its `/proc/self/fd` entry, as open(2) describes for
/// `O_TMPFILE`.
fn link_by_proc(fd: BorrowedFd<'_>, dir: &OwnedFd, target: &str) -> rustix::io::Result<()> {
    let magic = format!("/proc/self/fd/{}", fd.as_raw_fd());
    rustix::fs::linkat(
        rustix::fs::CWD,
        magic.as_str(),
        dir,
        target,
        AtFlags::SYMLINK_FOLLOW,
    )
}

/// Errors of `linkat` that mean no hard link can be made here: another filesystem mounted under the root, a
/// filesystem without hard links, a file with the most links it may have, or no way to link an open file.
fn no_link_possible(e: Errno) -> bool {
    matches!(
        e,
        Errno::XDEV | Errno::PERM | Errno::ACCESS | Errno::NOENT | Errno::MLINK
    )
}

/// Renames `temp_name` in `dir` over `name`'s last segment, putting the file whose attributes are `stat` in place.
fn rename_into_place(dir: &OwnedFd, temp_name: &str, name: &Name, stat: &Statx) -> Result<()> {
    let target = name.file_name();
    match rustix::fs::renameat(dir, temp_name, dir, target) {
        Ok(()) => Ok(()),
        // A retransmitted NFS RENAME answers ENOENT for its own success: the target is our file.
        Err(Errno::NOENT) if is_ours(dir, target, stat) => Ok(()),
        Err(e) => Err(replace_error(name, dir, e)),
    }
}

fn link_outcome(
    linked: rustix::io::Result<()>,
    temp: &Temp,
    name: &Name,
    stat: &Statx,
) -> Result<()> {
    let target = name.file_name();
    match linked {
        Ok(()) => Ok(()),
        Err(Errno::EXIST) if is_ours(&temp.dir, target, stat) => Ok(()),
        Err(Errno::EXIST) => Err(Error::AlreadyExists {
            name: name.to_string(),
        }),
        Err(e) => Err(Error::io("link into place", name.as_str(), e.into())),
    }
}

/// Whether `segment` in `dir` is the file whose attributes are `stat` (same device and inode).
fn is_ours(dir: &OwnedFd, segment: &str, stat: &Statx) -> bool {
    stat_at(dir.as_fd(), segment).is_ok_and(|s| same_file(&s, stat))
}

fn replace_error(name: &Name, dir: &OwnedFd, e: Errno) -> Error {
    let is_dir = stat_at(dir.as_fd(), name.file_name()).is_ok_and(|s| kind_of(&s) == Kind::Dir);
    if is_dir || e == Errno::ISDIR {
        return Error::Io {
            op: "replace",
            name: name.to_string(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "a directory has this name"),
        };
    }
    Error::io("replace", name.as_str(), e.into())
}

impl WriteJob {
    /// Makes this job's name another name of the file `from` names (resolved beneath the root; links inside it
    /// are followed, as for reads): a hard link, put in place as an overwrite is (linked when the name is free,
    /// else renamed over it). Both names then share one inode, which is safe because nothing here ever writes into
    /// a stored file: every write makes a new one and replaces a name. `Ok(None)`: no link is possible here (the
    /// two names lie on different filesystems under the root, or the process may not link), so the caller copies
    /// the bytes instead.
    pub fn link_from(self, from: &Name) -> Result<Option<Metadata>> {
        let fail = |e: io::Error| Error::io("copy", self.name.as_str(), e);
        let handle = self.root.handle().map_err(fail)?;
        self.hooks.check_change(self.root.path(), handle.as_fd())?;
        let source =
            self.root
                .beneath(handle.as_fd(), from.as_str(), OFlags::PATH, from.as_str())?;
        let stat = stat_fd(source.as_fd()).map_err(|e| fail(e.into()))?;
        if kind_of(&stat) != Kind::File {
            return Err(Error::NotFound {
                name: from.to_string(),
            });
        }
        let dir = self.open_dir(handle.as_fd())?;
        let target = self.name.file_name();
        match link_fd(source.as_fd(), &dir, target) {
            Ok(()) => {}
            // Already this very file (a copy onto itself, or made before): nothing to change.
            Err(Errno::EXIST) if is_ours(&dir, target, &stat) => {}
            Err(Errno::EXIST) => {
                let temp_name = self.temp_name();
                match link_fd(source.as_fd(), &dir, &temp_name) {
                    Ok(()) => {}
                    Err(e) if no_link_possible(e) => return Ok(None),
                    Err(e) => return Err(fail(e.into())),
                }
                if let Err(e) = rename_into_place(&dir, &temp_name, &self.name, &stat) {
                    let _ = rustix::fs::unlinkat(&dir, temp_name.as_str(), AtFlags::empty());
                    return Err(e);
                }
            }
            // Another filesystem mounted under the root, a filesystem without hard links, or no way to link an
            // open file here: the bytes are copied instead.
            Err(e) if no_link_possible(e) || e == Errno::OPNOTSUPP => return Ok(None),
            Err(e) => return Err(fail(e.into())),
        }
        if self.fsync {
            rustix::fs::fsync(&dir).map_err(|e| fail(e.into()))?;
        }
        // `metadata_of` gives the content type `copy_within` asked for: both guess it from the name.
        Ok(Some(metadata_of(self.name, &stat)))
    }
}

/// Removes `name`; a missing name (or a missing directory on its way) is not an error, and neither is a directory
/// of that name, which is no file stored under it. The name's last segment is removed from the directory holding
/// it, never followed: removing a link removes the link.
pub(crate) fn delete(root: &Root, name: &Name, hooks: &crate::Hooks) -> Result<()> {
    let handle = root
        .handle()
        .map_err(|e| Error::io("delete", name.as_str(), e))?;
    hooks.check_change(root.path(), handle.as_fd())?;
    let (dir, segment) = match root.parent(handle.as_fd(), name, OFlags::PATH) {
        Ok(found) => found,
        Err(Error::NotFound { .. }) => return Ok(()),
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotADirectory => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    match rustix::fs::unlinkat(&dir, segment, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT | Errno::ISDIR) => Ok(()),
        Err(e) => Err(Error::io("delete", name.as_str(), e.into())),
    }
}

/// Creates and removes the file `segment` in the directory `dir`: proof that it is writable.
pub(crate) fn probe(dir: BorrowedFd<'_>, segment: &str) -> io::Result<()> {
    rustix::fs::openat(
        dir,
        segment,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    rustix::fs::unlinkat(dir, segment, AtFlags::empty())?;
    Ok(())
}

fn dir_error(name: &Name, e: io::Error) -> Error {
    // A file where a directory of the name should be (saving `a/b` when `a` is a file).
    Error::Io {
        op: "create the directories of",
        name: name.to_string(),
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Hooks, Warnings};

    fn job(warnings: Option<Arc<Warnings>>) -> WriteJob {
        let dir = std::env::temp_dir();
        let hooks = Hooks {
            backend: "nfs",
            permission_warnings: warnings,
            ..Hooks::default()
        };
        WriteJob {
            root: Arc::new(Root::open(dir, true).expect("root")),
            name: Name::new("a/b.txt").expect("name"),
            mode: PutMode::Overwrite,
            file_mode: Some(0o644),
            dir_mode: None,
            fsync: false,
            content_type: "text/plain".into(),
            md5: None,
            hooks,
        }
    }

    const EACCES: i32 = 13;

    /// A create-only job writing `name` into a fresh root, and that root.
    fn create_job(name: &str) -> (tempfile::TempDir, WriteJob) {
        let dir = tempfile::tempdir().expect("tempdir");
        let job = WriteJob {
            root: Arc::new(Root::open(dir.path().to_path_buf(), true).expect("root")),
            name: Name::new(name).expect("name"),
            mode: PutMode::Create,
            file_mode: None,
            dir_mode: None,
            fsync: false,
            content_type: "text/plain".into(),
            md5: None,
            hooks: Hooks::default(),
        };
        (dir, job)
    }

    fn anonymous(job: &WriteJob, bytes: &[u8]) -> (Temp, Statx) {
        let handle = job.root.handle().expect("handle");
        let dir = job.open_dir(handle.as_fd()).expect("dir");
        let mut temp = job.create_temp(dir).expect("temp");
        assert!(temp.name.is_none(), "this filesystem has O_TMPFILE");
        temp.file.write_all(bytes).expect("write");
        let stat = stat_file(&temp.file).expect("stat");
        (temp, stat)
    }

    #[test]
    fn an_anonymous_file_can_be_linked_through_proc() {
        let (dir, job) = create_job("a.txt");
        let (temp, _) = anonymous(&job, b"via proc");
        link_by_proc(temp.file.as_fd(), &temp.dir, "a.txt").expect("link through /proc/self/fd");
        drop(temp);
        assert_eq!(
            std::fs::read(dir.path().join("a.txt")).expect("read"),
            b"via proc"
        );
    }

    #[test]
    fn an_anonymous_file_that_cannot_be_linked_is_copied_into_a_named_one() {
        let (dir, job) = create_job("d/b.txt");
        let (mut temp, _) = anonymous(&job, b"copied");
        job.name_anonymous(&mut temp).expect("name it");
        let temp_name = temp.name.clone().expect("named now");
        let stat = stat_file(&temp.file).expect("stat");
        link_named(&temp, &temp_name, &job.name, &stat).expect("link");
        drop(temp);
        assert_eq!(
            std::fs::read(dir.path().join("d/b.txt")).expect("read"),
            b"copied"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("d"))
            .expect("list")
            .collect();
        assert_eq!(left.len(), 1, "the temporary name is gone: {left:?}");
    }

    #[test]
    fn an_uncommitted_anonymous_file_leaves_nothing() {
        let (dir, job) = create_job("c.txt");
        let (temp, _) = anonymous(&job, b"abandoned");
        drop(temp);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    #[test]
    fn a_refused_chmod_fails_the_write_on_file_urls() {
        let err = job(None)
            .permissions_set(
                Err(io::Error::from_raw_os_error(EPERM)),
                "set permissions of",
                "a/x",
            )
            .expect_err("file:// promises its modes");
        assert!(err.to_string().contains("a/b.txt"), "{err}");
    }

    #[test]
    fn eperm_from_chmod_on_a_squashed_share_is_one_warning_not_a_failure() {
        let warnings = Arc::new(Warnings::new());
        let j = job(Some(Arc::clone(&warnings)));
        for _ in 0..3 {
            j.permissions_set(
                Err(io::Error::from_raw_os_error(EPERM)),
                "set permissions of",
                "a/x",
            )
            .expect("EPERM is tolerated");
        }
        let all = warnings.all();
        assert_eq!(all.len(), 1, "reported once: {all:?}");
        assert!(
            all[0].contains("a/x") && all[0].contains("file_mode"),
            "{}",
            all[0]
        );
        // Other errors still fail: only the squashed-root refusal is expected on a share.
        j.permissions_set(
            Err(io::Error::from_raw_os_error(EACCES)),
            "set permissions of",
            "a/x",
        )
        .expect_err("EACCES is not tolerated");
    }
}
