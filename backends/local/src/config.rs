//! `file://` options, from text (URL query, settings file) or code.

use std::path::PathBuf;

use storages_core::{CommonOptions, ConfigError, parse_bool, parse_mode, unknown_option};

/// The options only file-backed storages take.
pub const LOCAL_OPTIONS: &[&str] = &["file_mode", "dir_mode", "fsync"];

/// Settings of a storage in a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// The directory holding the files; created when missing.
    pub root: PathBuf,
    /// Permissions given to every stored file (none: the process's umask decides).
    pub file_mode: Option<u32>,
    /// Permissions given to every directory the storage creates (none: the umask decides).
    pub dir_mode: Option<u32>,
    /// Sync data to the disk before a file becomes visible, and the directory after.
    pub fsync: bool,
    /// The options every backend shares.
    pub common: CommonOptions,
}

impl LocalConfig {
    /// Settings for `root` with every option at its default.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            file_mode: None,
            dir_mode: None,
            fsync: false,
            common: CommonOptions::default(),
        }
    }

    /// Sets an option from text; an unknown option is an error listing the valid ones.
    pub fn set(&mut self, option: &str, value: &str) -> Result<(), ConfigError> {
        self.set_with(option, value, "local", &[])
    }

    /// `set` for a backend built on this one, which knows `extra` options of its own (handled by the caller
    /// before calling this) and names itself `backend` in errors.
    pub fn set_with(
        &mut self,
        option: &str,
        value: &str,
        backend: &str,
        extra: &[&str],
    ) -> Result<(), ConfigError> {
        if self.common.set(option, value)? {
            return Ok(());
        }
        match option {
            "file_mode" => self.file_mode = Some(parse_mode(option, value)?),
            "dir_mode" => self.dir_mode = Some(parse_mode(option, value)?),
            "fsync" => self.fsync = parse_bool(option, value)?,
            _ => {
                let own: Vec<&str> = LOCAL_OPTIONS.iter().chain(extra).copied().collect();
                return Err(unknown_option(backend, option, &own));
            }
        }
        Ok(())
    }
}
