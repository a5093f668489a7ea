//! The INI inventory format: `[group]` host lines with inline `key=value`
//! vars, `[group:vars]`, `[group:children]`, host ranges and `host:port`.

use indexmap::IndexMap;
use serde_json::Value;

use super::{Inventory, literal, range};
use crate::diagnostic::{Diagnostic, Source, Span};

#[derive(Clone, Copy, PartialEq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// A group referred to before it was declared, waiting for its section.
struct Pending {
    line: usize,
    state: State,
    parents: Vec<String>,
}

pub(super) fn parse(inv: &mut Inventory, src: &Source) -> Result<(), Diagnostic> {
    let err = |line: usize, col: usize, msg: String| {
        Diagnostic::parse(msg, Some(Span::new(src, line, col)))
    };
    let mut group = "ungrouped".to_owned();
    let mut state = State::Hosts;
    let mut pending: IndexMap<String, Pending> = IndexMap::new();

    for (idx, raw) in src.text.lines().enumerate() {
        let lineno = idx + 1;
        let line = raw.trim();
        // Where the trimmed text starts, for error columns.
        let indent = raw.len() - raw.trim_start().len();
        let col = raw[..indent].chars().count() + 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            if let Some((name, kind)) = section_header(line) {
                state = match kind {
                    None | Some("hosts") => State::Hosts,
                    Some("vars") => State::Vars,
                    Some("children") => State::Children,
                    Some(other) => {
                        return Err(err(
                            lineno,
                            col,
                            format!("Section [{name}:{other}] has unknown type: {other}"),
                        ));
                    }
                };
                if !inv.has_group(name) {
                    // A :vars section does not declare its group.
                    if state == State::Vars && !pending.contains_key(name) {
                        pending.insert(
                            name.to_owned(),
                            Pending {
                                line: lineno,
                                state,
                                parents: Vec::new(),
                            },
                        );
                    }
                    inv.add_group(name);
                }
                if state != State::Vars
                    && let Some(p) = pending.shift_remove(name)
                    && p.state == State::Children
                {
                    for parent in p.parents {
                        inv.add_child(&parent, name)
                            .map_err(|m| err(lineno, col, m))?;
                    }
                }
                group = name.to_owned();
                continue;
            }
            if line.ends_with(']') {
                return Err(err(
                    lineno,
                    col,
                    format!(
                        "Invalid section entry: '{line}'. Please make sure that there are no \
                         spaces in the section entry, and that there are no other invalid characters"
                    ),
                ));
            }
        }
        match state {
            State::Hosts => host_line(inv, src, &group, raw, lineno)?,
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(err(lineno, col, format!("Expected key=value, got: {line}")));
                };
                inv.set_group_var(&group, k.trim(), literal::typed(v.trim()))
                    .map_err(|m| err(lineno, col, m))?;
            }
            State::Children => {
                let child = child_name(line)
                    .ok_or_else(|| err(lineno, col, format!("Expected group name, got: {line}")))?;
                if inv.has_group(child) {
                    inv.add_child(&group, child)
                        .map_err(|m| err(lineno, col, m))?;
                } else {
                    pending
                        .entry(child.to_owned())
                        .or_insert(Pending {
                            line: lineno,
                            state: State::Children,
                            parents: Vec::new(),
                        })
                        .parents
                        .push(group.clone());
                }
            }
        }
    }
    // Anything still pending was never declared (Ansible refuses these).
    if let Some((name, p)) = pending.into_iter().next() {
        let msg = if p.state == State::Vars {
            format!("Section [{name}:vars] not valid for undefined group: {name}")
        } else {
            let parent = p.parents.last().cloned().unwrap_or_default();
            format!("Section [{parent}:children] includes undefined group: {name}")
        };
        return Err(err(p.line, 1, msg));
    }
    Ok(())
}

/// `[name]` or `[name:kind]`, optionally followed by a `#` comment.
fn section_header(line: &str) -> Option<(&str, Option<&str>)> {
    let close = line.find(']')?;
    let rest = line[close + 1..].trim_start();
    if !rest.is_empty() && !rest.starts_with('#') {
        return None;
    }
    let inner = &line[1..close];
    let (name, kind) = match inner.split_once(':') {
        Some((n, k)) => {
            if k.is_empty() || !k.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            (n, Some(k))
        }
        None => (inner, None),
    };
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '[') {
        return None;
    }
    Some((name, kind))
}

/// A `[x:children]` line: one group name, maybe a comment after it.
fn child_name(line: &str) -> Option<&str> {
    let mut parts = line.splitn(2, char::is_whitespace);
    let name = parts.next()?;
    match parts.next().map(str::trim_start) {
        None | Some("") => Some(name),
        Some(rest) if rest.starts_with('#') || rest.starts_with(';') => Some(name),
        Some(_) => None,
    }
}

/// `host[range][:port] key=value ...`: values are Python literals.
fn host_line(
    inv: &mut Inventory,
    src: &Source,
    group: &str,
    raw: &str,
    lineno: usize,
) -> Result<(), Diagnostic> {
    let err = |col: usize, msg: String| Diagnostic::parse(msg, Some(Span::new(src, lineno, col)));
    let tokens = shell_words(raw).map_err(|(col, m)| {
        err(
            col,
            format!("Error parsing host definition '{}': {m}", raw.trim()),
        )
    })?;
    let Some((first_col, pattern)) = tokens.first() else {
        return Ok(());
    };
    let (name, port) = range::parse_address(pattern);
    if pattern.trim_end().ends_with(':') && port.is_none() {
        return Err(err(
            *first_col,
            format!(
                "Invalid host pattern '{pattern}' supplied, ending in ':' is not allowed, \
                 this character is reserved to provide a port."
            ),
        ));
    }
    let hosts = range::expand(&name).map_err(|m| err(*first_col, m))?;
    let mut vars = Vec::new();
    for (col, token) in &tokens[1..] {
        let Some((k, v)) = token.split_once('=') else {
            return Err(err(
                *col,
                format!("Expected key=value host variable assignment, got: {token}"),
            ));
        };
        vars.push((k.to_owned(), literal::typed(v)));
    }
    for host in hosts {
        inv.add_host(&host, Some(group), port, Some(&src.name));
        for (k, v) in &vars {
            inv.set_host_var(&host, k, Value::clone(v));
        }
    }
    Ok(())
}

/// POSIX shell-like splitting (Python's `shlex.split(comments=True)`):
/// quotes group, backslash escapes, `#` at the start of a word begins a
/// comment. Returns each word with its 1-based column.
fn shell_words(line: &str) -> Result<Vec<(usize, String)>, (usize, &'static str)> {
    let mut words = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let col = i + 1;
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = current.take() {
                    words.push(w);
                }
            }
            '#' if current.is_none() => break,
            '\'' => {
                let word = &mut current.get_or_insert((col, String::new())).1;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => word.push(c),
                        None => return Err((col, "No closing quotation")),
                    }
                }
            }
            '"' => {
                let word = &mut current.get_or_insert((col, String::new())).1;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c @ ('"' | '\\'))) => word.push(c),
                            Some((_, c)) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err((col, "No closing quotation")),
                        },
                        Some((_, c)) => word.push(c),
                        None => return Err((col, "No closing quotation")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some((_, c)) => current.get_or_insert((col, String::new())).1.push(c),
                None => return Err((col, "No escaped character")),
            },
            c => current.get_or_insert((col, String::new())).1.push(c),
        }
    }
    if let Some(w) = current.take() {
        words.push(w);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Inventory {
        Inventory::from_ini("hosts", text).unwrap().inventory
    }

    fn load_err(text: &str) -> Diagnostic {
        Inventory::from_ini("hosts", text).unwrap_err()
    }

    #[test]
    fn words() {
        assert_eq!(
            shell_words(r#"h1 a=1 c="x y" d='q r' # comment"#).unwrap(),
            vec![
                (1, "h1".to_owned()),
                (4, "a=1".to_owned()),
                (8, "c=x y".to_owned()),
                (16, "d=q r".to_owned())
            ]
        );
        assert_eq!(shell_words("p=a#b").unwrap(), vec![(1, "p=a#b".to_owned())]);
        assert!(shell_words("a='x").is_err());
    }

    #[test]
    fn inline_vars_are_python_literals() {
        let inv = load(
            "[web]\nh1 a=1 b=True c=\"x y\" d=1.5 e=\"[1, 'two']\" f=yes g='010' \
             h=\"'quoted'\" i=None\n",
        );
        let v = inv.host_vars("h1");
        assert_eq!(v["a"], json!(1));
        assert_eq!(v["b"], json!(true));
        assert_eq!(v["c"], json!("x y"));
        assert_eq!(v["d"], json!(1.5));
        assert_eq!(v["e"], json!([1, "two"]));
        assert_eq!(v["f"], json!("yes"));
        assert_eq!(v["g"], json!("010"));
        assert_eq!(v["h"], json!("quoted"));
        assert_eq!(v["i"], json!(null));
    }

    #[test]
    fn group_vars_sections() {
        let inv = load(
            "[web]\nh1\n[web:vars]\nhttp_port=8080   # a comment\nname = some text\n\
             flag=False\nquoted=\"False\"\n",
        );
        let v = inv.host_vars("h1");
        assert_eq!(v["http_port"], json!(8080));
        assert_eq!(v["name"], json!("some text"));
        assert_eq!(v["flag"], json!(false));
        assert_eq!(v["quoted"], json!("False"));
    }

    #[test]
    fn ports_and_ranges() {
        let inv = load("[web]\nweb[01:03].example.com:2222 x=1\n[db]\ndb-[a:b]\n");
        assert_eq!(
            inv.hosts(),
            vec![
                "web01.example.com",
                "web02.example.com",
                "web03.example.com",
                "db-a",
                "db-b"
            ]
        );
        assert_eq!(
            inv.host_vars("web02.example.com")["ansible_port"],
            json!(2222)
        );
        assert_eq!(inv.host_vars("web02.example.com")["x"], json!(1));
    }

    #[test]
    fn children_declared_later_are_fine() {
        let inv = load("[prod:children]\nweb\n[web]\nh1\n");
        assert_eq!(inv.group_names("h1"), vec!["prod", "web"]);
    }

    #[test]
    fn errors_carry_positions() {
        let e = load_err("[web]\nh1 novalue\n");
        assert_eq!(
            e.msg,
            "Expected key=value host variable assignment, got: novalue"
        );
        let span = e.span.unwrap();
        assert_eq!((span.line, span.col), (2, 4));

        let e = load_err("[prod:children]\nmissing\n");
        assert_eq!(
            e.msg,
            "Section [prod:children] includes undefined group: missing"
        );
        assert_eq!(e.span.unwrap().line, 2);

        let e = load_err("[nothere:vars]\na=1\n");
        assert_eq!(
            e.msg,
            "Section [nothere:vars] not valid for undefined group: nothere"
        );

        let e = load_err("[web:stuff]\n");
        assert_eq!(e.msg, "Section [web:stuff] has unknown type: stuff");

        let e = load_err("[web ]\n");
        assert!(
            e.msg.starts_with("Invalid section entry: '[web ]'"),
            "{}",
            e.msg
        );

        let e = load_err("[web]\nh1 a='x\n");
        assert!(e.msg.contains("No closing quotation"), "{}", e.msg);

        let e = load_err("[web:vars]\njustaword\n");
        assert_eq!(e.msg, "Expected key=value, got: justaword");

        let e = load_err("[a:children]\nb\n[b:children]\na\n");
        assert!(e.msg.contains("recursive dependency loop"), "{}", e.msg);
    }

    #[test]
    fn comments_and_blank_lines() {
        let inv = load("# c\n; c\n\nh0\n[web]  # trailing\nh1 # c\n");
        assert_eq!(inv.hosts(), vec!["h0", "h1"]);
        assert_eq!(inv.group_hosts("ungrouped"), vec!["h0"]);
    }
}
