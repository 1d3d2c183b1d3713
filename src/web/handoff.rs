//! Hand-off delivery, as django-sendfile2 does it: the app checks the request (a valid name, an existing file, and
//! whatever authorization it wants) and answers with an empty body and one header naming the file, and the front
//! server sends the bytes itself (with `sendfile`, its own ranges and validators).
//!
//! - nginx: `X-Accel-Redirect: /prefix/<percent-encoded name>`, where `/prefix/` is an `internal` location whose
//!   `alias` is the storage's root. nginx decodes the URI once and refuses `..` in it; the name sent is always a
//!   validated [`Name`](storages_core::Name), percent-encoded except for letters, digits, `-._~` and `/`.
//! - Apache `mod_xsendfile`, lighttpd: `X-Sendfile: /absolute/path`, from
//!   [`Storage::local_path`](storages_core::Storage::local_path), percent-encoded the same way (both servers
//!   decode it: mod_xsendfile's `XSendFileUnescape` is on by default).
//!
//! Only storages with local paths (`file:`, `nfs:`) can hand files off.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::str::FromStr;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use storages_core::{Name, Storage};

use super::Delivery;

/// Which front server takes the file, and how it is named to it. Build one with [`HandOff::x_accel_redirect`] or
/// [`HandOff::x_sendfile`], or parse a [`Delivery`] from text.
#[derive(Clone, PartialEq, Eq)]
pub struct HandOff {
    header: Header,
}

#[derive(Clone, PartialEq, Eq)]
enum Header {
    /// nginx: the internal location's prefix, with its trailing `/`.
    XAccelRedirect { prefix: String },
    /// Apache `mod_xsendfile`, lighttpd: the file's absolute path.
    XSendfile,
}

impl HandOff {
    /// nginx's `X-Accel-Redirect: <prefix><name>`. `prefix` is the path of an `internal` location, such as
    /// `/protected-media/` (a missing trailing `/` is added); it must start with `/` and hold only visible ASCII
    /// without `%`, `?`, `#` or a `..` segment.
    pub fn x_accel_redirect(prefix: &str) -> Result<Self, DeliveryError> {
        let refuse = |reason| DeliveryError::Prefix {
            prefix: prefix.to_owned(),
            reason,
        };
        if !prefix.starts_with('/') {
            return Err(refuse("it must start with `/`"));
        }
        if !prefix.bytes().all(|b| b.is_ascii_graphic()) || prefix.contains(['%', '?', '#']) {
            return Err(refuse(
                "only visible ASCII without `%`, `?` or `#` is allowed",
            ));
        }
        if prefix.split('/').any(|segment| segment == "..") {
            return Err(refuse("it must not hold a `..` segment"));
        }
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(Self {
            header: Header::XAccelRedirect { prefix },
        })
    }

    /// `X-Sendfile: <absolute path>`, for Apache's `mod_xsendfile` and lighttpd.
    pub fn x_sendfile() -> Self {
        Self {
            header: Header::XSendfile,
        }
    }

    /// The header's name.
    pub fn header_name(&self) -> HeaderName {
        HeaderName::from_static(match self.header {
            Header::XAccelRedirect { .. } => "x-accel-redirect",
            Header::XSendfile => "x-sendfile",
        })
    }

    /// Refuses a storage that has no local paths: the front server could not find its files.
    pub fn check(&self, storage: &dyn Storage) -> Result<(), DeliveryError> {
        if storage.capabilities().local_paths {
            Ok(())
        } else {
            Err(self.no_local_paths(storage))
        }
    }

    fn no_local_paths(&self, storage: &dyn Storage) -> DeliveryError {
        DeliveryError::NoLocalPaths {
            header: match self.header {
                Header::XAccelRedirect { .. } => "X-Accel-Redirect",
                Header::XSendfile => "X-Sendfile",
            },
            backend: storage.backend(),
        }
    }

    /// The header that hands `name` (validated, checked to exist) to the front server.
    pub(crate) fn header(
        &self,
        storage: &dyn Storage,
        name: &Name,
    ) -> Result<(HeaderName, HeaderValue), DeliveryError> {
        let value = match &self.header {
            Header::XAccelRedirect { prefix } => {
                // nginx's alias names the same directory as the storage's root: there must be one.
                self.check(storage)?;
                storages_core::public_url(prefix, name)
            }
            // A storage without local paths gives none.
            Header::XSendfile => {
                let path = storage
                    .local_path(name)
                    .ok_or_else(|| self.no_local_paths(storage))?;
                storages_core::encode_path(path.as_os_str().as_bytes())
            }
        };
        // Percent-encoded text is visible ASCII, always a valid header value.
        let value = HeaderValue::try_from(value).map_err(|_| DeliveryError::NoHeader {
            name: name.to_string(),
        })?;
        Ok((self.header_name(), value))
    }
}

impl fmt::Debug for HandOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.header {
            Header::XAccelRedirect { prefix } => write!(f, "HandOff::XAccelRedirect({prefix})"),
            Header::XSendfile => f.write_str("HandOff::XSendfile"),
        }
    }
}

/// A delivery that cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The text names no delivery.
    #[error(
        "unknown delivery `{0}`: expected `proxy`, `redirect`, `redirect:SECONDS`, `x-accel:/PREFIX/` or `x-sendfile`"
    )]
    Unknown(String),
    /// The seconds of `redirect:SECONDS` are not a whole number above zero.
    #[error("invalid redirect expiry `{0}`: expected whole seconds above zero")]
    Expires(String),
    /// An `X-Accel-Redirect` prefix that cannot name an nginx location.
    #[error("invalid X-Accel-Redirect prefix `{prefix}`: {reason}")]
    Prefix {
        /// The prefix given.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The storage keeps no files on this machine, so a front server cannot send them.
    #[error(
        "{header} hands files to the front server by their path, and this {backend} storage has none: use a file: or nfs: storage, or another delivery"
    )]
    NoLocalPaths {
        /// The header that needs them.
        header: &'static str,
        /// The storage's backend.
        backend: &'static str,
    },
    /// The header could not be built for this name (never expected: the value is percent-encoded).
    #[error("no hand-off header can name `{name}`")]
    NoHeader {
        /// The name.
        name: String,
    },
}

/// `proxy`, `redirect`, `redirect:SECONDS` (a signed URL valid that long), `x-accel:/PREFIX/` (also
/// `x-accel-redirect:/PREFIX/`) or `x-sendfile`: the text of a setting such as the photo apps'
/// `PHOTOS_MEDIA_DELIVERY`.
impl FromStr for Delivery {
    type Err = DeliveryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, value) = match text.split_once(':') {
            Some((kind, value)) => (kind, Some(value)),
            None => (text, None),
        };
        match (kind.trim().to_ascii_lowercase().as_str(), value) {
            ("proxy", None) => Ok(Self::Proxy),
            ("redirect", None) => Ok(Self::Redirect { expires: None }),
            ("redirect", Some(seconds)) => match seconds.trim().parse::<u64>() {
                Ok(seconds) if seconds > 0 => Ok(Self::Redirect {
                    expires: Some(Duration::from_secs(seconds)),
                }),
                _ => Err(DeliveryError::Expires(seconds.to_owned())),
            },
            ("x-accel" | "x-accel-redirect", Some(prefix)) => {
                HandOff::x_accel_redirect(prefix.trim()).map(Self::HandOff)
            }
            ("x-sendfile", None) => Ok(Self::HandOff(HandOff::x_sendfile())),
            _ => Err(DeliveryError::Unknown(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_parse_from_their_setting_text() {
        assert_eq!("proxy".parse::<Delivery>().unwrap(), Delivery::Proxy);
        assert_eq!(
            "redirect:600".parse::<Delivery>().unwrap(),
            Delivery::Redirect {
                expires: Some(Duration::from_secs(600))
            }
        );
        assert_eq!(
            "x-accel:/protected-media".parse::<Delivery>().unwrap(),
            Delivery::HandOff(HandOff::x_accel_redirect("/protected-media/").unwrap())
        );
        assert_eq!(
            "X-Sendfile".parse::<Delivery>().unwrap(),
            Delivery::HandOff(HandOff::x_sendfile())
        );
    }

    #[test]
    fn bad_delivery_text_is_refused_naming_the_value() {
        for (text, expected) in [
            ("sendfile", "unknown delivery `sendfile`"),
            ("x-accel", "unknown delivery `x-accel`"),
            ("redirect:0", "invalid redirect expiry `0`"),
            ("redirect:soon", "invalid redirect expiry `soon`"),
            (
                "x-accel:protected/",
                "prefix `protected/`: it must start with `/`",
            ),
            ("x-accel:/a b/", "prefix `/a b/`: only visible ASCII"),
            ("x-accel:/a?b/", "prefix `/a?b/`: only visible ASCII"),
            ("x-accel:/%2e%2e/", "prefix `/%2e%2e/`: only visible ASCII"),
            (
                "x-accel:/media/../etc/",
                "prefix `/media/../etc/`: it must not hold",
            ),
        ] {
            let error = text.parse::<Delivery>().expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
