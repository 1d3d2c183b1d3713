//! Looking at directories the way tests assert on them.

use std::path::Path;

/// Every path under `dir`, relative to it and sorted, directories marked with a trailing `/`. Links are listed, not
/// followed.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let rel = e
                .path()
                .strip_prefix(dir)
                .expect("prefix")
                .display()
                .to_string();
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
                out.push(format!("{rel}/"));
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}
