//! Source directories: finding the files to collect as Django's `FileSystemFinder` does, and hashing them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use storages_core::Name;

use super::error::CollectError;
use super::ignore::IgnorePatterns;

/// A directory whose files are collected, optionally under a name prefix (Django's `STATICFILES_DIRS` entry
/// `("PREFIX", "DIR")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The prefix names get (`vendor` makes `dir/a.js` into `vendor/a.js`); none for the top.
    pub prefix: Option<String>,
    /// The directory on this machine.
    pub dir: PathBuf,
}

impl Source {
    /// The files of `dir`, named by their path inside it.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            prefix: None,
            dir: dir.into(),
        }
    }

    /// The files of `dir`, named `prefix/` and their path inside it.
    pub fn with_prefix(prefix: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        Self {
            prefix: Some(prefix.into()),
            dir: dir.into(),
        }
    }
}

/// `[PREFIX=]DIR`, split at the first `=` (write `=DIR` for a directory whose path holds one).
impl FromStr for Source {
    type Err = CollectError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| CollectError::InvalidSource {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let (prefix, dir) = match value.split_once('=') {
            Some((prefix, dir)) => (
                Some(prefix.trim_matches('/')).filter(|p| !p.is_empty()),
                dir,
            ),
            None => (None, value),
        };
        if dir.is_empty() {
            return Err(invalid("the directory is empty"));
        }
        if let Some(prefix) = prefix {
            Name::new(prefix)
                .map_err(|e| invalid(&format!("the prefix is not a valid name ({e})")))?;
        }
        Ok(Self {
            prefix: prefix.map(str::to_owned),
            dir: PathBuf::from(dir),
        })
    }
}

/// A file found in a source directory.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    /// The name it is collected under.
    pub name: Name,
    /// Where it is.
    pub path: PathBuf,
}

/// A file passed over because an earlier source has one of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The collected name.
    pub name: String,
    /// The file that was collected under it.
    pub kept: PathBuf,
    /// The file passed over.
    pub ignored: PathBuf,
}

/// Every file of `sources`, in order, the first found for a name winning; later ones are returned as duplicates.
/// Blocking: run it on a blocking thread.
pub(crate) fn find(
    sources: &[Source],
    ignore: &IgnorePatterns,
) -> Result<(Vec<SourceFile>, Vec<Duplicate>), CollectError> {
    let mut found: Vec<SourceFile> = Vec::new();
    let mut index: std::collections::HashMap<Name, usize> = std::collections::HashMap::new();
    let mut duplicates = Vec::new();
    for source in sources {
        let meta = fs::metadata(&source.dir).map_err(|e| CollectError::Read {
            path: source.dir.clone(),
            source: e,
        })?;
        if !meta.is_dir() {
            return Err(CollectError::InvalidSource {
                value: source.dir.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        let mut files = Vec::new();
        walk(&source.dir, "", ignore, &mut files)?;
        for (relative, path) in files {
            let joined = match &source.prefix {
                Some(prefix) => format!("{prefix}/{relative}"),
                None => relative,
            };
            let name = Name::new(joined).map_err(|e| CollectError::InvalidName {
                path: path.clone(),
                source: e,
            })?;
            match index.get(&name) {
                Some(&first) => duplicates.push(Duplicate {
                    name: name.to_string(),
                    kept: found[first].path.clone(),
                    ignored: path,
                }),
                None => {
                    index.insert(name.clone(), found.len());
                    found.push(SourceFile { name, path });
                }
            }
        }
    }
    Ok((found, duplicates))
}

/// Django's `get_files`: the files of a directory (base name, then path, checked against the patterns), then its
/// sub-directories (base name checked), recursively; symbolic links are followed. Entries are taken in name order
/// so that runs are reproducible.
fn walk(
    dir: &Path,
    location: &str,
    ignore: &IgnorePatterns,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), CollectError> {
    let read_error = |path: &Path, e: io::Error| CollectError::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
        let entry = entry.map_err(|e| read_error(dir, e))?;
        let path = entry.path();
        let file_name =
            entry
                .file_name()
                .into_string()
                .map_err(|raw| CollectError::InvalidSource {
                    value: Path::new(&raw).display().to_string(),
                    reason: format!("a file name in {} is not UTF-8", dir.display()),
                })?;
        entries.push((file_name, path));
    }
    entries.sort();
    let mut dirs = Vec::new();
    for (file_name, path) in entries {
        let is_dir = fs::metadata(&path)
            .map_err(|e| read_error(&path, e))?
            .is_dir();
        if is_dir {
            dirs.push((file_name, path));
            continue;
        }
        if ignore.matches(&file_name) {
            continue;
        }
        let relative = if location.is_empty() {
            file_name
        } else {
            format!("{location}/{file_name}")
        };
        if !location.is_empty() && ignore.matches(&relative) {
            continue;
        }
        out.push((relative, path));
    }
    for (dir_name, path) in dirs {
        if ignore.matches(&dir_name) {
            continue;
        }
        let relative = if location.is_empty() {
            dir_name
        } else {
            format!("{location}/{dir_name}")
        };
        walk(&path, &relative, ignore, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_with_and_without_prefix() {
        assert_eq!("assets".parse::<Source>().unwrap(), Source::new("assets"));
        assert_eq!(
            "vendor/js=node_modules/x".parse::<Source>().unwrap(),
            Source::with_prefix("vendor/js", "node_modules/x")
        );
        assert_eq!("=a=b".parse::<Source>().unwrap(), Source::new("a=b"));
        assert!("../x=dir".parse::<Source>().is_err());
        assert!("x=".parse::<Source>().is_err());
    }

    #[test]
    fn files_come_before_directories_and_ignores_apply() {
        let dir = tempfile::tempdir().unwrap();
        for path in ["b.css", "a/z.js", "a/.hidden", "a/keep~", "CVS/x", "a.png"] {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, b"x").unwrap();
        }
        let ignore = IgnorePatterns::new(super::super::ignore::DEFAULT_IGNORE.iter().copied());
        let (files, dups) = find(&[Source::new(dir.path())], &ignore).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.png", "b.css", "a/z.js"]);
        assert!(dups.is_empty());
        let (size, digest) =
            storages_core::Md5::of_reader(&mut fs::File::open(dir.path().join("a.png")).unwrap())
                .unwrap();
        assert_eq!(
            (size, digest.to_string().as_str()),
            (1, "9dd4e461268c8034f5c8564e155c67a6")
        );
    }
}
