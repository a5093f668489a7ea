//! Archive modules: `unarchive` (tar and zip, from the controller or the
//! host) and `archive`, plus what they share: recognizing formats by
//! their magic bytes and shell-style glob matching of member names.

// The `archive` module lives in archive/archive.rs, next to `unarchive`.
#[allow(clippy::module_inception)]
pub mod archive;
pub mod unarchive;

/// An archive format, as its first bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Magic {
    Zip,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    /// Anything else: left to `tar` (a plain tar, or compression it knows).
    Other,
}

impl Magic {
    pub(crate) fn of(head: &[u8]) -> Magic {
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Magic::Zip
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Magic::Gzip
        } else if head.starts_with(b"BZh") {
            Magic::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Magic::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Magic::Zstd
        } else {
            Magic::Other
        }
    }

    /// The `tar` flag that reads this compression from a pipe.
    pub(crate) fn tar_flag(self) -> Option<&'static str> {
        match self {
            Magic::Gzip => Some("-z"),
            Magic::Bzip2 => Some("-j"),
            Magic::Xz => Some("-J"),
            Magic::Zstd => Some("--zstd"),
            Magic::Zip | Magic::Other => None,
        }
    }
}

/// Shell-style glob match (`*`, `?`, `[...]`) of a whole name, where `*`
/// also matches `/` (as `tar --exclude` and `fnmatch` do).
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    wild(&p, &n)
}

fn wild(p: &[char], n: &[char]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some(('*', rest)) => (0..=n.len()).any(|i| wild(rest, &n[i..])),
        Some(('?', rest)) => !n.is_empty() && wild(rest, &n[1..]),
        Some(('[', rest)) => {
            let Some(close) = rest.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return n.first() == Some(&'[') && wild(rest, &n[1..]);
            };
            let Some((c, tail)) = n.split_first() else {
                return false;
            };
            let (negate, set) = match rest[..close].split_first() {
                Some(('!' | '^', s)) => (true, s),
                _ => (false, &rest[..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= *c && *c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == *c;
                    i += 1;
                }
            }
            hit != negate && wild(&rest[close + 1..], tail)
        }
        Some((c, rest)) => n.first() == Some(c) && wild(rest, &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.txt", "a/b.txt"));
        assert!(glob_match("d/?", "d/a"));
        assert!(!glob_match("d/?", "d/ab"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[!a-c]x", "bx"));
    }

    #[test]
    fn magic() {
        assert_eq!(Magic::of(b"PK\x03\x04rest"), Magic::Zip);
        assert_eq!(Magic::of(&[0x1f, 0x8b, 8]), Magic::Gzip);
        assert_eq!(Magic::of(b"ustar"), Magic::Other);
    }
}
