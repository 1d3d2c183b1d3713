//! `nfs://` options, from text (URL query, settings file) or code.

use std::path::PathBuf;

use storages_core::{ConfigError, Name, parse_bool};
use storages_local::LocalConfig;

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
