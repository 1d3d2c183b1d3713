//! The `storages` command as `cargo install --path cli` (and `cargo install storages-cli`) builds it: every backend
//! is compiled in, and an `s3:` settings URL reaches a real Garage server through it.

use std::path::Path;
use std::process::{Command, Output};

use storages_testkit::s3::{shared_garage, unique};

/// `storages ARGS` in `dir`, with none of the storage variables of the environment running the tests.
fn storages(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storages"))
        .args(args)
        .current_dir(dir)
        .env_remove("STORAGES_CONFIG")
        .env_remove("STORAGES_MEDIA_URL")
        .env_remove("STORAGES_STATIC_URL")
        .output()
        .expect("run storages")
}

/// A command's standard output, after checking that it succeeded.
#[track_caller]
fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The features a test build compiles are unified across the workspace (another member may turn on what this
/// package forgot), so the installed set is read the way `cargo install` resolves it: for this package alone.
#[test]
fn the_installed_command_compiles_in_every_backend_and_collectstatic() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--package", "storages-cli", "--edges", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    let tree = succeeded(&output);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    // collectstatic's own dependencies stand for the `collect` feature.
    for needed in [
        "storages-local",
        "storages-nfs",
        "storages-s3",
        "regex",
        "brotli",
    ] {
        assert!(crates.contains(&needed), "{needed} is not in:\n{tree}");
    }
}

#[test]
fn an_s3_url_reaches_garage_through_every_command() {
    let garage = shared_garage();
    let url = garage.settings_url(&unique("cli"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hello.txt"), "hello, garage").expect("write");
    let run = |args: &[&str]| succeeded(&storages(dir.path(), args));

    assert_eq!(
        run(&["put", &url, "hello.txt", "greetings/hello.txt"]),
        "greetings/hello.txt\n"
    );
    assert_eq!(run(&["ls", &url]), "greetings/hello.txt\n");
    assert_eq!(run(&["get", &url, "greetings/hello.txt"]), "hello, garage");
    let signed = run(&["url", &url, "greetings/hello.txt", "--expires", "60"]);
    assert!(
        signed.starts_with(&garage.endpoint()) && signed.contains("X-Amz-Signature="),
        "{signed}"
    );
    let checked = run(&["check", &url]);
    assert!(checked.starts_with("ok "), "{checked}");
    assert_eq!(run(&["rm", &url, "greetings/hello.txt"]), "");
    assert_eq!(run(&["ls", &url]), "");
}
