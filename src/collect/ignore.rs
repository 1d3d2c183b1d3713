//! Ignore patterns, matched as Django matches them: Python's `fnmatch.fnmatchcase`, where `*` crosses `/`, `?` is
//! one character and `[...]`/`[!...]` a set, tried on a file's base name and on its path inside the source
//! directory, and on a directory's base name.

use super::pyurl::normpath;

/// The patterns Django's staticfiles app ignores unless told not to.
pub const DEFAULT_IGNORE: &[&str] = &["CVS", ".*", "*~"];

/// A set of compiled fnmatch patterns.
#[derive(Debug, Clone, Default)]
pub(crate) struct IgnorePatterns {
    patterns: Vec<Vec<Token>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    AnyChar,
    Star,
    /// Matches when the character is in one of the ranges, or, when negated, in none of them.
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl IgnorePatterns {
    /// Compiles `patterns`, each normalised as Django does (`os.path.normpath`), duplicates dropped.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        let mut seen: Vec<String> = Vec::new();
        for pattern in patterns {
            let normal = normpath(pattern);
            if !seen.contains(&normal) {
                seen.push(normal);
            }
        }
        Self {
            patterns: seen.iter().map(|p| compile(p)).collect(),
        }
    }

    /// Whether any pattern matches all of `text`.
    pub fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        self.patterns.iter().any(|p| matches(p, &chars))
    }
}

fn compile(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' => tokens.push(Token::AnyChar),
            '[' => {
                // As fnmatch.translate: `!` negates, a `]` right after the opening (or `[!`) is literal, and a
                // `[` without its `]` is a literal `[`.
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    tokens.push(Token::Char('['));
                    continue;
                }
                let mut body = &chars[i..j];
                i = j + 1;
                let negated = body.first() == Some(&'!');
                if negated {
                    body = &body[1..];
                }
                let mut ranges = Vec::new();
                let mut k = 0;
                while k < body.len() {
                    if k + 2 < body.len() && body[k + 1] == '-' {
                        // A reversed range (`z-a`) matches nothing, as in Python.
                        if body[k] <= body[k + 2] {
                            ranges.push((body[k], body[k + 2]));
                        }
                        k += 3;
                    } else {
                        ranges.push((body[k], body[k]));
                        k += 1;
                    }
                }
                tokens.push(Token::Set { negated, ranges });
            }
            other => tokens.push(Token::Char(other)),
        }
    }
    tokens
}

/// Glob matching with backtracking to the last `*`, linear in practice.
fn matches(tokens: &[Token], text: &[char]) -> bool {
    let (mut t, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < text.len() {
        let one = match tokens.get(t) {
            Some(Token::Char(c)) => *c == text[s],
            Some(Token::AnyChar) => true,
            Some(Token::Set { negated, ranges }) => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&text[s])) != *negated
            }
            Some(Token::Star) => {
                star = Some((t, s));
                t += 1;
                continue;
            }
            None => false,
        };
        if one {
            t += 1;
            s += 1;
        } else if let Some((star_t, star_s)) = star {
            t = star_t + 1;
            s = star_s + 1;
            star = Some((star_t, star_s + 1));
        } else {
            return false;
        }
    }
    tokens[t..].iter().all(|token| *token == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_fnmatchcase() {
        let defaults = IgnorePatterns::new(DEFAULT_IGNORE.iter().copied());
        assert!(defaults.matches(".git"));
        assert!(defaults.matches("app.css~"));
        assert!(defaults.matches("CVS"));
        assert!(!defaults.matches("cvs"));
        assert!(!defaults.matches("app.css"));
        let star = IgnorePatterns::new(["vendor/*.map"]);
        assert!(star.matches("vendor/a/b.map"), "* crosses /");
        assert!(!star.matches("vendor.map"));
        let sets = IgnorePatterns::new(["[!a]?.txt", "x[", "[]]"]);
        assert!(sets.matches("b1.txt") && !sets.matches("a1.txt"));
        assert!(sets.matches("x[") && sets.matches("]"));
        assert!(
            IgnorePatterns::new(["./build/"]).matches("build"),
            "patterns are normalised"
        );
    }
}
