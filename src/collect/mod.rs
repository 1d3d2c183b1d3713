//! `collectstatic`: publish static assets from source directories to any storage, as Django's `collectstatic` does,
//! and with `manifest` as its `ManifestStaticFilesStorage` (hashed copies, rewritten references, `staticfiles.json`),
//! skipping every file whose content is already there.
//!
//! One run: find the source files (the first source with a name wins); list the target once while the CSS and JS
//! are read, and check their references (a missing file or a cycle fails the run before anything changes); then,
//! `jobs` files at a time, read and hash each file, compare it and its hashed copy with the listing by size and
//! content hash, and upload what differs; then rewrite the CSS and JS (their hashes depend on the files they
//! reference) and upload their hashed copies; the manifest last; and remove what is stale.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use storages::collect::{CollectOptions, Source, collect};
//! use storages::statics::Manifest;
//! use storages::{CommonOptions, MemoryStorage, Storage};
//! let assets = tempfile::tempdir()?;
//! std::fs::create_dir(assets.path().join("img"))?;
//! std::fs::write(assets.path().join("img/logo.png"), b"\x89PNG")?;
//! std::fs::write(assets.path().join("app.css"), "h1 { background: url(img/logo.png) }")?;
//!
//! let target: Arc<dyn Storage> = Arc::new(MemoryStorage::with_options(CommonOptions {
//!     base_url: Some("/static/".into()),
//!     ..CommonOptions::default()
//! }));
//! let mut options = CollectOptions::default();
//! options.manifest = true;
//! let report = collect(&[Source::new(assets.path())], &*target, &options).await?;
//! // Two originals and staticfiles.json copied; two hashed copies.
//! assert_eq!((report.copied, report.post_processed), (3, 2));
//!
//! let manifest = Manifest::load(&target).await?;
//! assert!(manifest.static_url("app.css").await?.starts_with("/static/app."));
//! # Ok(()) }
//! ```

mod compress;
mod error;
mod ignore;
mod output;
mod postprocess;
mod pyurl;
mod report;
mod sources;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use storages_core::{DEFAULT_MAX_NAME_LEN, Md5, Metadata, Name, Storage};

pub use self::error::{CollectError, MissingReference};
pub use self::ignore::DEFAULT_IGNORE;
pub use self::report::Report;
pub use self::sources::{Duplicate, Source};
pub use crate::transfer::{Confirm, default_jobs};

use self::output::{Kind, Output};
use self::sources::SourceFile;
use crate::statics::{Encoding, IMMUTABLE, MANIFEST_NAME, render_manifest};
use crate::transfer::{Body, Budget, Item, NoProgress, Progress, Stage, cores, join_error};

/// Which target files a collection removes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Clear {
    /// None: files that are not part of the collection stay.
    #[default]
    Keep,
    /// Those that are not part of this collection, after the uploads (`--clear`).
    Stale,
    /// All of them, before anything is uploaded, as Django's `--clear` (`--clear-all`).
    All,
}

/// How [`collect`] works. Start from `CollectOptions::default()` and set what differs.
#[derive(Clone)]
#[non_exhaustive]
pub struct CollectOptions {
    /// Publish hashed copies, rewrite references and write `staticfiles.json` (Django's
    /// `ManifestStaticFilesStorage`).
    pub manifest: bool,
    /// Change nothing; the report says what would be done.
    pub dry_run: bool,
    /// Which target files to remove.
    pub clear: Clear,
    /// Ignore Django's default patterns `CVS`, `.*` and `*~`.
    pub default_ignore: bool,
    /// More patterns to ignore (fnmatch style: `*.scss`, `vendor/*/test`).
    pub ignore: Vec<String>,
    /// Uploads (and stored-file checks) in flight at once; `None`: [`default_jobs`] for the target.
    pub jobs: Option<usize>,
    /// Compressed siblings to publish.
    pub compress: Vec<Encoding>,
    /// A reference to a missing file is an error (otherwise it is kept unchanged and reported).
    pub strict: bool,
    /// Publish only the hashed copies (and the manifest), not the files under their own names.
    pub keep_only_hashed: bool,
    /// `Cache-Control` for everything but hashed copies (`None`: the storage's `cache_control`). Hashed copies get
    /// [`IMMUTABLE`].
    pub cache_control: Option<String>,
    /// The URL prefix root-relative references are resolved under (Django's `STATIC_URL`); `None`: the target's
    /// `base_url`.
    pub static_url: Option<String>,
    /// Passes over CSS/JS after the first before giving up on references that keep changing (Django: 5).
    pub max_passes: usize,
    /// Told what the collection does as it goes (the command line draws a bar on a terminal); `None`: nothing.
    pub progress: Option<Arc<dyn Progress>>,
    /// Asked before any deletion; `None` deletes without asking.
    pub confirm: Option<Confirm>,
}

impl Default for CollectOptions {
    fn default() -> Self {
        Self {
            manifest: false,
            dry_run: false,
            clear: Clear::Keep,
            default_ignore: true,
            ignore: Vec::new(),
            jobs: None,
            compress: Vec::new(),
            strict: true,
            keep_only_hashed: false,
            cache_control: None,
            static_url: None,
            max_passes: 5,
            progress: None,
            confirm: None,
        }
    }
}

impl fmt::Debug for CollectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectOptions")
            .field("manifest", &self.manifest)
            .field("dry_run", &self.dry_run)
            .field("clear", &self.clear)
            .field("default_ignore", &self.default_ignore)
            .field("ignore", &self.ignore)
            .field("jobs", &self.jobs)
            .field("compress", &self.compress)
            .field("strict", &self.strict)
            .field("keep_only_hashed", &self.keep_only_hashed)
            .field("cache_control", &self.cache_control)
            .field("static_url", &self.static_url)
            .field("max_passes", &self.max_passes)
            .field("progress", &self.progress.as_ref().map(|_| "Progress"))
            .field("confirm", &self.confirm.as_ref().map(|_| "Fn"))
            .finish()
    }
}

/// A source file, hashed.
#[derive(Debug)]
struct Collected {
    name: Name,
    path: PathBuf,
    size: u64,
    md5: Md5,
    /// The whole content, when it was read in one piece: files of at most one chunk, and CSS/JS to post-process.
    content: Option<Bytes>,
    /// Whether it is CSS/JS to post-process.
    adjustable: bool,
}

/// What was published, for the report.
#[derive(Debug, Default)]
struct Tally {
    uploaded: Vec<(String, Kind)>,
    unchanged: usize,
    bytes: u64,
    /// Every name the collection publishes, uploaded or already there.
    names: Vec<Name>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.uploaded.extend(other.uploaded);
        self.unchanged += other.unchanged;
        self.bytes += other.bytes;
        self.names.extend(other.names);
    }
}

/// What every step of a run shares.
struct Run<'a> {
    target: &'a dyn Storage,
    options: &'a CollectOptions,
    listing: HashMap<String, Metadata>,
    jobs: usize,
    progress: &'a dyn Progress,
    /// For the steps inside one file's task, which move the bar once per file.
    quiet: NoProgress,
    /// What the uploads of the whole run may hold in memory.
    budget: Budget,
}

/// Collects `sources` (in order: the first file found for a name wins) into `target`. See the module docs.
pub async fn collect(
    sources: &[Source],
    target: &dyn Storage,
    options: &CollectOptions,
) -> Result<Report, CollectError> {
    let started = Instant::now();
    if options.keep_only_hashed && !options.manifest {
        return Err(CollectError::InvalidOption {
            option: "--keep-only-hashed".into(),
            reason: "it needs --manifest (without it there are no hashed copies)".into(),
        });
    }
    let jobs = crate::transfer::jobs_for(options.jobs, target).ok_or_else(|| {
        CollectError::InvalidOption {
            option: "--jobs".into(),
            reason: "must be at least 1".into(),
        }
    })?;
    let progress = crate::transfer::reporter(options.progress.as_ref());
    let result = run(sources, target, options, jobs, progress).await;
    progress.finish();
    let mut report = result?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The steps, in an order that fails before changing anything where it can: references are checked before the
/// first upload, and the manifest is uploaded after every file it names.
async fn run(
    sources: &[Source],
    target: &dyn Storage,
    options: &CollectOptions,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Report, CollectError> {
    let mut patterns: Vec<&str> = options.ignore.iter().map(String::as_str).collect();
    if options.default_ignore {
        patterns.extend(DEFAULT_IGNORE);
    }
    let ignore = ignore::IgnorePatterns::new(patterns);
    let owned_sources = sources.to_vec();
    let (files, duplicates) =
        tokio::task::spawn_blocking(move || sources::find(&owned_sources, &ignore))
            .await
            .map_err(|e| join_error("the source directories", e))??;
    let total = files.len();
    let names: Vec<Name> = files.iter().map(|f| f.name.clone()).collect();
    let (texts, others): (Vec<SourceFile>, Vec<SourceFile>) = files
        .into_iter()
        .partition(|f| options.manifest && postprocess::is_adjustable(f.name.as_str()));

    // The one listing of the target, taken while the CSS/JS to post-process are read.
    progress.stage(Stage::Reading, texts.len() as u64, 0);
    let listing = async { Ok::<_, CollectError>(crate::transfer::listing(target, None).await?) };
    let read_texts = futures_util::stream::iter(texts.into_iter().map(|file| async {
        let collected = read_and_hash(file, true).await;
        progress.file_done();
        collected
    }))
    .buffered(jobs.clamp(1, 2 * cores()))
    .try_collect::<Vec<Collected>>();
    let (listing, texts) = futures_util::future::try_join(listing, read_texts).await?;
    let settings = postprocess::Settings {
        static_url: options
            .static_url
            .clone()
            .or_else(|| target.options().base_url.clone()),
        strict: options.strict,
        max_passes: options.max_passes,
    };
    if options.manifest {
        // Missing references and cycles depend on names only: found before anything is uploaded.
        let mut inputs: Vec<postprocess::FileInput<'_>> = names
            .iter()
            .filter(|name| !postprocess::is_adjustable(name.as_str()))
            .map(|name| postprocess::FileInput {
                name: name.as_str(),
                md5: Md5::default(),
                text: None,
            })
            .collect();
        inputs.extend(texts.iter().map(text_input));
        postprocess::validate(&inputs, &settings)?;
    }

    let mut run = Run {
        target,
        options,
        listing,
        jobs,
        progress,
        quiet: NoProgress,
        budget: Budget::new(),
    };
    let mut report = Report {
        duplicates,
        dry_run: options.dry_run,
        ..Report::default()
    };
    if options.clear == Clear::All {
        let mut all: Vec<Name> = run.listing.values().map(|m| m.name.clone()).collect();
        all.sort();
        remove(&run, &all, &mut report).await?;
        run.listing.clear();
    }

    // Every file under its own name, and as a hashed copy unless it waits for post-processing, `jobs` files at a
    // time: read and hash, compare, upload.
    progress.stage(Stage::Copying, total as u64, 0);
    let items = texts.into_iter().map(Ok).chain(others.into_iter().map(Err));
    let (mut collected, mut tally) =
        futures_util::stream::iter(items.map(|item| publish(item, &run)))
            .buffer_unordered(jobs)
            .try_fold(
                (Vec::new(), Tally::default()),
                |(mut all, mut tally), (file, done)| async move {
                    all.push(file);
                    tally.add(done);
                    Ok((all, tally))
                },
            )
            .await?;

    if options.manifest {
        collected.sort_by(|a, b| a.name.cmp(&b.name));
        let (collected, done) = tokio::task::spawn_blocking(move || {
            let inputs: Vec<postprocess::FileInput<'_>> =
                collected.iter().map(text_input).collect();
            let done = postprocess::post_process(&inputs, &settings);
            (collected, done)
        })
        .await
        .map_err(|e| join_error("post-processing", e))?;
        let done = done?;
        report.missing = done.missing;
        let mut paths = BTreeMap::new();
        let mut outputs = Vec::new();
        for ((file, hashed), rewritten) in collected.iter().zip(done.hashed).zip(done.rewritten) {
            if let Some((text, md5)) = rewritten {
                let text = Bytes::from(text);
                outputs.push(hashed_copy(
                    file,
                    &hashed,
                    (text.len() as u64, md5),
                    Body::Bytes(text),
                )?);
            }
            paths.insert(file.name.to_string(), hashed);
        }
        let siblings = compress_outputs(&outputs, &options.compress, jobs, &run.quiet).await?;
        outputs.extend(siblings);
        tally.add(send(&run, outputs, jobs, Some(Stage::PostProcessing)).await?);
        let (bytes, _hash) = render_manifest(&paths);
        let manifest = Output {
            item: bytes_item(
                Name::new(MANIFEST_NAME).map_err(storages_core::Error::from)?,
                Bytes::from(bytes),
                options.cache_control.clone(),
            ),
            kind: Kind::Manifest,
        };
        // Last, so that the manifest never names a file that is not stored yet.
        tally.add(send(&run, vec![manifest], 1, Some(Stage::Manifest)).await?);
    }

    if options.clear == Clear::Stale {
        let published: HashSet<&str> = tally.names.iter().map(Name::as_str).collect();
        let mut stale: Vec<Name> = run
            .listing
            .values()
            .filter(|m| !published.contains(m.name.as_str()))
            .map(|m| m.name.clone())
            .collect();
        stale.sort();
        remove(&run, &stale, &mut report).await?;
    }

    report.unchanged = tally.unchanged;
    report.bytes_uploaded = tally.bytes;
    for (name, kind) in tally.uploaded {
        match kind {
            Kind::Hashed => report.post_processed += 1,
            Kind::Original | Kind::Manifest => report.copied += 1,
        }
        report.uploaded.push(name);
    }
    report.uploaded.sort();
    Ok(report)
}

fn text_input(file: &Collected) -> postprocess::FileInput<'_> {
    postprocess::FileInput {
        name: file.name.as_str(),
        md5: file.md5,
        text: file
            .adjustable
            .then(|| {
                file.content
                    .as_deref()
                    .and_then(|b| std::str::from_utf8(b).ok())
            })
            .flatten(),
    }
}

/// One source file's task: read and hash it (unless read already), then publish it and, where it needs no
/// post-processing, its hashed copy, with their compressed siblings. Keeps the content of CSS/JS only.
async fn publish(
    item: Result<Collected, SourceFile>,
    run: &Run<'_>,
) -> Result<(Collected, Tally), CollectError> {
    let mut file = match item {
        Ok(read) => read,
        Err(unread) => read_and_hash(unread, false).await?,
    };
    let options = run.options;
    let body = match &file.content {
        Some(bytes) => Body::Bytes(bytes.clone()),
        None => Body::File(file.path.clone()),
    };
    let mut outputs = Vec::new();
    if !options.keep_only_hashed {
        let mut item = Item::new(file.name.clone(), body.clone(), file.size);
        item.md5 = Some(file.md5);
        item.cache_control = options.cache_control.clone();
        outputs.push(Output {
            item,
            kind: Kind::Original,
        });
    }
    // CSS and JS get their hashed copies after post-processing; every other file gets its copy here.
    let hashed_here = options.manifest && !file.adjustable;
    if hashed_here {
        let hashed = postprocess::hashed_name_of(file.name.as_str(), &file.md5);
        outputs.push(hashed_copy(&file, &hashed, (file.size, file.md5), body)?);
    }
    let siblings = compress_outputs(&outputs, &options.compress, 1, &run.quiet).await?;
    // Where files keep no Cache-Control of their own (a filesystem), the hashed copy is the original's bytes under
    // a second name: a copy within the target (a hard link on file:/nfs:), made after the original is stored.
    // Elsewhere it is sent, so that it keeps its own Cache-Control (immutable), which a copy would not set.
    let copy = hashed_here && !options.keep_only_hashed && !run.target.capabilities().cache_control;
    let mut done = Tally::default();
    if copy {
        for output in &mut outputs {
            if output.kind == Kind::Hashed {
                output.item.body = Body::Copy(file.name.clone());
            }
        }
        let (originals, rest): (Vec<Output>, Vec<Output>) =
            outputs.into_iter().partition(|o| o.kind == Kind::Original);
        outputs = rest;
        done.add(send(run, originals, 1, None).await?);
    }
    outputs.extend(siblings);
    let parallel = outputs.len();
    done.add(send(run, outputs, parallel, None).await?);
    if !file.adjustable {
        file.content = None;
    }
    run.progress.file_done();
    Ok((file, done))
}

/// Compares `outputs` with the listing and uploads those that differ (unless dry-running), `jobs` at a time;
/// `stage` is the progress stage (none for the steps of one file's task).
async fn send(
    run: &Run<'_>,
    outputs: Vec<Output>,
    jobs: usize,
    stage: Option<Stage>,
) -> Result<Tally, CollectError> {
    let names = outputs.iter().map(|o| o.item.name.clone()).collect();
    let decided =
        crate::transfer::decide(outputs, &run.listing, run.target, jobs, &run.quiet).await?;
    let tally = Tally {
        bytes: decided.upload.iter().map(|o| o.item.size).sum(),
        uploaded: decided
            .upload
            .iter()
            .map(|o| (o.item.name.to_string(), o.kind))
            .collect(),
        unchanged: decided.unchanged.len(),
        names,
    };
    if !run.options.dry_run {
        let progress = match stage {
            Some(stage) => {
                run.progress
                    .stage(stage, decided.upload.len() as u64, tally.bytes);
                run.progress
            }
            None => &run.quiet,
        };
        // Collected files are never a storage's: none can vanish.
        crate::transfer::upload(
            run.target,
            decided.upload,
            jobs,
            false,
            &run.budget,
            progress,
        )
        .await?;
    }
    Ok(tally)
}

/// A file made in memory, with its hash.
fn bytes_item(name: Name, bytes: Bytes, cache_control: Option<String>) -> Item {
    let mut item = Item::new(name, Body::Bytes(Bytes::new()), bytes.len() as u64);
    item.md5 = Some(Md5::of(&bytes));
    item.body = Body::Bytes(bytes);
    item.cache_control = cache_control;
    item
}

/// Removes `names` after confirmation (none asked in a dry run), and reports them.
async fn remove(run: &Run<'_>, names: &[Name], report: &mut Report) -> Result<(), CollectError> {
    if names.is_empty() {
        return Ok(());
    }
    if !run.options.dry_run {
        if let Some(confirm) = &run.options.confirm {
            if !confirm(names.len()) {
                return Err(CollectError::Cancelled(format!(
                    "{} file(s) would have been deleted",
                    names.len()
                )));
            }
        }
        run.progress.stage(Stage::Deleting, names.len() as u64, 0);
        crate::transfer::delete(run.target, names, run.jobs, run.progress).await?;
    }
    report.deleted += names.len();
    report.removed.extend(names.iter().map(Name::to_string));
    report.removed.sort();
    Ok(())
}

/// The hashed copy of `file` under `hashed`, immutable for caches: `body`, of this size and MD5.
fn hashed_copy(
    file: &Collected,
    hashed: &str,
    (size, md5): (u64, Md5),
    body: Body,
) -> Result<Output, CollectError> {
    let name = Name::new(hashed).map_err(|e| CollectError::InvalidHashedName {
        name: file.name.to_string(),
        source: e,
    })?;
    let mut item = Item::new(name, body, size);
    item.md5 = Some(md5);
    item.cache_control = Some(IMMUTABLE.to_owned());
    item.content_addressed = true;
    Ok(Output {
        item,
        kind: Kind::Hashed,
    })
}

/// Source files up to this size are read in one piece and published from memory: one open and one read serve both
/// the hash and the copy. A collection holds at most `jobs` of them at once (4 MiB with the default jobs on two
/// cores; S3's 32 jobs share the transfer engine's memory budget). Larger files are hashed as they stream, then
/// streamed again when sent.
const READ_WHOLE: u64 = 1 << 20;

/// Reads and hashes `file` on a blocking thread: in one piece when it is CSS/JS to post-process (text the tool
/// rewrites, read whole as Django does) or no larger than [`READ_WHOLE`], streamed through the hash otherwise.
async fn read_and_hash(file: SourceFile, post_process: bool) -> Result<Collected, CollectError> {
    let path = file.path.clone();
    tokio::task::spawn_blocking(move || {
        let read_error = |e| CollectError::Read {
            path: file.path.clone(),
            source: e,
        };
        let mut opened = std::fs::File::open(&file.path).map_err(read_error)?;
        let len = opened.metadata().map_err(read_error)?.len();
        if post_process || len <= READ_WHOLE {
            // Exactly the size just read: one read call, no probing for more (a file changed meanwhile fails,
            // or is collected as it was when stat-ed).
            let mut bytes = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
            std::io::Read::read_exact(&mut opened, &mut bytes).map_err(read_error)?;
            if post_process && std::str::from_utf8(&bytes).is_err() {
                return Err(CollectError::NotText {
                    name: file.name.to_string(),
                    path: file.path,
                });
            }
            return Ok(Collected {
                name: file.name,
                path: file.path,
                size: bytes.len() as u64,
                md5: Md5::of(&bytes),
                content: Some(Bytes::from(bytes)),
                adjustable: post_process,
            });
        }
        let (size, md5) = Md5::of_reader(&mut opened).map_err(read_error)?;
        Ok(Collected {
            name: file.name,
            path: file.path,
            size,
            md5,
            content: None,
            adjustable: false,
        })
    })
    .await
    .map_err(|e| join_error(&path.display().to_string(), e))?
}

/// The compressed siblings of `outputs` that pay, each distinct content compressed once, on blocking threads.
async fn compress_outputs(
    outputs: &[Output],
    kinds: &[Encoding],
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<Output>, CollectError> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let mut kinds = kinds.to_vec();
    kinds.sort();
    kinds.dedup();
    let candidates: Vec<&Output> = outputs
        .iter()
        .filter(|o| {
            o.kind != Kind::Manifest
                && o.item.size > 0
                && compress::worth_trying(o.item.name.as_str())
        })
        .collect();
    // One job per distinct content and compression.
    let mut work: Vec<(Md5, Encoding, Body)> = Vec::new();
    let mut planned = HashSet::new();
    for output in &candidates {
        let md5 = content_md5(output);
        for &kind in &kinds {
            if planned.insert((md5, kind)) {
                work.push((md5, kind, output.item.body.clone()));
            }
        }
    }
    progress.stage(Stage::Compressing, work.len() as u64, 0);
    let parallel = jobs.clamp(1, cores());
    let done: Vec<((Md5, Encoding), Bytes)> =
        futures_util::stream::iter(work.into_iter().map(|(md5, kind, body)| async move {
            let compressed = tokio::task::spawn_blocking(move || match &body {
                Body::File(path) => {
                    std::fs::File::open(path).and_then(|f| compress::compress(kind, f))
                }
                Body::Bytes(bytes) => compress::compress(kind, &bytes[..]),
                Body::Stored(_) | Body::Copy(_) => Err(std::io::Error::other(
                    "collected files are compressed before they become copies, and are never stored ones",
                )),
            })
            .await
            .map_err(|e| join_error("compression", e))?
            .map_err(|e| CollectError::Compress {
                name: format!("content {md5}"),
                source: e,
            })?;
            progress.file_done();
            Ok::<_, CollectError>(((md5, kind), Bytes::from(compressed)))
        }))
        .buffer_unordered(parallel)
        .try_collect()
        .await?;
    let done: HashMap<(Md5, Encoding), Bytes> = done.into_iter().collect();
    let mut siblings = Vec::new();
    for output in candidates {
        for &kind in &kinds {
            let Some(bytes) = done.get(&(content_md5(output), kind)) else {
                continue;
            };
            if !compress::pays(output.item.size, bytes.len() as u64) {
                continue;
            }
            let name = kind
                .sibling(&output.item.name, DEFAULT_MAX_NAME_LEN)
                .map_err(|e| CollectError::InvalidHashedName {
                    name: output.item.name.to_string(),
                    source: e,
                })?;
            siblings.push(Output {
                item: bytes_item(name, bytes.clone(), output.item.cache_control.clone()),
                kind: output.kind,
            });
        }
    }
    Ok(siblings)
}

/// The MD5 of an output's content, which collected outputs always know.
fn content_md5(output: &Output) -> Md5 {
    output.item.md5.unwrap_or_default()
}
