//! What the package modules share: running a constant `sh` script with
//! positional arguments (quoted by construction), Debian version
//! comparison (dpkg's ordering, `~` before everything), shell-style
//! wildcards (`fnmatch`), the `N upgraded, M newly installed, ...` summary
//! that `apt-get` prints, and Ansible's output keys.

use std::cmp::Ordering;

use serde_json::{Value, json};

use crate::cmd::Cmd;
use crate::host::Output;
use crate::module::ModuleError;
use crate::plan::Facts;
use crate::text;

/// `sh -c SCRIPT sh ARGS...`: a constant script from our source, with
/// every value passed as a positional argument.
pub(crate) fn script<I, S>(script: &str, args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Cmd::new("sh").arg("-c").arg(script).arg("sh").args(args)
}

/// Whether `s` has a shell wildcard (`*`, `?`, `[`).
pub(crate) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Python's `fnmatch.fnmatchcase`: `*`, `?`, `[seq]`, `[!seq]`.
pub(crate) fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    wild(&p, &n)
}

fn wild(p: &[char], n: &[char]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some(('*', rest)) => (0..=n.len()).any(|i| wild(rest, &n[i..])),
        Some(('?', rest)) => !n.is_empty() && wild(rest, &n[1..]),
        Some(('[', rest)) => match (class_end(rest), n.split_first()) {
            (Some(end), Some((c, tail))) => {
                let (neg, body) = match rest.first() {
                    Some('!') => (true, &rest[1..end]),
                    _ => (false, &rest[..end]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < body.len() {
                    if i + 2 < body.len() && body[i + 1] == '-' {
                        hit |= body[i] <= *c && *c <= body[i + 2];
                        i += 3;
                    } else {
                        hit |= body[i] == *c;
                        i += 1;
                    }
                }
                hit != neg && wild(&rest[end + 1..], tail)
            }
            (Some(_), None) => false,
            (None, _) => n.first() == Some(&'[') && wild(rest, &n[1..]),
        },
        Some((c, rest)) => n.first() == Some(c) && wild(rest, &n[1..]),
    }
}

/// The index of the `]` closing a class that starts after `[`.
fn class_end(p: &[char]) -> Option<usize> {
    let start = usize::from(p.first() == Some(&'!'));
    // A `]` right after `[` or `[!` is a member, not the end.
    (start + 1..p.len()).find(|&i| p[i] == ']')
}

/// Compares two Debian versions (`[epoch:]upstream[-revision]`) the way
/// `dpkg --compare-versions` does.
pub fn compare_deb_versions(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_deb(a);
    let (eb, ub, rb) = split_deb(b);
    ea.cmp(&eb)
        .then_with(|| ver_rev_cmp(ua, ub))
        .then_with(|| ver_rev_cmp(ra, rb))
}

fn split_deb(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, v),
    };
    match rest.rfind('-') {
        Some(i) => (epoch, &rest[..i], &rest[i + 1..]),
        None => (epoch, rest, ""),
    }
}

/// The weight of a non-digit character: `~` sorts before the end of the
/// string, letters before other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn ver_rev_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit prefixes, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let cb = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ca != cb {
                return ca.cmp(&cb);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Then the digit runs, as numbers (leading zeros ignored).
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        let sj = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (da, db) = (&a[si..i], &b[sj..j]);
        let by_len = da.len().cmp(&db.len());
        if by_len != Ordering::Equal {
            return by_len;
        }
        let by_digits = da.cmp(db);
        if by_digits != Ordering::Equal {
            return by_digits;
        }
    }
    Ordering::Equal
}

/// The counts of `apt-get`'s summary line (`0 upgraded, 1 newly
/// installed, 0 to remove and 3 not upgraded.`), without "not upgraded".
/// `None` when there is no such line.
pub(crate) fn apt_summary_changes(stdout: &str) -> Option<u64> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" upgraded, ") && l.contains(" newly installed"))?;
    let mut total = 0;
    for part in line.trim_end_matches('.').split([',']) {
        for clause in part.split(" and ") {
            let clause = clause.trim();
            if clause.ends_with("not upgraded") {
                continue;
            }
            if let Some(n) = clause
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
            {
                total += n;
            }
        }
    }
    Some(total)
}

/// Adds `stdout`, `stderr` and their `_lines`.
pub(crate) fn insert_output(r: &mut Facts, out: &Output) {
    let stdout = text::decode(&out.stdout);
    let stderr = text::decode(&out.stderr);
    r.insert("stdout_lines".into(), json!(text::lines(&stdout)));
    r.insert("stderr_lines".into(), json!(text::lines(&stderr)));
    r.insert("stdout".into(), Value::String(stdout));
    r.insert("stderr".into(), Value::String(stderr));
}

/// A failure carrying the command's `rc`, `stdout` and `stderr`.
pub(crate) fn failed_with(msg: impl Into<String>, out: &Output, mut base: Facts) -> ModuleError {
    insert_output(&mut base, out);
    base.insert("rc".into(), json!(out.rc));
    ModuleError::Failed {
        msg: msg.into(),
        result: base,
    }
}

/// The trimmed text of stderr, or of stdout when stderr is empty.
pub(crate) fn error_text(out: &Output) -> String {
    let err = text::decode(&out.stderr);
    let err = err.trim();
    if err.is_empty() {
        text::decode(&out.stdout).trim().to_string()
    } else {
        err.to_string()
    }
}

/// Splits `text` into its `@section` blocks (a line `@name` starts one).
pub(crate) fn sections(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = vec![("", Vec::new())];
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('@')
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            out.push((name, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(line);
        }
    }
    out
}

/// The lines of section `name` (empty when absent).
pub(crate) fn section<'a>(secs: &'a [(&'a str, Vec<&'a str>)], name: &str) -> &'a [&'a str] {
    secs.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| l.as_slice())
        .unwrap_or(&[])
}

/// Rejects a name that would be read as an option by the package tool.
pub(crate) fn check_name(module: &str, name: &str) -> Result<(), crate::module::ParamError> {
    if name.starts_with('-') || name.trim().is_empty() || name.contains(['\n', '\0']) {
        return Err(crate::module::ParamError::at(
            "name",
            format!("{module}: invalid package name '{name}'"),
        ));
    }
    Ok(())
}

/// A `mode` parameter (`0644`, `"0644"`, `u=rw`), defaulting to `default`.
pub(crate) fn mode_param(
    v: Option<&Value>,
    default: u32,
) -> Result<crate::files::attrs::Mode, crate::module::ParamError> {
    use crate::files::attrs::{Mode, ModeParam};
    match v.map(Mode::from_value) {
        None | Some(Ok(None)) => Ok(Mode::Octal(default)),
        Some(Ok(Some(ModeParam::Mode(m)))) => Ok(m),
        Some(Ok(Some(ModeParam::Preserve))) => Err(crate::module::ParamError::at(
            "mode",
            "mode 'preserve' is not valid here",
        )),
        Some(Err(e)) => Err(crate::module::ParamError::at("mode", e)),
    }
}

/// Writes `content` to `path` atomically with `mode`.
pub(crate) async fn write_file(
    host: &dyn crate::host::Host,
    path: &str,
    content: &str,
    mode: &crate::files::attrs::Mode,
) -> Result<(), ModuleError> {
    use crate::fs::{Content, WriteOpts, WriteResult};
    let opts = WriteOpts {
        mode: Some(mode.clone()),
        ..WriteOpts::default()
    };
    match host
        .write_atomic(path, Content::Bytes(content.as_bytes().to_vec()), &opts)
        .await?
    {
        WriteResult::Written { .. } => Ok(()),
        WriteResult::Invalid(_) => Err(ModuleError::failed(format!("failed to write {path}"))),
    }
}

/// `apt-get update`, for the repository modules' `update_cache`.
pub(crate) async fn apt_update(host: &dyn crate::host::Host) -> Result<Output, ModuleError> {
    let cmd = Cmd::new("apt-get")
        .arg("update")
        .env("LC_ALL", "C")
        .env("DEBIAN_FRONTEND", "noninteractive");
    let out = host.run(&cmd).await?;
    if !out.success() {
        return Err(failed_with(
            format!("Failed to update apt cache: {}", error_text(&out)),
            &out,
            Facts::new(),
        ));
    }
    Ok(out)
}

/// Reads a text file on the host; `None` when it does not exist.
pub(crate) async fn read_text(
    host: &dyn crate::host::HostRead,
    path: &str,
) -> Result<Option<String>, ModuleError> {
    Ok(host.read(path).await?.map(|b| text::decode(&b)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debian_versions_order_like_dpkg() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.1", "2.0", Greater),
            ("2.10-3", "2.10-10", Less),
            ("5.02-1+b1", "5.02-1", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0-1", "1.0", Greater),
            ("3.11.2-1+b1", "3.11.2-1", Greater),
            ("0.99.30-4.1~deb12u1", "0.99.30-4.1", Less),
            ("1.010", "1.10", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_deb_versions(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn wildcards_like_fnmatch() {
        assert!(fnmatch("python3-s*", "python3-six"));
        assert!(fnmatch("2.10*", "2.10-3"));
        assert!(!fnmatch("2.11*", "2.10-3"));
        assert!(fnmatch("h?llo", "hello"));
        assert!(fnmatch("[gh]ello", "hello"));
        assert!(!fnmatch("[!h]ello", "hello"));
        assert!(fnmatch("a[", "a["));
    }

    #[test]
    fn summary_counts() {
        let s = "x\n0 upgraded, 1 newly installed, 0 to remove and 131 not upgraded.\n";
        assert_eq!(apt_summary_changes(s), Some(1));
        let s = "0 upgraded, 0 newly installed, 0 to remove and 131 not upgraded.\n";
        assert_eq!(apt_summary_changes(s), Some(0));
        let s = "0 upgraded, 0 newly installed, 1 downgraded, 0 to remove and 0 not upgraded.";
        assert_eq!(apt_summary_changes(s), Some(1));
        assert_eq!(apt_summary_changes("nothing"), None);
    }
}
