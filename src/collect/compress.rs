//! Precompressed siblings ([`Encoding`]: `app.css.gz`, `app.css.br`) for servers and CDNs that send them to browsers
//! that accept them, written only where they pay: at least 5% smaller, and never for formats that are compressed
//! already.

use std::io::{self, Read, Write};

use crate::statics::Encoding;

/// Extensions of formats that are compressed already: images, fonts, archives, audio and video. (SVG is text and
/// is compressed.)
const COMPRESSED_ALREADY: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "heif", "jxl", "ico", "woff", "woff2",
    "ttf", "otf", "eot", "zip", "gz", "tgz", "bz2", "tbz", "xz", "br", "zst", "7z", "rar", "jar",
    "pdf", "mp3", "mp4", "m4a", "m4v", "mov", "webm", "ogg", "ogv", "oga", "opus", "flac", "aac",
    "avi", "mkv", "mpeg", "mpg", "wmv", "flv", "3gp",
];

/// Whether a file of this name is worth trying to compress.
pub(crate) fn worth_trying(name: &str) -> bool {
    let file_name = name.rsplit('/').next().unwrap_or(name);
    match file_name.rsplit_once('.') {
        Some((_, ext)) => !COMPRESSED_ALREADY.contains(&ext.to_ascii_lowercase().as_str()),
        None => true,
    }
}

/// Whether `compressed` bytes save at least 5% of `original`.
pub(crate) fn pays(original: u64, compressed: u64) -> bool {
    compressed.saturating_mul(100) <= original.saturating_mul(95)
}

/// Compresses what `input` yields, read in chunks; the result is kept in memory (it is at most 95% of a text asset
/// when it is used at all). Deterministic: gzip without a name or time stamp, so unchanged files compress to
/// unchanged bytes and are skipped on the next run. Blocking.
pub(crate) fn compress(kind: Encoding, mut input: impl Read) -> io::Result<Vec<u8>> {
    match kind {
        Encoding::Gzip => {
            let mut encoder =
                flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
            io::copy(&mut input, &mut encoder)?;
            encoder.finish()
        }
        Encoding::Brotli => {
            let mut out = Vec::new();
            {
                let mut encoder = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
                io::copy(&mut input, &mut encoder)?;
                encoder.flush()?;
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_like_formats_are_tried() {
        assert!(
            worth_trying("css/app.css") && worth_trying("img/logo.svg") && worth_trying("LICENSE")
        );
        assert!(
            !worth_trying("img/a.PNG")
                && !worth_trying("fonts/x.woff2")
                && !worth_trying("a.tar.gz")
        );
    }

    #[test]
    fn compression_is_deterministic_and_decodes() {
        let text = "body { color: red; }\n".repeat(200);
        for kind in [Encoding::Gzip, Encoding::Brotli] {
            let once = compress(kind, text.as_bytes()).unwrap();
            assert_eq!(once, compress(kind, text.as_bytes()).unwrap());
            assert!(pays(text.len() as u64, once.len() as u64));
            let mut back = Vec::new();
            match kind {
                Encoding::Gzip => {
                    flate2::read::GzDecoder::new(&once[..])
                        .read_to_end(&mut back)
                        .unwrap();
                }
                Encoding::Brotli => {
                    brotli::Decompressor::new(&once[..], 4096)
                        .read_to_end(&mut back)
                        .unwrap();
                }
            }
            assert_eq!(back, text.as_bytes());
        }
        assert!(!pays(100, 96) && pays(100, 95));
    }
}
