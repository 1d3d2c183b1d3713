//! Writes: content up to one part in a single PUT, anything larger as a multipart upload (`upload.rs`), each object
//! with its content type, `Cache-Control` and the MD5 record of its bytes.

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use futures_util::stream::StreamExt;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
};
use storages_core::{Content, Error, Md5, Md5Hasher, Metadata, Name, Result, parse_header_value};

use crate::admin::replace_metadata;
use crate::storage::S3Storage;
use crate::upload::{Head, Plan, multipart, read_head};

/// The user metadata key (`x-amz-meta-md5chksum`) holding the base64 MD5 of an object's content, written with every
/// object, so that multipart objects (whose ETag is no MD5) compare by content too. rclone's key and encoding:
/// each tool reads what the other wrote.
pub(crate) const MD5_RECORD: &str = "md5chksum";

/// CopyObject's limit: larger objects cannot get their MD5 record by a copy onto themselves.
const COPY_LIMIT: u64 = 5 << 30;

/// What a write stored.
pub(crate) struct Written {
    pub(crate) name: Name,
    pub(crate) size: u64,
    pub(crate) etag: Option<String>,
    /// The MD5 of what was sent (`None` only if it could not be known).
    pub(crate) md5: Option<Md5>,
}

impl Written {
    /// The stored object's metadata, from what was sent (`attributes`) and what the server answered: no second
    /// request.
    pub(crate) fn metadata(self, attributes: &Attributes) -> Metadata {
        let attribute = |key: &Attribute| attributes.get(key).map(|v| v.as_ref().to_owned());
        Metadata {
            name: self.name,
            size: self.size,
            modified: Some(SystemTime::now()),
            etag: self.etag,
            content_type: attribute(&Attribute::ContentType),
            cache_control: attribute(&Attribute::CacheControl),
            content_md5: self.md5,
        }
    }
}

impl S3Storage {
    /// Reads `content` for `name` up to the first part boundary, and the attributes the object is sent with: its
    /// content type, `Cache-Control`, and (when all of it is read already) its MD5 record.
    pub(crate) async fn outgoing<'a>(
        &self,
        name: &Name,
        content: Content<'a>,
    ) -> Result<(Head<'a>, Attributes)> {
        let content_type = content.content_type_for(name);
        let mut attributes = self.attributes(content_type, content.cache_control())?;
        let part_size = self.config().part_size;
        let head = match content.as_bytes() {
            Some(bytes) if bytes.len() <= part_size => Head::Whole(PutPayload::from(bytes.clone())),
            _ => {
                let (stream, _) = content
                    .into_stream()
                    .await
                    .map_err(|e| Error::io("read the content for", name.as_str(), e))?;
                read_head(stream, part_size)
                    .await
                    .map_err(|e| Error::io("read the content for", name.as_str(), e))?
            }
        };
        if let Head::Whole(payload) = &head {
            // All of it is here before the request: its MD5 goes with it.
            attributes.insert(
                Attribute::Metadata(MD5_RECORD.into()),
                md5_record(hash_payload(payload).finish()).into(),
            );
        }
        Ok((head, attributes))
    }

    /// The object's attributes: its content type, and the content's own `Cache-Control` before the storage's.
    /// The attributes are sent as headers: a value no header can carry is refused here, as object_store would
    /// panic on it.
    fn attributes(&self, content_type: String, cache_control: Option<&str>) -> Result<Attributes> {
        let mut attributes = Attributes::new();
        parse_header_value(
            "content_type",
            &content_type,
            "a content type such as image/png",
        )?;
        attributes.insert(Attribute::ContentType, content_type.into());
        if let Some(cc) = cache_control.or(self.config().common.cache_control.as_deref()) {
            parse_header_value("cache_control", cc, "a Cache-Control value")?;
            attributes.insert(Attribute::CacheControl, cc.to_owned().into());
        }
        Ok(attributes)
    }

    /// Writes the whole `head` (and the rest of its stream) under `name`, replacing what is there.
    pub(crate) async fn write(
        &self,
        name: &Name,
        head: Head<'_>,
        attributes: &Attributes,
    ) -> Result<Written> {
        let path = self.key(name.as_str());
        match head {
            Head::Whole(payload) => {
                let size = payload.content_length() as u64;
                let options = PutOptions {
                    attributes: attributes.clone(),
                    ..PutOptions::default()
                };
                let done = self
                    .store
                    .put_opts(&path, payload, options)
                    .await
                    .map_err(|e| self.error("write", name.as_str(), e))?;
                Ok(Written {
                    name: name.clone(),
                    size,
                    etag: done.e_tag,
                    md5: recorded_md5(attributes),
                })
            }
            Head::Partial(first, rest) => {
                // Hashed as the parts are cut, in order: the MD5 is known when the upload completes.
                let hasher = Arc::new(std::sync::Mutex::new(hash_payload(&first)));
                let hashing = Arc::clone(&hasher);
                let rest = rest
                    .inspect(move |chunk| {
                        if let Ok(c) = chunk {
                            lock(&hashing).update(c);
                        }
                    })
                    .boxed();
                let options = PutMultipartOptions {
                    attributes: attributes.clone(),
                    ..PutMultipartOptions::default()
                };
                let plan = Plan {
                    store: &self.store,
                    bucket: &self.config().bucket,
                    path: &path,
                    options,
                    part_size: self.config().part_size,
                    concurrency: self.config().upload_concurrency,
                };
                let done = multipart(plan, first, rest)
                    .await
                    .map_err(|failed| self.upload_error(name, failed))?;
                let hasher = std::mem::take(&mut *lock(&hasher));
                let (size, md5) = (hasher.len(), hasher.finish());
                let etag = self
                    .record_md5(&path, size, done.e_tag, md5, attributes)
                    .await;
                Ok(Written {
                    name: name.clone(),
                    size,
                    etag,
                    md5: Some(md5),
                })
            }
        }
    }

    /// Gives a completed multipart object its MD5 record, which could not be sent when the upload began (the
    /// content had not been read yet): a server-side copy onto itself with the object's attributes and the record,
    /// made only while the object still has the ETag the upload got, so a concurrent write is never given our
    /// hash. The upload is stored either way: when the copy fails (or the object is over CopyObject's 5 GiB), it
    /// stays without a record, and a comparison by content reads it or sends it again. Returns the object's ETag
    /// afterwards.
    async fn record_md5(
        &self,
        path: &Path,
        size: u64,
        etag: Option<String>,
        md5: Md5,
        attributes: &Attributes,
    ) -> Option<String> {
        let uploaded = etag.clone()?;
        if size > COPY_LIMIT {
            return etag;
        }
        let record = md5_record(md5);
        let key = format!("x-amz-meta-{MD5_RECORD}");
        let mut headers: Vec<(&str, &str)> = vec![(key.as_str(), record.as_str())];
        for (key, value) in attributes {
            match key {
                Attribute::ContentType => headers.push(("content-type", value.as_ref())),
                Attribute::CacheControl => headers.push(("cache-control", value.as_ref())),
                _ => {}
            }
        }
        let answer = replace_metadata(
            &self.store,
            &self.http,
            self.config(),
            path.as_ref(),
            &uploaded,
            &headers,
        )
        .await;
        match answer {
            // A copy can fail after its 200 has been sent: the body then holds an <Error>.
            Ok(answer) if answer.is_success() && !answer.body.contains("<Error>") => {
                copied_etag(&answer.body).or(etag)
            }
            _ => etag,
        }
    }
}

/// The MD5 of a payload read whole, and the hasher to go on with.
fn hash_payload(payload: &PutPayload) -> Md5Hasher {
    let mut hasher = Md5Hasher::new();
    for chunk in payload {
        hasher.update(chunk);
    }
    hasher
}

fn lock(hasher: &std::sync::Mutex<Md5Hasher>) -> std::sync::MutexGuard<'_, Md5Hasher> {
    // A panic while hashing leaves a hasher of no use, and the upload it belongs to fails anyway.
    hasher
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The MD5 record's value: base64 of the 16 bytes, as rclone writes it.
fn md5_record(md5: Md5) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5.as_bytes())
}

/// The MD5 a record's value holds, if it is one.
pub(crate) fn md5_from_record(value: &str) -> Option<Md5> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    Some(Md5::from_bytes(bytes.try_into().ok()?))
}

/// The MD5 record among the attributes a write sends.
pub(crate) fn recorded_md5(attributes: &Attributes) -> Option<Md5> {
    md5_from_record(
        attributes
            .get(&Attribute::Metadata(MD5_RECORD.into()))?
            .as_ref(),
    )
}

/// The ETag in a CopyObject answer (`<CopyObjectResult><ETag>"..."</ETag>...`).
fn copied_etag(body: &str) -> Option<String> {
    let start = body.find("<ETag>")? + "<ETag>".len();
    let end = start + body[start..].find("</ETag>")?;
    Some(body[start..end].replace("&quot;", "\""))
}
