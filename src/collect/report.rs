//! What a collection did (or, in a dry run, would do), and its one-line summary.

use std::fmt;
use std::io::Write;
use std::time::Duration;

use super::error::MissingReference;
use super::sources::Duplicate;

/// What a collection did, or with `dry_run` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Files uploaded other than hashed copies: originals, compressed siblings of originals, the manifest.
    pub copied: usize,
    /// Files already in the target with the same content, not sent again.
    pub unchanged: usize,
    /// Hashed copies (and their compressed siblings) uploaded.
    pub post_processed: usize,
    /// Files removed from the target (`--clear`, `--clear-all`).
    pub deleted: usize,
    /// Every name uploaded, sorted.
    pub uploaded: Vec<String>,
    /// Every name removed, sorted.
    pub removed: Vec<String>,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// Files passed over because an earlier source has one of the same name.
    pub duplicates: Vec<Duplicate>,
    /// References to missing files left unchanged (`--no-strict`).
    pub missing: Vec<MissingReference>,
    /// Nothing was changed: the counts say what would have been.
    pub dry_run: bool,
    /// How long it took.
    pub elapsed: Duration,
}

impl Report {
    /// The number of files uploaded, of every kind.
    pub fn uploads(&self) -> usize {
        self.copied + self.post_processed
    }

    /// Writes what a dry run would do (`copy NAME`, `delete NAME`), then the warnings (duplicates, missing
    /// references), one per line.
    pub fn write_details(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.dry_run {
            for name in &self.uploaded {
                writeln!(out, "would copy {name}")?;
            }
            for name in &self.removed {
                writeln!(out, "would delete {name}")?;
            }
        }
        for duplicate in &self.duplicates {
            writeln!(
                out,
                "ignored {} for `{}`: {} was found first",
                duplicate.ignored.display(),
                duplicate.name,
                duplicate.kept.display()
            )?;
        }
        for missing in &self.missing {
            writeln!(out, "kept unchanged: {missing}")?;
        }
        Ok(())
    }
}

/// `N copied, M unchanged, K post-processed, D deleted in T s`.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} copied, {} unchanged, {} post-processed, {} deleted in {:.2} s",
            self.copied,
            self.unchanged,
            self.post_processed,
            self.deleted,
            self.elapsed.as_secs_f64()
        )?;
        if self.dry_run {
            f.write_str(" (dry run: nothing was changed)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_one_line() {
        let report = Report {
            copied: 3,
            unchanged: 4,
            post_processed: 2,
            deleted: 1,
            elapsed: Duration::from_millis(1500),
            ..Report::default()
        };
        assert_eq!(
            report.to_string(),
            "3 copied, 4 unchanged, 2 post-processed, 1 deleted in 1.50 s"
        );
        assert_eq!(report.uploads(), 5);
    }
}
