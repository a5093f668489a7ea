//! Text filters: Python-flavoured regular expressions, hashing and
//! encoding, POSIX path helpers, shell quoting, comments, dates, UUIDs and
//! URLs.

use std::sync::Arc;

use base64::Engine as _;
use minijinja::value::{Kwargs, Object, Rest, ValueKind};
use minijinja::{Environment, Error, State, Value};

use super::{Args, err, items, py_str};

/// A compiled pattern: the fast `regex` crate when it accepts the pattern,
/// `fancy-regex` for Python features it lacks (look-around, backrefs).
pub(crate) enum Re {
    Std(regex::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

/// Translates Python-only syntax and compiles with the given flags.
pub(crate) fn regex_compile(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Re, Error> {
    let mut flags = String::new();
    if ignorecase {
        flags.push('i');
    }
    if multiline {
        flags.push('m');
    }
    let mut p = String::with_capacity(pattern.len() + 8);
    if !flags.is_empty() {
        p.push_str(&format!("(?{flags})"));
    }
    // Python's `\Z` is the end of the text (`\z` here); `(?P=name)` is a
    // named backreference.
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('Z') => p.push_str("\\z"),
                Some(n) => {
                    p.push('\\');
                    p.push(n);
                }
                None => p.push('\\'),
            }
        } else {
            p.push(c);
        }
    }
    let p = p.replace("(?P=", "\\k<");
    let p = fix_named_backrefs(&p);
    match regex::Regex::new(&p) {
        Ok(r) => Ok(Re::Std(r)),
        Err(e1) => fancy_regex::Regex::new(&p)
            .map(|r| Re::Fancy(Box::new(r)))
            .map_err(|_| err(format!("invalid regular expression '{pattern}': {e1}"))),
    }
}

/// `\k<name)` (from a translated `(?P=name)`) needs a closing `>`.
fn fix_named_backrefs(p: &str) -> String {
    let mut out = String::new();
    let mut rest = p;
    while let Some(i) = rest.find("\\k<") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        if let Some(j) = rest.find([')', '>']) {
            out.push_str(&rest[..j]);
            out.push('>');
            rest = &rest[j + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// One match: spans of every group (0 = whole match), by index.
type Caps = Vec<Option<String>>;

impl Re {
    fn group_names(&self) -> Vec<Option<String>> {
        match self {
            Re::Std(r) => r.capture_names().map(|n| n.map(str::to_string)).collect(),
            Re::Fancy(r) => r.capture_names().map(|n| n.map(str::to_string)).collect(),
        }
    }

    fn captures(&self, text: &str, limit: usize) -> Result<Vec<Caps>, Error> {
        let mut out = Vec::new();
        match self {
            Re::Std(r) => {
                for c in r.captures_iter(text).take(limit) {
                    out.push(
                        c.iter()
                            .map(|m| m.map(|m| m.as_str().to_string()))
                            .collect(),
                    );
                }
            }
            Re::Fancy(r) => {
                for c in r.captures_iter(text).take(limit) {
                    let c = c.map_err(|e| err(e.to_string()))?;
                    out.push(
                        c.iter()
                            .map(|m| m.map(|m| m.as_str().to_string()))
                            .collect(),
                    );
                }
            }
        }
        Ok(out)
    }

    fn replace(&self, text: &str, rep: &str, count: usize) -> Result<String, Error> {
        Ok(match self {
            Re::Std(r) => r.replacen(text, count, rep).into_owned(),
            Re::Fancy(r) => r
                .try_replacen(text, count, rep)
                .map_err(|e| err(e.to_string()))?
                .into_owned(),
        })
    }

    pub(crate) fn is_match_at_start(&self, text: &str) -> Result<bool, Error> {
        Ok(match self {
            Re::Std(r) => {
                r.find(text).is_some_and(|m| m.start() == 0) || {
                    // A leftmost match may start later even though one at 0
                    // exists only for empty-able patterns; anchor to be sure.
                    regex::Regex::new(&format!("^(?:{})", r.as_str()))
                        .map(|a| a.is_match(text))
                        .unwrap_or(false)
                }
            }
            Re::Fancy(r) => fancy_regex::Regex::new(&format!("^(?:{})", r.as_str()))
                .map_err(|e| err(e.to_string()))?
                .is_match(text)
                .map_err(|e| err(e.to_string()))?,
        })
    }

    pub(crate) fn is_match(&self, text: &str) -> Result<bool, Error> {
        match self {
            Re::Std(r) => Ok(r.is_match(text)),
            Re::Fancy(r) => r.is_match(text).map_err(|e| err(e.to_string())),
        }
    }
}

/// Python replacement syntax (`\1`, `\g<1>`, `\g<name>`, `\n`) to the
/// `$`-syntax of the regex crates.
fn translate_replacement(rep: &str) -> String {
    let mut out = String::with_capacity(rep.len());
    let chars: Vec<char> = rep.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            out.push_str("$$");
        } else if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            if n.is_ascii_digit() {
                let mut j = i + 1;
                let mut num = String::new();
                while j < chars.len() && chars[j].is_ascii_digit() && num.len() < 2 {
                    num.push(chars[j]);
                    j += 1;
                }
                out.push_str(&format!("${{{num}}}"));
                i = j;
                continue;
            }
            if n == 'g'
                && chars.get(i + 2) == Some(&'<')
                && let Some(end) = chars[i + 3..].iter().position(|c| *c == '>')
            {
                let name: String = chars[i + 3..i + 3 + end].iter().collect();
                out.push_str(&format!("${{{name}}}"));
                i += 4 + end;
                continue;
            }
            match n {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            i += 2;
            continue;
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn f_regex_replace(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let pattern = a.string(0, "pattern").unwrap_or_default();
    let rep = a.string(1, "replacement").unwrap_or_default();
    let re = regex_compile(
        &pattern,
        a.bool(2, "ignorecase", false),
        a.bool(3, "multiline", false),
    )?;
    let count = a.int(4, "count").unwrap_or(0).max(0) as usize;
    let text = py_str(&v);
    if let Some(mandatory) = a.int(5, "mandatory_count").filter(|n| *n > 0) {
        let found = re.captures(&text, usize::MAX)?.len() as i64;
        if found != mandatory {
            return Err(err(format!(
                "'{pattern}' should match {mandatory} times, but matches {found} times"
            )));
        }
    }
    Ok(Value::from(re.replace(
        &text,
        &translate_replacement(&rep),
        count,
    )?))
}

fn group_ref(arg: &str, names: &[Option<String>]) -> Option<usize> {
    let arg = arg.strip_prefix('\\')?;
    if let Some(name) = arg.strip_prefix("g<").and_then(|r| r.strip_suffix('>')) {
        if let Ok(n) = name.parse() {
            return Some(n);
        }
        return names.iter().position(|n| n.as_deref() == Some(name));
    }
    arg.parse().ok()
}

fn f_regex_search(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let ignorecase = kw
        .get::<Option<Value>>("ignorecase")?
        .is_some_and(|v| v.is_true());
    let multiline = kw
        .get::<Option<Value>>("multiline")?
        .is_some_and(|v| v.is_true());
    let mut pos = args.0.into_iter();
    let pattern = pos.next().map(|p| py_str(&p)).unwrap_or_default();
    let re = regex_compile(&pattern, ignorecase, multiline)?;
    let text = py_str(&v);
    let caps = re.captures(&text, 1)?;
    let Some(m) = caps.into_iter().next() else {
        return Ok(Value::from(()));
    };
    let groups: Vec<String> = pos.map(|g| py_str(&g)).collect();
    if groups.is_empty() {
        return Ok(Value::from(m[0].clone().unwrap_or_default()));
    }
    let names = re.group_names();
    let mut out = Vec::new();
    for g in groups {
        let idx = group_ref(&g, &names).ok_or_else(|| err(format!("Unknown argument: {g}")))?;
        out.push(
            m.get(idx)
                .cloned()
                .flatten()
                .map(Value::from)
                .unwrap_or_default(),
        );
    }
    Ok(Value::from(out))
}

fn f_regex_findall(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let pattern = a.string(0, "regex").unwrap_or_default();
    let re = regex_compile(
        &pattern,
        a.bool(2, "ignorecase", false),
        a.bool(1, "multiline", false),
    )?;
    let text = py_str(&v);
    let mut out = Vec::new();
    for m in re.captures(&text, usize::MAX)? {
        let groups = m.len() - 1;
        let s = |x: &Option<String>| Value::from(x.clone().unwrap_or_default());
        out.push(match groups {
            0 => s(&m[0]),
            1 => s(&m[1]),
            _ => Value::from(m[1..].iter().map(s).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

fn f_regex_escape(v: String, re_type: Option<String>) -> Result<Value, Error> {
    if re_type.as_deref() == Some("posix_basic") {
        let mut out = String::new();
        for c in v.chars() {
            if "$.[\\]^*".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        return Ok(Value::from(out));
    }
    // Python 3.7+'s re.escape: only characters special in patterns.
    let mut out = String::new();
    for c in v.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(Value::from(out))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(kind: &str, data: &[u8]) -> Result<String, Error> {
    use sha2::Digest;
    Ok(match kind {
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "md5" => hex(&md5::Md5::digest(data)),
        "sha224" => hex(&sha2::Sha224::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        other => return Err(err(format!("unsupported hash type {other}"))),
    })
}

fn f_hash(v: Value, kind: Option<String>) -> Result<Value, Error> {
    Ok(Value::from(digest(
        kind.as_deref().unwrap_or("sha1"),
        py_str(&v).as_bytes(),
    )?))
}

fn random_salt(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./";
    (0..len)
        .map(|_| char::from(CHARS[rand::random_range(0..CHARS.len())]))
        .collect()
}

fn f_password_hash(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let kind = a.string(0, "hashtype").unwrap_or_else(|| "sha512".into());
    let salt_size = a.int(2, "salt_size").unwrap_or(16).clamp(1, 16) as usize;
    let salt = a
        .string(1, "salt")
        .unwrap_or_else(|| random_salt(salt_size));
    let rounds = a
        .int(3, "rounds")
        .map(|r| r.clamp(1000, 999_999_999) as u32);
    let pw = py_str(&v);
    Ok(Value::from(match kind.as_str() {
        "sha512" | "sha512_crypt" => crate::template::sha512_crypt(&pw, &salt, rounds),
        "sha256" | "sha256_crypt" => crate::template::sha256_crypt(&pw, &salt, rounds),
        other => {
            return Err(err(format!(
                "password_hash: unsupported hash type '{other}' (sha512 and sha256 are supported)"
            )));
        }
    }))
}

fn f_b64encode(v: Value) -> Value {
    Value::from(base64::engine::general_purpose::STANDARD.encode(py_str(&v)))
}

fn f_b64decode(v: Value) -> Result<Value, Error> {
    let s = py_str(&v);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s.trim()))
        .map_err(|e| err(format!("b64decode: {e}")))?;
    Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned()))
}

/// `posixpath.normpath`.
pub(crate) fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        "//"
    } else if p.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if initial.is_empty() {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = format!("{initial}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn dirname(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
        None => String::new(),
    }
}

pub(crate) fn expanduser(p: &str) -> String {
    if (p == "~" || p.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME").or_else(|| dirs::home_dir().map(Into::into))
    {
        return format!("{}{}", home.to_string_lossy(), &p[1..]);
    }
    p.to_string()
}

fn expandvars(p: &str) -> String {
    let re = regex::Regex::new(r"\$(\w+|\{[^}]*\})");
    let Ok(re) = re else { return p.to_string() };
    re.replace_all(p, |c: &regex::Captures| {
        let name = c[1].trim_start_matches('{').trim_end_matches('}');
        std::env::var(name).unwrap_or_else(|_| c[0].to_string())
    })
    .into_owned()
}

fn abspath(p: &str) -> String {
    if p.starts_with('/') {
        normpath(p)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        normpath(&format!("{}/{p}", cwd.to_string_lossy()))
    }
}

fn f_realpath(p: String) -> Value {
    let p = expanduser(&p);
    match std::fs::canonicalize(&p) {
        Ok(c) => Value::from(c.to_string_lossy().into_owned()),
        Err(_) => Value::from(abspath(&p)),
    }
}

fn f_relpath(p: String, start: Option<String>) -> Value {
    let target = abspath(&p);
    let start = abspath(&start.unwrap_or_else(|| ".".into()));
    let t: Vec<&str> = target.split('/').filter(|s| !s.is_empty()).collect();
    let s: Vec<&str> = start.split('/').filter(|s| !s.is_empty()).collect();
    let common = t.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; s.len() - common];
    parts.extend(&t[common..]);
    Value::from(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

fn f_splitext(p: String) -> Value {
    let base_start = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let base = &p[base_start..];
    // Leading dots of the base name do not start an extension.
    let lead = base.len() - base.trim_start_matches('.').len();
    match base[lead..].rfind('.') {
        Some(i) => {
            let cut = base_start + lead + i;
            Value::from(vec![p[..cut].to_string(), p[cut..].to_string()])
        }
        None => Value::from(vec![p.clone(), String::new()]),
    }
}

fn f_path_join(v: Value) -> Result<Value, Error> {
    let parts: Vec<String> = if v.kind() == ValueKind::String {
        vec![py_str(&v)]
    } else {
        items(&v)?.iter().map(py_str).collect()
    };
    let mut out = String::new();
    for p in parts {
        if p.starts_with('/') {
            out = p;
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(&p);
        } else {
            out.push('/');
            out.push_str(&p);
        }
    }
    Ok(Value::from(out))
}

/// `shlex.quote`.
pub(crate) fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn f_quote(v: Value) -> Value {
    let s = if v.is_none() {
        String::new()
    } else {
        py_str(&v)
    };
    Value::from(shell_quote(&s))
}

fn f_comment(v: Value, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let style = a.string(0, "style").unwrap_or_else(|| "plain".into());
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(err(format!("Unsupported comment style: {other}"))),
    };
    let nl = a
        .string(usize::MAX, "newline")
        .unwrap_or_else(|| "\n".into());
    let beginning = a
        .string(usize::MAX, "beginning")
        .unwrap_or_else(|| beginning.into());
    let decoration = a
        .string(usize::MAX, "decoration")
        .unwrap_or_else(|| decoration.into());
    let end = a.string(usize::MAX, "end").unwrap_or_else(|| end.into());
    let prefix = a
        .string(usize::MAX, "prefix")
        .unwrap_or_else(|| decoration.trim_end().to_string());
    let postfix = a
        .string(usize::MAX, "postfix")
        .unwrap_or_else(|| decoration.trim_end().to_string());
    let prefix_count = a.int(usize::MAX, "prefix_count").unwrap_or(1).max(0) as usize;
    let postfix_count = a.int(usize::MAX, "postfix_count").unwrap_or(1).max(0) as usize;
    let text = py_str(&v);

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&nl);
    }
    if !prefix.is_empty() {
        for _ in 0..prefix_count {
            if prefix != nl {
                out.push_str(&prefix);
            }
            out.push_str(&nl);
        }
    }
    let body = format!(
        "{decoration}{}",
        text.replace(&nl, &format!("{nl}{decoration}"))
    );
    // A decoration alone on a line loses its trailing spaces.
    let body = body.replace(
        &format!("{decoration}{nl}"),
        &format!("{}{nl}", decoration.trim_end()),
    );
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&nl);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&nl);
        out.push_str(&end);
    }
    Ok(Value::from(out))
}

fn f_strftime(fmt: String, args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let utc = a.bool(1, "utc", false);
    let secs = match a.get(0, "second").filter(|v| !v.is_none()) {
        Some(v) => super::as_f64(&v)
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| err(format!("Invalid value for epoch value ({})", py_str(&v))))?,
        None => chrono::Utc::now().timestamp() as f64,
    };
    let dt = chrono::DateTime::from_timestamp(secs.trunc() as i64, 0)
        .ok_or_else(|| err(format!("Invalid value for epoch value ({secs})")))?;
    let mut out = String::new();
    use std::fmt::Write as _;
    let res = if utc {
        write!(out, "{}", dt.format(&fmt))
    } else {
        write!(out, "{}", dt.with_timezone(&chrono::Local).format(&fmt))
    };
    res.map_err(|_| err(format!("strftime: invalid format '{fmt}'")))?;
    Ok(Value::from(out))
}

/// A parsed date for `to_datetime`: prints like Python's datetime and has
/// its common attributes and methods.
#[derive(Debug)]
struct DateTime(chrono::NaiveDateTime);

impl Object for DateTime {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        use chrono::{Datelike, Timelike};
        let d = &self.0;
        Some(Value::from(match key.as_str()? {
            "year" => i64::from(d.year()),
            "month" => i64::from(d.month()),
            "day" => i64::from(d.day()),
            "hour" => i64::from(d.hour()),
            "minute" => i64::from(d.minute()),
            "second" => i64::from(d.second()),
            "microsecond" => i64::from(d.nanosecond() / 1000),
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "timestamp" => Ok(Value::from(self.0.and_utc().timestamp() as f64)),
            "strftime" => {
                let fmt = args.first().map(py_str).unwrap_or_default();
                format_time(&self.0, &fmt)
            }
            "isoformat" => Ok(Value::from(self.0.format("%Y-%m-%dT%H:%M:%S").to_string())),
            _ => Err(minijinja::Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S"))
    }
}

/// Python's `%f` is microseconds; chrono's is nanoseconds.
fn py_time_format(fmt: &str) -> String {
    fmt.replace("%f", "%6f")
}

/// Formats with Python strftime codes; a bad code is an error, where
/// chrono's `to_string` would panic.
fn format_time(t: &chrono::NaiveDateTime, fmt: &str) -> Result<Value, Error> {
    use std::fmt::Write as _;
    let mut out = String::new();
    write!(out, "{}", t.format(&py_time_format(fmt)))
        .map_err(|_| err(format!("strftime: invalid format '{fmt}'")))?;
    Ok(Value::from(out))
}

/// Ansible's `now(utc=False, fmt=None)` global: the current time as a
/// datetime, or formatted with strftime codes when `fmt` is given.
fn f_now(args: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let a = Args::new(args, kw);
    let utc = a.bool(0, "utc", false);
    let now = if utc {
        chrono::Utc::now().naive_utc()
    } else {
        chrono::Local::now().naive_local()
    };
    match a.get(1, "fmt").filter(|v| !v.is_none()) {
        Some(fmt) => format_time(&now, &py_str(&fmt)),
        None => Ok(Value::from_object(DateTime(now))),
    }
}

fn f_to_datetime(v: String, fmt: Option<String>) -> Result<Value, Error> {
    let fmt = fmt.unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".into());
    let parsed = chrono::NaiveDateTime::parse_from_str(&v, &fmt)
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(&v, &fmt)
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|e| {
            err(format!(
                "time data '{v}' does not match format '{fmt}' ({e})"
            ))
        })?;
    Ok(Value::from_object(DateTime(parsed)))
}

/// Ansible's namespace for `to_uuid`.
const ANSIBLE_NS: [u8; 16] = [
    0x36, 0x1e, 0x6d, 0x51, 0xfa, 0xec, 0x44, 0x4a, 0x90, 0x79, 0x34, 0x13, 0x86, 0xda, 0x8e, 0x2e,
];

fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    if h.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&h[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// RFC 4122 version-5 UUID.
pub(crate) fn uuid5(ns: &[u8; 16], name: &str) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(ns);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

fn f_to_uuid(v: Value, namespace: Option<String>) -> Result<Value, Error> {
    let ns = match namespace {
        Some(n) => {
            parse_uuid(&n).ok_or_else(|| err(format!("Invalid value '{n}' for 'namespace'")))?
        }
        None => ANSIBLE_NS,
    };
    Ok(Value::from(uuid5(&ns, &py_str(&v))))
}

fn f_urlsplit(v: String, query: Option<String>) -> Result<Value, Error> {
    let (rest, fragment) = v.split_once('#').unwrap_or((&v, ""));
    let (rest, q) = rest.split_once('?').unwrap_or((rest, ""));
    let (scheme, rest) = match rest.find(':') {
        Some(i)
            if i > 0
                && rest[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (rest[..i].to_lowercase(), &rest[i + 1..])
        }
        _ => (String::new(), rest),
    };
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        },
        None => ("", rest),
    };
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (Value::from(a), Value::from(b)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
        let (h, p) = r.split_once(']').unwrap_or((r, ""));
        (
            h.to_string(),
            p.strip_prefix(':').unwrap_or_default().to_string(),
        )
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (hostport.to_string(), String::new()),
        }
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(host.to_lowercase())
    };
    let port = if port.is_empty() {
        Value::from(())
    } else {
        Value::from(port.parse::<i64>().map_err(|_| {
            err(format!(
                "Port could not be cast to integer value as '{port}'"
            ))
        })?)
    };
    let mut m = indexmap::IndexMap::<Value, Value>::new();
    m.insert(Value::from("fragment"), Value::from(fragment));
    m.insert(Value::from("hostname"), hostname);
    m.insert(Value::from("netloc"), Value::from(netloc));
    m.insert(Value::from("password"), password);
    m.insert(Value::from("path"), Value::from(path));
    m.insert(Value::from("port"), port);
    m.insert(Value::from("query"), Value::from(q));
    m.insert(Value::from("scheme"), Value::from(scheme));
    m.insert(Value::from("username"), username);
    match query {
        Some(field) => m
            .get(&Value::from(field.as_str()))
            .cloned()
            .ok_or_else(|| err(format!("urlsplit: unknown URL component: {field}"))),
        None => Ok(Value::from_pairs(m)),
    }
}

fn f_wordwrap(v: String, args: Rest<Value>, kw: Kwargs) -> Value {
    let a = Args::new(args, kw);
    let width = a.int(0, "width").unwrap_or(79).max(1) as usize;
    let break_long = a.bool(1, "break_long_words", true);
    let wrapstring = a.string(2, "wrapstring").unwrap_or_else(|| "\n".into());
    let mut out_lines = Vec::new();
    for para in v.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let mut word = word.to_string();
            while break_long && word.chars().count() > width {
                if !line.is_empty() {
                    out_lines.push(std::mem::take(&mut line));
                }
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                out_lines.push(head);
            }
            if line.is_empty() {
                line = word;
            } else if line.chars().count() + 1 + word.chars().count() <= width {
                line.push(' ');
                line.push_str(&word);
            } else {
                out_lines.push(std::mem::replace(&mut line, word));
            }
        }
        out_lines.push(line);
    }
    Value::from(out_lines.join(&wrapstring))
}

/// Jinja's `truncate`: cut at a word boundary unless `killwords`, with a
/// leeway of 5 characters before anything is cut.
fn f_truncate(v: Value, args: Rest<Value>, kw: Kwargs) -> Value {
    let a = Args::new(args, kw);
    let s = py_str(&v);
    let length = a.int(0, "length").unwrap_or(255).max(0) as usize;
    let killwords = a.bool(1, "killwords", false);
    let end = a.string(2, "end").unwrap_or_else(|| "...".into());
    let leeway = a.int(3, "leeway").unwrap_or(5).max(0) as usize;
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= length + leeway {
        return Value::from(s);
    }
    let keep = length.saturating_sub(end.chars().count());
    let head: String = chars[..keep.min(chars.len())].iter().collect();
    if killwords {
        return Value::from(format!("{head}{end}"));
    }
    let cut = match head.rfind(' ') {
        Some(i) => &head[..i],
        None => head.as_str(),
    };
    Value::from(format!("{cut}{end}"))
}

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("truncate", f_truncate);
    env.add_filter("regex_replace", f_regex_replace);
    env.add_filter("regex_search", f_regex_search);
    env.add_filter("regex_findall", f_regex_findall);
    env.add_filter("regex_escape", f_regex_escape);
    env.add_filter("hash", f_hash);
    env.add_filter("checksum", |v: Value| f_hash(v, Some("sha1".into())));
    env.add_filter("sha1", |v: Value| f_hash(v, Some("sha1".into())));
    env.add_filter("md5", |v: Value| f_hash(v, Some("md5".into())));
    env.add_filter("password_hash", f_password_hash);
    env.add_filter("b64encode", f_b64encode);
    env.add_filter("b64decode", f_b64decode);
    env.add_filter("basename", |p: String| Value::from(basename(&p)));
    env.add_filter("dirname", |p: String| Value::from(dirname(&p)));
    env.add_filter("expanduser", |p: String| Value::from(expanduser(&p)));
    env.add_filter("expandvars", |p: String| Value::from(expandvars(&p)));
    env.add_filter("realpath", f_realpath);
    env.add_filter("relpath", f_relpath);
    env.add_filter("splitext", f_splitext);
    env.add_filter("path_join", f_path_join);
    env.add_filter("normpath", |p: String| Value::from(normpath(&p)));
    env.add_filter("quote", f_quote);
    env.add_filter("comment", f_comment);
    env.add_filter("strftime", f_strftime);
    env.add_filter("to_datetime", f_to_datetime);
    env.add_function("now", f_now);
    env.add_filter("to_uuid", f_to_uuid);
    env.add_filter("urlsplit", f_urlsplit);
    env.add_filter("wordwrap", f_wordwrap);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_translation() {
        assert_eq!(translate_replacement("\\1-\\g<name>$"), "${1}-${name}$$");
        assert_eq!(normpath("/a//b/../c/."), "/a/c");
        assert_eq!(normpath("../x"), "../x");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(dirname("/etc/hosts"), "/etc");
        assert_eq!(dirname("/hosts"), "/");
    }
}
