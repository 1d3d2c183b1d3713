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

/// Everything a blocking writer needs, owned so it can move to a blocking thread.
#[derive(Debug)]
pub(crate) struct WriteJob {
    pub root: PathBuf,
    pub name: Name,
    pub mode: PutMode,
    pub file_mode: Option<u32>,
    pub dir_mode: Option<u32>,
    pub fsync: bool,
    /// Extra identification in temporary file names (the NFS backend adds the host).
    pub temp_tag: String,
    pub content_type: String,
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
        let target = self.target(&self.name);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        let (mut file, temp) = self.create_temp(&dir)?;
        let fail = |e: io::Error| Error::io("write", self.name.as_str(), e);
        while let Some(chunk) = next() {
            file.write_all(&chunk.map_err(fail)?).map_err(fail)?;
        }
        if let Some(mode) = self.file_mode {
            file.set_permissions(Permissions::from_mode(mode))
                .map_err(fail)?;
        }
        if self.fsync {
            file.sync_all().map_err(fail)?;
        }
        let stat = file.metadata().map_err(fail)?;
        drop(file);
        let name = self.commit(&temp.path)?;
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
            self.temp_tag,
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
                        fs::set_permissions(d, Permissions::from_mode(mode)).map_err(|e| {
                            Error::io("set permissions of the directory of", self.name.as_str(), e)
                        })?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) => return Err(dir_error(&self.name, e)),
            }
        }
        Ok(())
    }

    /// Puts the finished temporary file in place under the name `mode` allows, and returns that name.
    fn commit(&self, temp: &Path) -> Result<Name> {
        match &self.mode {
            PutMode::Overwrite => {
                let target = self.target(&self.name);
                fs::rename(temp, &target).map_err(|e| replace_error(&self.name, &target, e))?;
                Ok(self.name.clone())
            }
            PutMode::Create => {
                link(temp, &self.target(&self.name), &self.name)?;
                Ok(self.name.clone())
            }
            PutMode::CreateUnique(alternatives) => {
                let mut attempt = 0;
                loop {
                    let candidate = alternatives.candidate(attempt)?;
                    match link(temp, &self.target(&candidate), &candidate) {
                        Err(e) if e.is_already_exists() => attempt += 1,
                        Err(e) => return Err(e),
                        Ok(()) => return Ok(candidate),
                    }
                }
            }
            other => Err(Error::Backend {
                backend: "local",
                message: format!("put mode {other:?} is not supported"),
                source: None,
            }),
        }
    }
}

/// `link(2)` is atomic everywhere, NFS included: it fails with `EEXIST` when the name is taken.
fn link(temp: &Path, target: &Path, name: &Name) -> Result<()> {
    fs::hard_link(temp, target).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => Error::AlreadyExists {
            name: name.to_string(),
        },
        _ => Error::io("link into place", name.as_str(), e),
    })
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
