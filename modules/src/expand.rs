//! Python's `os.path.expandvars` and `expanduser` on the target, as
//! Ansible's modules apply them there: to `type='path'` arguments and to
//! `command`'s arguments (`expand_argument_vars`). One read-only probe asks
//! the host for the variables and homes needed, in the environment the
//! module runs in (become user, task `environment`).

use std::collections::BTreeMap;

use crate::cmd::Cmd;
use crate::host::{HostError, HostRead};

/// Answers one query per argument: `~` (the home), `~user` (that user's
/// home, empty when unknown), or a variable name (`1value`, or `0` when
/// unset). Names are passed as arguments, never spliced into the script.
const QUERY: &str = r#"for a do
  case $a in
    '~') printf '%s\0' "${HOME-}" ;;
    '~'*) getent passwd "${a#\~}" 2>/dev/null | cut -d: -f6 | tr -d '\n'; printf '\0' ;;
    *) if v=$(printenv "$a"); then printf '1%s\0' "$v"; else printf '0\0'; fi ;;
  esac
done"#;

/// Whether `s` may change when expanded.
pub fn may_expand(s: &str) -> bool {
    s.contains('$') || s.starts_with('~')
}

/// Expands every string in place (variables, then a leading `~`), asking
/// the host once, and only when one of them needs it.
pub async fn expand_all(host: &dyn HostRead, strings: &mut [&mut String]) -> Result<(), HostError> {
    let mut queries: Vec<String> = Vec::new();
    for s in strings.iter() {
        for q in needs(s) {
            if !queries.contains(&q) {
                queries.push(q);
            }
        }
    }
    if queries.is_empty() {
        return Ok(());
    }
    let cmd = Cmd::new("sh")
        .arg("-c")
        .arg(QUERY)
        .arg("sh")
        .args(queries.iter().cloned());
    let out = host.probe(&cmd).await?;
    let answers: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let mut env = BTreeMap::new();
    let mut homes = BTreeMap::new();
    for (q, a) in queries.iter().zip(answers) {
        if q.starts_with('~') {
            if !a.is_empty() {
                homes.insert(q.clone(), a);
            }
        } else if let Some(v) = a.strip_prefix('1') {
            env.insert(q.clone(), v.to_string());
        }
    }
    for s in strings.iter_mut() {
        let expanded = expanduser(&expandvars(s, &env), &homes);
        **s = expanded;
    }
    Ok(())
}

/// What expanding `path` needs from the host: variable names, then `~` or
/// `~user` when it starts with one.
fn needs(path: &str) -> Vec<String> {
    let mut out: Vec<String> = vars(path)
        .into_iter()
        .map(|(_, _, name)| name.to_string())
        .filter(|n| is_identifier(n))
        .collect();
    if path.starts_with('~') {
        let end = path.find('/').unwrap_or(path.len());
        let user = &path[1..end];
        if user.is_empty() || is_user_name(user) {
            out.push(path[..end].to_string());
        }
    }
    out
}

/// `$name` and `${name}` references: (start, end, name), as Python's
/// `posixpath.expandvars` finds them.
fn vars(s: &str) -> Vec<(usize, usize, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        if b.get(i + 1) == Some(&b'{') {
            if let Some(close) = s[i + 2..].find('}') {
                let end = i + 2 + close + 1;
                out.push((i, end, &s[i + 2..end - 1]));
                i = end;
                continue;
            }
            i += 1;
            continue;
        }
        let len = b[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        if len > 0 {
            out.push((i, i + 1 + len, &s[i + 1..i + 1 + len]));
        }
        i += 1 + len;
    }
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_user_name(s: &str) -> bool {
    !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Python's `expandvars`: set variables are substituted, the rest kept.
fn expandvars(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (start, end, name) in vars(s) {
        if let Some(v) = env.get(name) {
            out.push_str(&s[last..start]);
            out.push_str(v);
            last = end;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// Python's `expanduser`: a leading `~` or `~user` becomes the home.
fn expanduser(s: &str, homes: &BTreeMap<String, String>) -> String {
    if !s.starts_with('~') {
        return s.to_string();
    }
    let end = s.find('/').unwrap_or(s.len());
    match homes.get(&s[..end]) {
        Some(home) => {
            let home = home.trim_end_matches('/');
            let rest = &s[end..];
            if home.is_empty() && rest.is_empty() {
                "/".to_string()
            } else {
                format!("{home}{rest}")
            }
        }
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expands_like_python() {
        let env = map(&[("HOME", "/home/a"), ("X", "x")]);
        assert_eq!(expandvars("$HOME/.ssh", &env), "/home/a/.ssh");
        assert_eq!(expandvars("${X}y/$X", &env), "xy/x");
        assert_eq!(expandvars("$NOPE/$X$", &env), "$NOPE/x$");
        assert_eq!(expandvars("a${b", &env), "a${b");
        let homes = map(&[("~", "/root/"), ("~bob", "/home/bob")]);
        assert_eq!(expanduser("~/t.txt", &homes), "/root/t.txt");
        assert_eq!(expanduser("~", &homes), "/root");
        assert_eq!(expanduser("~bob/x", &homes), "/home/bob/x");
        assert_eq!(expanduser("~nobody/x", &homes), "~nobody/x");
        assert_eq!(expanduser("/a/~", &homes), "/a/~");
    }

    #[test]
    fn asks_only_for_safe_names() {
        assert_eq!(needs("~/a/$HOME/${X}"), ["HOME", "X", "~"]);
        assert_eq!(needs("~bob"), ["~bob"]);
        assert!(needs("~-x/${a b}/$1").is_empty());
        assert!(needs("/plain").is_empty());
    }
}
