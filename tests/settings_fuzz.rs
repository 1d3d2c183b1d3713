//! Settings URLs never panic: 100,000 generated and mutated URLs (every scheme, every backend's options with valid
//! and hostile values) go through `Settings::parse` and, when they parse, `Settings::build`. Each either works or
//! is a typed error; none panics, and where the URL was generated whole no secret reaches a message.
//!
//! Deterministic: `STORAGES_FUZZ_SEED` picks another seed and `STORAGES_FUZZ_CASES` another count; a failure prints
//! the seed and the URLs. This file holds one test, in a binary of its own: it moves the process into a temporary
//! directory (and sets the panic hook) so that relative `file:` roots land there: nothing is created anywhere else
//! (roots outside it are parsed, not built), and S3 storages are built without a request.
#![cfg(all(feature = "local", feature = "nfs", feature = "s3"))]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Component, Path};

use storages::settings::{Backend, Settings};

/// Marks every secret the generator plants, so that a leak can be found whatever encoding it is in.
const SECRET: &str = "SeCrEt";

/// Hostile characters and fragments, inserted whole by the generator and the mutator.
const HOSTILE: &[&str] = &[
    "%", "%zz", "%2", "%00", "%0A", "%0D%0A", "%C3%A9", "%FF", "%25", "%2F", "%3F", "%23", "%40",
    "%26", "%3D", "é", "日本", "\u{202e}", "\u{0}", "\n", "\r\n", "\t", " ", "\u{7f}", "[", "]",
    "[::1", "::1]", "@", ":", "?", "#", "&", "=", "/", "//", "..", "/..", "\\", "+", "\"", "{",
    "}", "|", "^", "`", "<", ">", "*", "~", "!", "xn--", "-", ".", "0x7f", "99999", "65536", "-1",
    "0",
];

const BOOLEANS: &[&str] = &[
    "true", "false", "1", "0", "yes", "no", "on", "off", "TRUE", "Off", "y", "maybe",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "60",
    "644",
    "0644",
    "0o755",
    "777",
    "1777",
    "4755",
    "7777",
    "5242880",
    "5368709120",
    "5368709121",
    "604800",
    "604801",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "-1",
    "1e3",
    "0x10",
    " 1",
    "",
];

const ENDPOINTS: &[&str] = &[
    "http://127.0.0.1:9000",
    "https://s3.example.com",
    "http://[::1]:3900",
    "http://localhost:1",
    "http://127.0.0.1:99999",
    "http://127.0.0.1:abc",
    "http://[::1",
    "http://::1:9000",
    "http://h:0",
    "http://999.1.1.1",
    "http://u:SeCrEt@127.0.0.1:9000",
    "http://SeCrEt@127.0.0.1:9000",
    "http://h/path",
    "http://h?x=1",
    "http://h#f",
    "ftp://h",
    "localhost:9000",
    "http://",
    "http://a\"b",
    "http://bücher.example",
    "http://xn--",
    "HTTP://UPPER.example:80",
];

/// The options of each backend (the common ones first), and names no backend knows.
const COMMON: &[&str] = &["base_url", "overwrite", "cache_control", "max_name_length"];
const LOCAL: &[&str] = &["file_mode", "dir_mode", "fsync"];
const NFS: &[&str] = &["require_mount", "sentinel"];
const S3: &[&str] = &[
    "endpoint",
    "public_endpoint",
    "region",
    "path_style",
    "virtual_hosted",
    "presign",
    "auto_create",
    "public",
    "conditional_put",
    "part_size",
    "upload_concurrency",
    "imds",
    "aws_access_key_id",
    "aws_secret_access_key",
    "access_key_id",
    "secret_access_key",
    "aws_session_token",
    "aws_endpoint",
    "aws_endpoint_url_s3",
    "aws_region",
    "aws_bucket",
    "aws_virtual_hosted_style_request",
    "aws_unsigned_payload",
    "aws_skip_signature",
    "aws_allow_http",
    "aws_metadata_endpoint",
    "aws_checksum_algorithm",
    "aws_conditional_put",
    "aws_proxy_url",
    "aws_server_side_encryption",
    "aws_sse_bucket_key_enabled",
];
const MINIO: &[&str] = &["secure"];
const UNKNOWN: &[&str] = &[
    "colour",
    "",
    "base_url ",
    "BASE_URL",
    "aws_no_such_key",
    "sentinel%00",
];

/// S3 storages built: one `S3Storage::new` makes HTTP clients that load the system's certificates (tens of
/// milliseconds in a debug build), so every S3 URL is parsed but only one case in this many is also built.
const S3_BUILD_EVERY: usize = 32;

/// Options whose value the generator makes a secret.
const SECRET_OPTIONS: &[&str] = &[
    "aws_secret_access_key",
    "secret_access_key",
    "aws_session_token",
];

struct Generator {
    rng: fastrand::Rng,
    root: String,
}

impl Generator {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.usize(..from.len())]
    }

    fn word(&mut self, max: usize) -> String {
        let len = self.rng.usize(0..=max);
        std::iter::repeat_with(|| self.rng.alphanumeric())
            .take(len)
            .collect()
    }

    /// Sometimes a plain word, sometimes a hostile fragment inside one.
    fn text(&mut self) -> String {
        match self.rng.u8(..6) {
            0 => self.pick(HOSTILE).to_owned(),
            1 => format!("{}{}{}", self.word(3), self.pick(HOSTILE), self.word(3)),
            2 => "x".repeat(self.rng.usize(200..2000)),
            _ => self.word(12),
        }
    }

    fn value(&mut self, option: &str) -> String {
        if self.rng.u8(..10) == 0 {
            return self.text();
        }
        match option {
            o if SECRET_OPTIONS.contains(&o) => format!("{SECRET}-{}", self.word(6)),
            "overwrite" | "fsync" | "require_mount" | "path_style" | "virtual_hosted"
            | "auto_create" | "public" | "secure" | "imds" => self.pick(BOOLEANS).to_owned(),
            o if o.ends_with("payload") || o.ends_with("signature") || o.ends_with("http") => {
                self.pick(BOOLEANS).to_owned()
            }
            "conditional_put" => self
                .pick(&["auto", "AUTO", "true", "off", "sometimes"])
                .to_owned(),
            "file_mode" | "dir_mode" | "max_name_length" | "presign" | "part_size"
            | "upload_concurrency" => self.pick(NUMBERS).to_owned(),
            o if o.contains("endpoint") || o == "aws_proxy_url" => self.pick(ENDPOINTS).to_owned(),
            "base_url" => self
                .pick(&[
                    "/media/",
                    "/m",
                    "https://cdn.example.com/m/",
                    "%zz",
                    "media/",
                    "//cdn/",
                    "/a b/",
                    "https://u:SeCrEt@cdn/",
                    "/m/?v=1",
                    "ftp://x/",
                    "/%C3%A9/",
                    "/%2/",
                ])
                .to_owned(),
            "cache_control" => self
                .pick(&[
                    "max-age=60",
                    "public, max-age=31536000",
                    "a\r\nSet-Cookie: x",
                    "\t",
                    "",
                    "é",
                ])
                .to_owned(),
            "region" | "aws_region" => self
                .pick(&["us-east-1", "garage", "eu west", "a/b", "", "é"])
                .to_owned(),
            "sentinel" => self
                .pick(&[".storages-share", "a/b", "..", ".storages-tmp.x", ""])
                .to_owned(),
            _ => self.text(),
        }
    }

    /// A value as it is written in a URL: as is, or percent-encoded whole.
    fn written(&mut self, value: &str) -> String {
        if self.rng.bool() {
            form_urlencoded::byte_serialize(value.as_bytes()).collect()
        } else {
            value.to_owned()
        }
    }

    /// Mostly a valid choice, sometimes a hostile one.
    fn either<'a>(&mut self, valid: &[&'a str], hostile: &[&'a str]) -> &'a str {
        if self.rng.u8(..4) == 0 {
            self.pick(hostile)
        } else {
            self.pick(valid)
        }
    }

    fn location(&mut self, scheme: &str) -> String {
        let root = self.root.clone();
        let sub = self.either(
            &["media", "a/b", "x%20y", "é", "日本/x", "m%23n"],
            &[
                "..",
                "../escape",
                "a/../../b",
                "%2e%2e",
                "",
                "%00",
                "a%2F..%2F..%2Fb",
            ],
        );
        match scheme {
            "file" => match self.rng.u8(..8) {
                0 => format!("//{}/{sub}", self.text()),
                1 => format!("//localhost{root}/{sub}"),
                2 | 3 => sub.to_owned(),
                _ => format!("//{root}/{sub}"),
            },
            "nfs" => match self.rng.u8(..8) {
                0 => format!("//{}/{sub}", self.text()),
                1 => sub.to_owned(),
                _ => format!("//{root}/{sub}"),
            },
            "memory" => self.either(&["//", "", "///"], &["//x", "/x"]).to_owned(),
            "s3" => {
                let bucket = self.either(
                    &["bucket", "b", "my.bucket", "B_legacy", "media-1"],
                    &["-b", "xn--b", "a..b", "", "b%20c", "a@b"],
                );
                let prefix =
                    self.either(&["", "prefix", "a/b/", "é/日本"], &["../x", "%00", "a//b"]);
                format!("//{bucket}/{prefix}")
            }
            "minio" => {
                let user = self.either(&["AKID", "GK31c2f218"], &["", "A%0AB", "A B", "A/B"]);
                let host = self.either(
                    &[
                        "127.0.0.1:9000",
                        "[::1]:9000",
                        "minio.internal:9000",
                        "localhost",
                    ],
                    &[
                        "127.0.0.1:99999",
                        "[::1",
                        "::1:9000",
                        "h:abc",
                        "h:0",
                        "",
                        "999.1.1.1",
                        "a%22b",
                        "bücher.example",
                    ],
                );
                let secret = self.word(4);
                let userinfo = match self.rng.u8(..6) {
                    0 => String::new(),
                    1 => format!("{user}@"),
                    _ => format!("{user}:{SECRET}{secret}@"),
                };
                let path = self.either(&["bucket/prefix", "bucket"], &["", "b/../c", "b%00"]);
                format!("//{userinfo}{host}/{path}")
            }
            _ => format!("//{}", self.text()),
        }
    }

    /// A generated URL, and whether its secrets sit where the parser knows them to be secrets.
    fn url(&mut self) -> String {
        let scheme = match self.rng.u8(..20) {
            0..=3 => "file".to_owned(),
            4..=6 => "nfs".to_owned(),
            7..=8 => "memory".to_owned(),
            9..=13 => "s3".to_owned(),
            14..=17 => "minio".to_owned(),
            18 => self
                .pick(&["FILE", "S3", "Minio", "ftp", "", "s3+x", "é"])
                .to_owned(),
            _ => self.word(5),
        };
        let lower = scheme.to_ascii_lowercase();
        let mut url = format!("{scheme}:{}", self.location(&lower));
        let own: &[&[&str]] = match lower.as_str() {
            "file" => &[COMMON, LOCAL],
            "nfs" => &[COMMON, LOCAL, NFS],
            "memory" => &[COMMON],
            "s3" => &[COMMON, S3],
            "minio" => &[COMMON, S3, MINIO],
            _ => &[COMMON],
        };
        let count = self.rng.usize(0..=3);
        for i in 0..count {
            let option = match self.rng.u8(..10) {
                0 => self.pick(UNKNOWN),
                1 => {
                    let all = [COMMON, LOCAL, NFS, S3, MINIO];
                    let list = all[self.rng.usize(..all.len())];
                    self.pick(list)
                }
                _ => {
                    let list = own[self.rng.usize(..own.len())];
                    self.pick(list)
                }
            };
            let value = self.value(option);
            let value = self.written(&value);
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{option}={value}"));
        }
        url
    }

    /// Changes `url` in 1 to 3 places: a hostile fragment inserted, a character removed or replaced, a piece
    /// repeated, the case of a part flipped, the end cut off.
    fn mutate(&mut self, url: &str) -> String {
        let mut chars: Vec<char> = url.chars().collect();
        for _ in 0..self.rng.usize(1..=3) {
            let at = self.rng.usize(0..=chars.len());
            match self.rng.u8(..6) {
                0 | 1 => {
                    let piece: Vec<char> = self.pick(HOSTILE).chars().collect();
                    chars.splice(at..at, piece);
                }
                2 if at < chars.len() => {
                    chars.remove(at);
                }
                3 if at < chars.len() => {
                    chars[at] = self.pick(HOSTILE).chars().next().unwrap_or('%');
                }
                4 => {
                    let end = (at + self.rng.usize(1..8)).min(chars.len());
                    let piece = chars[at..end].to_vec();
                    chars.splice(at..at, piece);
                }
                _ => chars.truncate(at),
            }
        }
        chars.into_iter().collect()
    }
}

/// Whether building `settings` can only create or read files under `dir` (the process's working directory).
fn stays_inside(settings: &Settings, dir: &Path) -> bool {
    let root = match settings.backend() {
        Backend::Local(config) => &config.root,
        Backend::Nfs(config) => &config.local.root,
        _ => return true,
    };
    let root = dir.join(root);
    root.starts_with(dir) && !root.components().any(|c| matches!(c, Component::ParentDir))
}

/// What became of one URL; the texts are everything shown of it (messages, `Display`, `Debug`).
enum Outcome {
    Refused(String),
    NotBuilt(String),
    Built(usize, String),
    BuildRefused(usize, String),
    /// Built, but the first request would panic.
    Unusable(String),
}

fn try_url(url: &str, dir: &Path, build_s3: bool) -> Outcome {
    let settings = match Settings::parse(url) {
        Ok(settings) => settings,
        Err(e) => return Outcome::Refused(format!("{e} {e:?}")),
    };
    let shown = format!("{settings} {settings:?}");
    if !stays_inside(&settings, dir) {
        return Outcome::NotBuilt(shown);
    }
    let backend = match settings.backend() {
        Backend::Memory(_) => 0,
        Backend::Local(_) => 1,
        Backend::Nfs(_) => 2,
        _ => 3,
    };
    if backend == 3 && !build_s3 {
        return Outcome::NotBuilt(shown);
    }
    match settings.build() {
        Ok(storage) => match would_panic_when_used(&settings) {
            Some(why) => Outcome::Unusable(format!("{shown}: {why}")),
            None => Outcome::Built(backend, format!("{shown} {storage:?}")),
        },
        Err(e) => Outcome::BuildRefused(backend, format!("{shown} {e} {e:?}")),
    }
}

/// An S3 storage that was built must be usable without a panic: object_store parses each request's URL with both
/// `url` and `http`, and puts the region and access key id into a header, and panics where that fails. The check
/// is independent of the crate's own, so a gap in either shows (requests themselves would leave loopback).
fn would_panic_when_used(settings: &Settings) -> Option<String> {
    let Backend::S3(config) = settings.backend() else {
        return None;
    };
    let region = config.region.as_deref().unwrap_or("us-east-1");
    let base = match &config.endpoint {
        Some(endpoint) => endpoint.clone(),
        None => format!("https://s3.{region}.amazonaws.com"),
    };
    let url = format!("{base}/{}/name", config.bucket);
    if reqwest::Url::parse(&url).is_err() {
        return Some(format!("`{url}` is no URL to the url crate"));
    }
    if url.parse::<axum::http::Uri>().is_err() {
        return Some(format!("`{url}` is no URI to the http crate"));
    }
    let header = format!(
        "Credential={}/{region}",
        config.access_key_id.as_deref().unwrap_or_default()
    );
    if axum::http::HeaderValue::from_str(&header).is_err() {
        return Some(format!("{header:?} is no header value"));
    }
    None
}

#[test]
fn generated_and_mutated_settings_urls_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = dir.path().canonicalize().expect("canonical tempdir");
    std::env::set_current_dir(&dir_path).expect("cd into the tempdir");
    let seed = std::env::var("STORAGES_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5e77_1265);
    let cases: usize = std::env::var("STORAGES_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mut generator = Generator {
        rng: fastrand::Rng::with_seed(seed),
        root: dir_path.display().to_string(),
    };
    // Panics are caught and listed at the end; the default hook would print each one.
    std::panic::set_hook(Box::new(|_| {}));
    let (mut panics, mut leaks) = (Vec::new(), Vec::new());
    let (mut parsed, mut built, mut refused) = (0, [0usize; 4], [0usize; 4]);
    for case in 0..cases {
        let whole = generator.url();
        // Every other URL is mutated; secrets are only looked for where the generator put them.
        let mutated = case % 2 == 1;
        let url = if mutated {
            generator.mutate(&whole)
        } else {
            whole
        };
        let shown = match catch_unwind(AssertUnwindSafe(|| {
            try_url(&url, &dir_path, case % S3_BUILD_EVERY == 0)
        })) {
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                panics.push(format!("{url:?}: {message}"));
                continue;
            }
            Ok(Outcome::Refused(shown)) => shown,
            Ok(Outcome::Unusable(why)) => {
                panics.push(format!("{url:?}: built, but would panic when used: {why}"));
                continue;
            }
            Ok(Outcome::NotBuilt(shown)) => {
                parsed += 1;
                shown
            }
            Ok(Outcome::Built(backend, shown)) => {
                parsed += 1;
                built[backend] += 1;
                shown
            }
            Ok(Outcome::BuildRefused(backend, shown)) => {
                parsed += 1;
                refused[backend] += 1;
                shown
            }
        };
        if !mutated && shown.contains(SECRET) {
            leaks.push(format!("{url:?}: {shown}"));
        }
    }
    let _ = std::panic::take_hook();
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd back");
    assert!(
        panics.is_empty(),
        "seed {seed}: {} of {cases} URLs panicked, such as:\n{}",
        panics.len(),
        panics[..panics.len().min(20)].join("\n")
    );
    assert!(
        leaks.is_empty(),
        "seed {seed}: a secret shown for {} URLs, such as:\n{}",
        leaks.len(),
        leaks[..leaks.len().min(20)].join("\n")
    );
    eprintln!(
        "seed {seed}: {cases} URLs, {parsed} parsed; built (memory, file, nfs, s3): {built:?}, refused by the \
         builder: {refused:?}"
    );
    // The builders ran, on every backend, and refused some settings the parser let through: not just the parser.
    for (backend, least) in [cases / 100, cases / 100, cases / 200, cases / 500]
        .into_iter()
        .enumerate()
    {
        assert!(
            built[backend] + refused[backend] >= least,
            "too few builds: built {built:?}, refused {refused:?}"
        );
    }
    assert!(refused.iter().sum::<usize>() > 0, "no build was refused");
}
