//! The kernel's mount table, `/proc/self/mountinfo`: which mount a path lies on, and of what type.
//!
//! Each line is `ID PARENT MAJOR:MINOR ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`, with
//! spaces, tabs, newlines and backslashes in paths written as octal escapes (`\040`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// Where this process's mount table is read from.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Its type: `nfs`, `nfs4`, `tmpfs`, `ext4`, ...
    pub fstype: String,
    /// What is mounted: `server:/export` for NFS, a device, or a name such as `tmpfs`.
    pub source: String,
}

/// The mounts listed in `text` (the content of a mountinfo file), in order; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let mount_point = before.split(' ').nth(4)?;
    let mut tail = after.split(' ');
    let fstype = tail.next()?;
    let source = tail.next().unwrap_or("");
    Some(Mount {
        mount_point: PathBuf::from(OsString::from_vec(unescape(mount_point))),
        fstype: String::from_utf8_lossy(&unescape(fstype)).into_owned(),
        source: String::from_utf8_lossy(&unescape(source)).into_owned(),
    })
}

/// Undoes the kernel's `\NNN` octal escapes.
fn unescape(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// The mount `path` (absolute, canonical) lies on: the one with the longest mount point that is `path` or one of
/// its ancestors; of mounts stacked on one point, the last listed (the visible one).
pub fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .fold(None, |best: Option<&Mount>, m| match best {
            Some(b) if b.mount_point.as_os_str().len() > m.mount_point.as_os_str().len() => Some(b),
            _ => Some(m),
        })
}

/// Reads this process's mount table and finds the mount `path` lies on.
pub fn read_mount_of(path: &Path) -> std::io::Result<Option<Mount>> {
    let text = std::fs::read_to_string(MOUNTINFO)?;
    Ok(mount_of(&parse(&text), path).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
42 27 0:39 / /mnt/share rw,relatime shared:5 master:1 - nfs4 files.example.com:/export rw,vers=4.2,hard
43 27 0:40 / /mnt/with\\040space rw - tmpfs tmpfs rw,size=16384k
44 42 0:41 / /mnt/share/nested rw - tmpfs tmpfs rw
45 27 0:42 / /mnt/stacked rw - ext4 /dev/vdb rw
46 45 0:43 / /mnt/stacked rw - nfs srv:/x rw
not a mountinfo line
";

    fn mounts() -> Vec<Mount> {
        parse(TABLE)
    }

    fn point(path: &str) -> (String, String) {
        let all = mounts();
        let m = mount_of(&all, Path::new(path)).expect("some mount");
        (m.mount_point.display().to_string(), m.fstype.clone())
    }

    #[test]
    fn lines_are_parsed_with_optional_fields_and_escapes() {
        let all = mounts();
        assert_eq!(all.len(), 7, "the malformed line is skipped");
        assert_eq!(
            all[2],
            Mount {
                mount_point: "/mnt/share".into(),
                fstype: "nfs4".into(),
                source: "files.example.com:/export".into(),
            }
        );
        assert_eq!(all[3].mount_point, Path::new("/mnt/with space"));
    }

    #[test]
    fn a_path_lies_on_its_deepest_mount() {
        assert_eq!(point("/mnt/share"), ("/mnt/share".into(), "nfs4".into()));
        assert_eq!(
            point("/mnt/share/media/x"),
            ("/mnt/share".into(), "nfs4".into())
        );
        assert_eq!(
            point("/mnt/share/nested/y"),
            ("/mnt/share/nested".into(), "tmpfs".into())
        );
        assert_eq!(
            point("/mnt/sharex"),
            ("/".into(), "ext4".into()),
            "components, not bytes"
        );
        assert_eq!(point("/srv/media"), ("/".into(), "ext4".into()));
        assert_eq!(
            point("/mnt/with space/m"),
            ("/mnt/with space".into(), "tmpfs".into())
        );
    }

    #[test]
    fn of_mounts_stacked_on_one_point_the_last_is_seen() {
        assert_eq!(
            point("/mnt/stacked/a"),
            ("/mnt/stacked".into(), "nfs".into())
        );
    }

    #[test]
    fn this_process_has_a_root_mount() {
        let root = read_mount_of(Path::new("/"))
            .expect("read mountinfo")
            .expect("a mount for /");
        assert_eq!(root.mount_point, Path::new("/"));
    }
}
