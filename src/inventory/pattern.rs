//! Host patterns (`hosts:` and `--limit`): `all`, `*`, globs, `~regex`,
//! unions `a:b` / `a,b`, intersections `&x`, exclusions `!x`, subscripts
//! `g[0]` / `g[1:3]` (inclusive, as Ansible), and `@file` lists.

use std::collections::HashSet;

use regex::Regex;

use super::{Inventory, LOCALHOST_NAMES, range};
use crate::diagnostic::Diagnostic;

/// The hosts a pattern selected, in inventory order without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub hosts: Vec<String>,
    pub warnings: Vec<String>,
}

/// Split a pattern into its elements: on commas if there are any, else on
/// colons outside `[...]` (unless the whole thing is one address such as
/// an IPv6 address, `host:port` or a host range).
pub fn split(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_owned).collect()
    } else if is_single_address(pattern) {
        vec![pattern.to_owned()]
    } else {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut depth = 0usize;
        for c in pattern.chars() {
            match c {
                '[' => {
                    depth += 1;
                    current.push(c);
                }
                ']' => {
                    depth = depth.saturating_sub(1);
                    current.push(c);
                }
                ':' if depth == 0 => parts.push(std::mem::take(&mut current)),
                c if c.is_whitespace() && depth == 0 => parts.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        parts.push(current);
        parts
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Ansible keeps a pattern whole when it parses as a host address.
fn is_single_address(pattern: &str) -> bool {
    if pattern.parse::<std::net::Ipv6Addr>().is_ok() {
        return true;
    }
    let (host, port) = range::parse_address(pattern);
    port.is_some() && !host.contains(['&', '!', '~', '*'])
}

/// Plain patterns first, then `&` intersections, then `!` exclusions; only
/// `&`/`!` elements imply `all` first.
fn order(elements: Vec<String>) -> Vec<String> {
    let mut regular = Vec::new();
    let mut intersect = Vec::new();
    let mut exclude = Vec::new();
    for e in elements {
        if e.starts_with('!') {
            exclude.push(e);
        } else if e.starts_with('&') {
            intersect.push(e);
        } else {
            regular.push(e);
        }
    }
    if regular.is_empty() {
        regular.push("all".to_owned());
    }
    regular
        .into_iter()
        .chain(intersect)
        .chain(exclude)
        .collect()
}

/// Expand `@file` elements into the patterns listed in the file, one per
/// line (the `--limit @retry_file` form).
fn expand_files(elements: Vec<String>) -> Result<Vec<String>, Diagnostic> {
    let mut out = Vec::new();
    for e in elements {
        let Some(path) = e.strip_prefix('@') else {
            out.push(e);
            continue;
        };
        let p = std::path::Path::new(path);
        if !p.exists() {
            return Err(Diagnostic::error(format!(
                "Unable to find limit file {path}"
            )));
        }
        if !p.is_file() {
            return Err(Diagnostic::error(format!(
                "Limit starting with \"@\" must be a file, not a directory: {path}"
            )));
        }
        let text = std::fs::read_to_string(p)
            .map_err(|err| Diagnostic::error(format!("Unable to read limit file {path}: {err}")))?;
        out.extend(
            text.split('\n')
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty()),
        );
    }
    Ok(out)
}

/// Evaluate `pattern` against `inv`.
pub fn select(inv: &Inventory, pattern: &str) -> Result<Selection, Diagnostic> {
    let elements = order(expand_files(split(pattern))?);
    let mut warnings = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    for element in elements {
        if inv.hosts.contains_key(&element) {
            if !hosts.contains(&element) {
                hosts.push(element);
            }
            continue;
        }
        let (op, body) = match element.chars().next() {
            Some(c @ ('&' | '!')) => (Some(c), &element[1..]),
            _ => (None, element.as_str()),
        };
        let matched = match_one(inv, body, &mut warnings)?;
        match op {
            Some('!') => {
                let drop: HashSet<&String> = matched.iter().collect();
                hosts.retain(|h| !drop.contains(h));
            }
            Some(_) => {
                let keep: HashSet<&String> = matched.iter().collect();
                hosts.retain(|h| keep.contains(h));
            }
            None => {
                for h in matched {
                    if !hosts.contains(&h) {
                        hosts.push(h);
                    }
                }
            }
        }
    }
    Ok(Selection { hosts, warnings })
}

/// One pattern element without its `&`/`!`: enumerate, then subscript.
fn match_one(
    inv: &Inventory,
    element: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, Diagnostic> {
    if element.is_empty() {
        return Ok(Vec::new());
    }
    let (expr, subscript) = split_subscript(element);
    let hosts = enumerate(inv, &expr, warnings)?;
    let Some((start, end)) = subscript else {
        return Ok(hosts);
    };
    let out_of_range = || {
        Diagnostic::error(format!(
            "No hosts matched the subscripted pattern '{element}'"
        ))
    };
    let len = hosts.len() as i64;
    match end {
        None => {
            let idx = if start < 0 { len + start } else { start };
            if idx < 0 || idx >= len {
                return Err(out_of_range());
            }
            Ok(vec![hosts[idx as usize].clone()])
        }
        Some(end) => {
            // `[x:]` runs to the last host; the end is inclusive.
            let end = if end == -1 { len - 1 } else { end };
            let from = start.clamp(0, len) as usize;
            let to = (end + 1).clamp(0, len) as usize;
            Ok(if from < to {
                hosts[from..to].to_vec()
            } else {
                Vec::new()
            })
        }
    }
}

/// `name[3]`, `name[-1]`, `name[1:4]`, `name[2:]` (also the old `[1-4]`).
/// Regexes (`~...`) carry no subscript.
fn split_subscript(pattern: &str) -> (String, Option<(i64, Option<i64>)>) {
    if pattern.starts_with('~') || !pattern.ends_with(']') {
        return (pattern.to_owned(), None);
    }
    let Some(open) = pattern.rfind('[') else {
        return (pattern.to_owned(), None);
    };
    if open == 0 {
        return (pattern.to_owned(), None);
    }
    let inner = &pattern[open + 1..pattern.len() - 1];
    let base = pattern[..open].to_owned();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let single = inner.strip_prefix('-').unwrap_or(inner);
    if digits(single)
        && let Ok(i) = inner.parse::<i64>()
    {
        return (base, Some((i, None)));
    }
    for sep in [':', '-'] {
        if let Some((a, b)) = inner.split_once(sep)
            && digits(a)
            && (b.is_empty() || digits(b))
            && let Ok(start) = a.parse::<i64>()
        {
            let end = if b.is_empty() {
                -1
            } else {
                match b.parse::<i64>() {
                    Ok(e) => e,
                    Err(_) => return (pattern.to_owned(), None),
                }
            };
            // Ansible treats an end of 0 as "no end": `[0:0]` is `[0]`.
            return (base, Some((start, (end != 0).then_some(end))));
        }
    }
    (pattern.to_owned(), None)
}

/// Python's `fnmatch.translate` (case-sensitive, whole string) as a regex.
fn glob_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^(?:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let mut class: String = chars[i..j].iter().collect();
                    class = class.replace('\\', "\\\\");
                    i = j + 1;
                    if let Some(rest) = class.strip_prefix('!') {
                        class = format!("^{rest}");
                    } else if class.starts_with('^') {
                        class = format!("\\{class}");
                    }
                    out.push('[');
                    out.push_str(&class.replace('[', "\\["));
                    out.push(']');
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

fn compile(pattern: &str) -> Result<Regex, Diagnostic> {
    let source = match pattern.strip_prefix('~') {
        // re.match: anchored at the start only.
        Some(re) => format!("^(?:{re})"),
        None => glob_regex(pattern),
    };
    Regex::new(&source)
        .map_err(|_| Diagnostic::error(format!("Invalid host list pattern: {pattern}")))
}

/// Hosts of matching groups, plus matching hosts when no group matched or
/// the pattern is a glob/regex; the implicit localhost as a last resort.
fn enumerate(
    inv: &Inventory,
    pattern: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, Diagnostic> {
    let re = compile(pattern)?;
    let mut results: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let groups: Vec<&String> = inv.groups.keys().filter(|g| re.is_match(g)).collect();
    for g in &groups {
        for h in inv.group_hosts(g) {
            if seen.insert(h.to_owned()) {
                results.push(h.to_owned());
            }
        }
    }
    let special = pattern.starts_with('~') || pattern.contains(['.', '?', '*', '[']);
    if groups.is_empty() || special {
        for h in inv.hosts.keys() {
            if re.is_match(h) && seen.insert(h.clone()) {
                results.push(h.clone());
            }
        }
    }
    if results.is_empty() && LOCALHOST_NAMES.contains(&pattern) {
        results.push(pattern.to_owned());
    }
    if results.is_empty() && groups.is_empty() && pattern != "all" {
        warnings.push(format!(
            "Could not match supplied host pattern, ignoring: {pattern}"
        ));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Inventory {
        Inventory::from_ini(
            "hosts",
            "mail.example.com\n\
             [web]\nweb1\nweb2\nweb3.example.com\n\
             [db]\ndb1\ndb2\n\
             [prod:children]\nweb\n\
             [prod]\ndb1\n",
        )
        .unwrap()
        .inventory
    }

    fn sel(p: &str) -> Vec<String> {
        inv().select(p).unwrap().hosts
    }

    #[test]
    fn splitting() {
        assert_eq!(split("a:b"), vec!["a", "b"]);
        assert_eq!(split("a,b"), vec!["a", "b"]);
        assert_eq!(split("a:&b:!c"), vec!["a", "&b", "!c"]);
        assert_eq!(split("web[0:2]"), vec!["web[0:2]"]);
        assert_eq!(split("g[1:2]:h"), vec!["g[1:2]", "h"]);
        assert_eq!(split("fe80::1"), vec!["fe80::1"]);
        assert_eq!(split("a , b"), vec!["a", "b"]);
    }

    #[test]
    fn basics() {
        // Ansible's order: `all`'s children level by level (web sits
        // under prod, one level deeper than db).
        assert_eq!(
            sel("all"),
            vec![
                "mail.example.com",
                "db1",
                "db2",
                "web1",
                "web2",
                "web3.example.com"
            ]
        );
        assert_eq!(sel("*"), sel("all"));
        assert_eq!(sel("web"), vec!["web1", "web2", "web3.example.com"]);
        assert_eq!(sel("web*"), vec!["web1", "web2", "web3.example.com"]);
        assert_eq!(
            sel("*.example.com"),
            vec!["mail.example.com", "web3.example.com"]
        );
        assert_eq!(sel("ungrouped"), vec!["mail.example.com"]);
        assert_eq!(sel("db2"), vec!["db2"]);
    }

    #[test]
    fn set_operations_in_ansible_order() {
        assert_eq!(
            sel("web:db"),
            vec!["web1", "web2", "web3.example.com", "db1", "db2"]
        );
        assert_eq!(sel("prod:&db"), vec!["db1"]);
        assert_eq!(sel("prod:!web2"), vec!["db1", "web1", "web3.example.com"]);
        // Exclusions apply last even when written first.
        assert_eq!(sel("!web2:web"), vec!["web1", "web3.example.com"]);
        assert_eq!(sel("&db"), vec!["db1", "db2"]);
        assert_eq!(
            sel("!db"),
            vec!["mail.example.com", "web1", "web2", "web3.example.com"]
        );
    }

    #[test]
    fn regex_uses_match_semantics() {
        assert_eq!(sel("~web[12]"), vec!["web1", "web2"]);
        assert_eq!(sel("~eb1"), Vec::<String>::new());
        assert_eq!(sel("~(web|db)1"), vec!["web1", "db1"]);
    }

    #[test]
    fn subscripts_are_inclusive() {
        assert_eq!(sel("web[0]"), vec!["web1"]);
        assert_eq!(sel("web[-1]"), vec!["web3.example.com"]);
        assert_eq!(sel("web[0:1]"), vec!["web1", "web2"]);
        assert_eq!(sel("web[1:]"), vec!["web2", "web3.example.com"]);
        let e = inv().select("web[7]").unwrap_err();
        assert_eq!(e.msg, "No hosts matched the subscripted pattern 'web[7]'");
    }

    #[test]
    fn unmatched_elements_warn() {
        let s = inv().select("web1:nothing").unwrap();
        assert_eq!(s.hosts, vec!["web1"]);
        assert_eq!(
            s.warnings,
            vec!["Could not match supplied host pattern, ignoring: nothing"]
        );
    }

    #[test]
    fn implicit_localhost() {
        let i = inv();
        assert_eq!(i.select("localhost").unwrap().hosts, vec!["localhost"]);
        assert!(i.select("localhost").unwrap().warnings.is_empty());
        assert!(
            !i.select("all")
                .unwrap()
                .hosts
                .contains(&"localhost".to_owned())
        );
        assert!(i.is_implicit_localhost("localhost"));
        assert_eq!(
            i.host_vars("localhost").get("ansible_connection"),
            Some(&serde_json::json!("local"))
        );
    }

    #[test]
    fn limit_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("retry");
        std::fs::write(&f, "web2\ndb1\n\n").unwrap();
        let p = format!("@{}", f.display());
        assert_eq!(sel(&p), vec!["web2", "db1"]);
        // The limit filters; the order stays the pattern's.
        let s = inv().select_with_limit("all", Some(&p)).unwrap();
        assert_eq!(s.hosts, vec!["db1", "web2"]);
        assert!(inv().select("@/nonexistent/file").is_err());
    }

    #[test]
    fn globs() {
        assert_eq!(glob_regex("a*b?"), "^(?:a.*b.)$");
        assert!(compile("web[12]").unwrap().is_match("web1"));
        assert!(compile("web[!12]").unwrap().is_match("web3"));
        assert!(!compile("web[!12]").unwrap().is_match("web1"));
    }
}
