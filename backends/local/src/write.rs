//! Atomic writes: content goes to a temporary file in the destination directory, which is then renamed
//! (overwrite) or hard-linked (create-only) into place, so a reader sees the whole file or none of it and two
//! writers of one name never both win.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use storages_core::{Error, Metadata, Name, PutMode, Result};

use crate::paths::{TEMP_PREFIX, metadata_of};

/// `EPERM`, the same number on every Unix.
const EPERM: i32 = 1;

/// Everything a blocking writer needs, owned so it can move to a blocking thread.
#[derive(Debug)]
pub(crate) struct WriteJob {
    pub root: PathBuf,
    pub name: Name,
    pub mode: PutMode,
    pub file_mode: Option<u32>,
    pub dir_mode: Option<u32>,
    pub fsync: bool,
    pub content_type: String,
    /// The backend's changes to plain `file://` (temporary file tag, checks, permission policy).
    pub hooks: crate::Hooks,
}

/// A temporary file that removes itself unless it was committed.
struct TempFile {
    path: PathBuf,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Ignored: after a rename the file is gone already; otherwise this is best-effort cleanup of a failed write.
        let _ = fs::remove_file(&self.path);
    }
}

impl WriteJob {
    fn target(&self, name: &Name) -> PathBuf {
        crate::paths::path_of(&self.root, name)
    }

    /// Writes every chunk `next` yields (until `None`) and commits the file. An `Err` from `next`, or any I/O
    /// failure, removes the temporary file and stores nothing.
    pub fn run(self, mut next: impl FnMut() -> Option<io::Result<Bytes>>) -> Result<Metadata> {
        self.hooks.check_change(&self.root)?;
        let target = self.target(&self.name);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        let (mut file, temp) = self.create_temp(&dir)?;
        let fail = |e: io::Error| Error::io("write", self.name.as_str(), e);
        while let Some(chunk) = next() {
            file.write_all(&chunk.map_err(fail)?).map_err(fail)?;
        }
        if let Some(mode) = self.file_mode {
            let set = file.set_permissions(Permissions::from_mode(mode));
            self.permissions_set(set, "set permissions of", &temp.path)?;
        }
        // The sync also reports any write error the medium deferred (NFS sends data at the latest on `close`, whose
        // error `File`'s drop cannot report): after a successful `sync_all` a close has nothing left to fail on.
        if self.fsync {
            file.sync_all().map_err(fail)?;
        }
        let stat = file.metadata().map_err(fail)?;
        drop(file);
        let name = self.commit(&temp.path, &stat)?;
        if self.fsync {
            File::open(&dir).and_then(|d| d.sync_all()).map_err(fail)?;
        }
        drop(temp);
        let mut meta = metadata_of(name, &stat);
        meta.content_type = Some(self.content_type);
        debug_assert_eq!(meta.size, stat.size());
        Ok(meta)
    }

    fn create_temp(&self, dir: &Path) -> Result<(File, TempFile)> {
        let path = dir.join(format!(
            "{TEMP_PREFIX}{}{}.{}",
            self.hooks.temp_tag,
            std::process::id(),
            std::iter::repeat_with(fastrand::alphanumeric)
                .take(12)
                .collect::<String>()
        ));
        let open = || {
            let mut options = OpenOptions::new();
            options
                .write(true)
                .create_new(true)
                .mode(self.file_mode.unwrap_or(0o666));
            options.open(&path)
        };
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.create_dirs(dir)?;
                open()
            }
            other => other,
        };
        let file =
            file.map_err(|e| Error::io("create a temporary file for", self.name.as_str(), e))?;
        Ok((file, TempFile { path }))
    }

    /// Creates `dir` and its missing parents below the root, each with `dir_mode`; a directory another process
    /// creates at the same moment is fine.
    fn create_dirs(&self, dir: &Path) -> Result<()> {
        let mut missing = Vec::new();
        let mut cur = dir;
        while cur != self.root && !cur.is_dir() {
            missing.push(cur.to_path_buf());
            match cur.parent() {
                Some(p) => cur = p,
                None => break,
            }
        }
        for d in missing.iter().rev() {
            let mut builder = DirBuilder::new();
            builder.mode(self.dir_mode.unwrap_or(0o777));
            match builder.create(d) {
                Ok(()) => {
                    if let Some(mode) = self.dir_mode {
                        let set = fs::set_permissions(d, Permissions::from_mode(mode));
                        self.permissions_set(set, "set permissions of the directory of", d)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) => return Err(dir_error(&self.name, e)),
            }
        }
        Ok(())
    }

    /// The outcome of setting a mode on `path`: an error fails the write, except `EPERM` where the hooks collect
    /// warnings (a root-squashed NFS share refuses `chmod` to the squashed user), which is reported once.
    fn permissions_set(&self, result: io::Result<()>, op: &'static str, path: &Path) -> Result<()> {
        match (result, &self.hooks.permission_warnings) {
            (Ok(()), _) => Ok(()),
            (Err(e), Some(warnings)) if e.raw_os_error() == Some(EPERM) => {
                warnings.once("chmod", || {
                    format!(
                        "{} storage {}: setting permissions was refused ({e}) on {}, as a root-squashed share \
                         does; file_mode/dir_mode are not applied where refused and files keep the server's \
                         permissions (reported once)",
                        self.hooks.backend,
                        self.root.display(),
                        path.display(),
                    )
                });
                Ok(())
            }
            (Err(e), _) => Err(Error::io(op, self.name.as_str(), e)),
        }
    }

    /// Puts the finished temporary file (whose attributes are `stat`) in place under the name `mode` allows, and
    /// returns that name.
    fn commit(&self, temp: &Path, stat: &fs::Metadata) -> Result<Name> {
        match &self.mode {
            PutMode::Overwrite => {
                let target = self.target(&self.name);
                match fs::rename(temp, &target) {
                    Ok(()) => {}
                    // A retransmitted NFS RENAME answers ENOENT for its own success: the target is our file.
                    Err(e) if e.kind() == io::ErrorKind::NotFound && same_file(&target, stat) => {}
                    Err(e) => return Err(replace_error(&self.name, &target, e)),
                }
                Ok(self.name.clone())
            }
            PutMode::Create => {
                link(temp, &self.target(&self.name), &self.name, stat)?;
                Ok(self.name.clone())
            }
            PutMode::CreateUnique(alternatives) => {
                let mut attempt = 0;
                loop {
                    let candidate = alternatives.candidate(attempt)?;
                    match link(temp, &self.target(&candidate), &candidate, stat) {
                        Err(e) if e.is_already_exists() => attempt += 1,
                        Err(e) => return Err(e),
                        Ok(()) => return Ok(candidate),
                    }
                }
            }
            other => Err(Error::Backend {
                backend: self.hooks.backend,
                message: format!("put mode {other:?} is not supported"),
                source: None,
            }),
        }
    }
}

/// `link(2)` is atomic everywhere, NFS included: it fails with `EEXIST` when the name is taken. On NFS a LINK
/// request the client retransmits can answer `EEXIST` for its own earlier success, so an `EEXIST` is checked the
/// way open(2) advises: when `target` is our temporary file's inode, the link was made and the name is ours.
fn link(temp: &Path, target: &Path, name: &Name, stat: &fs::Metadata) -> Result<()> {
    match fs::hard_link(temp, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if same_file(target, stat) {
                Ok(())
            } else {
                Err(Error::AlreadyExists {
                    name: name.to_string(),
                })
            }
        }
        Err(e) => Err(Error::io("link into place", name.as_str(), e)),
    }
}

/// Whether `path` is the file whose attributes are `stat` (same device and inode).
fn same_file(path: &Path, stat: &fs::Metadata) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.dev() == stat.dev() && m.ino() == stat.ino())
}

fn replace_error(name: &Name, target: &Path, e: io::Error) -> Error {
    if target.is_dir() {
        return Error::Io {
            op: "replace",
            name: name.to_string(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "a directory has this name"),
        };
    }
    Error::io("replace", name.as_str(), e)
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
        let hooks = Hooks {
            backend: "nfs",
            permission_warnings: warnings,
            ..Hooks::default()
        };
        WriteJob {
            root: PathBuf::from("/srv/share"),
            name: Name::new("a/b.txt").expect("name"),
            mode: PutMode::Overwrite,
            file_mode: Some(0o644),
            dir_mode: None,
            fsync: false,
            content_type: "text/plain".into(),
            hooks,
        }
    }

    const EACCES: i32 = 13;

    #[test]
    fn a_refused_chmod_fails_the_write_on_file_urls() {
        let err = job(None)
            .permissions_set(
                Err(io::Error::from_raw_os_error(EPERM)),
                "set permissions of",
                Path::new("/srv/share/a/x"),
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
                Path::new("/srv/share/a/x"),
            )
            .expect("EPERM is tolerated");
        }
        let all = warnings.all();
        assert_eq!(all.len(), 1, "reported once: {all:?}");
        assert!(
            all[0].contains("/srv/share") && all[0].contains("file_mode"),
            "{}",
            all[0]
        );
        // Other errors still fail: only the squashed-root refusal is expected on a share.
        j.permissions_set(
            Err(io::Error::from_raw_os_error(EACCES)),
            "set permissions of",
            Path::new("/srv/share/a/x"),
        )
        .expect_err("EACCES is not tolerated");
    }
}
