//! Secrets never printed: every CLI command, over every error path it can be driven into, with secrets in every
//! place settings can hold one (a `minio://` password, the secret options, an endpoint's user info, the AWS
//! variables, a settings file), plus the photo apps' own output over a start, uploads and failing requests.
//! Stdout and stderr are searched for the secrets, raw and percent-encoded. The storages are real: a Garage
//! server for what exists, a free loopback port for what is unreachable.
#![cfg(feature = "s3")]

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use support::s3::{Garage, shared_garage};
use support::{Server, example, free_port};

/// The planted secrets: one plain, one that must be percent-encoded in a URL.
const SECRET: &str = "SeCrEt-XYZ123";
const SECRET_ENCODED: &str = "SeCrEt%2FXYZ%2B123%3D"; // SeCrEt/XYZ+123=

/// Every form in which a planted secret (or Garage's real one) could show.
fn leaks(g: &Garage, text: &str) -> Vec<String> {
    let mut needles = vec![
        "SeCrEt".to_owned(),
        "XYZ123".to_owned(),
        "XYZ+123".to_owned(),
        "XYZ%2B123".to_owned(),
        "XYZ%252B123".to_owned(),
    ];
    needles.push(g.secret_key().to_owned());
    needles.push(g.secret_key()[..16].to_owned());
    needles
        .into_iter()
        .filter(|n| text.contains(n.as_str()))
        .collect()
}

/// Variables set for a run.
type Env = Vec<(&'static str, String)>;

/// One way to name a storage: the STORAGE argument and the environment it needs.
struct Case {
    what: &'static str,
    storage: String,
    env: Env,
}

fn case(what: &'static str, storage: String) -> Case {
    Case {
        what,
        storage,
        env: Vec::new(),
    }
}

fn cases(g: &Garage, dir: &Path) -> Vec<Case> {
    let host = g.endpoint().trim_start_matches("http://").to_owned();
    let down = format!("127.0.0.1:{}", free_port());
    let (key, real) = (g.access_key(), g.secret_key());
    let bucket = g.bucket();
    let settings_file = dir.join("storages.toml");
    std::fs::write(
        &settings_file,
        format!(
            "[storages]\nmedia = \"minio://AKID:{SECRET}@{down}/bucket\"\nbroken = \"minio://AKID:{SECRET}@{down}/b\n"
        ),
    )
    .expect("write the settings file");
    let mut all = vec![
        case(
            "minio password, server down",
            format!("minio://AKID:{SECRET}@{down}/bucket/p"),
        ),
        case(
            "encoded minio password, server down",
            format!("minio://AKID:{SECRET_ENCODED}@{down}/bucket"),
        ),
        case(
            "minio password, wrong for the server",
            format!("minio://{key}:{SECRET}@{host}/{bucket}?region=garage"),
        ),
        case(
            "minio password, right, missing bucket",
            format!("minio://{key}:{real}@{host}/no-such-bucket-here?region=garage"),
        ),
        case(
            "minio password, right",
            format!("minio://{key}:{real}@{host}/{bucket}/secrets?region=garage"),
        ),
        case(
            "minio password, invalid port",
            format!("minio://AKID:{SECRET}@127.0.0.1:99999/b"),
        ),
        case(
            "aws_secret_access_key, server down",
            format!(
                "s3://bucket?endpoint=http://{down}&aws_access_key_id=AKID&aws_secret_access_key={SECRET}"
            ),
        ),
        case(
            "secret_access_key encoded, wrong for the server",
            format!(
                "s3://{bucket}?endpoint={}&region=garage&access_key_id={key}&secret_access_key={SECRET_ENCODED}",
                g.endpoint()
            ),
        ),
        case(
            "aws_secret_access_key, right, missing bucket",
            format!(
                "s3://no-such-bucket-here?endpoint={}&region=garage&aws_access_key_id={key}&aws_secret_access_key={real}",
                g.endpoint()
            ),
        ),
        case("aws_secret_access_key, right", g.settings_url("secrets")),
        case(
            "aws_secret_access_key beside an unknown option",
            format!("s3://bucket?aws_secret_access_key={SECRET}&colour={SECRET}"),
        ),
        case(
            "aws_session_token that is no header",
            format!("s3://bucket?endpoint=http://{down}&aws_session_token={SECRET}%0A"),
        ),
        case(
            "endpoint user info",
            format!(
                "s3://bucket?endpoint=http://user:{SECRET}@{down}&aws_access_key_id=A&aws_secret_access_key=B"
            ),
        ),
        case(
            "endpoint user info, encoded",
            format!(
                "s3://bucket?endpoint=http%3A%2F%2Fuser%3A{SECRET_ENCODED}%40{down}&aws_access_key_id=A&aws_secret_access_key=B"
            ),
        ),
        case(
            "public_endpoint user info",
            format!(
                "s3://bucket?endpoint=http://{down}&public_endpoint=https://user:{SECRET}@cdn.example.com\
                 &aws_access_key_id=A&aws_secret_access_key=B&presign=60"
            ),
        ),
        case(
            "base_url user info",
            format!("file:media?base_url=https://user:{SECRET}@cdn.example.com/m/"),
        ),
        Case {
            what: "AWS_SECRET_ACCESS_KEY, server down",
            storage: format!("s3://bucket?endpoint=http://{down}&region=garage"),
            env: vec![
                ("AWS_ACCESS_KEY_ID", "AKID".into()),
                ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            ],
        },
        Case {
            what: "AWS_SECRET_ACCESS_KEY, wrong for the server",
            storage: format!("s3://{bucket}?endpoint={}&region=garage", g.endpoint()),
            env: vec![
                ("AWS_ACCESS_KEY_ID", key.into()),
                ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            ],
        },
        Case {
            what: "AWS_SECRET_ACCESS_KEY, right, missing bucket",
            storage: format!(
                "s3://no-such-bucket-here?endpoint={}&region=garage",
                g.endpoint()
            ),
            env: vec![
                ("AWS_ACCESS_KEY_ID", key.into()),
                ("AWS_SECRET_ACCESS_KEY", real.into()),
            ],
        },
        Case {
            what: "an alias from STORAGES_<ALIAS>_URL",
            storage: "avatars".into(),
            env: vec![(
                "STORAGES_AVATARS_URL",
                format!("minio://AKID:{SECRET}@{down}/bucket"),
            )],
        },
        Case {
            what: "an alias from a settings file with an error in it",
            storage: "media".into(),
            env: vec![("STORAGES_CONFIG", settings_file.display().to_string())],
        },
    ];
    // Every case also reached through an alias, so `check` with no argument lists it too.
    all.iter_mut().for_each(|c| {
        if c.storage.contains(':') {
            c.env.push(("STORAGES_SWEEP_URL", c.storage.clone()));
        }
    });
    all
}

/// The command lines run against each storage: every command, and the errors each can be driven into.
fn commands(storage: &str) -> Vec<Vec<String>> {
    let lines: [&[&str]; 17] = [
        &["ls", storage],
        &["ls", "-l", storage, "some/prefix"],
        &["put", storage, "file.txt", "swept.txt"],
        &["put", storage, "file.txt", "swept.txt", "--overwrite"],
        &["put", storage, "no/such/file.txt"],
        &["put", storage, "file.txt", "../bad"],
        &["get", storage, "swept.txt"],
        &["get", storage, "missing.txt", "out.txt"],
        &["rm", storage, "swept.txt"],
        &["url", storage, "swept.txt"],
        &["url", storage, "swept.txt", "--expires", "60"],
        &["url", storage, "swept.txt", "--expires", "999999999"],
        &["check", storage],
        &["check"],
        &["clean", storage, "--older-than", "1h"],
        &[
            "collectstatic",
            "--to",
            storage,
            "--source",
            "assets",
            "--no-input",
        ],
        &[
            "collectstatic",
            "--to",
            storage,
            "--source",
            "no-such-dir",
            "--no-input",
        ],
    ];
    lines
        .iter()
        .map(|l| l.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

#[test]
fn no_cli_command_prints_a_secret_on_any_path() {
    let g = shared_garage();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("file.txt"), b"swept").expect("write");
    std::fs::create_dir_all(d.join("assets/css")).expect("assets");
    std::fs::write(d.join("assets/css/app.css"), b"body{}").expect("css");
    let runs: Vec<(String, Vec<String>, Env)> = cases(g, d)
        .into_iter()
        .flat_map(|c| {
            commands(&c.storage)
                .into_iter()
                .map(move |args| (c.what.to_owned(), args, c.env.clone()))
        })
        .collect();
    // Four processes at a time: the unreachable ones spend most of their time in retries.
    type Outcome = (String, String, Option<i32>, String);
    let (failures, outcomes): (Vec<String>, Vec<Outcome>) = std::thread::scope(|scope| {
        let chunks: Vec<_> = runs.chunks(runs.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    let (mut failures, mut outcomes) = (Vec::new(), Vec::new());
                    for (what, args, env) in chunk {
                        let out = Command::new(support::storages_bin())
                            .args(args)
                            .current_dir(d)
                            .env_remove("STORAGES_CONFIG")
                            .env_remove("STORAGES_MEDIA_URL")
                            .env_remove("STORAGES_STATIC_URL")
                            .env_remove("AWS_ACCESS_KEY_ID")
                            .env_remove("AWS_SECRET_ACCESS_KEY")
                            .env("RUST_BACKTRACE", "0")
                            .envs(env.iter().map(|(k, v)| (k, v)))
                            .output()
                            .expect("run storages");
                        let printed = format!(
                            "{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                        let found = leaks(g, &printed);
                        if !found.is_empty() || printed.contains("panicked") {
                            failures
                                .push(format!("{what}: {args:?} printed {found:?}:\n{printed}"));
                        }
                        outcomes.push((what.clone(), args.join(" "), out.status.code(), printed));
                    }
                    (failures, outcomes)
                })
            })
            .collect();
        let mut all = (Vec::new(), Vec::new());
        for handle in handles {
            let (failures, outcomes) = handle.join().expect("sweep thread");
            all.0.extend(failures);
            all.1.extend(outcomes);
        }
        all
    });
    assert!(
        failures.is_empty(),
        "{} of {} runs printed a secret or panicked:\n{}",
        failures.len(),
        runs.len(),
        failures.join("\n")
    );
    // The sweep went down the paths it names: a few landmarks.
    let landmarks: [(&str, &str, Option<i32>, &str); 7] = [
        ("minio password, right", "put ", Some(0), "swept"),
        (
            "minio password, right, missing bucket",
            "ls ",
            Some(1),
            "does not exist",
        ),
        (
            "aws_secret_access_key, server down",
            "ls ",
            Some(1),
            "storages: error:",
        ),
        (
            "aws_secret_access_key, server down",
            "--expires 60",
            Some(0),
            "X-Amz-Signature=",
        ),
        (
            "minio password, wrong for the server",
            "ls ",
            Some(1),
            "storages: error:",
        ),
        ("endpoint user info", "ls ", Some(2), "holds credentials"),
        (
            "an alias from a settings file with an error in it",
            "ls ",
            Some(2),
            "line 3, column",
        ),
    ];
    for (what, command, code, text) in landmarks {
        assert!(
            outcomes.iter().any(|(w, args, c, printed)| w == what
                && args.contains(command)
                && *c == code
                && printed.contains(text)),
            "no run of `{command}` for {what} exited {code:?} saying {text:?}"
        );
    }
}

/// The photo apps' whole output (stdout and stderr) over a start, an upload, a signed URL in the gallery, a missing
/// file and an upload the storage fails, with the secret in the settings URL and in the AWS variables.
#[tokio::test]
async fn the_photo_apps_never_log_a_secret() {
    let g = shared_garage();
    let host = g.endpoint().trim_start_matches("http://").to_owned();
    let (key, real) = (g.access_key(), g.secret_key());
    // The secret in the AWS variables, for the bucket under a prefix.
    let from_variables = |secret: &str| -> (String, Env) {
        let url = format!(
            "s3://{}/app-secrets?endpoint={}&region=garage",
            g.bucket(),
            g.endpoint()
        );
        let env = vec![
            ("AWS_ACCESS_KEY_ID", key.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_owned()),
        ];
        (url, env)
    };
    // The settings, their environment, and whether the upload is stored (else the storage fails it).
    let setups: Vec<((String, Env), bool)> = vec![
        (
            (
                format!("{}&presign=600", g.settings_url("app-secrets")),
                Vec::new(),
            ),
            true,
        ),
        (
            (
                format!("minio://{key}:{real}@{host}/no-such-bucket-here?region=garage"),
                Vec::new(),
            ),
            false,
        ),
        (from_variables(real), true),
        (from_variables(SECRET), false),
    ];
    for app in ["photos", "photos_actix"] {
        for ((media, env), stored) in &setups {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut envs: Vec<(&str, &str)> = vec![("STORAGES_MEDIA_URL", media.as_str())];
            envs.extend(env.iter().map(|(k, v)| (*k, v.as_str())));
            let server = Server::start_logged(&example(app), dir.path(), &envs);
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            let form = Form::new().part(
                "file",
                Part::bytes(b"\x89PNG swept".to_vec()).file_name("s.png"),
            );
            let upload = http
                .post(server.url("/upload"))
                .multipart(form)
                .send()
                .await;
            for path in [
                "/",
                "/media/photos/s.png",
                "/media/photos/missing.png",
                "/media/../etc/passwd",
            ] {
                let _ = http.get(server.url(path)).send().await;
            }
            // Let the app write what it logs about these requests.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let log = server.log();
            drop(server);
            let found = leaks(g, &log);
            assert!(
                found.is_empty(),
                "{app} with {}: the log holds {found:?}:\n{log}",
                storages::settings::redact(media),
            );
            let status = upload.expect("the upload got an answer").status();
            assert_eq!(
                status.is_redirection(),
                *stored,
                "{app}: upload answered {status}"
            );
        }
    }
}
