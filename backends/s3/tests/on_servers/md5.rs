//! Every S3 write records the MD5 of its content in object metadata (`x-amz-meta-md5chksum`, base64, as rclone
//! writes it), single-part and multipart alike, on real Garage and moto servers: boto3 reads the record back, and
//! `stat`/`get` report it, where a listing knows the MD5 of single-part objects only (their ETag).

use std::sync::Arc;

use futures_util::TryStreamExt;
use storages_core::{Content, Md5, Name, PutMode, Storage};
use storages_testkit::s3::{Peer, shared_garage, shared_moto, unique};

/// Parts of the smallest size S3 allows, so that 6 MiB make a multipart upload.
const PART_SIZE: usize = 5 * 1024 * 1024;

struct Target {
    storage: Arc<dyn Storage>,
    peer: Peer,
    bucket: String,
    prefix: String,
}

fn garage() -> Target {
    let g = shared_garage();
    let prefix = unique("md5");
    Target {
        storage: build(&format!(
            "{}&part_size={PART_SIZE}",
            g.settings_url(&prefix)
        )),
        peer: Peer::garage(g),
        bucket: g.bucket().to_owned(),
        prefix,
    }
}

fn moto() -> Target {
    let m = shared_moto();
    let bucket = unique("md5");
    m.create_bucket(&bucket);
    let prefix = unique("md5");
    Target {
        storage: build(&format!(
            "{}&part_size={PART_SIZE}",
            m.settings_url(&bucket, &prefix)
        )),
        peer: Peer::moto(m),
        bucket,
        prefix,
    }
}

fn build(url: &str) -> Arc<dyn Storage> {
    crate::open(url)
}

impl Target {
    /// `[ETag, md5chksum record, ContentType, CacheControl]` as boto3 reads them.
    fn head(&self, name: &str) -> serde_json::Value {
        let out = self.peer.boto3(
            "h = s3.head_object(Bucket=args[0], Key=args[1])\n\
             print(json.dumps([h['ETag'], h['Metadata'].get('md5chksum'), h.get('ContentType'), h.get('CacheControl')]))",
            &[&self.bucket, &format!("{}/{name}", self.prefix)],
        );
        serde_json::from_str(&out).expect("json")
    }
}

fn base64(md5: Md5) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(md5.as_bytes())
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn single_and_multipart_puts_record_their_md5(t: Target) {
    let small = bytes(1, 1000);
    let big = bytes(2, 6 * 1024 * 1024 + 7);
    for (name, data) in [("a/small.css", &small), ("a/big.bin", &big)] {
        let stored = t
            .storage
            .put(
                &Name::new(name).expect("name"),
                // A stream of unknown length: the MD5 is computed while it is sent, not from bytes at hand.
                Content::from_stream(futures_util::stream::iter(
                    data.chunks(100_000)
                        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                        .collect::<Vec<_>>(),
                ))
                .with_cache_control("public, max-age=60"),
                PutMode::Overwrite,
            )
            .await
            .expect("put");
        assert_eq!(stored.content_md5, Some(Md5::of(data)), "{name}");
        let head = t.head(name);
        assert_eq!(head[1], base64(Md5::of(data)), "{name}: {head}");
        assert_eq!(head[3], "public, max-age=60", "{name} keeps its headers");
        let stat = t
            .storage
            .stat(&Name::new(name).expect("name"))
            .await
            .expect("stat");
        assert_eq!(stat.content_md5, Some(Md5::of(data)), "stat {name}");
        assert_eq!(stat.cache_control.as_deref(), Some("public, max-age=60"));
    }
    assert_eq!(t.head("a/small.css")[2], "text/css");
    let listed: Vec<storages_core::Metadata> =
        t.storage.list(None).try_collect().await.expect("list");
    assert_eq!(listed.len(), 2);
    for meta in listed {
        // The listing has the ETag only: the MD5 of single-part objects. A multipart object's ETag is none on
        // Garage; moto gives the copy that records the MD5 a plain one.
        match meta.name.as_str() {
            "a/small.css" => assert_eq!(meta.content_md5, Some(Md5::of(&small))),
            _ => assert!(
                meta.content_md5.is_none() || meta.content_md5 == Some(Md5::of(&big)),
                "listing of {}: {:?}",
                meta.name,
                meta.content_md5
            ),
        }
    }
}

#[tokio::test]
async fn garage_single_and_multipart_puts_record_their_md5() {
    let t = garage();
    let (peer, bucket, prefix) = (t.peer.clone(), t.bucket.clone(), t.prefix.clone());
    single_and_multipart_puts_record_their_md5(t).await;
    let etag = peer.boto3(
        "print(s3.head_object(Bucket=args[0], Key=args[1])['ETag'])",
        &[&bucket, &format!("{prefix}/a/big.bin")],
    );
    assert!(
        etag.contains('-'),
        "6 MiB in 5 MiB parts is a multipart object: {etag}"
    );
}

#[tokio::test]
async fn moto_single_and_multipart_puts_record_their_md5() {
    single_and_multipart_puts_record_their_md5(moto()).await;
}

#[tokio::test]
async fn a_record_written_by_another_tool_is_read() {
    // rclone (and boto3 here) write the record on multipart uploads; stat reads it whoever wrote it.
    let t = garage();
    let data = bytes(3, 6 * 1024 * 1024);
    let path = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(path.path(), &data).expect("write");
    t.peer.boto3(
        "from boto3.s3.transfer import TransferConfig\n\
         s3.upload_file(args[0], args[1], args[2], ExtraArgs={'Metadata': {'md5chksum': args[3]}}, \
         Config=TransferConfig(multipart_threshold=5*1024*1024, multipart_chunksize=5*1024*1024))",
        &[
            &path.path().display().to_string(),
            &t.bucket,
            &format!("{}/other.bin", t.prefix),
            &base64(Md5::of(&data)),
        ],
    );
    let stat = t
        .storage
        .stat(&Name::new("other.bin").expect("name"))
        .await
        .expect("stat");
    assert_eq!(stat.content_md5, Some(Md5::of(&data)));
}
