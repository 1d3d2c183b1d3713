//! `storages collectstatic`: its arguments, the confirmation asked on a terminal, and what it prints.

use std::io::Write;
use std::sync::Arc;

use storages::Storage;
use storages::collect::{Clear, CollectError, CollectOptions, Report, Source, collect};
use storages::statics::Encoding;
use storages::transfer::Progress;

use crate::terminal::{Bar, confirmation};

/// Publish static assets to a storage as Django's collectstatic does, skipping files whose content is already
/// there; with --manifest, hashed copies and staticfiles.json as Django's ManifestStaticFilesStorage writes them.
#[derive(Debug, clap::Args)]
pub struct CollectstaticArgs {
    /// A source directory, its files named by their path inside it, or under PREFIX/ (repeatable; the first file
    /// found for a name wins).
    #[arg(long = "source", value_name = "[PREFIX=]DIR", required = true)]
    pub sources: Vec<Source>,
    /// The target: a settings URL or an alias.
    #[arg(long, value_name = "STORAGE", default_value = storages::named::STATIC)]
    pub to: String,
    /// Publish hashed copies (name.<md5:12>.ext) with CSS/JS references rewritten, and staticfiles.json.
    #[arg(long)]
    pub manifest: bool,
    /// Change nothing; list what would be copied and deleted.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Remove target files that are not part of this collection (after uploading).
    #[arg(long, conflicts_with = "clear_all")]
    pub clear: bool,
    /// Remove every target file before uploading (Django's --clear).
    #[arg(long)]
    pub clear_all: bool,
    /// Never ask before deleting (for scripts).
    #[arg(long, alias = "noinput")]
    pub no_input: bool,
    /// Do not ignore Django's default patterns CVS, .* and *~.
    #[arg(long)]
    pub no_default_ignore: bool,
    /// Ignore files and directories matching this glob (repeatable).
    #[arg(short = 'i', long = "ignore", value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// Uploads in flight at once (default: 32 for S3, twice the cores for file systems).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Also publish compressed siblings (.gz, .br) where they save at least 5%.
    #[arg(long, value_name = "gzip,br", value_delimiter = ',')]
    pub compress: Vec<Encoding>,
    /// Keep references to missing files unchanged (and list them) instead of failing.
    #[arg(long)]
    pub no_strict: bool,
    /// Publish only the hashed copies and the manifest, not the files under their own names.
    #[arg(long, requires = "manifest")]
    pub keep_only_hashed: bool,
    /// Cache-Control for files that are not hashed copies (default: the storage's cache_control).
    #[arg(long, value_name = "VALUE")]
    pub cache_control: Option<String>,
}

impl CollectstaticArgs {
    /// The library options these arguments stand for (without confirmation or progress bar).
    pub fn options(&self) -> CollectOptions {
        let clear = if self.clear_all {
            Clear::All
        } else if self.clear {
            Clear::Stale
        } else {
            Clear::Keep
        };
        let mut options = CollectOptions::default();
        options.manifest = self.manifest;
        options.dry_run = self.dry_run;
        options.clear = clear;
        options.default_ignore = !self.no_default_ignore;
        options.ignore.clone_from(&self.ignore);
        options.jobs = self.jobs;
        options.compress.clone_from(&self.compress);
        options.strict = !self.no_strict;
        options.keep_only_hashed = self.keep_only_hashed;
        options.cache_control.clone_from(&self.cache_control);
        options
    }
}

/// Runs the command on `target` (opened from `args.to`): asks before deleting unless `--no-input`, shows a
/// progress bar when standard error is a terminal, prints a dry run's actions, warnings and the summary.
pub async fn run(args: &CollectstaticArgs, target: &dyn Storage) -> Result<Report, CollectError> {
    let mut options = args.options();
    let bar = Bar::on_terminal().map(Arc::new);
    options.progress = bar.clone().map(|bar| bar as Arc<dyn Progress>);
    if !args.no_input {
        options.confirm = Some(confirmation("collectstatic", &args.to, bar));
    }
    let report = collect(&args.sources, target, &options).await?;
    let mut out = std::io::stdout().lock();
    // Standard output closed early (`| head`) is not a failure of the collection.
    let _ = report.write_details(&mut out);
    let _ = writeln!(out, "{report}");
    let _ = out.flush();
    Ok(report)
}
