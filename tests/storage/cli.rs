//! The `storages` command on `file:` and `memory:` URLs and aliases: output and exit codes.

use crate::support;

use support::{assert_exit, stderr, stdout};

use std::path::Path;
use std::process::{Command, Output};

/// `storages ARGS` in `dir` with `envs` and none of the storage variables of the environment running the tests.
fn command(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(support::storages_bin());
    command
        .args(args)
        .current_dir(dir)
        .env_remove("STORAGES_CONFIG")
        .env_remove("STORAGES_MEDIA_URL")
        .env_remove("STORAGES_STATIC_URL")
        .envs(envs.iter().copied());
    command
}

fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    command(dir, args, envs).output().expect("run storages")
}

#[test]
fn put_ls_get_url_rm_round_trip_on_a_file_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("cat.jpg"), b"jpeg bytes").expect("write");
    let url = format!("file://{}/store?base_url=/m/", d.display());

    let put = run(d, &["put", &url, "cat.jpg", "pets/cat one.jpg"], &[]);
    assert_exit(&put, 0);
    assert_eq!(stdout(&put), "pets/cat one.jpg\n");
    let again = run(d, &["put", &url, "cat.jpg", "pets/cat one.jpg"], &[]);
    assert_exit(&again, 0);
    let alt = stdout(&again);
    assert!(
        alt.starts_with("pets/cat one_") && alt.ends_with(".jpg\n"),
        "{alt}"
    );

    let ls = run(d, &["ls", &url, "pets"], &[]);
    assert_exit(&ls, 0);
    let listed = stdout(&ls);
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort();
    assert_eq!(names.len(), 2);
    assert_eq!(names[0], "pets/cat one.jpg");
    let long = run(d, &["ls", "-l", &url], &[]);
    assert_exit(&long, 0);
    assert!(
        stdout(&long)
            .lines()
            .all(|l| l.trim_start().starts_with("10  20")),
        "{}",
        stdout(&long)
    );

    let get = run(d, &["get", &url, "pets/cat one.jpg"], &[]);
    assert_exit(&get, 0);
    assert_eq!(get.stdout, b"jpeg bytes");
    let to_file = run(d, &["get", &url, "pets/cat one.jpg", "out.jpg"], &[]);
    assert_exit(&to_file, 0);
    assert_eq!(
        std::fs::read(d.join("out.jpg")).expect("read out"),
        b"jpeg bytes"
    );

    let link = run(d, &["url", &url, "pets/cat one.jpg"], &[]);
    assert_exit(&link, 0);
    assert_eq!(stdout(&link), "/m/pets/cat%20one.jpg\n");

    assert_exit(&run(d, &["rm", &url, "pets/cat one.jpg"], &[]), 0);
    assert_exit(&run(d, &["rm", &url, "pets/cat one.jpg"], &[]), 0);
    let gone = run(d, &["get", &url, "pets/cat one.jpg"], &[]);
    assert_exit(&gone, 1);
    assert_eq!(
        stderr(&gone),
        "storages: error: `pets/cat one.jpg` not found\n"
    );
}

#[test]
fn aliases_come_from_the_environment_with_local_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("a.txt"), b"A").expect("write");
    let put = run(d, &["put", "media", "a.txt"], &[]);
    assert_exit(&put, 0);
    assert!(
        d.join("media/a.txt").is_file(),
        "the default media root is ./media"
    );
    assert!(
        !d.join("static").exists(),
        "only the storage named is opened"
    );
    assert_eq!(
        stdout(&run(d, &["url", "media", "a.txt"], &[])),
        "/media/a.txt\n"
    );

    let custom = format!(
        "file://{}/elsewhere?base_url=https://cdn.example.com/x/",
        d.display()
    );
    let put = run(
        d,
        &["put", "avatars", "a.txt", "me.txt"],
        &[("STORAGES_AVATARS_URL", &custom)],
    );
    assert_exit(&put, 0);
    assert!(d.join("elsewhere/me.txt").is_file());
    let link = run(
        d,
        &["url", "avatars", "me.txt"],
        &[("STORAGES_AVATARS_URL", &custom)],
    );
    assert_eq!(stdout(&link), "https://cdn.example.com/x/me.txt\n");
}

#[test]
fn memory_urls_work_within_one_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("n.txt"), b"x").expect("write");
    let put = run(d, &["put", "memory://", "n.txt"], &[]);
    assert_exit(&put, 0);
    assert_eq!(stdout(&put), "n.txt\n");
    assert_exit(&run(d, &["ls", "memory://"], &[]), 0);
    assert_exit(&run(d, &["get", "memory://", "n.txt"], &[]), 1);
    let piped = Command::new(support::storages_bin())
        .args(["put", "memory://", "-"])
        .current_dir(d)
        .output()
        .expect("run");
    assert_exit(&piped, 2);
    assert!(
        stderr(&piped).contains("NAME is required"),
        "{}",
        stderr(&piped)
    );
}

#[test]
fn bad_usage_exits_2_and_storage_errors_exit_1_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["frobnicate"], 2, "unrecognized subcommand"),
        (&["ls"], 2, "required"),
        (&["ls", "file:x?colour=red"], 2, "unknown option `colour`"),
        (&["ls", "ftp://x/y"], 2, "unknown storage scheme `ftp`"),
        (
            &["ls", "s3://?region=x"],
            2,
            if cfg!(feature = "s3") {
                "names no bucket"
            } else {
                "backend `s3`"
            },
        ),
        (&["ls", "nosuchalias"], 2, "no storage named `nosuchalias`"),
        (
            &["get", "memory://", "../etc/passwd"],
            2,
            "invalid name \"../etc/passwd\": it has a `..` segment",
        ),
        (
            &["put", "memory://", "missing-file.txt"],
            2,
            "missing-file.txt is not a readable file",
        ),
        (
            &["get", "memory://", "nothing.txt"],
            1,
            "`nothing.txt` not found",
        ),
        (
            &["url", "memory://", "a.txt"],
            1,
            "does not support URLs without a base_url",
        ),
        (
            &["url", "memory://?base_url=/m/", "a.txt", "--expires", "60"],
            1,
            "does not support signed URLs",
        ),
    ];
    for (args, code, text) in cases {
        let out = run(d, args, &[]);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(text),
            "{args:?}: {err:?} does not say {text:?}"
        );
        if *code == 1 {
            assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
        }
    }
}

#[test]
fn check_reports_each_storage_and_fails_if_any_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ok = run(d, &["check"], &[]);
    assert_exit(&ok, 0);
    let out = stdout(&ok);
    assert!(
        out.contains("ok    media  file:media?base_url=/media/  directory"),
        "{out}"
    );
    assert!(out.contains("ok    static"), "{out}");

    std::fs::write(d.join("blocker"), b"a file where a directory should be").expect("write");
    let bad = run(
        d,
        &[
            "check",
            "media",
            "file:blocker/sub",
            "minio://AK:sEcReT@h:9000/b",
            "nope",
        ],
        &[],
    );
    assert_exit(&bad, 1);
    let out = stdout(&bad);
    assert!(out.contains("ok    media"), "{out}");
    assert!(out.contains("FAIL  -  file:blocker/sub"), "{out}");
    assert!(out.contains("FAIL  -  minio://AK:***@h:9000/b"), "{out}");
    assert!(out.contains("FAIL  nope"), "{out}");
    assert!(
        !out.contains("sEcReT") && !stderr(&bad).contains("sEcReT"),
        "a secret was printed"
    );
}

/// Create-only holds across processes: 8 processes storing one name at once all get distinct names.
#[test]
fn concurrent_puts_from_many_processes_get_distinct_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let url = format!("file://{}/shared", d.display());
    let children: Vec<_> = (0..8)
        .map(|i| {
            let file = d.join(format!("in{i}.txt"));
            std::fs::write(&file, format!("content of process {i}")).expect("write");
            Command::new(support::storages_bin())
                .args(["put", &url, file.to_str().expect("utf-8"), "same.txt"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("wait");
        assert_exit(&out, 0);
        let name = stdout(&out).trim().to_owned();
        let stored = std::fs::read_to_string(d.join("shared").join(&name)).expect("read stored");
        assert_eq!(
            stored,
            format!("content of process {i}"),
            "{name} holds another process's bytes"
        );
        assert!(names.insert(name));
    }
    assert_eq!(names.len(), 8);
    assert_eq!(
        std::fs::read_dir(d.join("shared")).expect("dir").count(),
        8,
        "temporary files left"
    );
}

/// Runs `storages` like [`run`], but gives up (and fails) after 30 s instead of waiting forever.
fn run_bounded(dir: &Path, args: &[&str]) -> Output {
    let mut child = command(dir, args, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run storages");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("storages {args:?} ran for 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// A `file:` root holding `shared -> /somewhere/else` and two links back to itself: no command reads, writes or
/// deletes outside the root, `ls` ends, and neither `clean` nor `collectstatic --clear` removes anything outside.
#[test]
fn no_command_leaves_a_file_root_through_symbolic_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let root = d.join("store");
    let elsewhere = d.join("elsewhere");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::fs::write(elsewhere.join("x.css"), "outside").expect("write");
    std::fs::write(elsewhere.join(".storages-tmp.left"), "someone else's").expect("write");
    std::fs::write(root.join("own.css"), "mine").expect("write");
    std::fs::write(d.join("upload.txt"), "pwned").expect("write");
    std::os::unix::fs::symlink(&elsewhere, root.join("shared")).expect("symlink");
    std::os::unix::fs::symlink(".", root.join("a")).expect("symlink");
    std::os::unix::fs::symlink(".", root.join("b")).expect("symlink");
    let url = format!("file://{}", root.display());
    let outside_intact = || {
        assert_eq!(
            std::fs::read_to_string(elsewhere.join("x.css")).expect("x.css outside is still there"),
            "outside"
        );
        assert!(
            elsewhere.join(".storages-tmp.left").exists(),
            "clean removed a file outside"
        );
        assert!(
            !elsewhere.join("new.txt").exists(),
            "a file was written outside"
        );
    };

    let get = run_bounded(d, &["get", &url, "shared/x.css"]);
    assert_exit(&get, 1);
    assert!(get.stdout.is_empty(), "{}", stdout(&get));
    assert!(
        stderr(&get).contains("outside the storage root"),
        "{}",
        stderr(&get)
    );
    for args in [
        vec!["put", url.as_str(), "upload.txt", "shared/new.txt"],
        vec![
            "put",
            url.as_str(),
            "--overwrite",
            "upload.txt",
            "shared/x.css",
        ],
        vec!["rm", url.as_str(), "shared/x.css"],
    ] {
        let out = run_bounded(d, &args);
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains("outside the storage root"),
            "{args:?}: {}",
            stderr(&out)
        );
        outside_intact();
    }

    let ls = run_bounded(d, &["ls", &url]);
    assert_exit(&ls, 0);
    assert_eq!(stdout(&ls), "own.css\n");

    let clean = run_bounded(d, &["clean", &url, "--older-than", "0s"]);
    assert_exit(&clean, 0);
    outside_intact();

    let source = d.join("assets");
    std::fs::create_dir_all(&source).expect("mkdir");
    std::fs::write(source.join("app.css"), "body {}").expect("write");
    let source_arg = source.display().to_string();
    let collect = run_bounded(
        d,
        &[
            "collectstatic",
            "--source",
            &source_arg,
            "--to",
            &url,
            "--clear",
            "--no-input",
        ],
    );
    assert_exit(&collect, 0);
    outside_intact();
    assert!(!root.join("own.css").exists(), "--clear keeps a stale file");
    assert!(root.join("app.css").is_file());
}

/// Settings URLs that used to make every command panic inside object_store (exit 101 and a backtrace note) are
/// refused at start: exit 2 and one line naming the value.
#[cfg(feature = "s3")]
#[test]
fn bad_endpoints_exit_2_with_one_line_on_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("a.txt"), b"a").expect("write");
    let urls = [
        (
            "minio://K:S@127.0.0.1:99999/b",
            "the port `99999` is not a number from 1 to 65535",
        ),
        (
            "s3://b?endpoint=http://127.0.0.1:abc",
            "the port `abc` is not a number",
        ),
        ("minio://K:S@[::1/b", "`[::1` is not a valid IPv6 address"),
    ];
    for (url, reason) in urls {
        let commands: [&[&str]; 7] = [
            &["ls", url],
            &["put", url, "a.txt"],
            &["get", url, "a.txt"],
            &["rm", url, "a.txt"],
            &["url", url, "a.txt"],
            &["url", url, "a.txt", "--expires", "60"],
            &["collectstatic", "--to", url, "--source", ".", "--no-input"],
        ];
        for args in commands {
            // Credentials from the environment, so that nothing is left to fetch from an instance metadata service.
            let out = run(
                d,
                args,
                &[
                    ("AWS_ACCESS_KEY_ID", "K"),
                    ("AWS_SECRET_ACCESS_KEY", "S"),
                    ("RUST_BACKTRACE", "0"),
                ],
            );
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
            assert!(
                err.starts_with("storages: error: ") && err.contains(reason),
                "{args:?}: {err}"
            );
            assert!(
                !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
                "{args:?}: {err}"
            );
        }
        let check = run(d, &["check", url], &[]);
        assert_exit(&check, 1);
        assert!(
            stdout(&check).contains("FAIL  -") && stdout(&check).contains(reason),
            "{}",
            stdout(&check)
        );
        assert!(!stderr(&check).contains("panicked"), "{}", stderr(&check));
    }
    // An endpoint from the AWS variables is checked alike.
    let out = run(
        d,
        &["ls", "s3://bucket"],
        &[
            ("AWS_ENDPOINT_URL", "http://[::1"),
            ("AWS_ACCESS_KEY_ID", "K"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
        ],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("AWS_ENDPOINT_URL (from the environment)"),
        "{}",
        stderr(&out)
    );
}

/// `url --expires` takes what the backend can sign: SigV4 signatures last from 1 second to 7 days.
#[cfg(feature = "s3")]
#[test]
fn url_expires_beyond_what_can_be_signed_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = "s3://bucket?endpoint=http://127.0.0.1:9&aws_access_key_id=K&aws_secret_access_key=S";
    let expires = |secs: &str| run(dir.path(), &["url", url, "a.txt", "--expires", secs], &[]);
    let ok = expires("604800");
    assert_exit(&ok, 0);
    assert!(
        stdout(&ok).contains("X-Amz-Expires=604800"),
        "{}",
        stdout(&ok)
    );
    let over = expires("604801");
    assert_exit(&over, 2);
    assert_eq!(
        stderr(&over),
        "storages: error: invalid value `604801s` for option `expires`: expected 1 to 604800 seconds (7 days, \
         the longest a SigV4 signature is valid)\n"
    );
    let zero = expires("0");
    assert_exit(&zero, 2);
    assert!(
        stderr(&zero).contains("invalid value '0' for '--expires <SECS>'"),
        "{}",
        stderr(&zero)
    );
}

/// A `mirror:` alias on the command line opens the aliases it names (and no other): `put` lands on both storages,
/// `check` checks both.
#[test]
fn a_mirror_alias_writes_to_both_of_its_storages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("cat.jpg"), b"jpeg").expect("write");
    let old = format!("file://{}/old", d.display());
    let new = format!("file://{}/new", d.display());
    let envs = [
        ("STORAGES_OLD_URL", old.as_str()),
        ("STORAGES_NEW_URL", new.as_str()),
        ("STORAGES_MEDIA_URL", "mirror:?primary=old&mirrors=new"),
        // Never opened: only the named storage and its aliases are.
        (
            "STORAGES_BROKEN_URL",
            "s3://b?endpoint=http://127.0.0.1:1&nonsense=1",
        ),
    ];
    let put = run(d, &["put", "media", "cat.jpg", "pets/cat.jpg"], &envs);
    assert_exit(&put, 0);
    for side in ["old", "new"] {
        assert_eq!(
            std::fs::read(d.join(side).join("pets/cat.jpg")).expect("stored on both"),
            b"jpeg"
        );
    }
    let check = run(d, &["check", "media"], &envs);
    assert_exit(&check, 0);
    let out = stdout(&check);
    assert!(
        out.contains("primary `old`") && out.contains("mirror `new`"),
        "{out}"
    );
}
