//! How a run reports progress: stages, files and bytes, through a trait the caller implements (the command line
//! draws a bar with it), so the engine itself never touches a terminal.

/// What a run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Listing the source and the target.
    Listing,
    /// Reading source files that are needed whole (collectstatic's CSS and JS).
    Reading,
    /// Comparing files with what the target holds, hashing where sizes match and no hash is known.
    Comparing,
    /// Compressing files (collectstatic's `.gz`/`.br` siblings).
    Compressing,
    /// Copying files into the target.
    Copying,
    /// Publishing files whose content depends on others (collectstatic's rewritten CSS and JS).
    PostProcessing,
    /// Publishing collectstatic's manifest.
    Manifest,
    /// Reading copied files back from the target and comparing their hash with the source's.
    Verifying,
    /// Removing files from the target.
    Deleting,
}

impl Stage {
    /// A short lower-case label (`copying`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Listing => "listing",
            Self::Reading => "reading",
            Self::Comparing => "comparing",
            Self::Compressing => "compressing",
            Self::Copying => "copying",
            Self::PostProcessing => "post-processing",
            Self::Manifest => "manifest",
            Self::Verifying => "verifying",
            Self::Deleting => "deleting",
        }
    }
}

/// Told what a run does as it does it. Every method has an empty default, and calls come from many tasks at once.
pub trait Progress: Send + Sync {
    /// A stage begins with `files` files to go through, `bytes` bytes in them (0 when it does not move bytes).
    fn stage(&self, stage: Stage, files: u64, bytes: u64) {
        let _ = (stage, files, bytes);
    }

    /// `bytes` more moved in the current stage.
    fn bytes(&self, bytes: u64) {
        let _ = bytes;
    }

    /// One more file of the current stage done.
    fn file_done(&self) {}

    /// The run is over, successfully or not.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
