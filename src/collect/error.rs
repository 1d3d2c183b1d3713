//! What can stop a collection, each naming the file, reference or value concerned.

use std::fmt;
use std::io;
use std::path::PathBuf;

use storages_core::NameError;

/// A reference in a CSS or JS file to a file that is not part of the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingReference {
    /// The collected file holding the reference (`css/app.css`).
    pub file: String,
    /// The reference as written (`../img/logo.png?v=2`).
    pub reference: String,
    /// The name it resolves to (`img/logo.png`), or where it points outside the collection.
    pub resolved: String,
}

impl fmt::Display for MissingReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` references `{}`, which resolves to `{}`: no such file in the collection",
            self.file, self.reference, self.resolved
        )
    }
}

/// Why `collect` stopped. Nothing is uploaded or deleted after the first error, and the manifest is written last,
/// so a failed run never publishes a manifest naming files that were not stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// A `--source` argument that cannot be used.
    #[error("invalid source `{value}`: {reason}")]
    InvalidSource {
        /// The argument as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An option that cannot be used, or options that do not go together.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option (`--jobs`, `--compress`, ...).
        option: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A source directory or file could not be read.
    #[error("read {}: {source}", path.display())]
    Read {
        /// The path on this machine.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A source file whose path cannot be a storage name.
    #[error("{} cannot be collected: {source}", path.display())]
    InvalidName {
        /// The path on this machine.
        path: PathBuf,
        /// Why its name is refused.
        #[source]
        source: NameError,
    },

    /// A CSS or JS file that must be post-processed is not UTF-8 text (Django refuses it too).
    #[error("`{name}` ({}) is not UTF-8 text, so its references cannot be rewritten", path.display())]
    NotText {
        /// The collected name.
        name: String,
        /// The path on this machine.
        path: PathBuf,
    },

    /// References to files that are not part of the collection (strict mode); all of them are listed.
    #[error("{}", missing_message(.0))]
    MissingReferences(Vec<MissingReference>),

    /// CSS or JS files that reference each other in a loop, so none of them can get a content hash.
    #[error("reference cycle: {}", .0.join(" -> "))]
    ReferenceCycle(Vec<String>),

    /// Nested references still changing after the pass limit.
    #[error("references still unresolved after {passes} passes (nested too deeply, or a cycle): {}", files.join(", "))]
    TooManyPasses {
        /// The pass limit.
        passes: usize,
        /// The files whose hashed names were still changing.
        files: Vec<String>,
    },

    /// A hashed name that is not a valid storage name.
    #[error("the hashed name of `{name}` is not a valid name: {source}")]
    InvalidHashedName {
        /// The collected name.
        name: String,
        /// Why the hashed name is refused.
        #[source]
        source: NameError,
    },

    /// The deletions were not confirmed.
    #[error("cancelled: {0}")]
    Cancelled(String),

    /// Compressing a file failed.
    #[error("compress `{name}`: {source}")]
    Compress {
        /// The name being compressed.
        name: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A manifest or an encoding that cannot be used.
    #[error(transparent)]
    Statics(#[from] crate::statics::StaticsError),

    /// The target storage failed.
    #[error(transparent)]
    Storage(#[from] storages_core::Error),
}

fn missing_message(missing: &[MissingReference]) -> String {
    let mut message = match missing.first() {
        Some(first) => first.to_string(),
        None => "missing references".to_owned(),
    };
    if missing.len() > 1 {
        message.push_str(&format!(" (and {} more: ", missing.len() - 1));
        let rest: Vec<String> = missing[1..]
            .iter()
            .take(5)
            .map(|m| format!("`{}` in `{}`", m.reference, m.file))
            .collect();
        message.push_str(&rest.join(", "));
        if missing.len() > 6 {
            message.push_str(", ...");
        }
        message.push(')');
    }
    message.push_str("; pass --no-strict to keep such references unchanged");
    message
}
