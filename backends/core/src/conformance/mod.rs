//! The conformance suite: plain async functions over a [`Fixture`] that every backend runs from its tests, so the
//! same promises hold on memory, local disk, NFS and object storage.
//!
//! A backend's test file makes a fixture and expands [`crate::conformance_tests!`]:
//! ```text
//! async fn fixture() -> storages_core::conformance::Fixture { /* a fresh, empty storage */ }
//! storages_core::conformance_tests!(fixture);
//! ```
//! Each check panics with a message that names what broke.

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::naming::TEMP_PREFIX;
use crate::{
    ByteRange, Content, Error, Md5, Name, NameErrorKind, PutMode, Storage, StorageExt, UrlOptions,
};

pub mod symlinks;

/// A fresh, empty storage to check, and what to watch while checking it.
pub struct Fixture {
    /// The storage under test.
    pub storage: Arc<dyn Storage>,
    /// A directory on this machine that must not change at all while hostile names are tried (for file-backed
    /// storages: a directory holding the root several levels down, so that escapes would land in it).
    pub outside: Option<PathBuf>,
    /// The storage's root on this machine, if any (excluded from `outside`).
    pub root: Option<PathBuf>,
    /// Kept alive as long as the fixture (temporary directories, servers).
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Fixture {
    /// A fixture with nothing on disk to watch.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            outside: None,
            root: None,
            guard: None,
        }
    }
}

impl fmt::Debug for Fixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fixture")
            .field("storage", &self.storage)
            .field("outside", &self.outside)
            .finish()
    }
}

/// Expands to one `#[tokio::test]` per conformance check, each on a fixture from `$factory().await`.
/// The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) among its dev-dependencies.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::conformance_tests!(@each $factory;
            round_trip_of_empty_content,
            round_trip_of_one_byte,
            round_trip_of_64_kib,
            round_trip_of_50_mib_streamed,
            save_on_a_taken_name_gives_a_new_name,
            overwrite_replaces_content,
            create_mode_refuses_a_taken_name_and_keeps_its_content,
            concurrent_saves_of_one_name_get_distinct_names_and_intact_bytes,
            a_failing_stream_stores_nothing,
            a_wrong_declared_length_stores_nothing,
            delete_of_a_missing_name_is_ok,
            delete_removes,
            exists_size_and_modified,
            missing_names_are_not_found,
            content_type_is_guessed_or_kept,
            a_known_content_md5_is_the_md5_of_the_content,
            copy_streams_content_to_a_new_name,
            copies_stay_independent_of_their_source,
            listing_2500_nested_entries,
            listings_take_directory_prefixes,
            ranges_and_a_range_past_the_end,
            public_urls_are_percent_encoded,
            hostile_names_are_refused_and_create_nothing,
            percent_encoded_dots_are_a_literal_name,
            reserved_temporary_names_are_refused_and_hidden
        );
    };
    (@each $factory:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let fixture = $factory().await;
                $crate::conformance::$check(&fixture).await;
            }
        )*
    };
    (@each_in $module:ident $factory:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let fixture = $factory().await;
                $crate::conformance::$module::$check(&fixture).await;
            }
        )*
    };
}

/// Deterministic test bytes: `len` bytes of pattern `seed` starting at `offset`. Byte `i` is byte `i % 8` (little
/// endian) of a 64-bit mix of `i / 8` and the seed, so the pattern is made a word at a time: tests that stream
/// hundreds of megabytes of it spend their time on the storage, not here.
pub fn pattern(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let end = offset + len as u64;
    let mut out = Vec::with_capacity(len + 16);
    for word in offset / 8..end.div_ceil(8) {
        out.extend_from_slice(&pattern_word(seed, word).to_le_bytes());
    }
    out.drain(..(offset % 8) as usize);
    out.truncate(len);
    out
}

/// Word `word` (bytes `8 * word` to `8 * word + 7`) of pattern `seed`.
fn pattern_word(seed: u64, word: u64) -> u64 {
    let mut x = word ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB)
}

/// A stream of `size` pattern bytes in `chunk`-sized pieces, generated as it is read.
pub fn pattern_stream(
    seed: u64,
    size: u64,
    chunk: usize,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send {
    stream::unfold(0u64, move |offset| async move {
        (offset < size).then(|| {
            let len = chunk.min((size - offset) as usize);
            (
                Ok(Bytes::from(pattern(seed, offset, len))),
                offset + len as u64,
            )
        })
    })
}

/// Reads `name` and checks it holds `size` bytes of pattern `seed`, chunk by chunk, without collecting it.
pub async fn assert_pattern(storage: &dyn Storage, name: &str, seed: u64, size: u64) {
    let got = storage
        .open(name)
        .await
        .unwrap_or_else(|e| panic!("open {name}: {e}"));
    assert_eq!(got.meta.size, size, "size of {name}");
    let mut offset = 0u64;
    let mut stream = got.stream;
    while let Some(chunk) = stream
        .try_next()
        .await
        .unwrap_or_else(|e| panic!("read {name}: {e}"))
    {
        assert!(
            chunk == pattern(seed, offset, chunk.len()),
            "{name}: bytes differ in the chunk at offset {offset}"
        );
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, size, "bytes read from {name}");
}

async fn round_trip(f: &Fixture, name: &str, data: Vec<u8>) {
    let s = &*f.storage;
    let stored = s
        .save(name, data.clone())
        .await
        .unwrap_or_else(|e| panic!("save {name}: {e}"));
    assert_eq!(stored.as_str(), name);
    assert_eq!(s.size(name).await.expect("size"), data.len() as u64);
    assert!(
        s.read_to_bytes(name).await.expect("read") == data,
        "{name}: content differs after a round trip"
    );
}

/// Empty content is stored and read back as empty.
pub async fn round_trip_of_empty_content(f: &Fixture) {
    round_trip(f, "empty.bin", Vec::new()).await;
}

/// One byte survives a round trip.
pub async fn round_trip_of_one_byte(f: &Fixture) {
    round_trip(f, "one.bin", vec![0xA5]).await;
}

/// 64 KiB survive a round trip.
pub async fn round_trip_of_64_kib(f: &Fixture) {
    round_trip(f, "dir/sub/64k.bin", pattern(1, 0, 64 * 1024)).await;
}

/// 50 MiB streamed in (unknown length) and streamed out, checked chunk by chunk.
pub async fn round_trip_of_50_mib_streamed(f: &Fixture) {
    let size = 50 * 1024 * 1024;
    let content = Content::from_stream(pattern_stream(50, size, 256 * 1024));
    let name = f
        .storage
        .save("big/50mib.bin", content)
        .await
        .expect("save 50 MiB");
    assert_eq!(name.as_str(), "big/50mib.bin");
    assert_pattern(&*f.storage, "big/50mib.bin", 50, size).await;
}

/// Saving a taken name keeps the first file and stores the second as `stem_XXXXXXX.ext`.
pub async fn save_on_a_taken_name_gives_a_new_name(f: &Fixture) {
    let s = &*f.storage;
    let first = s
        .save("docs/report.tar.gz", "first")
        .await
        .expect("first save");
    let second = s
        .save("docs/report.tar.gz", "second")
        .await
        .expect("second save");
    assert_eq!(first.as_str(), "docs/report.tar.gz");
    let alt = second.as_str();
    assert!(
        alt.starts_with("docs/report_") && alt.ends_with(".tar.gz"),
        "alternative name {alt}"
    );
    let random = &alt["docs/report_".len()..alt.len() - ".tar.gz".len()];
    assert!(
        random.len() == 7 && random.chars().all(|c| c.is_ascii_alphanumeric()),
        "random part {random:?}"
    );
    assert_eq!(s.read_to_bytes(&first).await.expect("read first"), "first");
    assert_eq!(
        s.read_to_bytes(&second).await.expect("read second"),
        "second"
    );
}

/// Overwrite mode replaces the content under the same name.
pub async fn overwrite_replaces_content(f: &Fixture) {
    let s = &*f.storage;
    s.save("o.txt", "old content").await.expect("save");
    let name = s
        .save_with("o.txt", "new", crate::SaveOptions::overwrite())
        .await
        .expect("overwrite");
    assert_eq!(name.as_str(), "o.txt");
    assert_eq!(s.read_to_bytes("o.txt").await.expect("read"), "new");
    assert_eq!(
        s.list_all("").await.expect("list").len(),
        1,
        "overwrite left another file behind"
    );
}

/// `PutMode::Create` fails with `AlreadyExists` and leaves the stored content alone.
pub async fn create_mode_refuses_a_taken_name_and_keeps_its_content(f: &Fixture) {
    let s = &*f.storage;
    let name = Name::new("c.txt").expect("name");
    s.put(&name, "kept".into(), PutMode::Create)
        .await
        .expect("first create");
    let err = s
        .put(&name, "lost".into(), PutMode::Create)
        .await
        .expect_err("second create must fail");
    assert!(
        err.is_already_exists(),
        "expected AlreadyExists, got {err:?}"
    );
    assert_eq!(s.read_to_bytes(&name).await.expect("read"), "kept");
}

/// 64 tasks saving one name at once get 64 distinct names, each holding its own bytes.
pub async fn concurrent_saves_of_one_name_get_distinct_names_and_intact_bytes(f: &Fixture) {
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let s = Arc::clone(&f.storage);
            tokio::spawn(async move {
                let data = pattern(1000 + i, 0, 4096 + i as usize);
                (i, s.save("race/same.bin", data).await)
            })
        })
        .collect();
    let mut names = HashSet::new();
    for task in tasks {
        let (i, saved) = task.await.expect("task");
        let name = saved.unwrap_or_else(|e| panic!("save #{i}: {e}"));
        assert!(names.insert(name.clone()), "two saves got {name}");
        assert_pattern(&*f.storage, name.as_str(), 1000 + i, 4096 + i).await;
    }
    assert_eq!(f.storage.list_all("race").await.expect("list").len(), 64);
    if let Some(root) = &f.root {
        let on_disk = snapshot(root, None)
            .into_keys()
            .filter(|p| !p.is_dir())
            .count();
        assert_eq!(on_disk, 64, "temporary files left under the root");
    }
}

/// A stream that fails midway fails the save, and nothing is stored under any name.
pub async fn a_failing_stream_stores_nothing(f: &Fixture) {
    let chunks = stream::iter(vec![
        Ok(Bytes::from(pattern(7, 0, 100_000))),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]);
    let err = f
        .storage
        .save("partial/upload.bin", Content::from_stream(chunks))
        .await
        .expect_err("must fail");
    assert!(!matches!(err, Error::InvalidName(_)), "unexpected {err:?}");
    assert!(
        !f.storage
            .exists("partial/upload.bin")
            .await
            .expect("exists")
    );
    assert_eq!(
        f.storage.list_all("").await.expect("list"),
        vec![],
        "a failed save left something behind"
    );
    assert_no_files_on_disk(f);
}

/// For storages with a root on this machine: not one file (temporary ones included) lies under it.
fn assert_no_files_on_disk(f: &Fixture) {
    if let Some(root) = &f.root {
        let files: Vec<PathBuf> = snapshot(root, None)
            .into_keys()
            .filter(|p| !p.is_dir())
            .collect();
        assert!(files.is_empty(), "files left under the root: {files:?}");
    }
}

/// Content shorter than its declared length fails the save and stores nothing.
pub async fn a_wrong_declared_length_stores_nothing(f: &Fixture) {
    let content = Content::from_stream(pattern_stream(8, 1000, 100)).with_length(2000);
    f.storage
        .save("short.bin", content)
        .await
        .expect_err("short content must fail");
    let content = Content::from_stream(pattern_stream(8, 3000, 100)).with_length(2000);
    f.storage
        .save("long.bin", content)
        .await
        .expect_err("long content must fail");
    assert_eq!(f.storage.list_all("").await.expect("list"), vec![]);
    assert_no_files_on_disk(f);
}

/// Deleting a missing name is not an error, as in Django.
pub async fn delete_of_a_missing_name_is_ok(f: &Fixture) {
    f.storage
        .remove("never/was.txt")
        .await
        .expect("delete of a missing name");
}

/// Delete removes the file.
pub async fn delete_removes(f: &Fixture) {
    let s = &*f.storage;
    s.save("d/gone.txt", "x").await.expect("save");
    s.remove("d/gone.txt").await.expect("delete");
    assert!(!s.exists("d/gone.txt").await.expect("exists"));
    s.remove("d/gone.txt").await.expect("second delete");
}

/// `exists`, `size` and `modified` describe a stored file.
pub async fn exists_size_and_modified(f: &Fixture) {
    let s = &*f.storage;
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(5);
    s.save("m/file.txt", "12345").await.expect("save");
    assert!(s.exists("m/file.txt").await.expect("exists"));
    assert!(!s.exists("m/other.txt").await.expect("exists"));
    assert!(
        !s.exists("m").await.expect("a directory is not a file"),
        "a directory counts as a file"
    );
    assert_eq!(s.size("m/file.txt").await.expect("size"), 5);
    let modified = s.modified("m/file.txt").await.expect("modified");
    let after = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    assert!(
        modified > before && modified < after,
        "modified {modified:?} is not about now"
    );
    let meta = s.metadata("m/file.txt").await.expect("metadata");
    assert!(meta.etag.is_some(), "no etag");
}

/// Reading or describing a missing name is `NotFound`, naming it.
pub async fn missing_names_are_not_found(f: &Fixture) {
    let err = f
        .storage
        .open("no/such.txt")
        .await
        .expect_err("open of a missing name");
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("no/such.txt"), "{err}");
    let err = f
        .storage
        .metadata("no/such.txt")
        .await
        .expect_err("stat of a missing name");
    assert!(err.is_not_found(), "{err:?}");
}

/// The content type is guessed from the extension unless given.
pub async fn content_type_is_guessed_or_kept(f: &Fixture) {
    let s = &*f.storage;
    s.save("t/style.css", "body{}").await.expect("save css");
    s.save("t/photo.jpg", Content::from("x"))
        .await
        .expect("save jpg");
    let css = s.open("t/style.css").await.expect("open css").meta;
    assert_eq!(css.content_type.as_deref(), Some("text/css"));
    let jpg = s.metadata("t/photo.jpg").await.expect("stat jpg");
    assert_eq!(jpg.content_type.as_deref(), Some("image/jpeg"));
}

/// Wherever a backend fills `content_md5` (when storing, listing, stat, reading), it is the MD5 of the content:
/// callers skip copying files by it, so a wrong one would lose an update. Tried on empty content, one chunk and
/// 9 MiB streamed with no declared length (over S3's default part size: a multipart upload).
pub async fn a_known_content_md5_is_the_md5_of_the_content(f: &Fixture) {
    let s = &*f.storage;
    let big = 9 * 1024 * 1024;
    let files: [(&str, Content<'_>, Md5); 3] = [
        ("md5/empty.txt", Content::from(""), Md5::of(b"")),
        ("md5/one.css", Content::from("h1{}"), Md5::of(b"h1{}")),
        (
            "md5/big.bin",
            Content::from_stream(pattern_stream(9, big, 256 * 1024)),
            Md5::of(&pattern(9, 0, big as usize)),
        ),
    ];
    let mut expected = BTreeMap::new();
    for (name, content, md5) in files {
        let name = Name::new(name).expect("name");
        let stored = s
            .put(&name, content, PutMode::Overwrite)
            .await
            .unwrap_or_else(|e| panic!("put {name}: {e}"));
        check_md5("put", &stored.name, stored.content_md5, md5);
        expected.insert(name, md5);
    }
    let listed: Vec<crate::Metadata> = s
        .list(Some(&Name::new("md5").expect("name")))
        .try_collect()
        .await
        .expect("list");
    assert_eq!(listed.len(), 3, "listed {listed:?}");
    for meta in listed {
        check_md5("list", &meta.name, meta.content_md5, expected[&meta.name]);
    }
    for (name, md5) in &expected {
        let stat = s.stat(name).await.expect("stat");
        check_md5("stat", name, stat.content_md5, *md5);
        let got = s.get(name, None).await.expect("get");
        check_md5("get", name, got.meta.content_md5, *md5);
    }
}

fn check_md5(operation: &str, name: &Name, known: Option<Md5>, md5: Md5) {
    if let Some(known) = known {
        assert_eq!(
            known, md5,
            "{operation} `{name}` gave a content MD5 that is not its content's"
        );
    }
}

/// `copy` streams a file to another name.
pub async fn copy_streams_content_to_a_new_name(f: &Fixture) {
    let s = &*f.storage;
    s.save("from.bin", pattern(3, 0, 200_000))
        .await
        .expect("save");
    s.copy("from.bin", "to/copy.bin").await.expect("copy");
    assert_pattern(s, "to/copy.bin", 3, 200_000).await;
    assert_pattern(s, "from.bin", 3, 200_000).await;
}

/// `copy_within` gives `to` the bytes and content type `from` holds, replacing what `to` held; later writes and
/// deletes of either name never change the other (a backend that copies by hard link must still pass).
pub async fn copies_stay_independent_of_their_source(f: &Fixture) {
    let s = &*f.storage;
    let name = |n: &str| Name::new(n).expect("name");
    s.save("img/logo.png", pattern(7, 0, 70_000))
        .await
        .expect("save");
    s.save("other/copy.png", "old copy").await.expect("save");
    for to in [
        "img/logo.0123456789ab.png",
        "other/copy.png",
        "new/dir/logo.png",
    ] {
        let meta = s
            .copy_within(&name("img/logo.png"), &name(to))
            .await
            .unwrap_or_else(|e| panic!("copy to {to}: {e}"));
        assert_eq!((meta.name.as_str(), meta.size), (to, 70_000));
        assert_pattern(s, to, 7, 70_000).await;
        assert_eq!(
            s.open(to).await.expect("open").meta.content_type.as_deref(),
            Some("image/png")
        );
    }
    // Replacing the source, or the copy, leaves the other as it was.
    s.save_with("img/logo.png", "replaced", crate::SaveOptions::overwrite())
        .await
        .expect("overwrite the source");
    assert_pattern(s, "img/logo.0123456789ab.png", 7, 70_000).await;
    s.save_with(
        "other/copy.png",
        "changed copy",
        crate::SaveOptions::overwrite(),
    )
    .await
    .expect("overwrite a copy");
    assert_pattern(s, "new/dir/logo.png", 7, 70_000).await;
    assert_eq!(
        s.read_to_bytes("img/logo.png").await.expect("read"),
        "replaced"
    );
    s.remove("img/logo.png").await.expect("delete the source");
    assert_pattern(s, "img/logo.0123456789ab.png", 7, 70_000).await;
    // Onto itself: nothing changes.
    s.copy_within(&name("new/dir/logo.png"), &name("new/dir/logo.png"))
        .await
        .expect("copy onto itself");
    assert_pattern(s, "new/dir/logo.png", 7, 70_000).await;
    let missing = s.copy_within(&name("missing.png"), &name("x.png")).await;
    assert!(
        matches!(missing, Err(Error::NotFound { ref name }) if name == "missing.png"),
        "{missing:?}"
    );
    assert!(
        !s.exists("x.png").await.expect("exists"),
        "a failed copy stored something"
    );
}

/// A recursive listing of 2,500 files in nested directories finds each once; `listdir` sees one level.
pub async fn listing_2500_nested_entries(f: &Fixture) {
    let s = &f.storage;
    let names: Vec<String> = (0..2500)
        .map(|i| format!("tree/d{}/s{}/f{i}.txt", i % 10, i % 7))
        .collect();
    stream::iter(names.clone())
        .map(|n| async move { s.save(n.as_str(), n.clone()).await.map(|_| ()) })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .expect("save 2,500 files");
    let listed = listed_names(&**s, "tree").await;
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(listed, expected, "recursive listing");
    let (dirs, files) = s.listdir("tree").await.expect("listdir tree");
    assert_eq!(dirs, (0..10).map(|d| format!("d{d}")).collect::<Vec<_>>());
    assert!(files.is_empty());
    let (dirs, files) = s.listdir("tree/d3").await.expect("listdir tree/d3");
    assert_eq!(dirs, (0..7).map(|d| format!("s{d}")).collect::<Vec<_>>());
    assert!(files.is_empty());
    let (dirs, files) = s.listdir("tree/d3/s4").await.expect("listdir leaf");
    assert!(dirs.is_empty());
    let expected: Vec<String> = {
        let mut v: Vec<String> = (0..2500)
            .filter(|i| i % 10 == 3 && i % 7 == 4)
            .map(|i| format!("f{i}.txt"))
            .collect();
        v.sort();
        v
    };
    let mut files = files;
    files.sort();
    assert_eq!(files, expected);
    let (top_dirs, top_files) = s.listdir("").await.expect("listdir top");
    assert_eq!((top_dirs, top_files), (vec!["tree".to_owned()], vec![]));
}

/// `a` lists what is under `a/`, never `ab`; a missing prefix lists nothing.
pub async fn listings_take_directory_prefixes(f: &Fixture) {
    let s = &*f.storage;
    for n in ["a/1.txt", "a/b/2.txt", "ab/3.txt", "a.txt", "a b/4.txt"] {
        s.save(n, "x").await.expect("save");
    }
    assert_eq!(listed_names(s, "a").await, ["a/1.txt", "a/b/2.txt"]);
    assert_eq!(
        s.listdir("a").await.expect("listdir"),
        (vec!["b".to_owned()], vec!["1.txt".to_owned()])
    );
    assert_eq!(
        s.listdir("").await.expect("listdir top"),
        (
            vec!["a".to_owned(), "a b".to_owned(), "ab".to_owned()],
            vec!["a.txt".to_owned()]
        )
    );
    assert!(
        s.list_all("nothing")
            .await
            .expect("list missing")
            .is_empty()
    );
    assert_eq!(
        s.listdir("nothing").await.expect("listdir missing"),
        (vec![], vec![])
    );
}

/// Bounded, open-ended and suffix ranges read the right bytes; a range past the end is a typed error.
pub async fn ranges_and_a_range_past_the_end(f: &Fixture) {
    let s = &*f.storage;
    let data = pattern(9, 0, 1000);
    s.save("r.bin", data.clone()).await.expect("save");
    let read = |range: ByteRange| async move {
        let got = s.open_range("r.bin", range).await?;
        assert_eq!(got.meta.size, 1000, "full size in metadata");
        let span = got.range.clone();
        let chunks: Vec<Bytes> = got
            .stream
            .try_collect()
            .await
            .map_err(|e| Error::io("read", "r.bin", e))?;
        Ok::<_, Error>((span, chunks.concat()))
    };
    assert_eq!(
        read((10..20).into()).await.expect("10..20"),
        (10..20, data[10..20].to_vec())
    );
    assert_eq!(
        read((990..5000).into()).await.expect("990..5000"),
        (990..1000, data[990..].to_vec())
    );
    assert_eq!(
        read(ByteRange::From(600)).await.expect("600-"),
        (600..1000, data[600..].to_vec())
    );
    assert_eq!(
        read(ByteRange::Last(5)).await.expect("-5"),
        (995..1000, data[995..].to_vec())
    );
    assert_eq!(
        read(ByteRange::Last(5000)).await.expect("-5000"),
        (0..1000, data.clone())
    );
    for past in [
        ByteRange::From(1000),
        ByteRange::from(1000..1010),
        ByteRange::From(5000),
    ] {
        match read(past).await {
            Err(Error::RangeNotSatisfiable { name, size, range }) => {
                assert_eq!((name.as_str(), size, range), ("r.bin", 1000, past));
            }
            other => panic!("range {past} past the end gave {other:?}"),
        }
    }
}

/// Public URLs percent-encode spaces, `#`, `?`, `%` and non-ASCII, and need no request.
pub async fn public_urls_are_percent_encoded(f: &Fixture) {
    let s = &*f.storage;
    let url = |name: &'static str| async move { s.public_url(name).await };
    if !s.capabilities().public_urls {
        let err = url("a.txt")
            .await
            .expect_err("no base_url: url() must say so");
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        return;
    }
    let base = url("x").await.expect("url");
    let base = base.strip_suffix('x').expect("url ends with the name");
    let cases = [
        ("a b.txt", "a%20b.txt"),
        ("dir/c#1.txt", "dir/c%231.txt"),
        ("q?x=1.txt", "q%3Fx%3D1.txt"),
        ("100%.txt", "100%25.txt"),
        ("é/日本.png", "%C3%A9/%E6%97%A5%E6%9C%AC.png"),
        ("%2e%2e/x", "%252e%252e/x"),
        ("plus+and&.txt", "plus%2Band%26.txt"),
    ];
    for (name, encoded) in cases {
        assert_eq!(
            url(name).await.expect("url"),
            format!("{base}{encoded}"),
            "url of {name:?}"
        );
    }
    let signed = s
        .url(
            &Name::new("a.txt").expect("name"),
            &UrlOptions::expiring(std::time::Duration::from_secs(60)),
        )
        .await;
    if !s.capabilities().signed_urls {
        assert!(
            matches!(signed, Err(Error::Unsupported { .. })),
            "{signed:?}"
        );
    }
}

/// At least 40 hostile names, each refused with `InvalidName` by every entry point.
pub fn hostile_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "../x",
        "a/../../b",
        "/etc/passwd",
        "a\\b",
        "a\0b",
        "C:\\x",
        "./a",
        "a//b",
        "a/",
        "..",
        ".",
        "",
        "/",
        "//",
        "a/./b",
        "a/..",
        "../../../../etc/passwd",
        "..\\..\\x",
        "a/b/../../../c",
        "\\\\server\\share\\x",
        "C:x",
        "c:/windows/win.ini",
        "\n",
        "a\nb",
        "a\rb",
        "a\tb",
        "\x1b[31mred",
        "del\x7f",
        "x/\0",
        "nel\u{85}",
        "...//x",
        "a/b/",
        "/a",
        "//a",
        "./",
        "../",
        "a/.",
        "a/./",
        "ok/../../x",
        "x/../",
        "\\",
        "a/\u{1f}b",
        "/../x",
        "..%2f/../x",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    names.push("x".repeat(2000));
    names.push("y".repeat(1025));
    names.push(format!("{}/x", "d".repeat(1100)));
    names
}

/// Every entry below `dir` (but not below `skip`) with its size: compared before and after, it shows whether
/// anything appeared, vanished or changed size.
pub fn snapshot(dir: &Path, skip: Option<&Path>) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if Some(path.as_path()) == skip {
                continue;
            }
            let meta = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path.clone());
            }
            out.insert(path, meta);
        }
    }
    out
}

/// Every hostile name is refused with the typed error naming it, by save, open, exists, delete and url, and
/// nothing appears in the storage or anywhere in the watched directory around it.
pub async fn hostile_names_are_refused_and_create_nothing(f: &Fixture) {
    let s = &*f.storage;
    let names = hostile_names();
    assert!(names.len() >= 40, "the table holds {} names", names.len());
    let outside = f.outside.as_deref();
    let before = outside.map(|o| snapshot(o, f.root.as_deref()));
    let etc_passwd = std::fs::metadata("/etc/passwd")
        .ok()
        .map(|m| (m.len(), m.modified().ok()));
    for name in &names {
        let expect_invalid = |what: &str, r: Result<(), Error>| match r {
            Err(Error::InvalidName(e)) => {
                assert_eq!(e.name(), name, "{what}: the error names another value")
            }
            other => panic!("{what}({name:?}) gave {other:?}, expected InvalidName"),
        };
        expect_invalid("save", s.save(name.as_str(), "pwned").await.map(|_| ()));
        expect_invalid(
            "save overwrite",
            s.save_with(name.as_str(), "pwned", crate::SaveOptions::overwrite())
                .await
                .map(|_| ()),
        );
        expect_invalid("open", s.open(name.as_str()).await.map(|_| ()));
        expect_invalid("exists", s.exists(name.as_str()).await.map(|_| ()));
        expect_invalid("delete", s.remove(name.as_str()).await);
        expect_invalid("url", s.public_url(name.as_str()).await.map(|_| ()));
        expect_invalid(
            "copy",
            s.copy("nonexistent", name.as_str()).await.map(|_| ()),
        );
    }
    assert_eq!(
        s.list_all("").await.expect("list"),
        vec![],
        "a hostile name created a file"
    );
    if let (Some(o), Some(before)) = (outside, before) {
        assert_eq!(
            snapshot(o, f.root.as_deref()),
            before,
            "something changed outside the root"
        );
    }
    let after = std::fs::metadata("/etc/passwd")
        .ok()
        .map(|m| (m.len(), m.modified().ok()));
    assert_eq!(etc_passwd, after, "/etc/passwd changed");
}

/// `%2e%2e/x` is stored literally, inside the root, and read back under that name.
pub async fn percent_encoded_dots_are_a_literal_name(f: &Fixture) {
    let s = &*f.storage;
    let before = f.outside.as_deref().map(|o| snapshot(o, f.root.as_deref()));
    let name = s.save("%2e%2e/x", "literal").await.expect("save %2e%2e/x");
    assert_eq!(name.as_str(), "%2e%2e/x");
    assert_eq!(s.read_to_bytes("%2e%2e/x").await.expect("read"), "literal");
    assert!(
        !s.exists("x").await.expect("exists"),
        "the name was decoded"
    );
    if let (Some(root), Some(path)) = (&f.root, s.local_path(&name)) {
        assert!(
            path.starts_with(root),
            "{} is outside {}",
            path.display(),
            root.display()
        );
        assert!(path.ends_with("%2e%2e/x"), "{}", path.display());
    }
    if let (Some(o), Some(before)) = (f.outside.as_deref(), before) {
        assert_eq!(
            snapshot(o, f.root.as_deref()),
            before,
            "something changed outside the root"
        );
    }
}

/// Names every backend reserves for its own temporary files: the prefix in the last segment or in a directory.
pub fn reserved_names() -> Vec<String> {
    [
        format!("{TEMP_PREFIX}x"),
        TEMP_PREFIX.to_owned(),
        format!("photos/{TEMP_PREFIX}cat.jpg"),
        format!("{TEMP_PREFIX}dir/x.txt"),
        format!("a/{TEMP_PREFIX}b/c.txt"),
    ]
    .into()
}

/// Where [`reserved_temporary_names_are_refused_and_hidden`] plants files behind the storage's back, as a
/// backend's unfinished writes and probes would leave them: one at the top, one beside a stored file, one in a
/// directory named like a temporary file.
pub fn planted() -> Vec<String> {
    [
        format!("{TEMP_PREFIX}probe-1"),
        format!("d/{TEMP_PREFIX}web-1.42.abcdefghijkl"),
        format!("d/{TEMP_PREFIX}dir/inner.txt"),
    ]
    .into()
}

/// Names that look like temporary ones but are not: ordinary names, stored and listed.
pub const NEAR_MISSES: &[&str] = &[".storages-tmp", "d/..storages-tmp.x", "d/x.storages-tmp.y"];

/// Every entry point refuses a reserved name with `InvalidName` of kind `Reserved` naming it, nothing is stored,
/// near misses are ordinary names, and (for storages with a root on this machine) temporary files planted under
/// the root, a directory named like one included, appear in no listing.
pub async fn reserved_temporary_names_are_refused_and_hidden(f: &Fixture) {
    let s = &*f.storage;
    for name in reserved_names() {
        let reserved = |what: &str, r: Result<(), Error>| match r {
            Err(Error::InvalidName(e)) if e.kind() == &NameErrorKind::Reserved => {
                assert_eq!(e.name(), name, "{what}: the error names another value")
            }
            other => panic!("{what}({name:?}) gave {other:?}, expected a Reserved InvalidName"),
        };
        reserved("save", s.save(name.as_str(), "x").await.map(drop));
        reserved(
            "save overwrite",
            s.save_with(name.as_str(), "x", crate::SaveOptions::overwrite())
                .await
                .map(drop),
        );
        reserved("open", s.open(name.as_str()).await.map(drop));
        reserved("exists", s.exists(name.as_str()).await.map(drop));
        reserved("delete", s.remove(name.as_str()).await);
        reserved("url", s.public_url(name.as_str()).await.map(drop));
        reserved("copy", s.copy("nonexistent", name.as_str()).await.map(drop));
        reserved("list", s.list_all(name.as_str()).await.map(drop));
        reserved("listdir", s.listdir(name.as_str()).await.map(drop));
    }
    assert_eq!(
        s.list_all("").await.expect("list"),
        vec![],
        "a reserved name was stored"
    );
    s.save("d/real.txt", "real").await.expect("save d/real.txt");
    for near in NEAR_MISSES {
        let stored = s
            .save(*near, "near")
            .await
            .unwrap_or_else(|e| panic!("save {near}: {e}"));
        assert_eq!(stored.as_str(), *near);
    }
    if let Some(root) = &f.root {
        for planted in planted() {
            let path = root.join(planted);
            std::fs::create_dir_all(path.parent().expect("under the root")).expect("mkdir");
            std::fs::write(&path, "partial").expect("plant a temporary file");
        }
    }
    assert_reserved_hidden(s).await;
}

/// The names of every file under `prefix`, sorted.
pub async fn listed_names(s: &dyn Storage, prefix: &str) -> Vec<String> {
    let mut listed: Vec<String> = s
        .list_all(prefix)
        .await
        .unwrap_or_else(|e| panic!("list {prefix:?}: {e}"))
        .into_iter()
        .map(|m| m.name.to_string())
        .collect();
    listed.sort();
    listed
}

/// The listings of a storage holding `d/real.txt`, the near misses and (perhaps) the [`planted`] files show exactly
/// the first two. Backends whose fixtures have no root on this machine (object storage) plant the files their own
/// way and then call this.
pub async fn assert_reserved_hidden(s: &dyn Storage) {
    let listed = listed_names(s, "").await;
    let mut expected: Vec<&str> = NEAR_MISSES.iter().copied().chain(["d/real.txt"]).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "listing everything");
    let (dirs, files) = s.listdir("d").await.expect("listdir d");
    assert_eq!(dirs, Vec::<String>::new(), "directories under d");
    assert_eq!(
        files,
        ["..storages-tmp.x", "real.txt", "x.storages-tmp.y"],
        "files under d"
    );
    let (dirs, files) = s.listdir("").await.expect("listdir");
    assert_eq!(
        (dirs, files),
        (vec!["d".to_owned()], vec![".storages-tmp".to_owned()])
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern as first defined, a byte at a time: what every stored test file was made of.
    fn bytewise(seed: u64, offset: u64, len: usize) -> Vec<u8> {
        (offset..offset + len as u64)
            .map(|i| (pattern_word(seed, i / 8) >> ((i % 8) * 8)) as u8)
            .collect()
    }

    #[test]
    fn the_pattern_made_a_word_at_a_time_is_the_bytewise_pattern() {
        for seed in [0, 1, 42, u64::MAX] {
            for offset in [0, 1, 7, 8, 9, 1_000_003] {
                for len in [0, 1, 7, 8, 9, 64, 1_001] {
                    assert_eq!(
                        pattern(seed, offset, len),
                        bytewise(seed, offset, len),
                        "seed {seed}, offset {offset}, len {len}"
                    );
                }
            }
        }
    }
}
