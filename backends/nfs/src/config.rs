//! `nfs://` settings, from a settings URL or code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use storages_core::{
    BackendConfig, Cleaned, CommonOptions, ConfigError, Name, Result, SettingsUrl, Storage,
    UrlRules, async_trait, parse_bool,
};
use storages_local::LocalConfig;

use crate::NfsStorage;

/// The options only `nfs://` takes (it also takes every `file://` option).
pub const NFS_OPTIONS: &[&str] = &["require_mount", "sentinel"];

/// Settings of a storage on an NFS share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsConfig {
    /// What `nfs://` shares with `file://`: the root (which must exist: it is never created), `file_mode`,
    /// `dir_mode`, `fsync` (on by default here) and the common options.
    pub local: LocalConfig,
    /// Refuse the root unless it is, or lies under, a mount point other than `/` (default `true`).
    pub require_mount: bool,
    /// A file that must exist at the root (created once on the share by the operator), so a directory that merely
    /// looks right (the empty mount point under an unmounted share) is refused.
    pub sentinel: Option<Name>,
}

impl NfsConfig {
    /// Settings for `root` with every option at its default: mount required, no sentinel, `fsync` on.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let mut local = LocalConfig::new(root);
        local.fsync = true;
        // A share is mounted by the operator: a missing root is an unmounted share, never made here.
        local.create_root = false;
        Self {
            local,
            require_mount: true,
            sentinel: None,
        }
    }

    /// Sets an option from text; an unknown option is an error listing the valid ones.
    pub fn set(&mut self, option: &str, value: &str) -> Result<(), ConfigError> {
        match option {
            "require_mount" => self.require_mount = parse_bool(option, value)?,
            "sentinel" => self.sentinel = Some(sentinel(option, value)?),
            _ => self.local.set_with(option, value, "nfs", NFS_OPTIONS)?,
        }
        Ok(())
    }
}

#[async_trait]
impl BackendConfig for NfsConfig {
    const URL: UrlRules = UrlRules::new(&["nfs"], NFS_OPTIONS).with_paths();

    /// Reads `nfs:///mount/point/path`: the absolute path where the share is mounted on this server (the backend
    /// mounts nothing itself, so a server name has no place here), and its options.
    fn from_url(url: &SettingsUrl<'_>) -> Result<Self, ConfigError> {
        let root =
            url.local_path("mount the share on this server and write nfs:///mount/point/path")?;
        // As written: `nfs:%2Fmnt` is no absolute path either.
        if !url.path().starts_with('/') {
            return Err(url.invalid(
                "nfs URLs take the absolute path of the mounted share: nfs:///mount/point/path",
            ));
        }
        let mut config = Self::new(root);
        for (option, value) in url.options() {
            config.set(option, value)?;
        }
        Ok(config)
    }

    fn common(&self) -> &CommonOptions {
        &self.local.common
    }

    fn common_mut(&mut self) -> &mut CommonOptions {
        &mut self.local.common
    }

    fn open(&self) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(NfsStorage::new(self.clone())?))
    }

    async fn clean(&self, older_than: Duration) -> Result<Option<Cleaned>> {
        let report = NfsStorage::new(self.clone())?
            .clean_temp_files(older_than)
            .await?;
        Ok(Some(report.into()))
    }
}

/// A sentinel is one file name at the root, never one cleaning would remove.
fn sentinel(option: &str, value: &str) -> Result<Name, ConfigError> {
    let invalid = || ConfigError::InvalidValue {
        option: option.to_owned(),
        value: value.to_owned(),
        expected: "a file name at the root of the share, such as .storages-share".to_owned(),
    };
    // `Name` also refuses a temporary file's name, which cleaning would remove.
    let name = Name::new(value).map_err(|_| invalid())?;
    if name.as_str().contains('/') {
        return Err(invalid());
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nfs_url_is_read_by_the_backend_itself() {
        let c = NfsConfig::from_url_str(
            "nfs://localhost/mnt/a%20share?sentinel=.storages-share&fsync=false",
        )
        .expect("parse");
        assert_eq!(c.local.root, PathBuf::from("/mnt/a share"));
        assert!(!c.local.fsync && !c.local.create_root && c.require_mount);
        assert_eq!(
            c.sentinel.as_ref().map(Name::as_str),
            Some(".storages-share")
        );
        for (url, reason) in [
            (
                "nfs://files.example.com/srv",
                "nfs URLs take no host (`files.example.com`)",
            ),
            ("nfs:relative", "the absolute path of the mounted share"),
            ("nfs:%2Fmnt", "the absolute path of the mounted share"),
            (
                "nfs:///mnt?colour=red",
                "unknown option `colour` for the nfs backend",
            ),
        ] {
            let err = NfsConfig::from_url_str(url).expect_err(url).to_string();
            assert!(err.contains(reason), "{url}: {err}");
        }
    }

    #[test]
    fn defaults_suit_a_share() {
        let c = NfsConfig::new("/mnt/share");
        assert!(c.require_mount && c.local.fsync && c.sentinel.is_none());
    }

    #[test]
    fn options_are_parsed_with_file_options_and_errors_name_the_offender() {
        let mut c = NfsConfig::new("/mnt/share");
        c.set("require_mount", "false").expect("bool");
        c.set("sentinel", ".storages-share").expect("sentinel");
        c.set("fsync", "false").expect("file option");
        c.set("file_mode", "640").expect("file option");
        assert!(!c.require_mount && !c.local.fsync);
        assert_eq!(c.local.file_mode, Some(0o640));
        assert_eq!(
            c.sentinel.as_ref().map(Name::as_str),
            Some(".storages-share")
        );

        let unknown = c.set("colour", "red").expect_err("unknown").to_string();
        assert!(
            unknown.contains("unknown option `colour` for the nfs backend")
                && unknown.contains("require_mount")
                && unknown.contains("sentinel")
                && unknown.contains("file_mode"),
            "{unknown}"
        );
        for bad in ["", "a/b", "../x", "/abs", ".storages-tmp.x"] {
            let err = c.set("sentinel", bad).expect_err(bad).to_string();
            assert!(err.contains("option `sentinel`"), "{bad}: {err}");
        }
        let err = c
            .set("require_mount", "maybe")
            .expect_err("bool")
            .to_string();
        assert!(err.contains("`maybe`"), "{err}");
    }
}
