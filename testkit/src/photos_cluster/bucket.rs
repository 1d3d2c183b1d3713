//! What is in the bucket, as boto3 (an independent client) lists it: objects and incomplete multipart uploads.

use crate::s3::Peer;

/// An object: its key and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The key (the storage's prefix included).
    pub key: String,
    /// Bytes.
    pub size: u64,
}

/// A multipart upload the bucket lists as incomplete: the key it would create, its id, and whether the server
/// knows it when asked for its parts.
///
/// Garage can list an upload it completed: a node that was killed before it received the completion (the write
/// quorum of 2 had answered without it) keeps the upload's old state and serves it in listings, while
/// `ListParts` and `AbortMultipartUpload` on its id answer `NoSuchUpload`. Such a listed upload holds nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenUpload {
    /// The key.
    pub key: String,
    /// The upload id.
    pub id: String,
    /// Whether `ListParts` finds it (`false`: `NoSuchUpload`, a completed upload still listed).
    pub exists: bool,
}

/// Every object under `prefix/`, following the listing's pages.
pub fn objects(peer: &Peer, bucket: &str, prefix: &str) -> Vec<Object> {
    let listed = peer.boto3(
        "pages = s3.get_paginator('list_objects_v2').paginate(Bucket=args[0], Prefix=args[1])\n\
         for page in pages:\n    for o in page.get('Contents', []):\n        print(o['Size'], o['Key'])",
        &[bucket, &format!("{prefix}/")],
    );
    listed
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(size, key)| Object {
            key: key.to_owned(),
            size: size.parse().expect("a size"),
        })
        .collect()
}

/// Every multipart upload listed under `prefix/` as started and neither completed nor aborted, each asked for its
/// parts (read only) to tell the real ones from completed ones still listed.
pub fn open_uploads(peer: &Peer, bucket: &str, prefix: &str) -> Vec<OpenUpload> {
    let listed = peer.boto3(
        "pages = s3.get_paginator('list_multipart_uploads').paginate(Bucket=args[0], Prefix=args[1])\n\
         for page in pages:\n    for u in page.get('Uploads', []):\n\
         \x20       try:\n\
         \x20           s3.list_parts(Bucket=args[0], Key=u['Key'], UploadId=u['UploadId'])\n\
         \x20           exists = 'yes'\n\
         \x20       except s3.exceptions.NoSuchUpload:\n\
         \x20           exists = 'no'\n\
         \x20       print(exists, u['UploadId'], u['Key'])",
        &[bucket, &format!("{prefix}/")],
    );
    listed
        .lines()
        .filter_map(|line| {
            let (exists, rest) = line.split_once(' ')?;
            let (id, key) = rest.split_once(' ')?;
            Some(OpenUpload {
                key: key.to_owned(),
                id: id.to_owned(),
                exists: exists == "yes",
            })
        })
        .collect()
}
