//! The asset trees the collectstatic tests collect, written by the tests, and Django's `collectstatic` to compare
//! with.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use storages::collect::Source;

/// Writes `content` at `root/name`, creating directories.
pub fn write(root: &Path, name: &str, content: impl AsRef<[u8]>) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create directories");
    std::fs::write(&path, content).expect("write a fixture file");
}

/// `len` bytes from a fixed seed: images and fonts that compress badly, as real ones do.
pub fn binary(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// The main CSS: every kind of reference Django rewrites or leaves alone.
pub const APP_CSS: &str = r#"@charset "utf-8";
@import "base.css";
@import url('vendor/reset.css');
@import url(theme/dark.css) screen and (prefers-color-scheme: dark);
@IMPORT 'fonts.css';
body { background: url(../img/bg.png) no-repeat; }
.logo { background-image: url("../img/logo.svg"); }
.icon { background: url(' ../img/icon.png'); }
.spaced { background: URL(  ../img/bg.png  ); }
.photo { background: url("../img/my%20photo.png"); }
.cafe { background: url(../img/caf%C3%A9.png), url('../img/café.png'); }
.sprite { fill: url(../img/sprite.svg#icon-home); }
.frag { behavior: url(#default#VML); }
.data { background: url(data:image/png;base64,iVBORw0KGgo=); }
.data2 { background: url("data:image/svg+xml;charset=utf8,%3Csvg xmlns='http://www.w3.org/2000/svg'%3E%3C/svg%3E"); }
.abs { background: url(https://example.com/x.png); }
.proto { background: url(//cdn.example.com/y.png); }
.root { background: url(/static/img/bg.png); }
.other-root { background: url(/media/z.png); }
.query { background: url(../img/bg.png?v=3); }
.dir { background: url(../img/); }
.empty { background: url(); }
/* a comment: url(../img/icon.png) */
/*# sourceMappingURL=app.css.map */
"#;

/// The CSS files an image change reaches: they reference `img/bg.png` directly or through `@import`.
pub const CSS_USING_BG: &[&str] = &[
    "css/app.css",
    "css/base.css",
    "css/vendor/reset.css",
    "css/theme/dark.css",
];

/// A fixture tree Django collects without error: three sources (the second under the prefix `vendor`, the third
/// holding a duplicate of a name of the first), files Django ignores by default, nested CSS imports three levels
/// deep, fonts with `?#iefix`, source maps in CSS and JS (with LF and CRLF line ends), a JS module import (left
/// alone), names with spaces and accents.
pub fn tree(root: &Path) -> Vec<Source> {
    let assets = root.join("assets");
    write(&assets, "css/app.css", APP_CSS);
    write(
        &assets,
        "css/app.css.map",
        r#"{"version":3,"sources":["app.scss"],"mappings":""}"#,
    );
    write(
        &assets,
        "css/base.css",
        "html { background: url('../img/bg.png'); }\n",
    );
    write(
        &assets,
        "css/vendor/reset.css",
        "@import \"../base.css\";\n* { margin: 0; }\n",
    );
    write(
        &assets,
        "css/theme/dark.css",
        "body { background: url(\"../../img/bg.png\") #000; }\n",
    );
    write(
        &assets,
        "css/fonts.css",
        "@font-face {\n  font-family: \"Icons\";\n  src: url('../fonts/icons.eot');\n  \
         src: url('../fonts/icons.eot?#iefix') format('embedded-opentype'),\n       \
         url(\"../fonts/icons.woff2?v=1#iefix\") format('woff2'),\n       \
         url(../fonts/icons.woff) format('woff'),\n       \
         url(../fonts/icons.ttf#Icons) format('truetype');\n}\n",
    );
    write(
        &assets,
        "css/print.css",
        "body { color: black; }\r\n/*# sourceMappingURL=print.css.map */\r\n",
    );
    write(&assets, "css/print.css.map", "{}");
    write(
        &assets,
        "js/app.js",
        "import { helper } from \"./module.js\";\nexport const x = helper();\n//# sourceMappingURL=app.js.map\n",
    );
    write(
        &assets,
        "js/app.js.map",
        r#"{"version":3,"sources":["app.ts"],"mappings":""}"#,
    );
    write(
        &assets,
        "js/module.js",
        "export function helper() { return 1; }\n",
    );
    write(
        &assets,
        "js/crlf.js",
        "var a = 1;\r\n//# sourceMappingURL=crlf.js.map\r\n",
    );
    write(&assets, "js/crlf.js.map", "{}");
    write(&assets, "img/bg.png", binary(1, 20_000));
    write(&assets, "img/icon.png", binary(2, 3_000));
    write(&assets, "img/my photo.png", binary(3, 1_000));
    write(&assets, "img/café.png", binary(4, 1_500));
    write(
        &assets,
        "img/logo.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"10\" height=\"10\"/></svg>\n"
            .repeat(20),
    );
    write(
        &assets,
        "img/sprite.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><symbol id=\"icon-home\"/></svg>\n",
    );
    for (i, ext) in ["eot", "woff2", "woff", "ttf"].iter().enumerate() {
        write(
            &assets,
            &format!("fonts/icons.{ext}"),
            binary(10 + i as u64, 4_000),
        );
    }
    write(&assets, "robots.txt", "User-agent: *\n".repeat(10));
    write(&assets, ".hidden", "ignored");
    write(&assets, "notes.txt~", "ignored");
    write(&assets, "CVS/Entries", "ignored");

    let vendor = root.join("vendor");
    write(
        &vendor,
        "lib/lib.css",
        ".lib { background: url(../img/x.png); }\n",
    );
    write(&vendor, "img/x.png", binary(20, 2_000));

    let extra = root.join("extra");
    write(&extra, "css/base.css", "html { color: red; }\n");
    write(&extra, "extra.txt", "from the third source\n");

    vec![
        Source::new(assets),
        Source::with_prefix("vendor", vendor),
        Source::new(extra),
    ]
}

/// A tree whose only CSS references a file that does not exist.
pub fn missing_tree(root: &Path) -> Vec<Source> {
    let assets = root.join("assets");
    write(&assets, "img/ok.png", binary(30, 100));
    write(
        &assets,
        "css/broken.css",
        "a { background: url(../img/ok.png); }\nb { background: url(\"../img/nope.png\"); }\n",
    );
    vec![Source::new(assets)]
}

/// A tree whose CSS files import each other in a loop.
pub fn cycle_tree(root: &Path) -> Vec<Source> {
    let assets = root.join("assets");
    write(&assets, "css/a.css", "@import \"b.css\";\n");
    write(&assets, "css/b.css", "@import url(sub/c.css);\n");
    write(&assets, "css/sub/c.css", "@import \"../a.css\";\n");
    write(&assets, "css/ok.css", "x { color: red; }\n");
    vec![Source::new(assets)]
}

/// Every file under `root`, by its `/`-separated path inside it.
pub fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let entry = entry.expect("a directory entry");
            let name = entry.file_name().into_string().expect("a UTF-8 name");
            let path = prefix.to_owned() + &name;
            if entry.file_type().expect("a file type").is_dir() {
                walk(&entry.path(), &format!("{path}/"), out);
            } else {
                out.insert(path, std::fs::read(entry.path()).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

/// The virtualenv's Python with Django 5.2 installed (`scripts/test` installs it).
pub fn django_python() -> PathBuf {
    let python = crate::support::s3::python();
    let check = Command::new(&python)
        .args([
            "-c",
            "import django, sys; sys.exit(0 if django.VERSION[:2] == (5, 2) else 1)",
        ])
        .output()
        .expect("run python");
    assert!(
        check.status.success(),
        "{} has no Django 5.2: run scripts/test, which installs django>=5.2,<5.3 into the test virtualenv",
        python.display()
    );
    python
}

/// Runs Django's `collectstatic --noinput` with `ManifestStaticFilesStorage` (or `storage`, a dotted backend path
/// with its OPTIONS as Python source) on `sources` into `static_root`, from a settings module written into `work`.
pub fn run_django(
    work: &Path,
    sources: &[Source],
    static_root: &Path,
    storage: Option<(&str, &str)>,
) -> std::process::Output {
    let dirs: Vec<String> = sources
        .iter()
        .map(|s| match &s.prefix {
            Some(prefix) => format!("({prefix:?}, {:?})", s.dir.display().to_string()),
            None => format!("{:?}", s.dir.display().to_string()),
        })
        .collect();
    let (backend, options) = storage.unwrap_or((
        "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
        "{}",
    ));
    let settings = format!(
        "SECRET_KEY = \"collectstatic-parity\"\nDEBUG = False\nUSE_TZ = True\n\
         INSTALLED_APPS = [\"django.contrib.staticfiles\"]\nSTATIC_URL = \"/static/\"\nSTATIC_ROOT = {root:?}\n\
         STATICFILES_DIRS = [{dirs}]\n\
         STORAGES = {{\"default\": {{\"BACKEND\": \"django.core.files.storage.FileSystemStorage\"}}, \
         \"staticfiles\": {{\"BACKEND\": {backend:?}, \"OPTIONS\": {options}}}}}\n",
        root = static_root.display().to_string(),
        dirs = dirs.join(", "),
    );
    std::fs::create_dir_all(work).expect("create the settings directory");
    std::fs::write(work.join("collect_parity_settings.py"), settings)
        .expect("write the Django settings");
    Command::new(django_python())
        .args(["-m", "django", "collectstatic", "--noinput", "-v", "0"])
        .env("DJANGO_SETTINGS_MODULE", "collect_parity_settings")
        .env("PYTHONPATH", work)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(work)
        .output()
        .expect("run Django's collectstatic")
}
