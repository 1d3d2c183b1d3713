//! Symbolic links under a filesystem storage's root: links that lead outside are refused by every operation, links
//! that stay inside are followed, and no link makes a listing loop. For backends that keep files in a directory of
//! this machine (`file://`, `nfs://`), whose fixtures name their `root` and an `outside` directory around it.

use std::fmt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Fixture, snapshot};
use crate::{Error, SaveOptions, StorageExt};

/// Expands to one `#[tokio::test]` per symbolic-link check, each on a fixture from `$factory().await` whose `root`
/// and `outside` are set.
#[macro_export]
macro_rules! filesystem_conformance_tests {
    ($factory:path) => {
        $crate::conformance_tests!(@each_in symlinks $factory;
            a_link_to_a_file_outside_is_refused,
            a_link_to_a_directory_outside_is_refused,
            a_chain_of_links_leading_outside_is_refused,
            link_loops_do_not_hang_listings_or_reads,
            links_inside_the_root_are_followed
        );
    };
}

/// How long a listing or read may take before it counts as hanging.
const HANG: Duration = Duration::from_secs(30);

/// The fixture's root, and a directory outside it holding `secret.txt` and `docs/x.txt`.
fn places(f: &Fixture) -> (PathBuf, PathBuf) {
    let root = f.root.clone().expect("a filesystem fixture names its root");
    let outside = f
        .outside
        .clone()
        .expect("a filesystem fixture names a directory around its root");
    let elsewhere = outside.join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("docs")).expect("create the outside directory");
    std::fs::write(elsewhere.join("secret.txt"), "secret").expect("write the outside file");
    std::fs::write(elsewhere.join("docs/x.txt"), "outside").expect("write the outside file");
    (root, elsewhere)
}

/// `../` enough times to climb from `root` to `outside` (which holds it), then `rest`.
fn climbing(root: &Path, outside: &Path, rest: &str) -> PathBuf {
    let around = outside.parent().expect("elsewhere has a parent");
    let depth = root
        .strip_prefix(around)
        .expect("the root lies inside the outside directory")
        .components()
        .count();
    let mut path = PathBuf::new();
    for _ in 0..depth {
        path.push("..");
    }
    path.push("elsewhere");
    path.push(rest);
    path
}

fn link(target: impl AsRef<Path>, at: PathBuf) {
    if let Some(parent) = at.parent() {
        std::fs::create_dir_all(parent).expect("create the link's directory");
    }
    symlink(target.as_ref(), &at).unwrap_or_else(|e| panic!("symlink {}: {e}", at.display()));
}

/// `result` is the typed refusal naming `name`.
fn refused<T: fmt::Debug>(what: &str, name: &str, result: crate::Result<T>) {
    match result {
        Err(Error::OutsideRoot { name: refused }) => {
            assert_eq!(refused, name, "{what}: the refusal names another value")
        }
        other => panic!("{what}({name}) gave {other:?}, expected OutsideRoot"),
    }
}

fn unchanged(elsewhere: &Path, before: &std::collections::BTreeMap<PathBuf, u64>) {
    assert_eq!(
        &snapshot(elsewhere, None),
        before,
        "something changed outside the root"
    );
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("secret.txt")).expect("read the outside file"),
        "secret"
    );
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("docs/x.txt")).expect("read the outside file"),
        "outside"
    );
}

async fn all_names(f: &Fixture) -> Vec<String> {
    let listed = tokio::time::timeout(HANG, f.storage.list_all(""))
        .await
        .expect("the listing hangs");
    let mut names: Vec<String> = listed
        .expect("list")
        .into_iter()
        .map(|m| m.name.to_string())
        .collect();
    names.sort();
    names
}

/// A link to a file outside (absolute, and relative climbing out) cannot be read, stat-ed, copied or listed;
/// saving or deleting under its name acts on the link in the root, never on its target.
pub async fn a_link_to_a_file_outside_is_refused(f: &Fixture) {
    let s = &*f.storage;
    let (root, elsewhere) = places(f);
    link(elsewhere.join("secret.txt"), root.join("leak.txt"));
    link(
        climbing(&root, &elsewhere, "secret.txt"),
        root.join("leak-relative.txt"),
    );
    let before = snapshot(&elsewhere, None);
    for name in ["leak.txt", "leak-relative.txt"] {
        refused("open", name, s.open(name).await.map(|_| ()));
        refused("exists", name, s.exists(name).await);
        refused("size", name, s.size(name).await);
        refused("copy", name, s.copy(name, "copied.txt").await);
    }
    assert_eq!(all_names(f).await, Vec::<String>::new());
    let listing = s.listdir("").await.expect("listdir");
    assert_eq!(
        listing,
        (vec![], vec![]),
        "links leading outside are listed"
    );

    // Replacing the name replaces the link in the root; the target is never written.
    s.save_with("leak.txt", "replaced", SaveOptions::overwrite())
        .await
        .expect("overwrite the link's name");
    assert!(
        !std::fs::symlink_metadata(root.join("leak.txt"))
            .expect("stat")
            .file_type()
            .is_symlink(),
        "the link is still there"
    );
    assert_eq!(s.read_to_bytes("leak.txt").await.expect("read"), "replaced");
    let saved = s
        .save("leak-relative.txt", "new")
        .await
        .expect("save beside the link");
    assert_ne!(
        saved.as_str(),
        "leak-relative.txt",
        "the link's name is taken"
    );
    s.remove("leak-relative.txt")
        .await
        .expect("remove the link");
    assert!(
        std::fs::symlink_metadata(root.join("leak-relative.txt")).is_err(),
        "the link was not removed"
    );
    unchanged(&elsewhere, &before);
}

/// Through a link to a directory outside, nothing is read, written, replaced, removed or listed.
pub async fn a_link_to_a_directory_outside_is_refused(f: &Fixture) {
    let s = &*f.storage;
    let (root, elsewhere) = places(f);
    link(elsewhere.join("docs"), root.join("shared"));
    let before = snapshot(&elsewhere, None);
    refused(
        "open",
        "shared/x.txt",
        s.open("shared/x.txt").await.map(|_| ()),
    );
    refused("exists", "shared/x.txt", s.exists("shared/x.txt").await);
    refused(
        "save",
        "shared/new.txt",
        s.save("shared/new.txt", "pwned").await,
    );
    refused(
        "save overwrite",
        "shared/x.txt",
        s.save_with("shared/x.txt", "pwned", SaveOptions::overwrite())
            .await,
    );
    refused("delete", "shared/x.txt", s.remove("shared/x.txt").await);
    refused("listdir", "shared", s.listdir("shared").await);
    let listed = s.list_all("shared").await;
    refused("list", "shared", listed);
    assert_eq!(all_names(f).await, Vec::<String>::new());
    assert_eq!(s.listdir("").await.expect("listdir"), (vec![], vec![]));
    unchanged(&elsewhere, &before);
}

/// A chain of relative links (`one -> two -> sub/three -> ../../…/elsewhere/docs`) that ends outside is refused
/// like a single link.
pub async fn a_chain_of_links_leading_outside_is_refused(f: &Fixture) {
    let s = &*f.storage;
    let (root, elsewhere) = places(f);
    s.save("sub/keep.txt", "kept").await.expect("save");
    let mut up = PathBuf::from("..");
    up.push(climbing(&root, &elsewhere, "docs"));
    link(&up, root.join("sub/three"));
    link("sub/three", root.join("two"));
    link("two", root.join("one"));
    let before = snapshot(&elsewhere, None);
    refused("open", "one/x.txt", s.open("one/x.txt").await.map(|_| ()));
    refused("save", "one/new.txt", s.save("one/new.txt", "pwned").await);
    refused("delete", "one/x.txt", s.remove("one/x.txt").await);
    refused("listdir", "one", s.listdir("one").await);
    assert_eq!(all_names(f).await, vec!["sub/keep.txt"]);
    unchanged(&elsewhere, &before);
}

/// Links back to the root (`a -> .`, `b -> .`) and a loop of links (`l1 -> l2 -> l1`) neither hang a listing nor a
/// read: listings skip linked directories, the loop is an error.
pub async fn link_loops_do_not_hang_listings_or_reads(f: &Fixture) {
    let s = &*f.storage;
    let (root, _) = places(f);
    s.save("real/f.txt", "inside").await.expect("save");
    link(".", root.join("a"));
    link(".", root.join("b"));
    link("l2", root.join("l1"));
    link("l1", root.join("l2"));
    assert_eq!(all_names(f).await, vec!["real/f.txt"]);
    let top = tokio::time::timeout(HANG, s.listdir(""))
        .await
        .expect("listdir hangs")
        .expect("listdir");
    assert_eq!(top, (vec!["real".to_owned()], vec![]));
    let looped = tokio::time::timeout(HANG, s.open("l1"))
        .await
        .expect("a read of a link loop hangs");
    assert!(looped.is_err(), "a link loop was read: {looped:?}");
    // `a -> .` stays inside the root: following it is allowed, and ends.
    let via = tokio::time::timeout(HANG, s.read_to_bytes("a/b/a/real/f.txt"))
        .await
        .expect("a read through links to the root hangs");
    assert_eq!(via.expect("read through a -> ."), "inside");
}

/// Links that stay beneath the root are followed for reads and writes (a linked directory, a linked file, a
/// relative link climbing within the root); listings show linked files but never enter linked directories; deleting
/// a link removes the link, not its target.
pub async fn links_inside_the_root_are_followed(f: &Fixture) {
    let s = &*f.storage;
    let (root, _) = places(f);
    s.save("real/f.txt", "inside").await.expect("save");
    link("real", root.join("alias"));
    link("real/f.txt", root.join("f-link.txt"));
    link("../real/f.txt", root.join("sub/up.txt"));
    for name in ["alias/f.txt", "f-link.txt", "sub/up.txt"] {
        assert_eq!(
            s.read_to_bytes(name)
                .await
                .unwrap_or_else(|e| panic!("read {name}: {e}")),
            "inside"
        );
        assert_eq!(s.size(name).await.expect("size"), 6);
    }
    s.save("alias/new.txt", "via link")
        .await
        .expect("save through a link inside the root");
    assert_eq!(
        std::fs::read_to_string(root.join("real/new.txt")).expect("the file landed in real/"),
        "via link"
    );
    assert_eq!(
        all_names(f).await,
        vec!["f-link.txt", "real/f.txt", "real/new.txt", "sub/up.txt"]
    );
    let (dirs, files) = s.listdir("").await.expect("listdir");
    assert_eq!(dirs, vec!["real", "sub"], "a linked directory is listed");
    assert_eq!(files, vec!["f-link.txt"]);
    s.remove("f-link.txt").await.expect("remove the link");
    assert_eq!(
        s.read_to_bytes("real/f.txt")
            .await
            .expect("the target stays"),
        "inside"
    );
}
