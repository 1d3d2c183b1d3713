//! `storages sync`: its arguments, the confirmation asked on a terminal, and what it prints.

use std::io::Write;
use std::sync::Arc;

use storages::Storage;
use storages::sync::{SyncError, SyncOptions, SyncReport, sync};
use storages::transfer::Progress;

use crate::terminal::{Bar, confirmation};

/// Make DST hold every file of SRC, for any pair of storages: files already there with the same size and content
/// MD5 are skipped, the others streamed in parallel with their Content-Type and Cache-Control. Each copy is
/// atomic, so an interrupted run leaves whole files only, and running it again finishes the job.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The source: a settings URL or an alias.
    pub src: String,
    /// The target: a settings URL or an alias.
    pub dst: String,
    /// Change nothing; list what would be copied and deleted.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Remove from DST the files SRC does not have (asks first on a terminal; needs --no-input in scripts).
    #[arg(long)]
    pub delete: bool,
    /// Never ask before deleting (for scripts).
    #[arg(long, alias = "noinput")]
    pub no_input: bool,
    /// Read every file back from DST after copying and compare its MD5 with SRC's; exit 1 on any difference.
    #[arg(long)]
    pub verify: bool,
    /// Only names under this directory, on both sides.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Copies in flight at once (default: 32 into S3, twice the cores into file systems).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
}

impl SyncArgs {
    /// The library options these arguments stand for (without confirmation or progress bar); the prefix is
    /// checked as a name of `target`.
    pub fn options(&self, target: &dyn Storage) -> Result<SyncOptions, storages::Error> {
        let prefix = match self
            .prefix
            .as_deref()
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
        {
            Some(prefix) => Some(target.options().name(prefix)?),
            None => None,
        };
        let mut options = SyncOptions::default();
        options.dry_run = self.dry_run;
        options.delete = self.delete;
        options.verify = self.verify;
        options.prefix = prefix;
        options.jobs = self.jobs;
        Ok(options)
    }
}

/// Runs the command from `source` (opened from `args.src`) to `target` (from `args.dst`): asks before deleting
/// unless `--no-input`, shows a progress bar when standard error is a terminal, prints a dry run's actions, every
/// mismatch `--verify` found and the summary line.
pub async fn run(
    args: &SyncArgs,
    source: &Arc<dyn Storage>,
    target: &dyn Storage,
) -> Result<SyncReport, SyncError> {
    let mut options = args.options(target)?;
    let bar = Bar::on_terminal().map(Arc::new);
    options.progress = bar.clone().map(|bar| bar as Arc<dyn Progress>);
    if !args.no_input {
        options.confirm = Some(confirmation("sync", &args.dst, bar));
    }
    let report = sync(source, target, &options).await?;
    let mut out = std::io::stdout().lock();
    // Standard output closed early (`| head`) is not a failure of the sync.
    let _ = report.write_details(&mut out);
    let _ = writeln!(out, "{report}");
    let _ = out.flush();
    Ok(report)
}
