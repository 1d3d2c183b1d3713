//! Names, generated: a property test over 1,000,000 generated names (unicode, control characters, `/` and `\`,
//! dot runs, NUL, percent escapes, temporary-file prefixes, drive prefixes, very long names and segments).
//!
//! Every one of the 1,000,000 names goes through:
//! - `Name::new` against an independent statement of the rules below, then the memory backend (an accepted name is
//!   stored, read back and deleted under exactly that name; a refused one is refused by `save` with `InvalidName`
//!   naming the value);
//! - `file://` and `nfs://` (on a tmpfs mount when the tests run as root, as CI does; otherwise on a plain directory
//!   with `require_mount=false`), each accepted name with a real write, a read-back through the storage and from the
//!   disk at exactly the path its segments give under the root, and a delete; refused ones are refused with
//!   `InvalidName` naming the value. About a third of the names are accepted, so each file backend writes some
//!   330,000 files (a few of them, with a segment over 255 bytes, are refused by the disk itself and must leave
//!   nothing). Names run in [`LANES`] lanes by their first segment: names in different lanes share no directory,
//!   so a lane's clean-up never races another lane's write.
//! - around each file backend's run, a snapshot of a directory holding its root several levels down: nothing
//!   outside the root changes, and no file is left under the root.
//!
//! Debug build, 2 cores, as root (both file backends on tmpfs mounts): about a minute in all (12 s through memory).

use crate::support;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use futures_util::FutureExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRunner};
use storages::conformance::snapshot;
use storages::naming::TEMP_PREFIX;
use storages::{
    Bytes, Content, DEFAULT_MAX_NAME_LEN, Error, MemoryStorage, Name, PutMode, Settings, Storage,
    StorageExt,
};

/// Names generated in all.
const CASES: u32 = 1_000_000;
/// Names a file backend handles at once, each lane one after the other (see the module's documentation).
const LANES: usize = 4;
/// The longest file name Linux file systems take, in bytes: a longer segment is an accepted name that the disk
/// refuses (`ENAMETOOLONG`), which must store nothing.
const NAME_MAX: usize = 255;

/// Pieces names are made of, chosen for the rules they test.
const PIECES: &[&str] = &[
    "a",
    "photo",
    "IMG_0042",
    "x1",
    "report.tar.gz",
    ".jpg",
    "/",
    "/",
    "/",
    "//",
    "\\",
    ".",
    "..",
    "...",
    "....",
    "\0",
    "\n",
    "\r",
    "\t",
    "\u{7f}",
    "\u{85}",
    "\u{1b}",
    "%2e",
    "%2E%2e",
    "%2f",
    "%5c",
    "%00",
    "%",
    "%%",
    "é",
    "日本",
    "🦀",
    "\u{202e}",
    "\u{200b}",
    "e\u{301}",
    "ﬁ",
    " ",
    "~",
    "$HOME",
    "*?<>|\"'",
    "C:",
    "c:",
    TEMP_PREFIX,
    ".storages-tmp",
    "storages-tmp.",
    "-",
    "_",
];

/// A generated name: pieces, any character, long runs that cross the segment limit, or many segments that
/// cross the name limit.
fn names() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        8 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        2 => any::<char>().prop_map(String::from),
        1 => (200usize..300).prop_map(|n| "l".repeat(n)),
    ];
    let pieces = proptest::collection::vec(piece, 0..10).prop_map(|p| p.concat());
    let many_segments = (90usize..110, b'a'..=b'j').prop_map(|(n, c)| {
        let segment = char::from(c).to_string().repeat(10);
        vec![segment; n].join("/")
    });
    prop_oneof![60 => pieces, 1 => many_segments]
}

/// The rules, stated on their own: what `Name::new` must accept.
fn acceptable(name: &str) -> bool {
    let b = name.as_bytes();
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    let refused = name.is_empty()
        || name.len() > DEFAULT_MAX_NAME_LEN
        || name.chars().any(char::is_control)
        || name.contains('\\')
        || drive;
    !refused
        && name
            .split('/')
            .all(|s| !matches!(s, "" | "." | "..") && !s.starts_with(TEMP_PREFIX))
}

/// What the million names gave: all of them, for the file backends.
#[derive(Default)]
struct Seen {
    all: Vec<String>,
    accepted: usize,
}

#[test]
fn a_million_generated_names_stay_inside_the_root_or_store_nothing() {
    let started = std::time::Instant::now();
    let memory = MemoryStorage::new();
    let seen = RefCell::new(Seen::default());
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        // As random for this purpose as ChaCha, and several times faster in a debug build.
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&names(), |input| {
            check_in_memory(&memory, &input);
            let mut seen = seen.borrow_mut();
            seen.accepted += usize::from(acceptable(&input));
            seen.all.push(input);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = seen.into_inner();
    eprintln!(
        "{CASES} names through Name and memory in {:?}",
        started.elapsed()
    );
    let kept = memory
        .list_all("")
        .now_or_never()
        .expect("memory never waits")
        .expect("list");
    assert_eq!(kept, vec![], "the memory storage kept something");
    // On tmpfs mounts when root: this many creations and deletions on a journal-less ext4 spend most of their time
    // skipping recently freed inodes, which is the disk's cost, not the backends'.
    let share = support::mount::is_root().then(support::mount::TmpfsMount::new);
    let disk = support::mount::is_root().then(support::mount::TmpfsMount::new);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (local, nfs) = runtime.block_on(async {
        let local = tempfile::tempdir().expect("tempdir");
        let nfs = tempfile::tempdir().expect("tempdir");
        let nfs_around = share.as_ref().map_or(nfs.path(), |s| s.path());
        let local_around = disk.as_ref().map_or(local.path(), |d| d.path());
        tokio::join!(
            through_files(&seen.all, local_around, "file", ""),
            through_files(&seen.all, nfs_around, "nfs", nfs_option(share.is_some())),
        )
    });
    let accepted_in_all = seen.all.iter().filter(|n| acceptable(n)).count();
    assert_eq!((local, nfs), (accepted_in_all, accepted_in_all));
    // Both outcomes are exercised in bulk, or the generator has drifted.
    assert!(
        seen.accepted > CASES as usize / 5 && seen.accepted < CASES as usize * 4 / 5,
        "{} of {CASES} names accepted",
        seen.accepted
    );
    assert_eq!(seen.all.len(), CASES as usize);
    assert!(local > 200_000, "only {local} names were written to disk");
}

fn nfs_option(on_a_mount: bool) -> &'static str {
    if on_a_mount {
        ""
    } else {
        "&require_mount=false"
    }
}

/// One name against `Name::new`, the stated rules and the memory backend.
fn check_in_memory(memory: &MemoryStorage, input: &str) {
    let content = || Content::from(Bytes::from(input.to_owned()));
    match Name::new(input) {
        Ok(name) => {
            assert!(acceptable(input), "{input:?} was accepted");
            assert_eq!(name.as_str(), input);
            let stored = memory
                .put(&name, content(), PutMode::Overwrite)
                .now_or_never()
                .expect("memory never waits")
                .unwrap_or_else(|e| panic!("put {input:?}: {e}"));
            assert_eq!(stored.name, name);
            let read = memory
                .read_to_bytes(&name)
                .now_or_never()
                .expect("memory never waits")
                .unwrap_or_else(|e| panic!("read {input:?}: {e}"));
            assert_eq!(read, input.as_bytes());
            memory
                .delete(&name)
                .now_or_never()
                .expect("memory never waits")
                .expect("delete");
        }
        Err(e) => {
            assert!(!acceptable(input), "{input:?} was refused: {e}");
            assert_eq!(e.name(), input);
            refused_by_save(memory, input);
        }
    }
}

/// `save` refuses `input` with `InvalidName` naming it.
fn refused_by_save(storage: &dyn Storage, input: &str) {
    let saved = storage
        .save(input, Bytes::from_static(b"never"))
        .now_or_never()
        .expect("refused before any I/O");
    match saved {
        Err(Error::InvalidName(e)) => assert_eq!(e.name(), input),
        other => panic!("save {input:?} gave {other:?}"),
    }
}

/// The names through a file backend whose root lies three levels inside `around`, in [`LANES`] lanes at once;
/// returns how many names were accepted (each written, read back from the storage and the disk, and deleted).
async fn through_files(names: &[String], around: &Path, scheme: &str, options: &str) -> usize {
    let root = around.join("a/b/root");
    std::fs::create_dir_all(&root).expect("the root");
    let root = root.canonicalize().expect("canonical root");
    let url = format!("{scheme}://{}?fsync=false{options}", root.display());
    let storage = Settings::parse(&url)
        .expect("parse")
        .build()
        .expect("build");
    let before = snapshot(around, Some(&root));
    let started = std::time::Instant::now();
    let mut lanes: Vec<Vec<&str>> = vec![Vec::new(); LANES];
    for input in names {
        let first = input.split('/').next().unwrap_or_default();
        let lane = first.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        lanes[lane % LANES].push(input);
    }
    let (storage, root) = (&*storage, root.as_path());
    let accepted: usize =
        futures_util::future::join_all(lanes.into_iter().map(|lane| async move {
            let mut accepted = 0;
            for input in lane {
                match Name::new(input) {
                    Ok(name) => {
                        accepted += 1;
                        write_read_delete(storage, root, &name).await;
                    }
                    Err(_) => refused_by_save(storage, input),
                }
            }
            accepted
        }))
        .await
        .into_iter()
        .sum();
    eprintln!(
        "{scheme}: {accepted} accepted of {} in {:?}",
        names.len(),
        started.elapsed()
    );
    assert_eq!(
        snapshot(around, Some(root)),
        before,
        "{scheme}: something changed outside the root"
    );
    let left: Vec<PathBuf> = snapshot(root, None).into_keys().collect();
    assert!(left.is_empty(), "{scheme}: left under the root: {left:?}");
    accepted
}

/// Stores `name` (its own text as content), finds it at exactly `root/<segments>`, reads it back and deletes it,
/// then removes the directories it made so the next name starts from an empty root. A name the disk cannot take
/// (a segment over [`NAME_MAX`] bytes) must fail without storing anything.
async fn write_read_delete(storage: &dyn Storage, root: &Path, name: &Name) {
    let path = name.segments().fold(root.to_path_buf(), |p, s| p.join(s));
    let content = Content::from(Bytes::from(name.as_str().to_owned()));
    match storage.put(name, content, PutMode::Overwrite).await {
        Ok(meta) => {
            assert_eq!(meta.name, *name);
            assert_eq!(storage.local_path(name).as_ref(), Some(&path), "{name:?}");
            let on_disk =
                std::fs::read(&path).unwrap_or_else(|e| panic!("{name:?} not at {path:?}: {e}"));
            assert_eq!(on_disk, name.as_str().as_bytes(), "{name:?}");
            let read = storage
                .read_to_bytes(name)
                .await
                .unwrap_or_else(|e| panic!("read {name:?}: {e}"));
            assert_eq!(read, name.as_str().as_bytes(), "{name:?}");
            storage
                .delete(name)
                .await
                .unwrap_or_else(|e| panic!("delete {name:?}: {e}"));
            assert!(
                std::fs::symlink_metadata(&path).is_err(),
                "{name:?} still at {path:?}"
            );
        }
        Err(e) => {
            assert!(
                name.segments().any(|s| s.len() > NAME_MAX),
                "put {name:?} failed: {e}"
            );
            assert!(!matches!(e, Error::InvalidName(_)), "{name:?}: {e}");
            assert!(
                std::fs::symlink_metadata(&path).is_err(),
                "{name:?} half-stored"
            );
        }
    }
    // Every directory up to the root, not only up to the first that is missing: a write the disk refused may
    // have made the first few levels only.
    for dir in path.ancestors().skip(1).take_while(|d| *d != root) {
        let _ = std::fs::remove_dir(dir);
    }
}

#[test]
fn the_stated_rules_match_name_on_the_classic_cases() {
    for (name, ok) in [
        ("a/b.txt", true),
        ("%2e%2e/x", true),
        ("...", true),
        (".storages-tmp", true),
        ("../x", false),
        ("a//b", false),
        ("a\\b", false),
        ("C:x", false),
        ("a\0b", false),
        (".storages-tmp.x", false),
        ("a/.storages-tmp.d/x", false),
    ] {
        assert_eq!(acceptable(name), ok, "{name:?}");
        assert_eq!(Name::new(name).is_ok(), ok, "{name:?}");
    }
}
