//! Module arguments written as one string: `-a 'chdir=/tmp ls -l'` and
//! `command: ls -l creates=/x`, split as Ansible's `parse_kv` does.

use serde_json::{Map, Value};

/// Free-form options that `command`-like modules take as `k=v` inside
/// the command line; every other word stays part of the command.
const RAW_OPTIONS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "argv",
    "expand_argument_vars",
    "cmd",
];

/// Modules whose free-form text is a command: only their few options are
/// taken out of it as `k=v`; every other word stays part of the command.
pub fn is_free_form_command(module: &str) -> bool {
    matches!(module, "command" | "shell" | "raw" | "script")
}

/// Modules that accept a bare value (`include_tasks: file.yml`,
/// `meta: flush_handlers`) as `_raw_params`.
pub fn takes_raw_params(module: &str) -> bool {
    is_free_form_command(module)
        || matches!(
            module,
            "include_vars"
                | "include_tasks"
                | "import_tasks"
                | "include_role"
                | "import_role"
                | "add_host"
                | "group_by"
                | "set_fact"
                | "meta"
        )
}

/// One word of the input and what separated it from the previous word.
struct Word {
    text: String,
    newline_before: bool,
}

/// Splits on whitespace outside quotes and Jinja blocks, keeping quotes
/// in the words (they matter to the shell that runs a raw command).
fn split_words(s: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut jinja_depth = 0usize;
    let mut newline = false;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if jinja_depth == 0
            && let Some(q) = quote
        {
            cur.push(c);
            if c == '\\' && q == '"' {
                if let Some(n) = next {
                    cur.push(n);
                    i += 1;
                }
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match (c, next) {
            ('{', Some('{' | '%' | '#')) => {
                jinja_depth += 1;
                cur.push(c);
                cur.push(chars[i + 1]);
                i += 2;
                continue;
            }
            ('}' | '%' | '#', Some('}')) if jinja_depth > 0 => {
                jinja_depth -= 1;
                cur.push(c);
                cur.push('}');
                i += 2;
                continue;
            }
            _ => {}
        }
        if jinja_depth > 0 {
            cur.push(c);
        } else if c == '\'' || c == '"' {
            quote = Some(c);
            cur.push(c);
        } else if c.is_whitespace() {
            if !cur.is_empty() {
                words.push(Word {
                    text: std::mem::take(&mut cur),
                    newline_before: newline,
                });
                newline = false;
            }
            if c == '\n' {
                newline = true;
            }
        } else {
            cur.push(c);
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in: {s}"));
    }
    if jinja_depth > 0 {
        return Err(format!("unbalanced jinja2 block or quotes in: {s}"));
    }
    if !cur.is_empty() {
        words.push(Word {
            text: cur,
            newline_before: newline,
        });
    }
    Ok(words)
}

/// Removes one layer of matching quotes from a `k=v` value.
fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Python-style escapes in `k=v` values (`\n`, `\t`, `\\`, `\x41`,
/// `\u00e9`), as Ansible decodes them; unknown escapes stay as written.
fn decode_escapes(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&n) = chars.peek() else {
            out.push(c);
            break;
        };
        let simple = match n {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(x) = simple {
            chars.next();
            out.push(x);
            continue;
        }
        let width = match n {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if width > 0 {
            let hex: String = chars.clone().skip(1).take(width).collect();
            if hex.len() == width
                && let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
            {
                for _ in 0..=width {
                    chars.next();
                }
                out.push(ch);
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit())
}

/// Parses `k=v` pairs; for modules that take a command, words that are not
/// one of their options form `_raw_params`.
pub fn parse_kv(module: &str, s: &str) -> Result<Map<String, Value>, String> {
    let raw_module = is_free_form_command(module);
    let mut out = Map::new();
    let mut raw: Vec<String> = Vec::new();
    let mut pending_newline = false;
    for w in split_words(s)? {
        let kv = w.text.split_once('=').filter(|(k, _)| is_key(k));
        match kv {
            Some((k, v)) if !raw_module || RAW_OPTIONS.contains(&k) => {
                out.insert(k.to_string(), Value::String(decode_escapes(&unquote(v))));
                pending_newline |= w.newline_before;
            }
            _ => {
                if !raw.is_empty() {
                    raw.push(
                        if w.newline_before || pending_newline {
                            "\n"
                        } else {
                            " "
                        }
                        .to_string(),
                    );
                }
                pending_newline = false;
                raw.push(w.text);
            }
        }
    }
    if !raw.is_empty() {
        out.insert("_raw_params".into(), Value::String(raw.concat()));
    }
    Ok(out)
}

/// Parses `-a`: a JSON object, or `k=v` text.
pub fn parse_module_args(module: &str, s: &str) -> Result<Map<String, Value>, String> {
    let t = s.trim();
    if t.starts_with('{')
        && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(t)
    {
        return Ok(m);
    }
    parse_kv(module, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kv(module: &str, s: &str) -> Value {
        Value::Object(parse_kv(module, s).unwrap())
    }

    #[test]
    fn command_keeps_words_and_extracts_options() {
        assert_eq!(
            kv("command", "chdir=/tmp ls -l 'a  b' x=y creates=\"/x y\""),
            json!({"chdir": "/tmp", "creates": "/x y", "_raw_params": "ls -l 'a  b' x=y"})
        );
    }

    #[test]
    fn other_modules_take_pairs() {
        assert_eq!(kv("ping", "data=hi"), json!({"data": "hi"}));
        assert_eq!(
            kv("copy", "dest=/a content='x y'"),
            json!({"dest": "/a", "content": "x y"})
        );
    }

    #[test]
    fn values_decode_python_escapes() {
        assert_eq!(
            kv("copy", "content='a\\nb\\x41\\q'"),
            json!({"content": "a\nbA\\q"})
        );
        // Raw command text keeps what was written.
        assert_eq!(
            kv("shell", "printf 'a\\n'"),
            json!({"_raw_params": "printf 'a\\n'"})
        );
    }

    #[test]
    fn jinja_blocks_do_not_split() {
        assert_eq!(
            kv("shell", "echo {{ a | default('x y') }}"),
            json!({"_raw_params": "echo {{ a | default('x y') }}"})
        );
    }

    #[test]
    fn multi_line_scripts_keep_lines() {
        assert_eq!(
            kv("shell", "echo a\necho b"),
            json!({"_raw_params": "echo a\necho b"})
        );
    }

    #[test]
    fn json_args() {
        assert_eq!(
            Value::Object(parse_module_args("ping", "{\"data\": 1}").unwrap()),
            json!({"data": 1})
        );
        assert!(parse_kv("shell", "echo 'unterminated").is_err());
    }
}
