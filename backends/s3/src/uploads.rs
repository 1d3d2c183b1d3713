//! Incomplete multipart uploads on the server: listing them (ListMultipartUploads, which object_store does not
//! make) and aborting one by key and id, for cleaning up after processes that died mid-upload.

use std::time::{Duration, SystemTime};

use futures_util::stream::StreamExt;

use http::Method;
use object_store::aws::AmazonS3;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use storages_core::{Error, Result};

use crate::S3Config;
use crate::admin::{bucket_request, object_request, query_string};
use crate::storage::S3Storage;

/// Aborts in flight at once when cleaning incomplete uploads.
const CLEAN_CONCURRENCY: usize = 8;

/// What cleaning incomplete uploads did: the uploads it aborted and the ones it could not (it goes on past them).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct UploadsCleaned {
    /// Aborted uploads, sorted by key.
    pub aborted: Vec<AbortedUpload>,
    /// Uploads the server would not abort, each error naming the upload.
    pub failed: Vec<Error>,
}

/// An incomplete multipart upload that cleaning aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortedUpload {
    /// The object key it would have created (the storage's prefix included).
    pub key: String,
    /// The id the server gave it.
    pub upload_id: String,
    /// How long before the cleaning it was started.
    pub age: Duration,
}

/// A multipart upload that was started and neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IncompleteUpload {
    /// The object key it would create (the storage's prefix included).
    pub(crate) key: String,
    /// The id the server gave it.
    pub(crate) upload_id: String,
    /// When it was started, by the server's clock.
    pub(crate) initiated: SystemTime,
}

impl IncompleteUpload {
    /// How long before `now` it was started (zero when the server's clock is ahead).
    pub(crate) fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.initiated).unwrap_or_default()
    }
}

/// The most uploads one answer holds; the server may give fewer.
const PAGE: &str = "1000";

/// Every incomplete upload whose key starts with `prefix`, following the listing's pages to the end.
pub(crate) async fn list(
    store: &AmazonS3,
    http: &reqwest::Client,
    config: &S3Config,
    prefix: &str,
) -> Result<Vec<IncompleteUpload>> {
    let mut found = Vec::new();
    let mut marker: Option<(String, String)> = None;
    loop {
        let mut query = vec![
            ("encoding-type", "url"),
            ("max-uploads", PAGE),
            ("prefix", prefix),
            ("uploads", ""),
        ];
        if let Some((key, upload_id)) = &marker {
            query.push(("key-marker", key));
            query.push(("upload-id-marker", upload_id));
        }
        let answer = bucket_request(
            store,
            http,
            config,
            Method::GET,
            &query_string(&query),
            bytes::Bytes::new(),
        )
        .await?;
        if !answer.is_success() {
            return Err(answer.refused(config, "list the multipart uploads in"));
        }
        let page = parse_page(&answer.body).map_err(|why| Error::Backend {
            backend: "s3",
            message: format!(
                "the server at {} answered ListMultipartUploads for bucket `{}` with {why}",
                config.endpoint_shown(),
                config.bucket
            ),
            source: None,
        })?;
        found.extend(page.uploads);
        match page.next {
            // A server that repeats its marker would have us ask forever.
            Some(next) if marker.as_ref() != Some(&next) => marker = Some(next),
            Some(_) => {
                return Err(Error::Backend {
                    backend: "s3",
                    message: format!(
                        "the server at {} repeated its ListMultipartUploads marker for bucket `{}`",
                        config.endpoint_shown(),
                        config.bucket
                    ),
                    source: None,
                });
            }
            None => return Ok(found),
        }
    }
}

/// Aborts the upload `upload_id` of `key`: `Ok(true)` when aborted, `Ok(false)` when it was already gone.
pub(crate) async fn abort(
    store: &AmazonS3,
    http: &reqwest::Client,
    config: &S3Config,
    key: &str,
    upload_id: &str,
) -> Result<bool> {
    let answer = object_request(
        store,
        http,
        config,
        Method::DELETE,
        key,
        &[("uploadId", upload_id)],
    )
    .await?;
    match answer.status {
        200..300 => Ok(true),
        404 => Ok(false),
        _ => Err(answer.refused(
            config,
            &format!("abort multipart upload {upload_id} of `{key}` in"),
        )),
    }
}

impl S3Storage {
    /// Aborts the incomplete multipart uploads under this storage's prefix that were started at least
    /// `older_than` ago, and nothing else: uploads under other prefixes of the bucket and objects are never
    /// touched. They are what a process killed mid-upload (or one whose abort could not reach the server) leaves;
    /// pick an age longer than your longest upload, or a live one is cut off. The bucket is neither created nor
    /// changed.
    pub async fn clean_incomplete_uploads(&self, older_than: Duration) -> Result<UploadsCleaned> {
        let prefix = match self.config().prefix.as_str() {
            "" => String::new(),
            prefix => format!("{prefix}/"),
        };
        let now = SystemTime::now();
        let found = list(&self.store, &self.http, self.config(), &prefix).await?;
        // The server filters by prefix already; checked again so that no answer makes us touch other keys.
        let old = found
            .into_iter()
            .filter(|u| u.key.starts_with(&prefix) && u.age(now) >= older_than);
        let outcomes: Vec<_> = futures_util::stream::iter(old)
            .map(|upload| async move {
                let outcome = abort(
                    &self.store,
                    &self.http,
                    self.config(),
                    &upload.key,
                    &upload.upload_id,
                )
                .await;
                (upload, outcome)
            })
            .buffer_unordered(CLEAN_CONCURRENCY)
            .collect()
            .await;
        let mut report = UploadsCleaned::default();
        for (upload, outcome) in outcomes {
            match outcome {
                Ok(true) => report.aborted.push(AbortedUpload {
                    age: upload.age(now),
                    key: upload.key,
                    upload_id: upload.upload_id,
                }),
                // Completed or aborted meanwhile by its own writer: nothing left to clean.
                Ok(false) => {}
                Err(e) => report.failed.push(e),
            }
        }
        report
            .aborted
            .sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        Ok(report)
    }
}

/// One answer of ListMultipartUploads: its uploads, and the markers of the next page when there is one.
#[derive(Debug, PartialEq)]
struct Page {
    uploads: Vec<IncompleteUpload>,
    next: Option<(String, String)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListMultipartUploadsResult {
    #[serde(default)]
    encoding_type: Option<String>,
    #[serde(default)]
    is_truncated: Option<String>,
    #[serde(default)]
    next_key_marker: Option<String>,
    #[serde(default)]
    next_upload_id_marker: Option<String>,
    #[serde(default, rename = "Upload")]
    uploads: Vec<UploadEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadEntry {
    key: String,
    upload_id: String,
    initiated: String,
}

/// Reads one ListMultipartUploads answer. Keys come percent-encoded when the server honoured
/// `encoding-type=url` (so that any byte survives XML) and as they are otherwise.
fn parse_page(xml: &str) -> std::result::Result<Page, String> {
    let result: ListMultipartUploadsResult =
        quick_xml::de::from_str(xml).map_err(|e| format!("XML that does not parse: {e}"))?;
    let encoded = result.encoding_type.as_deref() == Some("url");
    let decode = |text: String| -> std::result::Result<String, String> {
        if !encoded {
            return Ok(text);
        }
        percent_decode_str(&text)
            .decode_utf8()
            .map(|k| k.into_owned())
            .map_err(|_| format!("a key that is not UTF-8 once decoded: {text:?}"))
    };
    let mut uploads = Vec::with_capacity(result.uploads.len());
    for entry in result.uploads {
        let initiated = chrono::DateTime::parse_from_rfc3339(&entry.initiated).map_err(|e| {
            format!(
                "an Initiated time that is not RFC 3339 ({e}): {:?}",
                entry.initiated
            )
        })?;
        uploads.push(IncompleteUpload {
            key: decode(entry.key)?,
            upload_id: entry.upload_id,
            initiated: SystemTime::from(initiated),
        });
    }
    let truncated = result
        .is_truncated
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("true"));
    let next = if truncated {
        let key = result.next_key_marker.filter(|k| !k.is_empty());
        let Some(key) = key else {
            return Err("IsTruncated but no NextKeyMarker".to_owned());
        };
        let upload_id = result.next_upload_id_marker.unwrap_or_default();
        Some((decode(key)?, upload_id))
    } else {
        None
    };
    Ok(Page { uploads, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        SystemTime::from(chrono::DateTime::parse_from_rfc3339(rfc3339).expect("time"))
    }

    #[test]
    fn a_last_page_gives_its_uploads_and_no_marker() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <Prefix>media/</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>
  <Upload><Key>media/a &amp; b.bin</Key><UploadId>id-1</UploadId>
    <Initiator><ID>x</ID><DisplayName>y</DisplayName></Initiator><Owner><ID>x</ID></Owner>
    <StorageClass>STANDARD</StorageClass><Initiated>2024-05-01T10:00:00.000Z</Initiated></Upload>
  <Upload><Key>media/c.bin</Key><UploadId>id-2</UploadId><Initiated>2024-05-01T11:00:00Z</Initiated></Upload>
</ListMultipartUploadsResult>"#;
        let page = parse_page(xml).expect("parse");
        assert_eq!(page.next, None);
        assert_eq!(
            page.uploads,
            vec![
                IncompleteUpload {
                    key: "media/a & b.bin".into(),
                    upload_id: "id-1".into(),
                    initiated: at("2024-05-01T10:00:00Z"),
                },
                IncompleteUpload {
                    key: "media/c.bin".into(),
                    upload_id: "id-2".into(),
                    initiated: at("2024-05-01T11:00:00Z"),
                },
            ]
        );
    }

    #[test]
    fn url_encoded_keys_and_markers_are_decoded_only_when_the_answer_says_so() {
        let xml = r#"<ListMultipartUploadsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <NextKeyMarker>media/%C3%A9%20x</NextKeyMarker><NextUploadIdMarker>id-9</NextUploadIdMarker>
  <Upload><Key>media/%C3%A9%20x</Key><UploadId>id-9</UploadId><Initiated>2024-05-01T10:00:00Z</Initiated></Upload>
</ListMultipartUploadsResult>"#;
        let page = parse_page(xml).expect("parse");
        assert_eq!(page.uploads[0].key, "media/é x");
        assert_eq!(page.next, Some(("media/é x".into(), "id-9".into())));

        let raw = xml.replace("<EncodingType>url</EncodingType>", "");
        let page = parse_page(&raw).expect("parse");
        assert_eq!(page.uploads[0].key, "media/%C3%A9%20x");
    }

    #[test]
    fn an_empty_listing_and_broken_answers() {
        let empty = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
        assert_eq!(
            parse_page(empty).expect("parse"),
            Page {
                uploads: vec![],
                next: None
            }
        );
        let no_marker = "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated></ListMultipartUploadsResult>";
        assert!(
            parse_page(no_marker)
                .expect_err("no marker")
                .contains("NextKeyMarker")
        );
        let bad_time = "<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>i</UploadId>\
                        <Initiated>yesterday</Initiated></Upload></ListMultipartUploadsResult>";
        assert!(
            parse_page(bad_time)
                .expect_err("bad time")
                .contains("yesterday")
        );
        assert!(parse_page("<html>").is_err());
    }

    #[test]
    fn age_is_zero_for_a_server_clock_ahead_of_ours() {
        let upload = IncompleteUpload {
            key: "k".into(),
            upload_id: "i".into(),
            initiated: at("2024-05-01T10:00:00Z"),
        };
        assert_eq!(
            upload.age(at("2024-05-01T10:00:30Z")),
            Duration::from_secs(30)
        );
        assert_eq!(upload.age(at("2024-05-01T09:00:00Z")), Duration::ZERO);
    }
}
