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

/// Where a `"`/`'` quote opened in `token` (or one already open) is still
/// open at its end; a quote preceded by a backslash does not count.
fn quote_state(token: &str, mut quote: Option<char>) -> Option<char> {
    let mut prev = None;
    for c in token.chars() {
        if (c == '"' || c == '\'') && prev != Some('\\') {
            match quote {
                Some(q) if q == c => quote = None,
                Some(_) => {}
                None => quote = Some(c),
            }
        }
        prev = Some(c);
    }
    quote
}

/// The Jinja nesting depth after `token` for one kind of delimiter.
fn jinja_depth(token: &str, depth: usize, open: &str, close: &str) -> usize {
    let opened = token.matches(open).count();
    let closed = token.matches(close).count();
    (depth + opened).saturating_sub(closed)
}

/// Splits on spaces, then puts back together what a quote or a Jinja block
/// spans, keeping the original spacing and newlines inside them; a line
/// ending in ` \` continues on the next. Ansible's `split_args` rules, so
/// a free-form command reaches the module exactly as Ansible passes it.
fn split_args(args: &str) -> Result<Vec<String>, String> {
    let mut params: Vec<String> = Vec::new();
    if args.is_empty() {
        return Ok(params);
    }
    let items: Vec<&str> = args.split('\n').collect();
    let mut quote: Option<char> = None;
    let (mut print, mut block, mut comment) = (0usize, 0usize, 0usize);
    for (item_idx, item) in items.iter().enumerate() {
        let mut continued = false;
        for (idx, token) in item.split(' ').enumerate() {
            if token.is_empty() && idx != 0 {
                match params.last_mut() {
                    Some(last) => last.push(' '),
                    None => params.push(" ".into()),
                }
                continue;
            }
            let was_quoted = quote.is_some();
            if token == "\\" && !was_quoted {
                continued = true;
                continue;
            }
            quote = quote_state(token, quote);
            let quoted = quote.is_some();
            let in_jinja = print > 0 || block > 0 || comment > 0;
            let mut appended = false;
            if quoted && !was_quoted && !in_jinja {
                params.push(token.to_string());
                appended = true;
            } else if in_jinja || quoted || was_quoted {
                if params.is_empty() {
                    params.push(String::new());
                }
                if let Some(last) = params.last_mut() {
                    if idx > 0 {
                        last.push(' ');
                    }
                    last.push_str(token);
                }
                appended = true;
            }
            for (depth, open, close) in [
                (&mut print, "{{", "}}"),
                (&mut block, "{%", "%}"),
                (&mut comment, "{#", "#}"),
            ] {
                let before = *depth;
                *depth = jinja_depth(token, *depth, open, close);
                if *depth != before && !appended {
                    params.push(token.to_string());
                    appended = true;
                }
            }
            if print == 0 && block == 0 && comment == 0 && !quoted && !appended && !token.is_empty()
            {
                params.push(token.to_string());
            }
        }
        if items.len() > 1 && item_idx != items.len() - 1 && !continued {
            match params.last_mut() {
                Some(last) => last.push('\n'),
                None => params.push("\n".into()),
            }
        }
    }
    if print > 0 || block > 0 || comment > 0 || quote.is_some() {
        return Err(format!(
            "failed at splitting arguments, either an unbalanced jinja2 block or quotes: {args}"
        ));
    }
    Ok(params)
}

/// Joins split arguments back: a space between them, none after a newline.
fn join_args(parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(p);
    }
    out
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

/// Parses `k=v` pairs (Ansible's `parse_kv`); for modules that take a
/// command, words that are not one of their options form `_raw_params`, as
/// do words that are not pairs at all.
pub fn parse_kv(module: &str, s: &str) -> Result<Map<String, Value>, String> {
    let raw_module = is_free_form_command(module);
    let mut out = Map::new();
    let mut raw: Vec<String> = Vec::new();
    for word in split_args(s)? {
        let x = decode_escapes(&word);
        // The first `=` past the start that no backslash escapes.
        let pos = x
            .char_indices()
            .skip(1)
            .find(|&(i, c)| c == '=' && !x[..i].ends_with('\\'))
            .map(|(i, _)| i);
        match pos {
            None if x.contains('=') => raw.push(x.replace("\\=", "=")),
            None => raw.push(word),
            Some(pos) => {
                let (k, v) = (&x[..pos], &x[pos + 1..]);
                if raw_module && !RAW_OPTIONS.contains(&k) {
                    raw.push(word);
                } else {
                    out.insert(k.trim().to_string(), Value::String(unquote(v.trim())));
                }
            }
        }
    }
    if !raw.is_empty() {
        out.insert("_raw_params".into(), Value::String(join_args(&raw)));
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
    fn continued_lines_join_and_quoted_newlines_stay() {
        // Ansible's split_args: ` \` + newline continues the line; a
        // newline inside quotes is kept; the final newline too.
        assert_eq!(
            kv("shell", "echo a \\\n\"b\" \\\n\"c\nd\" | cat\necho e\n"),
            json!({"_raw_params": "echo a \"b\" \"c\nd\" | cat\necho e\n"})
        );
        assert_eq!(
            kv("command", "echo a\\=b"),
            json!({"_raw_params": "echo a=b"})
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
