//! `file://` settings, from a settings URL or code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use storages_core::{
    BackendConfig, Cleaned, CommonOptions, ConfigError, Result, SettingsUrl, Storage, UrlRules,
    async_trait, parse_bool, parse_mode, unknown_option,
};

use crate::LocalStorage;

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
    /// Create the root (and its parents) when it is missing; when `false`, a missing root is refused and nothing
    /// is created (what cleaning wants: it must never leave a directory behind). Not a URL option.
    pub create_root: bool,
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
            create_root: true,
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

#[async_trait]
impl BackendConfig for LocalConfig {
    const URL: UrlRules = UrlRules::new(&["file"], LOCAL_OPTIONS).with_paths();

    /// Reads `file:///absolute/path`, `file://localhost/absolute/path` or `file:relative/path` (relative to the
    /// working directory) and its options.
    fn from_url(url: &SettingsUrl<'_>) -> Result<Self, ConfigError> {
        let root = url.local_path("write file:///absolute/path or file:relative/path")?;
        if root.as_os_str().is_empty() {
            return Err(url.invalid("it names no directory"));
        }
        let mut config = Self::new(root);
        for (option, value) in url.options() {
            config.set(option, value)?;
        }
        Ok(config)
    }

    fn common(&self) -> &CommonOptions {
        &self.common
    }

    fn common_mut(&mut self) -> &mut CommonOptions {
        &mut self.common
    }

    fn open(&self) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(LocalStorage::new(self.clone())?))
    }

    async fn clean(&self, older_than: Duration) -> Result<Option<Cleaned>> {
        let config = Self {
            create_root: false,
            ..self.clone()
        };
        let report = LocalStorage::new(config)?
            .clean_temp_files(older_than)
            .await?;
        Ok(Some(report.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_url_is_read_by_the_backend_itself() {
        let c = LocalConfig::from_url_str(
            "file:///srv/m%C3%A9dia?fsync=true&file_mode=640&base_url=/media/",
        )
        .expect("absolute");
        assert_eq!(c.root, PathBuf::from("/srv/média"));
        assert!(c.fsync && c.create_root);
        assert_eq!(c.file_mode, Some(0o640));
        assert_eq!(c.common.base_url.as_deref(), Some("/media/"));
        assert_eq!(
            LocalConfig::from_url_str("file:media")
                .expect("relative")
                .root,
            PathBuf::from("media")
        );
        for (url, reason) in [
            ("file://server/srv", "file URLs take no host (`server`)"),
            ("file:", "it names no directory"),
            ("file://localhost", "it names no directory"),
            (
                "file:///srv?fsync=maybe",
                "invalid value `maybe` for option `fsync`",
            ),
            (
                "file:///srv?sentinel=x",
                "unknown option `sentinel` for the local backend",
            ),
        ] {
            let err = LocalConfig::from_url_str(url).expect_err(url).to_string();
            assert!(err.contains(reason), "{url}: {err}");
        }
    }
}
