//! Python `re` compatibility for the text-editing modules: patterns are
//! translated to `fancy-regex` syntax (which falls back to the `regex`
//! crate when no lookaround or backreference is used), and replacement
//! templates (`\1`, `\g<1>`, `\g<name>`, `\n`) are expanded by hand.
//!
//! Bytes that are not UTF-8 are matched through [`crate::text::decode`]'s
//! lossless mapping, so they survive an edit untouched.

use fancy_regex::{Captures, Regex};

/// Translates Python-only syntax: `(?P=name)` → `\k<name>`, `\Z` → `\z`.
pub fn translate(pat: &str) -> String {
    let mut out = String::with_capacity(pat.len());
    let mut chars = pat.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('Z') => out.push_str("\\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
            continue;
        }
        if c == '(' {
            let rest: String = chars.clone().take(3).collect();
            if rest == "?P=" {
                for _ in 0..3 {
                    chars.next();
                }
                let name: String = chars.by_ref().take_while(|&ch| ch != ')').collect();
                out.push_str(&format!("(?:\\k<{name}>)"));
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Compiles a Python pattern, with flags (`"m"`, `"s"`) prepended.
pub fn compile(pat: &str, flags: &str) -> Result<Regex, String> {
    let p = translate(pat);
    let full = if flags.is_empty() {
        p
    } else {
        format!("(?{flags}){p}")
    };
    Regex::new(&full).map_err(|e| format!("invalid regular expression {pat:?}: {e}"))
}

/// A part of a replacement template.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Index(usize),
    Name(String),
}

/// A Python replacement template (`re.sub`'s `repl`, `match.expand`).
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

impl Template {
    pub fn parse(t: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let chars: Vec<char> = t.chars().collect();
        let mut i = 0;
        let flush = |lit: &mut String, parts: &mut Vec<Part>| {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(lit)));
            }
        };
        while i < chars.len() {
            let c = chars[i];
            if c != '\\' || i + 1 >= chars.len() {
                lit.push(c);
                i += 1;
                continue;
            }
            let n = chars[i + 1];
            match n {
                '0'..='9' => {
                    let mut j = i + 1;
                    let mut num = String::new();
                    while j < chars.len() && chars[j].is_ascii_digit() && num.len() < 2 {
                        num.push(chars[j]);
                        j += 1;
                    }
                    flush(&mut lit, &mut parts);
                    parts.push(Part::Index(num.parse().unwrap_or(0)));
                    i = j;
                }
                'g' if chars.get(i + 2) == Some(&'<') => {
                    let end = chars[i + 3..]
                        .iter()
                        .position(|&ch| ch == '>')
                        .ok_or_else(|| format!("missing > in group reference in {t:?}"))?;
                    let name: String = chars[i + 3..i + 3 + end].iter().collect();
                    flush(&mut lit, &mut parts);
                    match name.parse::<usize>() {
                        Ok(k) => parts.push(Part::Index(k)),
                        Err(_) => parts.push(Part::Name(name)),
                    }
                    i += 4 + end;
                }
                'n' => {
                    lit.push('\n');
                    i += 2;
                }
                't' => {
                    lit.push('\t');
                    i += 2;
                }
                'r' => {
                    lit.push('\r');
                    i += 2;
                }
                '\\' => {
                    lit.push('\\');
                    i += 2;
                }
                'a' => {
                    lit.push('\x07');
                    i += 2;
                }
                'f' => {
                    lit.push('\x0c');
                    i += 2;
                }
                'v' => {
                    lit.push('\x0b');
                    i += 2;
                }
                // Python rejects escapes of other ASCII letters, so a typo
                // such as `\D` fails instead of writing a literal.
                other if other.is_ascii_alphabetic() => {
                    return Err(format!("bad escape \\{other} at position {i}"));
                }
                other => {
                    lit.push('\\');
                    lit.push(other);
                    i += 2;
                }
            }
        }
        flush(&mut lit, &mut parts);
        Ok(Template(parts))
    }

    /// A template that is taken literally.
    pub fn literal(s: &str) -> Template {
        Template(vec![Part::Lit(s.to_string())])
    }

    pub fn expand(&self, caps: &Captures<'_>) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Index(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
                Part::Name(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

/// `re.subn(regex, template, text)`: the new text and the count.
pub fn subn(re: &Regex, tpl: &Template, text: &str) -> Result<(String, usize), String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut n = 0;
    for caps in re.captures_iter(text) {
        let caps = caps.map_err(|e| e.to_string())?;
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        out.push_str(&tpl.expand(&caps));
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    Ok((out, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_syntax_and_templates() {
        let re = compile(r"(?P<k>\w+)=(?P=k)\Z", "").unwrap_or_else(|e| panic!("{e}"));
        assert!(re.is_match("a=a").unwrap_or(false));
        assert!(!re.is_match("a=b").unwrap_or(true));
        let re = compile(r"(\w+) (?P<second>\w+)", "").unwrap_or_else(|e| panic!("{e}"));
        let tpl = Template::parse(r"\2-\g<1>-\g<second>\n$1").unwrap_or_else(|e| panic!("{e}"));
        let (s, n) = subn(&re, &tpl, "hello world").unwrap_or_default();
        assert_eq!((s.as_str(), n), ("world-hello-world\n$1", 1));
    }
}
