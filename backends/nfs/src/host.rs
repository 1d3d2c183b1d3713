//! This host's name, for temporary file names on a share many hosts write to.

/// `<host>.`: the tag that temporary files on the share carry before the process id and a random part, so a file
/// left behind says which server wrote it. Only letters, digits and `-` are kept, at most 63 of them.
pub(crate) fn temp_tag() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    format!("{}.", sanitize(&raw))
}

fn sanitize(raw: &str) -> String {
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if clean.is_empty() {
        "host".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_become_safe_tags() {
        assert_eq!(sanitize("web-1\n"), "web-1");
        assert_eq!(sanitize("web1.example.com"), "web1-example-com");
        assert_eq!(sanitize("a/b c"), "a-b-c");
        assert_eq!(sanitize(""), "host");
        assert_eq!(sanitize(&"x".repeat(100)).len(), 63);
        assert!(temp_tag().ends_with('.'));
    }
}
