//! Django's rule for a taken name: `stem_<7 random alphanumerics>.ext`, within a length limit, and the one loop
//! every backend commits a create-only write through ([`Alternatives::first_free`]).

use std::future::Future;

use crate::{Error, Name, NameError, NameErrorKind, Result};

/// Files and objects a backend keeps for itself (temporary files of unfinished writes, probes) start their last
/// segment with this. [`Name`] refuses it in any segment, with [`NameErrorKind::Reserved`], so no caller reaches
/// them through any backend or entry point, and backends skip them when they parse listings.
pub const TEMP_PREFIX: &str = ".storages-tmp.";

/// Whether a segment is a backend's own temporary file or probe: cheap, for listings to skip such entries before
/// building a [`Name`] of them.
pub fn is_temp(file_name: &str) -> bool {
    file_name.starts_with(TEMP_PREFIX)
}

/// How many alternatives `save` tries before giving up (Django tries forever; a bound turns a broken backend into
/// an error instead of a hang).
pub const MAX_ATTEMPTS: u32 = 100;

/// The sequence of names `save` tries: the name itself, then `dir/stem_XXXXXXX.ext` with a fresh random part each
/// time, the stem cut so the whole fits `max_len`.
#[derive(Debug, Clone)]
pub struct Alternatives {
    original: Name,
    max_len: usize,
    /// Whether names other than the original may be tried (`false`: a taken original is an error).
    others: bool,
}

/// What one attempt to commit under a candidate name found (see [`Alternatives::first_free`]).
#[derive(Debug)]
pub enum Claim<T> {
    /// The candidate is taken and nothing was changed: the next one is tried.
    Taken,
    /// Committed under the candidate, with this outcome: no other candidate is tried.
    Done(T),
}

impl Alternatives {
    /// The alternatives for `original`, none longer than `max_len` bytes.
    pub fn new(original: Name, max_len: usize) -> Self {
        Self {
            original,
            max_len,
            others: true,
        }
    }

    /// The name itself and nothing else: when it is taken, the answer is [`Error::AlreadyExists`]. For
    /// [`PutMode::Create`](crate::PutMode::Create) through the code that serves both create-only modes.
    pub fn exactly(name: Name) -> Self {
        Self {
            original: name,
            max_len: usize::MAX,
            others: false,
        }
    }

    /// The name asked for.
    pub fn original(&self) -> &Name {
        &self.original
    }

    /// Candidate number `attempt`: 0 is the original (when it fits), later ones are random alternatives. Past
    /// [`MAX_ATTEMPTS`] the answer is [`Error::NoAvailableName`].
    pub fn candidate(&self, attempt: u32) -> Result<Name> {
        if attempt == 0 && self.original.as_str().len() <= self.max_len {
            return Ok(self.original.clone());
        }
        if !self.others {
            return Err(Error::AlreadyExists {
                name: self.original.to_string(),
            });
        }
        if attempt > MAX_ATTEMPTS {
            return Err(Error::NoAvailableName {
                name: self.original.to_string(),
                attempts: MAX_ATTEMPTS,
            });
        }
        let (root, ext) = self.original.split_extension();
        let dir_len = self.original.parent().map_or(0, |d| d.len() + 1);
        let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(7)
            .collect();
        let fixed = dir_len + 1 + suffix.len() + ext.len();
        let stem = &root[dir_len..];
        let room = self.max_len.saturating_sub(fixed);
        let stem = truncate_at_char(stem, room);
        if stem.is_empty() {
            let err = NameError::new(
                self.original.as_str(),
                NameErrorKind::TooLong {
                    len: self.original.as_str().len(),
                    max: self.max_len,
                },
            );
            return Err(err.into());
        }
        let name = format!("{}{stem}_{suffix}{ext}", &root[..dir_len]);
        Ok(Name::with_max_len(name, self.max_len)?)
    }
}

impl Alternatives {
    /// Commits under the first free candidate: `attempt` tries to commit under one candidate (atomically, or under
    /// whatever lock the backend holds) and answers [`Claim::Taken`] or [`Claim::Done`]; the candidates are tried
    /// in turn until one is done, `attempt` fails, or they run out ([`Error::NoAvailableName`]; for
    /// [`Alternatives::exactly`], [`Error::AlreadyExists`]).
    pub fn first_free<T>(&self, mut attempt: impl FnMut(Name) -> Result<Claim<T>>) -> Result<T> {
        let mut n = 0;
        loop {
            if let Claim::Done(done) = attempt(self.candidate(n)?)? {
                return Ok(done);
            }
            n += 1;
        }
    }

    /// [`Alternatives::first_free`] for an `attempt` that waits (a request to a server, a lock).
    pub async fn first_free_async<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut(Name) -> Fut,
        Fut: Future<Output = Result<Claim<T>>>,
    {
        let mut n = 0;
        loop {
            if let Claim::Done(done) = attempt(self.candidate(n)?).await? {
                return Ok(done);
            }
            n += 1;
        }
    }
}

fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_keep_dir_and_extensions() {
        let alts = Alternatives::new(Name::new("photos/cat.tar.gz").unwrap(), 1024);
        assert_eq!(alts.candidate(0).unwrap().as_str(), "photos/cat.tar.gz");
        let alt = alts.candidate(1).unwrap();
        let s = alt.as_str();
        assert!(
            s.starts_with("photos/cat_") && s.ends_with(".tar.gz"),
            "{s}"
        );
        assert_eq!(s.len(), "photos/cat_XXXXXXX.tar.gz".len());
        assert!(
            s["photos/cat_".len()..s.len() - 7]
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(alts.candidate(1).unwrap(), alts.candidate(2).unwrap());
    }

    #[test]
    fn alternatives_cut_the_stem_to_fit_max_length() {
        let alts = Alternatives::new(Name::new("d/abcdefghij.txt").unwrap(), 20);
        let alt = alts.candidate(1).unwrap();
        assert_eq!(alt.as_str().len(), 20, "{alt}");
        assert!(alt.as_str().starts_with("d/abcdef_"), "{alt}");
        // The original itself is too long: even attempt 0 gives a cut alternative.
        let alts = Alternatives::new(Name::new("d/abcdefghijklmnopqrstuvwxyz.txt").unwrap(), 20);
        assert_eq!(alts.candidate(0).unwrap().as_str().len(), 20);
    }

    #[test]
    fn first_free_commits_under_the_first_candidate_not_taken() {
        let alts = Alternatives::new(Name::new("d/cat.png").unwrap(), 100);
        let mut tried = Vec::new();
        let done = alts
            .first_free(|candidate| {
                tried.push(candidate.to_string());
                Ok(if tried.len() < 3 {
                    Claim::Taken
                } else {
                    Claim::Done(candidate)
                })
            })
            .unwrap();
        assert_eq!(tried.len(), 3, "{tried:?}");
        assert_eq!(tried[0], "d/cat.png");
        assert!(tried[1].starts_with("d/cat_") && tried[1].ends_with(".png"));
        assert_eq!(done.as_str(), tried[2]);
    }

    #[test]
    fn first_free_stops_at_the_first_error() {
        let alts = Alternatives::new(Name::new("cat.png").unwrap(), 100);
        let mut calls = 0;
        let outcome: Result<()> = alts.first_free(|candidate| {
            calls += 1;
            Err(Error::NotFound {
                name: candidate.to_string(),
            })
        });
        assert!(matches!(outcome, Err(Error::NotFound { name }) if name == "cat.png"));
        assert_eq!(calls, 1);
    }

    #[test]
    fn first_free_gives_up_when_every_candidate_is_taken() {
        let alts = Alternatives::new(Name::new("cat.png").unwrap(), 100);
        let mut calls = 0;
        let outcome: Result<()> = alts.first_free(|_| {
            calls += 1;
            Ok(Claim::Taken)
        });
        assert!(matches!(
            outcome,
            Err(Error::NoAvailableName {
                attempts: MAX_ATTEMPTS,
                ..
            })
        ));
        // The original and MAX_ATTEMPTS alternatives.
        assert_eq!(calls, MAX_ATTEMPTS + 1);
    }

    #[test]
    fn exactly_tries_the_name_alone_and_a_taken_name_already_exists() {
        let long = format!("{}.txt", "a".repeat(300));
        let alts = Alternatives::exactly(Name::new(&long).unwrap());
        let mut tried = Vec::new();
        let outcome: Result<()> = alts.first_free(|candidate| {
            tried.push(candidate);
            Ok(Claim::Taken)
        });
        assert!(matches!(outcome, Err(Error::AlreadyExists { name }) if name == long));
        assert_eq!(tried.len(), 1);
        assert_eq!(
            tried[0].as_str(),
            long,
            "no length limit cuts the name itself"
        );
    }

    #[tokio::test]
    async fn first_free_async_awaits_each_attempt_in_turn() {
        let alts = Alternatives::new(Name::new("cat.png").unwrap(), 100);
        let taken = std::sync::Mutex::new(vec!["cat.png".to_owned()]);
        let done = alts
            .first_free_async(|candidate| {
                let taken = &taken;
                async move {
                    tokio::task::yield_now().await;
                    let mut taken = taken.lock().unwrap();
                    if taken.contains(&candidate.to_string()) {
                        return Ok(Claim::Taken);
                    }
                    taken.push(candidate.to_string());
                    Ok(Claim::Done(candidate))
                }
            })
            .await
            .unwrap();
        assert!(done.as_str().starts_with("cat_"), "{done}");
        assert_eq!(taken.lock().unwrap().len(), 2);
    }

    #[test]
    fn no_room_for_a_stem_is_an_error() {
        let alts = Alternatives::new(Name::new("dir/x.txt").unwrap(), 14);
        assert!(matches!(alts.candidate(1), Err(Error::InvalidName(_))));
        let alts = Alternatives::new(Name::new("x").unwrap(), 100);
        assert!(matches!(
            alts.candidate(MAX_ATTEMPTS + 1),
            Err(Error::NoAvailableName { .. })
        ));
    }
}
