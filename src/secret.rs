//! A string that never prints itself: passwords and other secrets.

use std::fmt;
use std::sync::{Mutex, OnceLock};

/// Every secret plaintext this run has seen (vault values, passwords,
/// private prompts). The printer scrubs them from everything it writes,
/// whatever path the value took (a template, a command's output, a diff,
/// an error message).
static KNOWN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

/// Shorter strings are too likely to occur by chance to be replaced.
const MIN_SECRET_LEN: usize = 4;

/// Remembers a plaintext so output never shows it.
pub fn register(plaintext: &str) {
    let t = plaintext.trim_end_matches(['\r', '\n']);
    if t.chars().count() < MIN_SECRET_LEN {
        return;
    }
    let known = KNOWN.get_or_init(|| Mutex::new(Vec::new()));
    let mut k = match known.lock() {
        Ok(k) => k,
        Err(p) => p.into_inner(),
    };
    if !k.iter().any(|x| x == t) {
        k.push(t.to_string());
        // Longest first, so a secret containing another is hidden whole.
        k.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }
}

/// Replaces every registered secret in `text` with `********`.
pub fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(known) = KNOWN.get() else {
        return std::borrow::Cow::Borrowed(text);
    };
    let k = match known.lock() {
        Ok(k) => k,
        Err(p) => p.into_inner(),
    };
    if !k.iter().any(|s| text.contains(s.as_str())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in k.iter() {
        out = out.replace(s.as_str(), "********");
    }
    std::borrow::Cow::Owned(out)
}

/// [`scrub`] for raw output bytes (which may not be UTF-8).
pub fn scrub_bytes(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if KNOWN.get().is_none() {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let text = tutti_modules::text::decode(bytes);
    match scrub(&text) {
        std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(bytes),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(tutti_modules::text::encode(&s)),
    }
}

/// A secret value. `Debug` and `Display` print `***`, so a secret that
/// reaches a log line, an error message or a panic shows nothing.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    /// The plaintext, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::{Secret, register, scrub};

    #[test]
    fn registered_secrets_are_scrubbed() {
        register("s3cr3t-value");
        assert_eq!(scrub("pw=s3cr3t-value;"), "pw=********;");
        assert_eq!(scrub("nothing here"), "nothing here");
        register("ab");
        assert_eq!(scrub("ab"), "ab", "too short to redact");
    }

    #[test]
    fn never_prints_itself() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }
}
