//! Jinja that Python's Jinja accepts and minijinja reads differently,
//! rewritten to an equivalent minijinja reads: unary plus (`+2.5`,
//! `[-1, +1]`), which is the identity on numbers, is dropped; and a macro
//! that includes another template is made to see the template's own
//! top-level names, as Jinja's includes do.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

/// Makes `{% include %}` inside a macro see the names the template sets at
/// its top level (`{% set %}`, `{% import ... as %}`, `{% from ... import %}`).
/// minijinja's macros carry only the names their own body mentions, so
/// each such macro gets a never-rendered mention of them.
pub fn macro_includes_see_template_names(src: &str) -> Cow<'_, str> {
    if !src.contains("macro") || !src.contains("include") {
        return Cow::Borrowed(src);
    }
    static NAMES: OnceLock<Option<Regex>> = OnceLock::new();
    static MACRO: OnceLock<Option<Regex>> = OnceLock::new();
    let (Some(names_re), Some(macro_re)) = (
        NAMES
            .get_or_init(|| {
                Regex::new(concat!(
                    r"\{%[-+]?\s*set\s+(\w+)\s*=[^%]*%\}",
                    r"|\{%[-+]?\s*import\s[^%]*?\sas\s+(\w+)[^%]*%\}",
                    r"|\{%[-+]?\s*from\s[^%]*?\simport\s+([\w\s,]+?)",
                    r"(?:\s+with(?:out)?\s+context)?\s*[-+]?%\}",
                ))
                .ok()
            })
            .as_ref(),
        MACRO
            .get_or_init(|| Regex::new(r"\{%[-+]?\s*macro\s[^%]*%\}").ok())
            .as_ref(),
    ) else {
        return Cow::Borrowed(src);
    };
    let mut names: Vec<&str> = Vec::new();
    for c in names_re.captures_iter(src) {
        if let Some(m) = c.get(1).or_else(|| c.get(2)) {
            names.push(m.as_str());
        } else if let Some(list) = c.get(3) {
            names.extend(
                list.as_str()
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace)),
            );
        }
    }
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return Cow::Borrowed(src);
    }
    let mention: String = format!(
        "{{% if false %}}{}{{% endif %}}",
        names
            .iter()
            .map(|n| format!("{{{{ {n} }}}}"))
            .collect::<String>()
    );
    let mut out = String::with_capacity(src.len() + mention.len());
    let mut last = 0;
    for m in macro_re.find_iter(src) {
        let body_end = src[m.end()..]
            .find("endmacro")
            .map_or(src.len(), |i| m.end() + i);
        if !src[m.end()..body_end].contains("include") {
            continue;
        }
        out.push_str(&src[last..m.end()]);
        out.push_str(&mention);
        last = m.end();
    }
    if last == 0 {
        return Cow::Borrowed(src);
    }
    out.push_str(&src[last..]);
    Cow::Owned(out)
}

/// A template source with unary plus removed inside `{{ }}` and `{% %}`
/// (comments and `raw` blocks are left as written).
pub fn adapt_template(src: &str) -> Cow<'_, str> {
    if !src.contains('+') {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(open) = find_open(rest) {
        out.push_str(&rest[..open]);
        let tag = &rest[open..open + 2];
        let close = match tag {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let body_start = open + 2;
        let Some(end) = find_close(&rest[body_start..], close, tag != "{#") else {
            out.push_str(&rest[open..]);
            return Cow::Owned(out);
        };
        let body = &rest[body_start..body_start + end];
        out.push_str(tag);
        if tag == "{#" {
            out.push_str(body);
        } else {
            // Whitespace control (`{{-`, `{%+`) is not an operator.
            let (ctl, expr) = match body.chars().next() {
                Some(c @ ('-' | '+')) => (&body[..c.len_utf8()], &body[c.len_utf8()..]),
                _ => ("", body),
            };
            out.push_str(ctl);
            out.push_str(&adapt_expression(expr));
        }
        out.push_str(close);
        rest = &rest[body_start + end + 2..];
        if tag == "{%" && is_raw(body) {
            // Everything up to `{% endraw %}` is text.
            match find_endraw(rest) {
                Some(n) => {
                    out.push_str(&rest[..n]);
                    rest = &rest[n..];
                }
                None => {
                    out.push_str(rest);
                    return Cow::Owned(out);
                }
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// An expression with unary plus removed (string literals untouched).
pub fn adapt_expression(expr: &str) -> Cow<'_, str> {
    if !expr.contains('+') {
        return Cow::Borrowed(expr);
    }
    let mut out = String::with_capacity(expr.len());
    // Whether the last significant token ends an operand (so a `+` after
    // it is binary).
    let mut after_operand = false;
    let mut word = String::new();
    let mut chars = expr.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' || (c == '.' && !word.is_empty()) {
            word.push(c);
            out.push(c);
            continue;
        }
        if !word.is_empty() {
            after_operand = !matches!(
                word.as_str(),
                "and" | "or" | "not" | "in" | "is" | "if" | "else" | "elif" | "return"
            );
            word.clear();
        }
        match c {
            '\'' | '"' => {
                out.push(c);
                let mut escaped = false;
                for (_, s) in chars.by_ref() {
                    out.push(s);
                    if escaped {
                        escaped = false;
                    } else if s == '\\' {
                        escaped = true;
                    } else if s == c {
                        break;
                    }
                }
                after_operand = true;
            }
            '+' if !after_operand => {}
            ')' | ']' | '}' => {
                out.push(c);
                after_operand = true;
            }
            c if c.is_whitespace() => out.push(c),
            _ => {
                out.push(c);
                after_operand = false;
            }
        }
    }
    Cow::Owned(out)
}

fn find_open(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(1)).find(|&i| b[i] == b'{' && matches!(b[i + 1], b'{' | b'%' | b'#'))
}

/// Where `close` ends the tag, skipping string literals in expressions.
fn find_close(s: &str, close: &str, code: bool) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None if code && (c == b'\'' || c == b'"') => quote = Some(c),
            None if s[i..].starts_with(close) => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

fn is_raw(body: &str) -> bool {
    body.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "raw"
}

fn find_endraw(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find("{%") {
        let at = from + i;
        if let Some(end) = s[at + 2..].find("%}")
            && s[at + 2..at + 2 + end]
                .trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace())
                == "endraw"
        {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unary_plus_goes_binary_plus_stays() {
        assert_eq!(
            adapt_expression("[-2.5, +2.5, 1 + 2.5]"),
            "[-2.5, 2.5, 1 + 2.5]"
        );
        assert_eq!(adapt_expression("+x + (+1) - +y"), "x + (1) - y");
        assert_eq!(adapt_expression("a if +1 else b"), "a if 1 else b");
        assert_eq!(adapt_expression("'+' + \"+\" ~ x"), "'+' + \"+\" ~ x");
        assert_eq!(adapt_expression("f(1)+g[0]+'s'+2"), "f(1)+g[0]+'s'+2");
    }

    #[test]
    fn macros_that_include_mention_the_template_names() {
        let src = "{% set x = 1 %}{% import 'v.j2' as vv with context %}{% from 'm.j2' import a, b %}\
                   {% macro m() %}{% include 'i.j2' %}{% endmacro %}{% macro n() %}plain{% endmacro %}";
        let out = macro_includes_see_template_names(src);
        assert_eq!(
            out,
            "{% set x = 1 %}{% import 'v.j2' as vv with context %}{% from 'm.j2' import a, b %}\
             {% macro m() %}{% if false %}{{ a }}{{ b }}{{ vv }}{{ x }}{% endif %}{% include 'i.j2' %}{% endmacro %}\
             {% macro n() %}plain{% endmacro %}"
        );
        assert!(matches!(
            macro_includes_see_template_names("{% macro m() %}{% include 'i' %}{% endmacro %}"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn only_code_is_rewritten() {
        assert_eq!(
            adapt_template("[1 + 2] + {{ [-2.5, +2.5] }} {# +1 #} {%+ if +1 %}+{% endif %}"),
            "[1 + 2] + {{ [-2.5, 2.5] }} {# +1 #} {%+ if 1 %}+{% endif %}"
        );
        assert_eq!(
            adapt_template("{% raw %}{{ +1 }}{% endraw %}{{ +2 }}"),
            "{% raw %}{{ +1 }}{% endraw %}{{ 2 }}"
        );
        assert_eq!(adapt_template("{{ '}}' ~ +1 }}"), "{{ '}}' ~ 1 }}");
        assert!(matches!(adapt_template("no plus"), Cow::Borrowed(_)));
    }
}
