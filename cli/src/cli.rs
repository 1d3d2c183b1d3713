//! The commands: list, put, get, remove, link and check files in any storage, clean up after crashed writers,
//! collectstatic and sync.
//!
//! STORAGE is a settings URL or an alias from the environment (`media`, `static`, ...): [`UrlOrAlias`] decides.
//! Exit status: 0 on success, 1 when the storage fails (one line on stderr says why), 2 on bad usage (unknown
//! command or option, an invalid settings URL or alias, an invalid name).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use futures_util::{StreamExt, TryStreamExt};
use storages::named::{UrlOrAlias, configured_urls, open_one};
use storages::{
    Cleaned, ConfigError, Content, Error, Leftover, LeftoverKind, SaveOptions, Settings, Storage,
    StorageExt, UrlOptions,
};
use tokio::io::AsyncWriteExt;

/// Save, list, link and delete files in any storage: local disk, NFS, S3-compatible object storage.
#[derive(Debug, Parser)]
#[command(name = "storages", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the names under PREFIX (all names when omitted), one per line.
    Ls {
        /// A settings URL or an alias.
        storage: String,
        /// Only names under this directory.
        prefix: Option<String>,
        /// Also show size in bytes and modification time.
        #[arg(short = 'l', long = "long")]
        long: bool,
    },
    /// Store FILE (`-` for standard input) under NAME (the file's name when omitted); prints the name it got.
    Put {
        /// A settings URL or an alias.
        storage: String,
        /// The file to store, or `-` for standard input.
        file: PathBuf,
        /// The name to store it under.
        name: Option<String>,
        /// Replace an existing file instead of choosing a new name.
        #[arg(long)]
        overwrite: bool,
        /// The content type (guessed from the name when omitted).
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Write NAME to FILE (standard output when omitted or `-`).
    Get {
        /// A settings URL or an alias.
        storage: String,
        /// The stored name.
        name: String,
        /// Where to write it.
        file: Option<PathBuf>,
    },
    /// Remove NAME (a missing name is not an error).
    Rm {
        /// A settings URL or an alias.
        storage: String,
        /// The stored name.
        name: String,
    },
    /// Print the URL of NAME.
    Url {
        /// A settings URL or an alias.
        storage: String,
        /// The stored name.
        name: String,
        /// A signed URL valid for this many seconds instead of a public one (S3: at most 604800, 7 days).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
        expires: Option<u64>,
    },
    /// Validate settings and reach each storage (every configured alias when none is given).
    Check {
        /// Settings URLs or aliases.
        storages: Vec<String>,
    },
    /// Remove what crashed writers left, once older than AGE, and nothing else: temporary files in a file: or nfs:
    /// storage, incomplete multipart uploads under an s3: storage's prefix; prints each, then how many.
    Clean {
        /// A settings URL or an alias.
        storage: String,
        /// Only files last written at least this long ago (1h, 30m, 90s, 2d): longer than any upload takes.
        #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
        older_than: Duration,
    },
    /// Publish static assets to a storage, as Django's collectstatic (see `collectstatic --help`).
    Collectstatic(crate::collectstatic::CollectstaticArgs),
    /// Make DST hold every file of SRC, copying only what differs (see `sync --help`).
    Sync(crate::sync::SyncArgs),
}

/// Why the command failed: bad usage (exit 2) or a storage error (exit 1).
enum Failure {
    Usage(String),
    Storage(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidName(_) | Error::Config(_) => Self::Usage(e.to_string()),
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<storages::collect::CollectError> for Failure {
    fn from(e: storages::collect::CollectError) -> Self {
        use storages::collect::CollectError as E;
        match e {
            E::Storage(e) => e.into(),
            E::InvalidSource { .. } | E::InvalidOption { .. } => Self::Usage(e.to_string()),
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<storages::sync::SyncError> for Failure {
    fn from(e: storages::sync::SyncError) -> Self {
        use storages::sync::SyncError as E;
        match e {
            E::Storage(e) => e.into(),
            E::InvalidOption { .. } => Self::Usage(e.to_string()),
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        match e {
            // On a command line, STORAGE may be a settings URL as well.
            ConfigError::UnknownAlias { .. } => Self::Usage(format!("{e}; or give a settings URL")),
            other => Self::Usage(other.to_string()),
        }
    }
}

/// Runs the command line of this process.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("storages: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(until_signal(execute(cli.command)));
    // A blocking read of standard input cannot be cancelled: exit without waiting for it.
    runtime.shutdown_background();
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(Failure::Usage(message))) => {
            eprintln!("storages: error: {message}");
            ExitCode::from(2)
        }
        Ok(Err(Failure::Storage(message))) => {
            eprintln!("storages: error: {message}");
            ExitCode::from(1)
        }
        Err(interrupted) => {
            eprintln!("storages: {}", interrupted.message);
            ExitCode::from(interrupted.status)
        }
    }
}

/// The command was stopped by a signal: the conventional status (128 + the signal's number) and what became of
/// the work it cancelled.
struct Interrupted {
    status: u8,
    message: String,
}

/// How long an interrupted command waits for the aborts of the uploads it cancelled.
const ABORT_WAIT: Duration = Duration::from_secs(5);

/// Runs `work` until it ends or SIGINT/SIGTERM arrives. On a signal the work is dropped, which cancels what it was
/// doing (an S3 multipart upload starts its abort), and the aborts get [`ABORT_WAIT`] to finish; a second signal
/// stops the wait.
#[cfg(unix)]
async fn until_signal(
    work: impl Future<Output = Result<(), Failure>>,
) -> Result<Result<(), Failure>, Interrupted> {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // No handlers could be installed: the signals keep their default action.
        return Ok(work.await);
    };
    let (name, status) = tokio::select! {
        done = work => return Ok(done),
        _ = interrupt.recv() => ("SIGINT", 130),
        _ = terminate.recv() => ("SIGTERM", 143),
    };
    // `work` is dropped by now: its uploads are cancelled and their aborts running.
    let waited = tokio::select! {
        settled = settle(ABORT_WAIT) => settled,
        _ = interrupt.recv() => settle(Duration::ZERO).await,
        _ = terminate.recv() => settle(Duration::ZERO).await,
    };
    Err(Interrupted {
        status,
        message: format!("interrupted by {name}{waited}"),
    })
}

#[cfg(not(unix))]
async fn until_signal(
    work: impl Future<Output = Result<(), Failure>>,
) -> Result<Result<(), Failure>, Interrupted> {
    Ok(work.await)
}

/// Waits (at most `within`) for the aborts of cancelled multipart uploads and says what became of them, on the
/// same line as the interruption.
#[cfg(unix)]
async fn settle(within: Duration) -> String {
    let settled = storages::s3::settle_aborts(within).await;
    if settled.left.is_empty() {
        return match settled.aborted.len() {
            0 => String::new(),
            1 => "; aborted its multipart upload".to_owned(),
            n => format!("; aborted its {n} multipart uploads"),
        };
    }
    let left: Vec<String> = settled.left.iter().map(ToString::to_string).collect();
    format!(
        "; {}; run `storages clean STORAGE --older-than AGE` or let the bucket's lifecycle rule remove it",
        left.join("; ")
    )
}

async fn execute(command: Command) -> Result<(), Failure> {
    // Every command names its storages by settings URL or alias: the configuration is read once.
    let aliases = configured_urls(std::env::vars())?;
    let open = |arg: &str| open_in(arg, &aliases);
    match command {
        Command::Ls {
            storage,
            prefix,
            long,
        } => ls(&*open(&storage)?, prefix.as_deref(), long).await,
        Command::Put {
            storage,
            file,
            name,
            overwrite,
            content_type,
        } => put(&*open(&storage)?, &file, name, overwrite, content_type).await,
        Command::Get {
            storage,
            name,
            file,
        } => get(&*open(&storage)?, &name, file.as_deref()).await,
        Command::Rm { storage, name } => Ok(open(&storage)?.remove(name.as_str()).await?),
        Command::Url {
            storage,
            name,
            expires,
        } => {
            let storage = open(&storage)?;
            let name = storage.options().name(name.as_str()).map_err(Error::from)?;
            let options = expires
                .map(|s| UrlOptions::expiring(Duration::from_secs(s)))
                .unwrap_or_default();
            println!("{}", storage.url(&name, &options).await?);
            Ok(())
        }
        Command::Check { storages } => check(storages, &aliases).await,
        Command::Clean {
            storage,
            older_than,
        } => clean(&storage, older_than, &aliases).await,
        Command::Collectstatic(args) => {
            crate::collectstatic::run(&args, &*open(&args.to)?).await?;
            Ok(())
        }
        Command::Sync(args) => {
            let (source, target) = (open(&args.src)?, open(&args.dst)?);
            let report = crate::sync::run(&args, &source, &*target).await?;
            if report.mismatches.is_empty() {
                Ok(())
            } else {
                Err(Failure::Storage(format!(
                    "verification failed: {} file(s) in the target differ from the source",
                    report.mismatches.len()
                )))
            }
        }
    }
}

/// Opens only the storage named on the command line (other aliases are neither parsed nor touched).
fn open_in(arg: &str, aliases: &BTreeMap<String, String>) -> Result<Arc<dyn Storage>, Failure> {
    // An unknown alias on the command line says that a settings URL would do too.
    UrlOrAlias::new(arg).url(aliases)?;
    Ok(open_one(arg, aliases)?)
}

async fn ls(storage: &dyn Storage, prefix: Option<&str>, long: bool) -> Result<(), Failure> {
    let prefix = match prefix
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
    {
        Some(p) => Some(storage.options().name(p).map_err(Error::from)?),
        None => None,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut files = storage.list(prefix.as_ref());
    while let Some(meta) = files.try_next().await? {
        let line = if long {
            let modified = meta.modified.map_or_else(
                || "-".to_owned(),
                |m| humantime::format_rfc3339_seconds(m).to_string(),
            );
            format!("{:>12}  {modified}  {}", meta.size, meta.name)
        } else {
            meta.name.to_string()
        };
        if writeln!(out, "{line}").is_err() {
            return Ok(()); // the reader went away (`| head`)
        }
    }
    let _ = out.flush();
    Ok(())
}

async fn put(
    storage: &dyn Storage,
    file: &Path,
    name: Option<String>,
    overwrite: bool,
    content_type: Option<String>,
) -> Result<(), Failure> {
    let stdin = file == Path::new("-");
    let name = match name {
        Some(n) => n,
        None if stdin => {
            return Err(Failure::Usage(
                "NAME is required when reading standard input".into(),
            ));
        }
        None => file
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "{} has no usable file name: give NAME",
                    file.display()
                ))
            })?,
    };
    if !stdin && !file.is_file() {
        return Err(Failure::Usage(format!(
            "{} is not a readable file",
            file.display()
        )));
    }
    let mut content = if stdin {
        Content::from_reader(tokio::io::stdin())
    } else {
        Content::from_file(file)
    };
    if let Some(ct) = content_type {
        content = content.with_content_type(ct);
    }
    let options = if overwrite {
        SaveOptions::overwrite()
    } else {
        SaveOptions::default()
    };
    let stored = storage.save_with(name.as_str(), content, options).await?;
    println!("{stored}");
    Ok(())
}

async fn get(storage: &dyn Storage, name: &str, file: Option<&Path>) -> Result<(), Failure> {
    let got = storage.open(name).await?;
    let write_error =
        |what: String, e: std::io::Error| Failure::Storage(format!("write {what}: {e}"));
    match file.filter(|f| *f != Path::new("-")) {
        None => {
            let mut out = tokio::io::stdout();
            let mut stream = got.stream;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Error::io("read", name, e))?;
                match out.write_all(&chunk).await {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    other => other.map_err(|e| write_error("standard output".into(), e))?,
                }
            }
            out.flush()
                .await
                .map_err(|e| write_error("standard output".into(), e))?;
        }
        Some(path) => {
            // Written beside the target and renamed, so a failed download never leaves a partial FILE.
            let partial = path.with_file_name(format!(
                ".{}.part-{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("download"),
                std::process::id()
            ));
            let shown = path.display().to_string();
            let result = async {
                let mut out = tokio::fs::File::create(&partial)
                    .await
                    .map_err(|e| write_error(shown.clone(), e))?;
                let mut stream = got.stream;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| Error::io("read", name, e))?;
                    out.write_all(&chunk)
                        .await
                        .map_err(|e| write_error(shown.clone(), e))?;
                }
                out.flush()
                    .await
                    .map_err(|e| write_error(shown.clone(), e))?;
                tokio::fs::rename(&partial, path)
                    .await
                    .map_err(|e| write_error(shown.clone(), e))
            }
            .await;
            if result.is_err() {
                let _ = tokio::fs::remove_file(&partial).await;
            }
            result?;
        }
    }
    Ok(())
}

/// Cleaning is the backend's ([`Settings::clean`]); this prints what it removed, then how many, and reports entries
/// it could not handle as `FAIL` lines and exit status 1. Never creates a root.
async fn clean(
    arg: &str,
    older_than: Duration,
    aliases: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    let settings = Settings::parse(UrlOrAlias::new(arg).url(aliases)?)?;
    let Some(Cleaned {
        kind,
        removed,
        failed,
        ..
    }) = settings.clean(older_than).await?
    else {
        return Err(Failure::Usage(format!(
            "{settings} keeps nothing to clean: clean works on file:, nfs: and s3: storages"
        )));
    };
    let mut out = std::io::stdout().lock();
    let age = |age: &Duration| humantime::format_duration(Duration::from_secs(age.as_secs()));
    for leftover in &removed {
        let line = match leftover {
            Leftover::TempFile { path, size, age: a } => {
                format!("removed {}  ({size} bytes, {} old)", path.display(), age(a))
            }
            Leftover::Upload {
                key,
                upload_id,
                age: a,
            } => format!(
                "aborted {key}  (multipart upload {upload_id}, {} old)",
                age(a)
            ),
        };
        let _ = writeln!(out, "{line}");
    }
    for failed in &failed {
        let _ = writeln!(out, "FAIL  {failed}");
    }
    let done = match kind {
        LeftoverKind::TempFiles => "temporary file(s) removed",
        LeftoverKind::Uploads => "multipart upload(s) aborted",
    };
    let _ = writeln!(out, "{} {done}", removed.len());
    let _ = out.flush();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Storage(format!(
            "{} entries could not be cleaned",
            failed.len()
        )))
    }
}

async fn check(args: Vec<String>, aliases: &BTreeMap<String, String>) -> Result<(), Failure> {
    let labels: Vec<String> = if args.is_empty() {
        aliases.keys().cloned().collect()
    } else {
        args
    };
    let mut failed = 0;
    for arg in labels {
        // A URL given on the command line is its own label; secrets in it are masked like everywhere else.
        let label = UrlOrAlias::new(&arg).alias().unwrap_or("-").to_owned();
        let url = match UrlOrAlias::new(&arg).url(aliases) {
            Ok(url) => url,
            Err(e) => {
                let (Failure::Usage(why) | Failure::Storage(why)) = e.into();
                failed += 1;
                println!("FAIL  {label}  {why}");
                continue;
            }
        };
        let outcome = match open_one(url, aliases) {
            Err(e) => Err(e.to_string()),
            Ok(storage) => storage.check().await.map_err(|e| e.to_string()),
        };
        let shown = storages::settings::redact(url);
        match outcome {
            Ok(what) => println!("ok    {label}  {shown}  {what}"),
            Err(why) => {
                failed += 1;
                println!("FAIL  {label}  {shown}  {why}");
            }
        }
    }
    if failed > 0 {
        Err(Failure::Storage(format!(
            "{failed} storage(s) failed the check"
        )))
    } else {
        Ok(())
    }
}
