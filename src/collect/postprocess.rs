//! Hashed names and reference rewriting, as Django's `ManifestStaticFilesStorage.post_process` computes them.
//!
//! Every collected file gets a copy named `name.<first 12 hex of md5>.ext`. CSS `url(...)` and `@import` references
//! and `sourceMappingURL` comments in CSS and JS are rewritten to the hashed names of the files they point at, and a
//! CSS or JS file's own hash is taken of its content after rewriting, so a file must wait for the files it
//! references. Django repeats whole passes until nothing changes (at most five more); here the files are ordered by
//! their references first, so one pass normally settles everything, a cycle is found and named before any work, and
//! a further pass runs only where the order proved incomplete. The result is the same fixed point Django reaches.
//!
//! The patterns and the way each reference is resolved follow Django 5.2 step by step (with
//! `support_js_module_import_aggregation = False`, its default: JS `import` statements are left alone), including
//! its quirks, so that the rewritten files are byte-identical to Django's.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::error::{CollectError, MissingReference};
use super::pyurl::{
    join, joined_last_segment, normpath, py_strip, quote_path, split, unquote, urldefrag, urlsplit,
    urlunsplit,
};
use crate::statics::{insert_hash, short_hash};
use storages_core::Md5;

/// Python's `\s` as a character class (Rust's `\s` leaves out U+001C..U+001F).
const PY_SPACE: &str = r"[\t\n\x0B\x0C\r\x1C-\x1F \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]";

/// How a matched reference is written back.
#[derive(Debug, Clone, Copy)]
enum Template {
    /// `url("%(url)s")`, Django's default template.
    Url,
    /// `@import url("%(url)s")`.
    Import,
    /// `/*# sourceMappingURL=%(url)s */`.
    CssSourceMap,
    /// `//# sourceMappingURL=%(url)s`.
    JsSourceMap,
}

impl Template {
    fn render(self, url: &str) -> String {
        match self {
            Self::Url => format!("url(\"{url}\")"),
            Self::Import => format!("@import url(\"{url}\")"),
            Self::CssSourceMap => format!("/*# sourceMappingURL={url} */"),
            Self::JsSourceMap => format!("//# sourceMappingURL={url}"),
        }
    }
}

#[derive(Debug)]
struct Pattern {
    regex: Regex,
    template: Template,
}

fn pattern(regex: &str, template: Template) -> Pattern {
    // The patterns are constants, checked by the tests.
    #[allow(clippy::expect_used)]
    let regex = Regex::new(regex).expect("a valid reference pattern");
    Pattern { regex, template }
}

/// Django's `patterns` for `*.css`, compiled case-insensitively as Django compiles them.
static CSS_PATTERNS: LazyLock<[Pattern; 3]> = LazyLock::new(|| {
    [
        pattern(
            &format!(r#"(?i)(?P<matched>url\(['"]{{0,1}}{PY_SPACE}*(?P<url>.*?)["']{{0,1}}\))"#),
            Template::Url,
        ),
        pattern(
            &format!(r#"(?i)(?P<matched>@import{PY_SPACE}*["']{PY_SPACE}*(?P<url>.*?)["'])"#),
            Template::Import,
        ),
        pattern(
            r"(?im)^(?P<matched>/\*#[ \t](?-i:sourceMappingURL)=(?P<url>.*)[ \t]*\*/)$",
            Template::CssSourceMap,
        ),
    ]
});

/// Django's `patterns` for `*.js`.
static JS_PATTERNS: LazyLock<[Pattern; 1]> = LazyLock::new(|| {
    [pattern(
        r"(?im)^(?P<matched>//# (?-i:sourceMappingURL)=(?P<url>.*))$",
        Template::JsSourceMap,
    )]
});

/// Whether Django post-processes a file of this name (`fnmatchcase(path, "*.css")` or `"*.js"`).
pub(crate) fn is_adjustable(name: &str) -> bool {
    name.ends_with(".css") || name.ends_with(".js")
}

fn patterns_for(name: &str) -> &'static [Pattern] {
    if name.ends_with(".css") {
        &CSS_PATTERNS[..]
    } else {
        &JS_PATTERNS[..]
    }
}

/// One collected file as post-processing sees it.
#[derive(Debug)]
pub(crate) struct FileInput<'a> {
    /// The collected name.
    pub name: &'a str,
    /// The MD5 of its original content.
    pub md5: Md5,
    /// Its original text, for CSS and JS files.
    pub text: Option<&'a str>,
}

/// What post-processing settles.
#[derive(Debug)]
pub(crate) struct PostProcessed {
    /// The hashed name of each file, in input order.
    pub hashed: Vec<String>,
    /// The rewritten content of each CSS/JS file and its MD5, in input order (`None` for the others).
    pub rewritten: Vec<Option<(String, Md5)>>,
    /// References kept unchanged because their file is missing (only when not strict).
    pub missing: Vec<MissingReference>,
}

/// Settings of post-processing.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Django's `STATIC_URL`: root-relative references under it are resolved, other root-relative ones are left.
    pub static_url: Option<String>,
    /// Refuse references to missing files (otherwise keep them unchanged and report them).
    pub strict: bool,
    /// Passes after the first before giving up (Django: 5).
    pub max_passes: usize,
}

/// `hashed_name(name, content)`: `name` split as a URL, `.<hash>` put before the extension of its path (the rule of
/// [`crate::statics::hashed_name`]), a `?` kept for the `?#iefix` font hack.
fn hashed_name(name: &str, hash12: &str) -> String {
    let mut parsed = urlsplit(&unquote(name));
    let clean = py_strip(&parsed.path).to_owned();
    let (dir, file_name) = split(&clean);
    parsed.path = join(dir, &insert_hash(file_name, hash12));
    if name.contains("?#") && parsed.query.is_empty() {
        parsed.path.push('?');
    }
    urlunsplit(&parsed)
}

/// The hashed name of a file published as it is (not post-processed): its name with its content's hash.
pub(crate) fn hashed_name_of(name: &str, md5: &Md5) -> String {
    hashed_name(name, &short_hash(md5))
}

/// The outcome of one reference.
enum Conversion {
    Unchanged,
    Replaced(String),
    Missing(String),
}

/// The state every reference is resolved against.
struct Resolver<'a> {
    files: &'a [FileInput<'a>],
    index: HashMap<&'a str, usize>,
    dirs: HashSet<&'a str>,
    adjustable: Vec<bool>,
    hashed: Vec<String>,
    settled: Vec<bool>,
    settings: &'a Settings,
}

impl<'a> Resolver<'a> {
    fn new(files: &'a [FileInput<'a>], settings: &'a Settings) -> Self {
        let index = files.iter().enumerate().map(|(i, f)| (f.name, i)).collect();
        let mut dirs = HashSet::new();
        for file in files {
            let mut name = file.name;
            while let Some((dir, _)) = name.rsplit_once('/') {
                if !dirs.insert(dir) {
                    break;
                }
                name = dir;
            }
        }
        let adjustable: Vec<bool> = files.iter().map(|f| f.text.is_some()).collect();
        let hashed = files
            .iter()
            .map(|f| hashed_name(f.name, &short_hash(&f.md5)))
            .collect();
        let settled = adjustable.iter().map(|a| !a).collect();
        Self {
            files,
            index,
            dirs,
            adjustable,
            hashed,
            settled,
            settings,
        }
    }

    /// Django's `url_converter` for a reference `url` in file `source`.
    fn convert(&self, source: &str, url: &str, deps: &mut Vec<usize>) -> Conversion {
        // Absolute and protocol-relative URLs and data URIs (`re.match(r"^[a-z]+:", url)`, case-sensitive).
        let letters = url.bytes().take_while(u8::is_ascii_lowercase).count();
        if (letters > 0 && url.as_bytes().get(letters) == Some(&b':')) || url.starts_with("//") {
            return Conversion::Unchanged;
        }
        let static_url = self.settings.static_url.as_deref();
        if url.starts_with('/') && !static_url.is_some_and(|s| url.starts_with(s)) {
            return Conversion::Unchanged;
        }
        let (url_path, fragment) = urldefrag(url);
        if url_path.is_empty() {
            return Conversion::Unchanged;
        }
        let target = if url_path.starts_with('/') {
            match static_url.and_then(|s| url_path.strip_prefix(s)) {
                Some(rest) => rest.to_owned(),
                None => return Conversion::Unchanged,
            }
        } else {
            join(split(source).0, &url_path)
        };
        let hashed_url = match self.url(&unquote(&target), deps) {
            Ok(url) => url,
            Err(resolved) => return Conversion::Missing(resolved),
        };
        let mut parts: Vec<&str> = url_path.split('/').collect();
        parts.pop();
        parts.push(hashed_url.rsplit('/').next().unwrap_or_default());
        let mut transformed = parts.join("/");
        if !fragment.is_empty() {
            transformed.push_str(if url.contains("?#") { "?#" } else { "#" });
            transformed.push_str(&fragment);
        }
        Conversion::Replaced(unquote(&transformed))
    }

    /// Django's `_url(_stored_name, name, force=True)`, of which only the part after the last `/` is used: the
    /// hashed name's last segment as `FileSystemStorage.url` quotes and joins it, with the `?` of `?#` and the
    /// fragment, unquoted. `Err` names what could not be found.
    fn url(&self, name: &str, deps: &mut Vec<usize>) -> Result<String, String> {
        let (clean_name, fragment) = urldefrag(name);
        let hashed = if urlsplit(&clean_name).path.ends_with('/') {
            name.to_owned()
        } else {
            self.stored_name(&clean_name, deps)?
        };
        let quoted = quote_path(&hashed);
        let mut tail = joined_last_segment(quoted.trim_start_matches('/')).to_owned();
        if name.contains("?#") {
            tail.push('?');
        }
        if !fragment.is_empty() {
            tail.push('#');
            tail.push_str(&fragment);
        }
        Ok(unquote(&tail))
    }

    /// `_stored_name`: the current hashed name of a collected file, else the name hashed from the original content
    /// of the file its path names (Django's `hashed_name` with no content, which is what references with a query
    /// string get).
    fn stored_name(&self, name: &str, deps: &mut Vec<usize>) -> Result<String, String> {
        let normal = normpath(name);
        if let Some(&i) = self.index.get(normal.as_str()) {
            if self.adjustable[i] {
                deps.push(i);
            }
            return Ok(self.hashed[i].clone());
        }
        let parsed = urlsplit(&unquote(&normal));
        let clean = py_strip(&parsed.path);
        let lookup = normpath(clean);
        if lookup == ".." || lookup.starts_with("../") || lookup.starts_with('/') {
            return Err(lookup);
        }
        match self.index.get(lookup.as_str()) {
            Some(&i) => Ok(hashed_name(&normal, &short_hash(&self.files[i].md5))),
            // A directory exists but cannot be opened: Django leaves the name as it is.
            None if lookup == "." || self.dirs.contains(lookup.as_str()) => Ok(normal),
            None => Err(lookup),
        }
    }

    /// The rewritten text of file `i`, the CSS/JS files it looked up and the references it could not resolve.
    fn rewrite(
        &self,
        i: usize,
        deps: &mut Vec<usize>,
        missing: &mut Vec<MissingReference>,
    ) -> String {
        let file = &self.files[i];
        let mut content = file.text.unwrap_or_default().to_owned();
        for pattern in patterns_for(file.name) {
            let replaced = pattern.regex.replace_all(&content, |caps: &Captures<'_>| {
                let matched = caps.name("matched").map_or("", |m| m.as_str());
                let url = caps.name("url").map_or("", |m| m.as_str());
                match self.convert(file.name, url, deps) {
                    Conversion::Unchanged => matched.to_owned(),
                    Conversion::Replaced(url) => pattern.template.render(&url),
                    Conversion::Missing(resolved) => {
                        missing.push(MissingReference {
                            file: file.name.to_owned(),
                            reference: url.to_owned(),
                            resolved,
                        });
                        matched.to_owned()
                    }
                }
            });
            if let std::borrow::Cow::Owned(replaced) = replaced {
                content = replaced;
            }
        }
        content
    }
}

/// Checks the references of `files` (all collected files by name; `text` set for CSS and JS, hashes unused): a
/// cycle is an error, and so, when strict, is a reference to a missing file. Cheap, and independent of every
/// other file's content, so it runs before anything is uploaded.
pub(crate) fn validate(files: &[FileInput<'_>], settings: &Settings) -> Result<(), CollectError> {
    let resolver = Resolver::new(files, settings);
    let (_, missing, _) = reference_order(&resolver)?;
    if settings.strict && !missing.is_empty() {
        return Err(CollectError::MissingReferences(missing));
    }
    Ok(())
}

/// Hashes and rewrites `files` (all collected files; `text` set for CSS and JS).
pub(crate) fn post_process(
    files: &[FileInput<'_>],
    settings: &Settings,
) -> Result<PostProcessed, CollectError> {
    let mut resolver = Resolver::new(files, settings);
    let (order, _, deps_of) = reference_order(&resolver)?;
    // Files whose references are all at lower levels: each level is rewritten in parallel.
    let mut level_of: HashMap<usize, usize> = HashMap::new();
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for &i in &order {
        let level = deps_of[&i]
            .iter()
            .filter_map(|d| level_of.get(d))
            .max()
            .map_or(0, |l| l + 1);
        level_of.insert(i, level);
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push(i);
    }
    let mut rewritten: Vec<Option<(String, Md5)>> = vec![None; files.len()];
    let mut missing_by_file: Vec<Vec<MissingReference>> = vec![Vec::new(); files.len()];
    let mut passes = 0;
    loop {
        for level in &levels {
            let todo: Vec<usize> = level
                .iter()
                .copied()
                .filter(|&i| !resolver.settled[i])
                .collect();
            let done = parallel_map(&todo, |i| {
                let mut deps = Vec::new();
                let mut missing = Vec::new();
                let content = resolver.rewrite(i, &mut deps, &mut missing);
                // Most JS (and some CSS) references nothing: its content, and so its hash, is the original's.
                let md5 = if files[i].text == Some(content.as_str()) {
                    files[i].md5
                } else {
                    Md5::of(content.as_bytes())
                };
                let hashed = hashed_name(files[i].name, &short_hash(&md5));
                (i, (content, md5), hashed, deps, missing)
            });
            // Settled only if every file it looked up was settled before this level (the order may be incomplete
            // in odd cases: then another pass runs).
            let settled: Vec<bool> = done
                .iter()
                .map(|(i, _, _, deps, _)| deps.iter().all(|&d| d != *i && resolver.settled[d]))
                .collect();
            for ((i, content, hashed, _, missing), settled) in done.into_iter().zip(settled) {
                resolver.hashed[i] = hashed;
                resolver.settled[i] = settled;
                rewritten[i] = Some(content);
                missing_by_file[i] = missing;
            }
        }
        if resolver.settled.iter().all(|s| *s) {
            break;
        }
        passes += 1;
        if passes > settings.max_passes {
            let mut unsettled: Vec<String> = order
                .iter()
                .filter(|&&i| !resolver.settled[i])
                .map(|&i| files[i].name.to_owned())
                .collect();
            unsettled.sort();
            return Err(CollectError::TooManyPasses {
                passes: settings.max_passes + 1,
                files: unsettled,
            });
        }
    }
    let mut missing: Vec<MissingReference> = missing_by_file.into_iter().flatten().collect();
    missing.sort_by(|a, b| (&a.file, &a.reference).cmp(&(&b.file, &b.reference)));
    missing.dedup();
    if settings.strict && !missing.is_empty() {
        return Err(CollectError::MissingReferences(missing));
    }
    Ok(PostProcessed {
        hashed: resolver.hashed,
        rewritten,
        missing,
    })
}

/// The CSS/JS files in an order where each comes after the files it references, found by resolving every reference
/// once, and the references to missing files; a reference cycle is an error naming its files.
type Order = (
    Vec<usize>,
    Vec<MissingReference>,
    HashMap<usize, Vec<usize>>,
);

fn reference_order(resolver: &Resolver<'_>) -> Result<Order, CollectError> {
    let adjustable: Vec<usize> = (0..resolver.files.len())
        .filter(|&i| resolver.adjustable[i])
        .collect();
    let scanned = parallel_map(&adjustable, |i| {
        let file = &resolver.files[i];
        let mut deps = Vec::new();
        let mut missing = Vec::new();
        // Each pattern on the original text: the references the real pass will resolve.
        for pattern in patterns_for(file.name) {
            for caps in pattern.regex.captures_iter(file.text.unwrap_or_default()) {
                let url = caps.name("url").map_or("", |m| m.as_str());
                if let Conversion::Missing(resolved) = resolver.convert(file.name, url, &mut deps) {
                    missing.push(MissingReference {
                        file: file.name.to_owned(),
                        reference: url.to_owned(),
                        resolved,
                    });
                }
            }
        }
        deps.sort_unstable();
        deps.dedup();
        (i, deps, missing)
    });
    let mut deps_of: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut missing = Vec::new();
    for (i, deps, found) in scanned {
        deps_of.insert(i, deps);
        missing.extend(found);
    }
    // Kahn's algorithm on "i waits for its dependencies".
    let mut waiting: HashMap<usize, usize> =
        adjustable.iter().map(|&i| (i, deps_of[&i].len())).collect();
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&i, deps) in &deps_of {
        for &d in deps {
            dependents.entry(d).or_default().push(i);
        }
    }
    let mut ready: Vec<usize> = adjustable
        .iter()
        .copied()
        .filter(|i| waiting[i] == 0)
        .collect();
    ready.reverse();
    let mut order = Vec::with_capacity(adjustable.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &dependent in dependents.get(&i).map_or(&[][..], Vec::as_slice) {
            if let Some(count) = waiting.get_mut(&dependent) {
                *count -= 1;
                if *count == 0 {
                    ready.push(dependent);
                }
            }
        }
    }
    if order.len() == adjustable.len() {
        missing.sort_by(|a, b| (&a.file, &a.reference).cmp(&(&b.file, &b.reference)));
        missing.dedup();
        return Ok((order, missing, deps_of));
    }
    // Every file left waits for another file left: following those references must come back to one of them.
    let done: HashSet<usize> = order.iter().copied().collect();
    let mut left: Vec<usize> = adjustable
        .iter()
        .copied()
        .filter(|i| !done.contains(i))
        .collect();
    left.sort_by_key(|&i| resolver.files[i].name);
    let mut path = vec![left[0]];
    loop {
        let current = path[path.len() - 1];
        let next = deps_of[&current]
            .iter()
            .copied()
            .find(|d| !done.contains(d))
            .unwrap_or(current);
        if let Some(start) = path.iter().position(|&p| p == next) {
            let mut cycle: Vec<String> = path[start..]
                .iter()
                .map(|&i| resolver.files[i].name.to_owned())
                .collect();
            cycle.push(resolver.files[next].name.to_owned());
            return Err(CollectError::ReferenceCycle(cycle));
        }
        path.push(next);
    }
}

/// `f` of every item, on as many threads as there are cores (in chunks, so each thread has real work), in order.
fn parallel_map<T: Send>(items: &[usize], f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len() / 16 + 1);
    if threads <= 1 {
        return items.iter().map(|&i| f(i)).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&i| f(i)).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(files: &[(&str, &str)], strict: bool) -> Result<PostProcessed, CollectError> {
        let inputs: Vec<FileInput<'_>> = files
            .iter()
            .map(|(name, content)| FileInput {
                name,
                md5: Md5::of(content.as_bytes()),
                text: is_adjustable(name).then_some(*content),
            })
            .collect();
        let settings = Settings {
            static_url: Some("/static/".into()),
            strict,
            max_passes: 5,
        };
        post_process(&inputs, &settings)
    }

    #[test]
    fn hashed_names_keep_the_extension_and_the_iefix_hack() {
        assert_eq!(
            hashed_name("css/app.css", "0123456789ab"),
            "css/app.0123456789ab.css"
        );
        assert_eq!(
            hashed_name("a.tar.gz", "0123456789ab"),
            "a.tar.0123456789ab.gz"
        );
        assert_eq!(
            hashed_name(".htaccess", "0123456789ab"),
            ".htaccess.0123456789ab"
        );
        assert_eq!(
            hashed_name("f/x.eot?#iefix", "0123456789ab"),
            "f/x.0123456789ab.eot?#iefix"
        );
        assert_eq!(
            hashed_name("f/x.woff?v=1", "0123456789ab"),
            "f/x.0123456789ab.woff?v=1"
        );
    }

    #[test]
    fn references_are_rewritten_as_django_does() {
        let done = run(
            &[
                ("img/a.png", "png"),
                (
                    "css/app.css",
                    "a{b:url('../img/a.png')} c{d:url(data:x)} e{f:url(#g)} @import \"x.css\";",
                ),
                ("css/x.css", "y{z:url(/static/img/a.png?#iefix)}"),
            ],
            true,
        )
        .unwrap();
        let png = hashed_name("a.png", &short_hash(&Md5::of(b"png")));
        let x = done.rewritten[2]
            .as_ref()
            .map(|(text, _)| text.as_str())
            .unwrap();
        assert_eq!(x, format!("y{{z:url(\"/static/img/{png}?#iefix\")}}"));
        let app = done.rewritten[1]
            .as_ref()
            .map(|(text, _)| text.as_str())
            .unwrap();
        let x_hashed = done.hashed[2].rsplit('/').next().unwrap();
        assert_eq!(
            app,
            format!(
                "a{{b:url(\"../img/{png}\")}} c{{d:url(data:x)}} e{{f:url(#g)}} @import url(\"{x_hashed}\");"
            )
        );
        assert_eq!(
            done.hashed[1],
            hashed_name("css/app.css", &short_hash(&Md5::of(app.as_bytes())))
        );
    }

    #[test]
    fn missing_references_fail_unless_not_strict() {
        let files = [("css/app.css", "a{b:url(nope.png)}")];
        let err = run(&files, true).unwrap_err().to_string();
        assert!(
            err.contains("`css/app.css` references `nope.png`, which resolves to `css/nope.png`"),
            "{err}"
        );
        let done = run(&files, false).unwrap();
        assert_eq!(
            done.rewritten[0].as_ref().map(|(text, _)| text.as_str()),
            Some("a{b:url(nope.png)}")
        );
        assert_eq!(done.missing.len(), 1);
    }

    #[test]
    fn cycles_are_named() {
        let files = [
            ("a.css", "@import 'b.css';"),
            ("b.css", "@import 'c.css';"),
            ("c.css", "@import 'a.css';"),
        ];
        let err = run(&files, true).unwrap_err().to_string();
        assert_eq!(err, "reference cycle: a.css -> b.css -> c.css -> a.css");
        let own = run(&[("a.css", "x{y:url(a.css)}")], true)
            .unwrap_err()
            .to_string();
        assert_eq!(own, "reference cycle: a.css -> a.css");
    }

    #[test]
    fn nesting_deeper_than_djangos_pass_limit_settles_in_one_ordered_pass() {
        // c39 imports c38 ... imports c0: forty levels, many files per level to rewrite in parallel.
        let mut files: Vec<(String, String)> = (0..40)
            .map(|i| {
                let text = if i == 0 {
                    "x{}".to_owned()
                } else {
                    format!("@import \"c{}.css\";", i - 1)
                };
                (format!("c{i}.css"), text)
            })
            .collect();
        files.extend((0..40).map(|i| (format!("leaf{i}.css"), format!("y{{z:url(c{i}.css)}}"))));
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let done = run(&borrowed, true).unwrap();
        // Each file holds the final hashed name of the one it references.
        for i in 1..40 {
            let referenced = done.hashed[i - 1].clone();
            assert_eq!(
                done.rewritten[i].as_ref().map(|(text, _)| text.as_str()),
                Some(format!("@import url(\"{referenced}\");").as_str())
            );
        }
        for i in 0..40 {
            let expected = format!("y{{z:url(\"{}\")}}", done.hashed[i]);
            assert_eq!(
                done.rewritten[40 + i]
                    .as_ref()
                    .map(|(text, _)| text.as_str()),
                Some(expected.as_str())
            );
        }
    }

    #[test]
    fn patterns_compile() {
        assert_eq!(CSS_PATTERNS.len() + JS_PATTERNS.len(), 4);
    }
}
