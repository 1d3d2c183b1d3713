//! Direct uploads: the app checks a browser's request and answers with a presigned `PUT`, so the bytes go from the
//! browser straight into object storage (as Rails' Active Storage does), never through the app.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use storages_core::naming::{Alternatives, Claim};
use storages_core::{Error, Name, Storage, StorageExt};

use super::Body;
use super::upload::{UploadError, UploadOptions};

/// What the browser asks for: `{"file_name": "cat.png", "size": 12345}` (`size` optional).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectUploadRequest {
    /// The name of the file the user picked.
    pub file_name: String,
    /// Its size in bytes, checked against the limit when given.
    #[serde(default)]
    pub size: Option<u64>,
}

/// The answer: send the file's bytes with `method` to `url`, with exactly `headers`, within `expires_in` seconds;
/// it will be stored as `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectUploadTicket {
    /// The name the file will have in the storage.
    pub name: String,
    /// The HTTP method (`PUT`).
    pub method: String,
    /// The presigned URL.
    pub url: String,
    /// Headers the request must carry (they are signed).
    pub headers: BTreeMap<String, String>,
    /// Seconds the URL stays valid.
    pub expires_in: u64,
}

/// Checks `request` against `options` like a multipart upload (cleaned name, type, extension, size), picks a free
/// name (the cleaned one, else `stem_XXXXXXX.ext`), and asks the storage for a presigned `PUT` of it.
///
/// The free name is checked, not reserved: two tickets asked for in the same instant can get the same name, and
/// the later upload replaces the earlier. A presigned `PUT` does not bound the size the browser sends; the size
/// given here is only checked against the limit. A storage failure is logged once here, with its cause.
pub async fn direct_upload(
    storage: &dyn Storage,
    request: &DirectUploadRequest,
    options: &UploadOptions,
) -> Result<DirectUploadTicket, UploadError> {
    let ticket = sign(storage, request, options).await;
    if let Err(error) = &ticket {
        error.report("direct_upload", storage.backend());
    }
    ticket
}

async fn sign(
    storage: &dyn Storage,
    request: &DirectUploadRequest,
    options: &UploadOptions,
) -> Result<DirectUploadTicket, UploadError> {
    let max_len = storage.options().max_name_len;
    let (name, content_type) = options.name_for(&request.file_name, max_len)?;
    if request
        .size
        .is_some_and(|size| size > options.max_file_size)
    {
        return Err(UploadError::TooLarge {
            file: name.file_name().to_owned(),
            limit: options.max_file_size,
        });
    }
    let name = free_name(storage, name, max_len).await?;
    let expires = options.direct_expires;
    let signed = storage
        .direct_upload(&name, &content_type, expires)
        .await
        .map_err(|e| match e {
            Error::Unsupported { backend, .. } => UploadError::DirectUnsupported { backend },
            source => UploadError::Storage {
                file: name.to_string(),
                source,
            },
        })?;
    Ok(DirectUploadTicket {
        name: name.to_string(),
        method: signed.method,
        url: signed.url,
        headers: signed.headers.into_iter().collect(),
        expires_in: expires.as_secs(),
    })
}

/// [`direct_upload`] for a request body of JSON, answered as JSON (`200`) or as the error's plain text.
pub async fn direct_upload_response(
    storage: &dyn Storage,
    body: &Bytes,
    options: &UploadOptions,
) -> Result<Response<Body>, UploadError> {
    let request: DirectUploadRequest =
        serde_json::from_slice(body).map_err(|e| UploadError::BadRequest(e.to_string()))?;
    let ticket = direct_upload(storage, &request, options).await?;
    let json = serde_json::to_vec(&ticket).map_err(|e| UploadError::BadRequest(e.to_string()))?;
    let mut response = Response::new(Body::from_bytes(json));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn free_name(storage: &dyn Storage, name: Name, max_len: usize) -> Result<Name, UploadError> {
    let checked = Alternatives::new(name.clone(), max_len)
        .first_free_async(|candidate| async move {
            match storage.exists(&candidate).await {
                Ok(true) => Ok(Claim::Taken),
                Ok(false) => Ok(Claim::Done(Ok(candidate))),
                // A failed check ends the search and is reported with the candidate checked.
                Err(e) => Ok(Claim::Done(Err((candidate, e)))),
            }
        })
        .await;
    let (file, source) = match checked {
        Ok(Ok(free)) => return Ok(free),
        Ok(Err((candidate, source))) => (candidate, source),
        // No candidate left, or none fits the length limit.
        Err(source) => (name, source),
    };
    Err(UploadError::Storage {
        file: file.to_string(),
        source,
    })
}
