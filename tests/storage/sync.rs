//! `storages::sync` and `storages sync` on real backends: directories, tmpfs mounts as NFS shares, memory, and real
//! Garage and moto servers. Every pair of backends copies a tree with nested and unusual names, empty files and a
//! multipart-sized file, keeps Content-Type and Cache-Control where the target keeps them, and sends nothing on a
//! re-run; then the options (`--delete`, `--dry-run`, `--prefix`, `--verify`), a `kill -9` mid-run followed by a
//! re-run, exit codes and the summary line.
#![cfg(all(feature = "s3", feature = "nfs"))]

use crate::support;

use std::any::Any;
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::TryStreamExt;
use storages::conformance::pattern;
use storages::sync::{SyncError, SyncOptions, sync};
use storages::transfer::{Progress, Stage};
use storages::{
    CommonOptions, Content, MemoryStorage, Metadata, Name, PutMode, Settings, Storage, StorageExt,
};
use support::mount::TmpfsMount;
use support::s3::{Peer, shared_garage, shared_moto, unique};
use support::{assert_exit, stderr, stdout, storages};

/// Parts of the smallest size S3 allows, so that the tree's 6 MiB file is a multipart upload.
const PART_SIZE: usize = 5 * 1024 * 1024;

/// The backends a sync goes between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Memory,
    Nfs,
    Garage,
    Moto,
}

impl Kind {
    /// Whether the medium keeps a file's Content-Type and Cache-Control (file systems guess the type from the
    /// name and keep no Cache-Control).
    fn keeps_headers(self) -> bool {
        matches!(self, Self::Memory | Self::Garage | Self::Moto)
    }

    fn is_s3(self) -> bool {
        matches!(self, Self::Garage | Self::Moto)
    }
}

/// A fresh, empty storage of one kind, its settings URL (none for memory, which lives in this process only), and
/// what must live as long as it (directories, mounts).
struct Side {
    kind: Kind,
    storage: Arc<dyn Storage>,
    url: Option<String>,
    _guard: Box<dyn Any>,
}

fn side(kind: Kind) -> Side {
    let (url, guard): (Option<String>, Box<dyn Any>) = match kind {
        Kind::File => {
            let dir = tempfile::tempdir().expect("tempdir");
            (
                Some(format!("file://{}/root", dir.path().display())),
                Box::new(dir),
            )
        }
        Kind::Memory => (None, Box::new(())),
        Kind::Nfs => {
            let mount = TmpfsMount::new();
            // nfs: never creates its root: the share's directory is made once, as an operator would.
            std::fs::create_dir(mount.path().join("share")).expect("mkdir share");
            (
                Some(format!("nfs://{}/share", mount.path().display())),
                Box::new(mount),
            )
        }
        Kind::Garage => (
            Some(format!(
                "{}&part_size={PART_SIZE}",
                shared_garage().settings_url(&unique("sync"))
            )),
            Box::new(()),
        ),
        Kind::Moto => {
            let m = shared_moto();
            let bucket = unique("sync");
            m.create_bucket(&bucket);
            (
                Some(format!(
                    "{}&part_size={PART_SIZE}",
                    m.settings_url(&bucket, &unique("sync"))
                )),
                Box::new(()),
            )
        }
    };
    let storage: Arc<dyn Storage> = match &url {
        Some(url) => build(url),
        None => Arc::new(MemoryStorage::with_options(CommonOptions::default())),
    };
    Side {
        kind,
        storage,
        url,
        _guard: guard,
    }
}

fn build(url: &str) -> Arc<dyn Storage> {
    Settings::parse(url).expect("parse").build().expect("build")
}

/// One file of the tree: name, content, and the Content-Type and Cache-Control it is stored with (where the
/// medium keeps them; `None`: guessed, or none).
struct Entry {
    name: &'static str,
    data: Vec<u8>,
    content_type: Option<&'static str>,
    cache_control: Option<&'static str>,
}

fn entry(name: &'static str, data: Vec<u8>) -> Entry {
    Entry {
        name,
        data,
        content_type: None,
        cache_control: None,
    }
}

/// Nested names, names with spaces, non-ASCII letters and punctuation, empty files, a file with no extension and a
/// type of its own, and one over the part size.
fn tree() -> Vec<Entry> {
    vec![
        Entry {
            cache_control: Some("no-cache"),
            ..entry("index.html", b"<!doctype html><title>x</title>".to_vec())
        },
        Entry {
            cache_control: Some("public, max-age=31536000, immutable"),
            ..entry("css/site.css", b"body { color: #333 }".to_vec())
        },
        entry("empty.txt", Vec::new()),
        entry("deep/a/b/c/d/e/f/empty.json", Vec::new()),
        entry("deep/a/b/c/d/e/f/g.json", br#"{"deep": true}"#.to_vec()),
        entry(
            "name with spaces/café ünïcode.txt",
            "ça va".as_bytes().to_vec(),
        ),
        entry("odd/a+b=c&d;e,f@g!h'(i)~$.txt", pattern(1, 0, 3000)),
        entry("odd/100% done #1 [x] {y}.txt", pattern(2, 0, 10)),
        Entry {
            content_type: Some("text/x-readme; charset=utf-8"),
            ..entry("README", b"read me".to_vec())
        },
        Entry {
            cache_control: Some("private, max-age=60"),
            ..entry("big/video.webm", pattern(3, 0, 6 * 1024 * 1024 + 13))
        },
    ]
}

async fn seed(storage: &dyn Storage, entries: &[Entry]) {
    for e in entries {
        let mut content = Content::from_bytes(e.data.clone());
        if let Some(ct) = e.content_type {
            content = content.with_content_type(ct);
        }
        if let Some(cc) = e.cache_control {
            content = content.with_cache_control(cc);
        }
        storage
            .put(
                &Name::new(e.name).expect("name"),
                content,
                PutMode::Overwrite,
            )
            .await
            .unwrap_or_else(|err| panic!("seed {}: {err}", e.name));
    }
}

/// Every file's metadata, by name.
async fn listing(storage: &dyn Storage) -> BTreeMap<String, Metadata> {
    storage
        .list(None)
        .map_ok(|m| (m.name.to_string(), m))
        .try_collect()
        .await
        .expect("list")
}

/// The target lists exactly the source's names, each with the same bytes, and the same Content-Type and
/// Cache-Control where the target keeps them.
async fn assert_same(src: &Side, dst: &Side) {
    let (ours, theirs) = (listing(&*src.storage).await, listing(&*dst.storage).await);
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "{:?} -> {:?}: names",
        src.kind,
        dst.kind
    );
    for name in ours.keys() {
        let a = src.storage.open(name.as_str()).await.expect("open source");
        let b = dst.storage.open(name.as_str()).await.expect("open target");
        let (a_meta, b_meta) = (a.meta.clone(), b.meta.clone());
        let a_bytes: Vec<bytes::Bytes> = a.stream.try_collect().await.expect("read");
        let b_bytes: Vec<bytes::Bytes> = b.stream.try_collect().await.expect("read");
        assert!(
            a_bytes.concat() == b_bytes.concat(),
            "{:?} -> {:?}: `{name}` differs",
            src.kind,
            dst.kind
        );
        if dst.kind.keeps_headers() {
            assert_eq!(
                b_meta.content_type, a_meta.content_type,
                "{:?} -> {:?}: Content-Type of `{name}`",
                src.kind, dst.kind
            );
            assert_eq!(
                b_meta.cache_control, a_meta.cache_control,
                "{:?} -> {:?}: Cache-Control of `{name}`",
                src.kind, dst.kind
            );
        }
    }
}

/// What the listing says about each file that changes when it is written again.
fn stamps(listed: &BTreeMap<String, Metadata>) -> BTreeMap<String, (u64, Option<SystemTime>)> {
    listed
        .iter()
        .map(|(name, m)| (name.clone(), (m.size, m.modified)))
        .collect()
}

/// SRC's tree synced into an empty DST arrives whole, headers included; a re-run copies nothing and writes
/// nothing (every file's modification time, S3's LastModified included, is unchanged).
async fn a_tree_arrives_whole_and_a_rerun_sends_nothing(from: Kind, to: Kind) {
    let (src, dst) = (side(from), side(to));
    let entries = tree();
    seed(&*src.storage, &entries).await;
    if from.keeps_headers() {
        let readme = src.storage.metadata("README").await.expect("stat");
        assert_eq!(
            readme.content_type.as_deref(),
            Some("text/x-readme; charset=utf-8")
        );
    }
    let first = sync(&src.storage, &*dst.storage, &SyncOptions::default())
        .await
        .expect("sync");
    assert_eq!((first.copied, first.unchanged), (entries.len(), 0));
    let total: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
    assert_eq!(first.bytes_copied, total);
    assert_same(&src, &dst).await;

    let before = stamps(&listing(&*dst.storage).await);
    if to.is_s3() {
        // LastModified has whole seconds: a rewrite within the same second would go unseen.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let again = sync(&src.storage, &*dst.storage, &SyncOptions::default())
        .await
        .expect("sync again");
    assert_eq!(
        (again.copied, again.bytes_copied, again.unchanged),
        (0, 0, entries.len()),
        "{from:?} -> {to:?}: a re-run copies nothing"
    );
    assert_eq!(
        stamps(&listing(&*dst.storage).await),
        before,
        "{from:?} -> {to:?}: a re-run writes nothing"
    );
}

macro_rules! pairs {
    ($($test:ident: $from:ident -> $to:ident;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                a_tree_arrives_whole_and_a_rerun_sends_nothing(Kind::$from, Kind::$to).await;
            }
        )*
    };
}

pairs! {
    file_to_file: File -> File;
    file_to_memory: File -> Memory;
    file_to_nfs: File -> Nfs;
    file_to_garage: File -> Garage;
    file_to_moto: File -> Moto;
    memory_to_file: Memory -> File;
    memory_to_memory: Memory -> Memory;
    memory_to_nfs: Memory -> Nfs;
    memory_to_garage: Memory -> Garage;
    memory_to_moto: Memory -> Moto;
    nfs_to_file: Nfs -> File;
    nfs_to_memory: Nfs -> Memory;
    nfs_to_nfs: Nfs -> Nfs;
    nfs_to_garage: Nfs -> Garage;
    nfs_to_moto: Nfs -> Moto;
    garage_to_file: Garage -> File;
    garage_to_memory: Garage -> Memory;
    garage_to_nfs: Garage -> Nfs;
    garage_to_garage: Garage -> Garage;
    garage_to_moto: Garage -> Moto;
    moto_to_file: Moto -> File;
    moto_to_memory: Moto -> Memory;
    moto_to_nfs: Moto -> Nfs;
    moto_to_garage: Moto -> Garage;
    moto_to_moto: Moto -> Moto;
}

/// A file changed in place to other bytes of the same size (the case sizes cannot catch) is sent again, and only
/// it: into a directory (both sides hashed) and into Garage (the target's hash from its listing, or from the
/// recorded MD5 for the multipart file).
async fn a_file_changed_to_the_same_size_is_sent_again(to: Kind) {
    let (src, dst) = (side(Kind::File), side(to));
    let entries = tree();
    seed(&*src.storage, &entries).await;
    sync(&src.storage, &*dst.storage, &SyncOptions::default())
        .await
        .expect("sync");
    for (name, seed_) in [("odd/a+b=c&d;e,f@g!h'(i)~$.txt", 9), ("big/video.webm", 10)] {
        let size = src.storage.size(name).await.expect("size");
        src.storage
            .save_with(
                name,
                pattern(seed_, 0, size as usize),
                storages::SaveOptions::overwrite(),
            )
            .await
            .expect("change");
    }
    let again = sync(&src.storage, &*dst.storage, &SyncOptions::default())
        .await
        .expect("sync again");
    assert_eq!(
        again.copied_names,
        [
            Name::new("big/video.webm").expect("name"),
            Name::new("odd/a+b=c&d;e,f@g!h'(i)~$.txt").expect("name")
        ]
    );
    assert_eq!(again.unchanged, entries.len() - 2);
    assert_same(&src, &dst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_changed_to_the_same_size_is_sent_again_into_a_directory() {
    a_file_changed_to_the_same_size_is_sent_again(Kind::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_changed_to_the_same_size_is_sent_again_into_garage() {
    a_file_changed_to_the_same_size_is_sent_again(Kind::Garage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_changed_to_the_same_size_is_sent_again_into_moto() {
    a_file_changed_to_the_same_size_is_sent_again(Kind::Moto).await;
}

/// `delete` asks with the number of files to remove before anything changes; "no" changes nothing, "yes" removes
/// exactly what the source lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_asks_first_and_removes_exactly_what_the_source_lacks() {
    let (src, dst) = (side(Kind::File), side(Kind::Garage));
    seed(
        &*src.storage,
        &[
            entry("keep/a.txt", b"a".to_vec()),
            entry("new.txt", b"n".to_vec()),
        ],
    )
    .await;
    seed(
        &*dst.storage,
        &[
            entry("keep/a.txt", b"a".to_vec()),
            entry("keep/stale.txt", b"s".to_vec()),
            entry("old/x/y.bin", b"y".to_vec()),
        ],
    )
    .await;
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let answer = |yes: bool| {
        let asked = Arc::clone(&asked);
        let mut options = SyncOptions::default();
        options.delete = true;
        options.confirm = Some(Arc::new(move |count| {
            asked.lock().expect("lock").push(count);
            yes
        }));
        options
    };
    let before = listing(&*dst.storage).await;
    let refused = sync(&src.storage, &*dst.storage, &answer(false)).await;
    assert!(
        matches!(refused, Err(SyncError::Cancelled(_))),
        "{refused:?}"
    );
    assert_eq!(
        listing(&*dst.storage).await.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "a refusal changes nothing, not even the copies"
    );
    let done = sync(&src.storage, &*dst.storage, &answer(true))
        .await
        .expect("sync");
    assert_eq!(*asked.lock().expect("lock"), [2, 2]);
    assert_eq!(
        done.deleted_names,
        [
            Name::new("keep/stale.txt").expect("name"),
            Name::new("old/x/y.bin").expect("name")
        ]
    );
    assert_eq!((done.copied, done.unchanged, done.deleted), (1, 1, 2));
    assert_eq!(
        listing(&*dst.storage).await.keys().collect::<Vec<_>>(),
        ["keep/a.txt", "new.txt"]
    );
}

/// `prefix` limits both sides: nothing outside it is copied, compared or deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prefix_limits_both_sides() {
    let (src, dst) = (side(Kind::Memory), side(Kind::File));
    seed(
        &*src.storage,
        &[
            entry("media/a.txt", b"a".to_vec()),
            entry("media/sub/b.txt", b"b".to_vec()),
            entry("mediafiles/c.txt", b"c".to_vec()),
            entry("other/d.txt", b"d".to_vec()),
        ],
    )
    .await;
    seed(
        &*dst.storage,
        &[
            entry("media/stale.txt", b"s".to_vec()),
            entry("mediafiles/keep.txt", b"k".to_vec()),
            entry("other/keep.txt", b"k".to_vec()),
        ],
    )
    .await;
    let mut options = SyncOptions::default();
    options.prefix = Some(Name::new("media").expect("name"));
    options.delete = true;
    let report = sync(&src.storage, &*dst.storage, &options)
        .await
        .expect("sync");
    assert_eq!((report.copied, report.deleted), (2, 1));
    assert_eq!(
        listing(&*dst.storage).await.keys().collect::<Vec<_>>(),
        [
            "media/a.txt",
            "media/sub/b.txt",
            "mediafiles/keep.txt",
            "other/keep.txt"
        ]
    );
}

/// A dry run reports what it would copy and delete, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dry_run_changes_nothing() {
    let (src, dst) = (side(Kind::File), side(Kind::Moto));
    seed(&*src.storage, &tree()).await;
    seed(&*dst.storage, &[entry("stale.txt", b"s".to_vec())]).await;
    let before = stamps(&listing(&*dst.storage).await);
    let mut options = SyncOptions::default();
    options.dry_run = true;
    options.delete = true;
    options.verify = true;
    options.confirm = Some(Arc::new(|_| panic!("a dry run asks nothing")));
    let report = sync(&src.storage, &*dst.storage, &options)
        .await
        .expect("sync");
    assert!(report.dry_run);
    assert_eq!((report.copied, report.deleted), (tree().len(), 1));
    let mut details = Vec::new();
    report.write_details(&mut details).expect("write");
    let details = String::from_utf8(details).expect("utf-8");
    assert!(details.contains("would copy big/video.webm\n"), "{details}");
    assert!(details.contains("would delete stale.txt\n"), "{details}");
    assert_eq!(stamps(&listing(&*dst.storage).await), before);
}

/// A progress hook that does `action` when `stage` begins: what another program does meanwhile.
struct OnStage {
    stage: Stage,
    action: Box<dyn Fn() + Send + Sync>,
}

impl Progress for OnStage {
    fn stage(&self, stage: Stage, _files: u64, _bytes: u64) {
        if stage == self.stage {
            (self.action)();
        }
    }
}

/// A file removed from the source after the listing, before it is copied, is not an error: it is reported as
/// vanished, and the rest is copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_removed_from_the_source_meanwhile_is_reported_not_fatal() {
    let (src, dst) = (side(Kind::File), side(Kind::Memory));
    seed(
        &*src.storage,
        &[
            entry("a.txt", b"a".to_vec()),
            entry("b/gone.txt", b"b".to_vec()),
            entry("c.txt", b"c".to_vec()),
        ],
    )
    .await;
    let gone = src
        .storage
        .local_path(&Name::new("b/gone.txt").expect("name"))
        .expect("a local path");
    let mut options = SyncOptions::default();
    options.progress = Some(Arc::new(OnStage {
        stage: Stage::Copying,
        action: Box::new(move || std::fs::remove_file(&gone).expect("remove")),
    }));
    let report = sync(&src.storage, &*dst.storage, &options)
        .await
        .expect("sync");
    assert_eq!(report.vanished, [Name::new("b/gone.txt").expect("name")]);
    assert_eq!((report.copied, report.bytes_copied), (2, 2));
    assert!(
        report
            .to_string()
            .contains("; 1 vanished from the source meanwhile"),
        "{report}"
    );
    assert_eq!(
        listing(&*dst.storage).await.keys().collect::<Vec<_>>(),
        ["a.txt", "c.txt"]
    );
}

/// `verify` reads every copy back: a file changed in the target between copy and verification is reported (and
/// only it), with both hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_reports_a_copy_changed_before_it_is_read_back() {
    let (src, dst) = (side(Kind::Memory), side(Kind::File));
    let entries = tree();
    seed(&*src.storage, &entries).await;
    let name = Name::new("odd/a+b=c&d;e,f@g!h'(i)~$.txt").expect("name");
    let path = dst.storage.local_path(&name).expect("a local path");
    let mut options = SyncOptions::default();
    options.verify = true;
    // Overwritten behind the storage's back (as a disk fault or another program would) before it is read back.
    options.progress = Some(Arc::new(OnStage {
        stage: Stage::Verifying,
        action: Box::new(move || std::fs::write(&path, [b'!'; 3000]).expect("corrupt")),
    }));
    let report = sync(&src.storage, &*dst.storage, &options)
        .await
        .expect("sync");
    assert_eq!(report.verified, entries.len());
    let [mismatch] = report.mismatches.as_slice() else {
        panic!("one mismatch expected: {:?}", report.mismatches);
    };
    assert_eq!(mismatch.name, name);
    assert_eq!(mismatch.expected, storages::Md5::of(&pattern(1, 0, 3000)));
    assert_eq!(mismatch.found, Some(storages::Md5::of(&[b'!'; 3000])));
    assert!(
        report.to_string().ends_with("verified 10 files, 1 differ"),
        "{report}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The command line.

fn url(side: &Side) -> &str {
    side.url.as_deref().expect("a settings URL")
}

/// Without a terminal the summary is one line: `copied N files (B bytes), M unchanged, D deleted, in T s`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_command_prints_one_summary_line_and_a_rerun_copies_nothing() {
    let (src, dst) = (side(Kind::File), side(Kind::Garage));
    let entries = tree();
    seed(&*src.storage, &entries).await;
    let total: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
    let first = storages(&["sync", url(&src), url(&dst)]);
    assert_exit(&first, 0);
    let out = stdout(&first);
    assert_eq!(out.lines().count(), 1, "{out}");
    let prefix = format!("copied 10 files ({total} bytes), 0 unchanged, 0 deleted, in ");
    assert!(out.starts_with(&prefix) && out.ends_with(" s\n"), "{out}");
    assert!(
        stderr(&first).is_empty(),
        "no bar without a terminal: {}",
        stderr(&first)
    );
    assert_same(&src, &dst).await;

    let again = storages(&["sync", url(&src), url(&dst)]);
    assert_exit(&again, 0);
    assert!(
        stdout(&again).starts_with("copied 0 files (0 bytes), 10 unchanged, 0 deleted, in "),
        "{}",
        stdout(&again)
    );
}

/// `--delete` refuses without a terminal unless `--no-input` (exit 1, nothing changed, copies included); with it,
/// it removes what the source lacks. `--dry-run` only lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_command_deletes_only_with_no_input_when_not_on_a_terminal() {
    let (src, dst) = (side(Kind::File), side(Kind::File));
    seed(&*src.storage, &[entry("a.txt", b"a".to_vec())]).await;
    seed(&*dst.storage, &[entry("stale/b.txt", b"b".to_vec())]).await;

    let dry = storages(&["sync", url(&src), url(&dst), "--delete", "--dry-run"]);
    assert_exit(&dry, 0);
    assert_eq!(
        stdout(&dry).lines().take(2).collect::<Vec<_>>(),
        ["would copy a.txt", "would delete stale/b.txt"]
    );
    assert!(stdout(&dry).contains("(dry run: nothing was changed)"));

    let refused = storages(&["sync", url(&src), url(&dst), "--delete"]);
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused).contains("--no-input"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        listing(&*dst.storage).await.keys().collect::<Vec<_>>(),
        ["stale/b.txt"]
    );

    let done = storages(&["sync", url(&src), url(&dst), "--delete", "--no-input"]);
    assert_exit(&done, 0);
    assert!(
        stdout(&done).starts_with("copied 1 files (1 bytes), 0 unchanged, 1 deleted, in "),
        "{}",
        stdout(&done)
    );
    assert_eq!(
        listing(&*dst.storage).await.keys().collect::<Vec<_>>(),
        ["a.txt"]
    );
}

/// `storages ARGS` on a terminal (a pseudo-terminal made by util-linux's `script`) typing `input`: its exit
/// code and everything it showed.
fn on_a_terminal(args: &[&str], input: &str) -> (Option<i32>, String) {
    let quoted: Vec<String> = std::iter::once(support::storages_bin().display().to_string())
        .chain(args.iter().map(|a| (*a).to_owned()))
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let mut child = Command::new("script")
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .env_remove("STORAGES_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script (util-linux) to get a terminal");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes())
        .expect("type");
    let out = child.wait_with_output().expect("wait");
    (out.status.code(), stdout(&out) + &stderr(&out))
}

/// On a terminal, a progress bar shows files and bytes, and `--delete` asks first: "no" changes nothing (exit 1),
/// "yes" copies and deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_terminal_a_bar_shows_and_delete_asks() {
    let (src, dst) = (side(Kind::File), side(Kind::File));
    seed(&*src.storage, &[entry("a.txt", b"a".to_vec())]).await;
    seed(&*dst.storage, &[entry("stale.txt", b"s".to_vec())]).await;
    let args = ["sync", url(&src), url(&dst), "--delete"];

    let (code, shown) = on_a_terminal(&args, "no\n");
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains("This will DELETE 1 file(s) from "),
        "{shown}"
    );
    assert!(shown.contains("cancelled"), "{shown}");
    assert_eq!(
        listing(&*dst.storage).await.keys().collect::<Vec<_>>(),
        ["stale.txt"]
    );

    let (code, shown) = on_a_terminal(&args, "yes\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("copying 1/1 files ["),
        "a bar with files: {shown}"
    );
    assert!(shown.contains(" B/1 B "), "and bytes: {shown}");
    assert!(
        shown.contains("copied 1 files (1 bytes), 0 unchanged, 1 deleted"),
        "{shown}"
    );
    assert_eq!(
        listing(&*dst.storage).await.keys().collect::<Vec<_>>(),
        ["a.txt"]
    );
}

/// Bad usage exits 2 (an invalid URL, an unknown alias, a prefix that is no name, no jobs); a storage that fails
/// exits 1 with one line saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exit_codes_tell_bad_usage_from_storage_failures() {
    let (src, dst) = (side(Kind::File), side(Kind::File));
    seed(&*src.storage, &[entry("a.txt", b"a".to_vec())]).await;
    for args in [
        vec!["sync", "nosuch://x", url(&dst)],
        vec!["sync", url(&src), "file:///tmp/x?unknown_option=1"],
        vec!["sync", "no-such-alias", url(&dst)],
        vec!["sync", url(&src), url(&dst), "--prefix", "../up"],
        vec!["sync", url(&src), url(&dst), "--jobs", "0"],
    ] {
        let out = storages(&args);
        assert_exit(&out, 2);
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
    let g = shared_garage();
    let missing = format!(
        "s3://no-such-bucket-{}?endpoint={}&region=garage&aws_access_key_id={}&aws_secret_access_key={}",
        unique("b"),
        g.endpoint(),
        g.access_key(),
        g.secret_key()
    );
    let failed = storages(&["sync", url(&src), &missing]);
    assert_exit(&failed, 1);
    assert_eq!(stderr(&failed).lines().count(), 1, "{}", stderr(&failed));
    assert!(
        stderr(&failed).contains("does not exist"),
        "{}",
        stderr(&failed)
    );
    assert!(
        !stderr(&failed).contains(g.secret_key()),
        "never a secret in a message"
    );
    assert_exit(&storages(&["sync", url(&src), url(&dst)]), 0);
}

/// `--verify` reads back what it skipped too: a multipart object rewritten behind the storage's back (by another
/// client, with other bytes of the same size and a stale MD5 record claiming the source's content) passes the
/// comparison, but not the verification: exit 1, and the file is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_catches_other_bytes_behind_a_stale_md5_record() {
    let (src, dst) = (side(Kind::File), side(Kind::Garage));
    let entries = tree();
    seed(&*src.storage, &entries).await;
    assert_exit(&storages(&["sync", url(&src), url(&dst)]), 0);

    let g = shared_garage();
    let peer = Peer::garage(g);
    let key_prefix = dst_prefix(url(&dst));
    let video = pattern(3, 0, 6 * 1024 * 1024 + 13);
    let other = pattern(4, 0, video.len());
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(file.path(), &other).expect("write");
    peer.boto3(
        "from boto3.s3.transfer import TransferConfig\n\
         s3.upload_file(args[0], args[1], args[2], ExtraArgs={'Metadata': {'md5chksum': args[3]}}, \
         Config=TransferConfig(multipart_threshold=5*1024*1024, multipart_chunksize=5*1024*1024))",
        &[
            &file.path().display().to_string(),
            g.bucket(),
            &format!("{key_prefix}/big/video.webm"),
            &md5_record(&video),
        ],
    );

    let plain = storages(&["sync", url(&src), url(&dst)]);
    assert_exit(&plain, 0);
    assert!(
        stdout(&plain).starts_with("copied 0 files"),
        "the stale record fools the comparison: {}",
        stdout(&plain)
    );
    let verified = storages(&["sync", url(&src), url(&dst), "--verify"]);
    assert_exit(&verified, 1);
    let out = stdout(&verified);
    assert!(
        out.contains(&format!(
            "MISMATCH `big/video.webm` differs: the source's MD5 is {}, the copy's {}",
            storages::Md5::of(&video),
            storages::Md5::of(&other)
        )),
        "{out}"
    );
    assert!(out.contains("verified 10 files, 1 differ"), "{out}");
    assert!(
        stderr(&verified).contains("verification failed"),
        "{}",
        stderr(&verified)
    );
}

/// Copies in flight hold a bounded amount of memory whatever the files' sizes: 32 jobs of files just under the
/// part size (each held whole by S3 before it is sent in one PUT) would hold 32 of them, 250 MiB; the command
/// stays far below.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copies_of_large_files_hold_bounded_memory() {
    let (src, dst) = (side(Kind::File), side(Kind::Garage));
    let root = src
        .storage
        .local_path(&Name::new("x").expect("name"))
        .expect("path");
    let root = root.parent().expect("root").to_path_buf();
    let size = 8 * 1024 * 1024 - 1024;
    for i in 0..40 {
        let path = root.join(format!("photos/{i:02}.jpg"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, pattern(i, 0, size)).expect("write");
    }
    let dst_url = url(&dst).replace(&format!("&part_size={PART_SIZE}"), "");
    let mut child = Command::new(support::storages_bin())
        .args(["sync", url(&src), &dst_url, "--jobs", "32"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start storages sync");
    // VmHWM only grows: read until the process ends, the last reading is its peak (to within 5 ms of its life).
    let mut peak_kib = 0;
    while child.try_wait().expect("wait").is_none() {
        if let Some(kib) = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        {
            peak_kib = peak_kib.max(kib);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let out = child.wait_with_output().expect("output");
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with("copied 40 files"),
        "{}",
        stdout(&out)
    );
    assert!(peak_kib > 0, "the peak RSS was read");
    assert!(
        peak_kib < 180 * 1024,
        "peak RSS {} MiB: the copies in flight are not bounded",
        peak_kib / 1024
    );
}

/// The key prefix of an `s3://BUCKET/PREFIX?...` URL.
fn dst_prefix(url: &str) -> String {
    let path = url
        .trim_start_matches("s3://")
        .split('?')
        .next()
        .expect("path");
    path.split_once('/').expect("a prefix").1.to_owned()
}

fn md5_record(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(storages::Md5::of(data).as_bytes())
}

/// The tree the interruption tests copy: large files, so that one job is caught mid-way.
const BIG_FILES: u64 = 48;
const BIG_SIZE: usize = 3 * 1024 * 1024 + 17;

fn big_name(i: u64) -> String {
    format!("d{}/f{i:03}.bin", i % 4)
}

/// Seeds SRC with the big tree, starts `storages sync SRC DST --jobs 1`, and once two files are in DST, calls
/// `stop` on the process (which must make it end); returns its exit status and standard error.
async fn interrupted(src: &Side, dst: &Side, stop: impl FnOnce(&std::process::Child)) -> Output {
    for i in 0..BIG_FILES {
        src.storage
            .put(
                &Name::new(big_name(i)).expect("name"),
                Content::from_bytes(pattern(i, 0, BIG_SIZE)),
                PutMode::Overwrite,
            )
            .await
            .expect("seed");
    }
    let mut child = Command::new(support::storages_bin())
        .args(["sync", url(src), url(dst), "--jobs", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start storages sync");
    let deadline = Instant::now() + Duration::from_secs(120);
    while listing(&*dst.storage).await.len() < 2 {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the sync ended before it could be stopped mid-way"
        );
        assert!(Instant::now() < deadline, "nothing copied in 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop(&child);
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "the sync did not end in 90 s once stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.wait_with_output().expect("output")
}

/// Every file DST holds is byte-identical to its source, some are missing, and a re-run copies exactly those.
async fn only_whole_files_and_a_rerun_completes(src: &Side, dst: &Side) {
    let stored = listing(&*dst.storage).await;
    let done = stored.len();
    assert!(
        (2..BIG_FILES as usize).contains(&done),
        "stopped mid-run: {done} of {BIG_FILES} copied"
    );
    for (i, name) in (0..BIG_FILES).map(|i| (i, big_name(i))) {
        if stored.contains_key(&name) {
            let got = dst
                .storage
                .read_to_bytes(name.as_str())
                .await
                .expect("read");
            assert!(
                got == pattern(i, 0, BIG_SIZE),
                "`{name}` is not whole after the interruption"
            );
        }
    }
    let rerun = storages(&["sync", url(src), url(dst)]);
    assert_exit(&rerun, 0);
    let left = BIG_FILES as usize - done;
    let expected = format!(
        "copied {left} files ({} bytes), {done} unchanged, 0 deleted",
        left * BIG_SIZE
    );
    assert!(stdout(&rerun).starts_with(&expected), "{}", stdout(&rerun));
    assert_same(src, dst).await;
}

fn send_signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// `storages sync` killed with SIGKILL mid-run leaves every target file byte-identical to its source (each copy
/// is atomic: a temporary file renamed into place, a single PUT, or a multipart upload that is invisible until
/// completed), and a re-run copies exactly what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_run_into_garage_leaves_only_whole_files_and_a_rerun_completes() {
    let (src, dst) = (side(Kind::File), side(Kind::Garage));
    let out = interrupted(&src, &dst, |child| send_signal(child, "KILL")).await;
    assert_eq!(out.status.code(), None, "killed by a signal");
    only_whole_files_and_a_rerun_completes(&src, &dst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_run_into_nfs_leaves_only_whole_files_and_a_rerun_completes() {
    // From moto, which serves slowly enough to be caught mid-way.
    let (src, dst) = (side(Kind::Moto), side(Kind::Nfs));
    let out = interrupted(&src, &dst, |child| send_signal(child, "KILL")).await;
    assert_eq!(out.status.code(), None, "killed by a signal");
    only_whole_files_and_a_rerun_completes(&src, &dst).await;
}

/// Ctrl-C (SIGINT) stops the run with exit status 130 and one line; what it copied is whole, and a re-run
/// completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_mid_run_into_a_directory_exits_130_and_a_rerun_completes() {
    let (src, dst) = (side(Kind::Moto), side(Kind::File));
    let out = interrupted(&src, &dst, |child| send_signal(child, "INT")).await;
    assert_exit(&out, 130);
    assert_eq!(stderr(&out).trim(), "storages: interrupted by SIGINT");
    only_whole_files_and_a_rerun_completes(&src, &dst).await;
}

/// The target's server gone mid-run (SIGKILLed) fails the run with exit status 1 and one line; once the server is
/// back, what was copied is whole and a re-run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_server_gone_mid_run_fails_the_run_and_a_rerun_completes() {
    let garage = std::sync::Mutex::new(support::s3::Garage::start());
    let url = format!(
        "{}&part_size={PART_SIZE}",
        garage.lock().expect("lock").settings_url(&unique("gone"))
    );
    let dst = Side {
        kind: Kind::Garage,
        storage: build(&url),
        url: Some(url),
        _guard: Box::new(()),
    };
    let src = side(Kind::File);
    let out = interrupted(&src, &dst, |_| garage.lock().expect("lock").kill()).await;
    assert_exit(&out, 1);
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("127.0.0.1"),
        "names the server: {}",
        stderr(&out)
    );
    garage.lock().expect("lock").restart();
    only_whole_files_and_a_rerun_completes(&src, &dst).await;
}
