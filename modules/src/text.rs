//! Lossless text for command output that may not be UTF-8.
//!
//! Registered results and JSON need strings, but a host may print any
//! bytes. Each byte that is not part of valid UTF-8 is mapped to a code
//! point in the last private-use plane (`U+10FF80 + (byte - 0x80)`, or
//! `U+10FF00 + byte` for bytes below 0x80 that can only appear when broken
//! mid-sequence), so [`encode`] gives back exactly the bytes the host sent
//! and printing the output to a terminal shows what the host printed.

const BASE: u32 = 0x10_FF00;

/// Decodes bytes to a string, escaping invalid bytes losslessly.
pub fn decode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            out.push(escape_byte(b));
        }
    }
    out
}

fn escape_byte(b: u8) -> char {
    // BASE + b is inside plane 16 (U+10FF00..=U+10FFFF), always a valid char.
    char::from_u32(BASE + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Turns a string from [`decode`] back into the original bytes.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let cp = u32::from(c);
        if (BASE..=BASE + 0xFF).contains(&cp) {
            out.push((cp - BASE) as u8);
        } else {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// Splits output into lines the way Python's `splitlines()` does for the
/// common line endings (`\n`, `\r\n`, `\r`), as Ansible's `*_lines` keys do.
pub fn lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(i) => {
                out.push(rest[..i].to_string());
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_invalid_utf8() {
        let raw = b"ok \xff\xfe caf\xc3\xa9 \xc3".to_vec();
        let s = decode(&raw);
        assert!(s.starts_with("ok "));
        assert!(s.contains("café"));
        assert_eq!(encode(&s), raw);
    }

    #[test]
    fn splits_lines_like_python() {
        assert_eq!(lines("a\nb\r\nc\rd\n"), vec!["a", "b", "c", "d"]);
        assert_eq!(lines(""), Vec::<String>::new());
        assert_eq!(lines("\n\n"), vec!["", ""]);
    }
}
