//! The template action's `output_encoding`: the rendered text written as
//! UTF-8, Latin-1, Windows-1252 or ASCII bytes.

/// Windows-1252's bytes 0x80–0x9F (the rest of 0xA0–0xFF is Latin-1);
/// `None` where the code page leaves a byte undefined.
const CP1252_HIGH: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

/// Encodes `text` as `encoding` (Python's codec names, case and `-`/`_`
/// insensitive), or says which character or codec it cannot handle.
pub fn encode(text: &str, encoding: &str) -> Result<Vec<u8>, String> {
    let name = encoding.to_ascii_lowercase().replace('_', "-");
    let limit = match name.as_str() {
        "" | "utf-8" | "utf8" => return Ok(text.as_bytes().to_vec()),
        "ascii" | "us-ascii" => 0x7f,
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => 0xff,
        "windows-1252" | "cp1252" => 0xff,
        other => return Err(format!("unknown encoding: {other}")),
    };
    let cp1252 = name == "windows-1252" || name == "cp1252";
    let mut out = Vec::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        let code = c as u32;
        let byte = if cp1252 && (0x80..0xa0).contains(&code) {
            None
        } else if code <= limit {
            u8::try_from(code).ok()
        } else if cp1252 {
            CP1252_HIGH
                .iter()
                .position(|m| *m == Some(c))
                .and_then(|p| u8::try_from(0x80 + p).ok())
        } else {
            None
        };
        match byte {
            Some(b) => out.push(b),
            None => {
                return Err(format!(
                    "'{name}' codec can't encode character '\\u{code:04x}' in position {i}"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_code_pages() {
        assert_eq!(encode("é€", "windows-1252").unwrap(), [0xe9, 0x80]);
        assert_eq!(encode("é", "latin-1").unwrap(), [0xe9]);
        assert_eq!(encode("é", "utf-8").unwrap(), "é".as_bytes());
        assert!(encode("€", "latin-1").is_err());
        assert!(encode("é", "ascii").is_err());
        assert!(encode("x", "klingon").is_err());
    }
}
