//! Lookups: `lookup()`, `query()`/`q()` and the `with_<lookup>` loops.
//!
//! Lookups run on the controller. File-type lookups resolve relative paths
//! against the scope's search paths (role directory, then playbook
//! directory), looking in `files/` (or `templates/`) first as Ansible does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, State, Value};

use super::filters::{err, flatten_value, from_j, items, to_j};
use super::pyrepr::py_str;
use super::scope::Ctx;
use super::{Scope, Templar, TemplateError, Var};

type KwMap = IndexMap<String, Value>;

fn kwmap(kw: &Kwargs) -> Result<KwMap, Error> {
    let mut m = KwMap::new();
    for name in kw.args() {
        m.insert(name.to_string(), kw.get::<Value>(name)?);
    }
    Ok(m)
}

fn kw_str(kw: &KwMap, name: &str) -> Option<String> {
    kw.get(name)
        .filter(|v| !v.is_none() && !v.is_undefined())
        .map(py_str)
}

fn kw_bool(kw: &KwMap, name: &str, default: bool) -> bool {
    kw.get(name).map(super::filters::truthy).unwrap_or(default)
}

/// Splits `term k=v k2=v2` into the leading term and its options.
fn parse_kv(term: &str) -> (String, KwMap) {
    let words =
        shlex::split(term).unwrap_or_else(|| term.split_whitespace().map(String::from).collect());
    let mut head = Vec::new();
    let mut kv = KwMap::new();
    for w in words {
        match w.split_once('=') {
            Some((k, v))
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                kv.insert(k.to_string(), Value::from(v));
            }
            _ => head.push(w),
        }
    }
    (head.join(" "), kv)
}

fn search_paths(ctx: &Ctx) -> Vec<PathBuf> {
    let mut paths = ctx.scope.search_paths().to_vec();
    if paths.is_empty() {
        paths = ctx.templar.options().search_paths.clone();
    }
    if paths.is_empty()
        && let Ok(cwd) = std::env::current_dir()
    {
        paths.push(cwd);
    }
    paths
}

/// Resolves a relative file name: `<p>/<subdir>/<name>` then `<p>/<name>`
/// for each search path `p`.
fn find_file(ctx: &Ctx, subdir: &str, name: &str) -> Option<PathBuf> {
    let name = super::filters::expanduser_pub(name);
    let p = Path::new(&name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    for base in search_paths(ctx) {
        for cand in [base.join(subdir).join(p), base.join(p)] {
            if cand.exists() {
                return Some(cand);
            }
        }
    }
    None
}

fn read_text(path: &Path) -> Result<String, Error> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| err(format!("could not read {}: {e}", path.display())))
}

fn run_shell(cmd: &str) -> Result<(i32, String), Error> {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .map_err(|e| err(format!("lookup_plugin.pipe({cmd}) failed: {e}")))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// The terms of a lookup call with one level of lists flattened, the way
/// `with_items` and the `items` lookup treat them.
fn flat1(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        if t.kind() == ValueKind::Seq {
            out.extend(items(t)?);
        } else {
            out.push(t.clone());
        }
    }
    Ok(out)
}

fn lists_of(terms: &[Value]) -> Result<Vec<Vec<Value>>, Error> {
    // `with_nested: [[a, b], [c]]` arrives as one term holding the lists.
    let terms = if terms.len() == 1 && terms[0].kind() == ValueKind::Seq {
        items(&terms[0])?
    } else {
        terms.to_vec()
    };
    terms
        .iter()
        .map(|t| {
            if t.kind() == ValueKind::Seq {
                items(t)
            } else {
                Ok(vec![t.clone()])
            }
        })
        .collect()
}

/// Python `%` formatting of one integer (`%d`, `%02d`, `%x`, `%o`, `%s`).
fn percent_format(fmt: &str, n: i64) -> Result<String, Error> {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    let mut used = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() || d == '-' || d == '+' || d == ' ' || d == '#' {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let conv = chars.next().unwrap_or('d');
        let zero = spec.starts_with('0');
        let left = spec.contains('-');
        let width: usize = spec
            .trim_start_matches(['0', '-', '+', ' ', '#'])
            .parse()
            .unwrap_or(0);
        let body = match conv {
            'd' | 'i' | 's' | 'u' => n.to_string(),
            'x' => format!("{n:x}"),
            'X' => format!("{n:X}"),
            'o' => format!("{n:o}"),
            other => return Err(err(format!("bad formatting string: {fmt} (%{other})"))),
        };
        let padded = if left {
            format!("{body:<width$}")
        } else if zero {
            if let Some(d) = body.strip_prefix('-') {
                format!("-{d:0>w$}", w = width.saturating_sub(1))
            } else {
                format!("{body:0>width$}")
            }
        } else {
            format!("{body:>width$}")
        };
        out.push_str(&padded);
        used = true;
    }
    if !used {
        return Err(err(format!("bad formatting string: {fmt}")));
    }
    Ok(out)
}

fn parse_num(s: &str) -> Result<i64, Error> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x") {
        i64::from_str_radix(h, 16)
    } else if let Some(o) = t
        .strip_prefix("0o")
        .or_else(|| t.strip_prefix("0").filter(|x| !x.is_empty()))
    {
        i64::from_str_radix(o, 8)
    } else {
        t.parse()
    };
    r.map_err(|_| err(format!("can't parse arg '{s}' as integer")))
}

fn sequence(term: Option<&str>, kw: &KwMap) -> Result<Vec<Value>, Error> {
    let (head, mut opts) = term.map(parse_kv).unwrap_or_default();
    for (k, v) in kw {
        opts.insert(k.clone(), v.clone());
    }
    let mut start = 1i64;
    let mut end: Option<i64> = None;
    let mut count: Option<i64> = None;
    let mut stride = 1i64;
    let mut format = "%d".to_string();
    // Shortcut form: [start-]end[/stride][:format]
    if !head.is_empty() {
        let (rest, f) = match head.split_once(':') {
            Some((r, f)) => (r, Some(f)),
            None => (head.as_str(), None),
        };
        let (rest, s) = match rest.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (rest, None),
        };
        match rest.split_once('-') {
            Some((a, b)) if !a.is_empty() => {
                start = parse_num(a)?;
                end = Some(parse_num(b)?);
            }
            _ => end = Some(parse_num(rest)?),
        }
        if let Some(s) = s {
            stride = parse_num(s)?;
        }
        if let Some(f) = f {
            format = f.to_string();
        }
    }
    for (k, v) in &opts {
        let s = py_str(v);
        match k.as_str() {
            "start" => start = parse_num(&s)?,
            "end" => end = Some(parse_num(&s)?),
            "count" => count = Some(parse_num(&s)?),
            "stride" => stride = parse_num(&s)?,
            "format" => format = s,
            other => {
                return Err(err(format!(
                    "unrecognized arguments to with_sequence: ['{other}']"
                )));
            }
        }
    }
    let end = match (end, count) {
        (Some(_), Some(_)) => return Err(err("can't specify both count and end in with_sequence")),
        (Some(e), None) => e,
        (None, Some(0)) => return Ok(Vec::new()),
        (None, Some(c)) => start + (c - 1) * stride,
        (None, None) => return Err(err("must specify count or end in with_sequence")),
    };
    if stride == 0 {
        return Ok(Vec::new());
    }
    if stride > 0 && end < start {
        return Err(err("to count backwards make stride negative"));
    }
    if stride < 0 && end > start {
        return Err(err("to count forward don't make stride negative"));
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(Value::from(percent_format(&format, i)?));
        i += stride;
    }
    Ok(out)
}

fn charset(spec: &str) -> String {
    let mut out = String::new();
    for part in spec.split(',') {
        match part {
            "ascii_letters" => out.push_str("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            "ascii_lowercase" => out.push_str("abcdefghijklmnopqrstuvwxyz"),
            "ascii_uppercase" => out.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            "digits" => out.push_str("0123456789"),
            "hexdigits" => out.push_str("0123456789abcdefABCDEF"),
            "octdigits" => out.push_str("01234567"),
            "punctuation" => out.push_str("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
            "" => out.push(','),
            lit => out.push_str(lit),
        }
    }
    out
}

fn password(ctx: &Ctx, term: &str, kw: &KwMap) -> Result<Value, Error> {
    let (path, mut opts) = parse_kv(term);
    for (k, v) in kw {
        opts.insert(k.clone(), v.clone());
    }
    let length = opts
        .get("length")
        .and_then(|v| super::filters::to_int_pub(v).or_else(|| py_str(v).parse().ok()))
        .unwrap_or(20)
        .max(1) as usize;
    let chars = match opts.get("chars") {
        Some(v) if v.kind() == ValueKind::Seq => items(v)?
            .iter()
            .map(|c| charset(&py_str(c)))
            .collect::<String>(),
        Some(v) => charset(&py_str(v)),
        None => charset("ascii_letters,digits,.,:-_").replace(",,", ","),
    };
    let chars: Vec<char> = chars.chars().collect();
    if chars.is_empty() {
        return Err(err("password lookup: empty character set"));
    }
    let generate = || -> String {
        (0..length)
            .map(|_| chars[rand::random_range(0..chars.len())])
            .collect()
    };
    if path == "/dev/null" {
        return Ok(Value::from(generate()));
    }
    let p = Path::new(&path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        search_paths(ctx)
            .first()
            .cloned()
            .unwrap_or_default()
            .join(p)
    };
    if full.exists() {
        let text = read_text(&full)?;
        let line = text.lines().next().unwrap_or_default();
        // A stored salt follows the password as ` salt=...`.
        let pw = line.split(" salt=").next().unwrap_or_default();
        return Ok(Value::from(pw.to_string()));
    }
    let pw = generate();
    if let Some(dir) = full.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("password lookup: {e}")))?;
    }
    std::fs::write(&full, format!("{pw}\n")).map_err(|e| err(format!("password lookup: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o600));
    }
    Ok(Value::from(pw))
}

fn fileglob(ctx: &Ctx, pattern: &str) -> Result<Vec<Value>, Error> {
    let pattern = super::filters::expanduser_pub(pattern);
    let (dir, base) = match pattern.rfind('/') {
        Some(i) => (pattern[..i].to_string(), pattern[i + 1..].to_string()),
        None => (String::new(), pattern.clone()),
    };
    let matcher = globset::GlobBuilder::new(&base)
        .literal_separator(true)
        .build()
        .map_err(|e| err(format!("fileglob: {e}")))?
        .compile_matcher();
    let dirs: Vec<PathBuf> = if dir.starts_with('/') {
        vec![PathBuf::from(&dir)]
    } else {
        let mut v = Vec::new();
        for p in search_paths(ctx) {
            v.push(p.join("files").join(&dir));
            v.push(p.join(&dir));
        }
        v
    };
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut found: Vec<String> = rd
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                (!name.starts_with('.') || base.starts_with('.'))
                    && matcher.is_match(name.as_ref())
                    && e.path().is_file()
            })
            .map(|e| e.path().to_string_lossy().into_owned())
            .collect();
        if !found.is_empty() {
            found.sort();
            return Ok(found.into_iter().map(Value::from).collect());
        }
    }
    Ok(Vec::new())
}

fn split_list(v: &Value, seps: &[char]) -> Result<Vec<String>, Error> {
    if v.kind() == ValueKind::Seq {
        return Ok(items(v)?.iter().map(py_str).collect());
    }
    Ok(py_str(v)
        .split(seps)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect())
}

fn first_found(ctx: &Ctx, terms: &[Value], kw: &KwMap) -> Result<Vec<Value>, Error> {
    let mut files: Vec<String> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut skip = kw_bool(kw, "skip", false);
    if let Some(f) = kw.get("files") {
        files.extend(split_list(f, &[',', ';'])?);
    }
    if let Some(p) = kw.get("paths") {
        paths.extend(split_list(p, &[',', ':', ';'])?);
    }
    for t in flat1(terms)? {
        if t.kind() == ValueKind::Map {
            if let Ok(f) = t.get_attr("files")
                && !f.is_undefined()
            {
                files.extend(split_list(&f, &[',', ';'])?);
            }
            if let Ok(p) = t.get_attr("paths")
                && !p.is_undefined()
            {
                paths.extend(split_list(&p, &[',', ':', ';'])?);
            }
            if let Ok(s) = t.get_attr("skip")
                && !s.is_undefined()
            {
                skip = s.is_true();
            }
        } else {
            files.push(py_str(&t));
        }
    }
    for f in &files {
        if paths.is_empty() {
            if let Some(p) = find_file(ctx, "files", f) {
                return Ok(vec![Value::from(p.to_string_lossy().into_owned())]);
            }
        } else {
            for dir in &paths {
                let cand = Path::new(dir).join(f);
                let found = if cand.is_absolute() {
                    cand.exists().then_some(cand)
                } else {
                    find_file(ctx, "files", &cand.to_string_lossy())
                };
                if let Some(p) = found {
                    return Ok(vec![Value::from(p.to_string_lossy().into_owned())]);
                }
            }
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(err("No file was found when using first_found."))
}

fn csvfile(ctx: &Ctx, term: &str, kw: &KwMap) -> Result<Value, Error> {
    let (key, mut opts) = parse_kv(term);
    for (k, v) in kw {
        opts.entry(k.clone()).or_insert(v.clone());
    }
    let file = kw_str(&opts, "file").unwrap_or_else(|| "ansible.csv".into());
    let col = kw_str(&opts, "col")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(1);
    let delim = match kw_str(&opts, "delimiter").as_deref() {
        None | Some("TAB") | Some("\\t") => "\t".to_string(),
        Some(d) => d.to_string(),
    };
    let default = opts.get("default").cloned().unwrap_or(Value::from(()));
    let path = find_file(ctx, "files", &file)
        .ok_or_else(|| err(format!("csvfile: could not locate file in lookup: {file}")))?;
    for line in read_text(&path)?.lines() {
        let fields: Vec<&str> = line
            .split(delim.as_str())
            .map(|f| f.trim_matches('"'))
            .collect();
        if fields.first() == Some(&key.as_str()) {
            return fields
                .get(col)
                .map(|s| Value::from(*s))
                .ok_or_else(|| err(format!("csvfile: no column {col} in line for {key}")));
        }
    }
    Ok(default)
}

fn ini(ctx: &Ctx, term: &str, kw: &KwMap) -> Result<Vec<Value>, Error> {
    let (key, mut opts) = parse_kv(term);
    for (k, v) in kw {
        opts.entry(k.clone()).or_insert(v.clone());
    }
    let kind = kw_str(&opts, "type").unwrap_or_else(|| "ini".into());
    let file = kw_str(&opts, "file").unwrap_or_else(|| {
        if kind == "properties" {
            "ansible.properties".into()
        } else {
            "ansible.ini".into()
        }
    });
    let section = kw_str(&opts, "section").unwrap_or_else(|| "global".into());
    let use_re = kw_bool(&opts, "re", false);
    let default = opts.get("default").cloned().unwrap_or(Value::from(""));
    let path = find_file(ctx, "files", &file)
        .ok_or_else(|| err(format!("ini: could not locate file in lookup: {file}")))?;
    let text = read_text(&path)?;
    let mut current = if kind == "properties" {
        section.clone()
    } else {
        String::new()
    };
    let mut values: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if l.starts_with('[') && l.ends_with(']') {
            current = l[1..l.len() - 1].trim().to_string();
            continue;
        }
        if current != section {
            continue;
        }
        let split = l.find(['=', ':']).unwrap_or(l.len());
        let (k, v) = l.split_at(split);
        let v = v.get(1..).unwrap_or_default().trim();
        values.push((k.trim().to_string(), v.to_string()));
    }
    if use_re {
        let re = super::filters::regex_compile(&key, false, false)?;
        let mut out = Vec::new();
        for (k, v) in &values {
            if re.is_match_at_start(k)? {
                out.push(Value::from(v.as_str()));
            }
        }
        return Ok(out);
    }
    // Keys are case-insensitive in Python's configparser.
    Ok(vec![
        values
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            .map(|(_, v)| Value::from(v.as_str()))
            .unwrap_or(default),
    ])
}

/// Host patterns against the `groups` variable: names, `all`, globs,
/// `a:b` union, `a:&b` intersection, `a:!b` exclusion.
fn inventory_hostnames(ctx: &Arc<Ctx>, pattern: &str) -> Result<Vec<Value>, Error> {
    let root = Value::from_dyn_object(ctx.clone());
    let groups = root.get_attr("groups")?;
    let mut group_map: IndexMap<String, Vec<String>> = IndexMap::new();
    if groups.kind() == ValueKind::Map {
        for g in groups.try_iter()? {
            let hosts = groups.get_item(&g)?;
            group_map.insert(py_str(&g), items(&hosts)?.iter().map(py_str).collect());
        }
    }
    let all: Vec<String> = match group_map.get("all") {
        Some(a) => a.clone(),
        None => {
            let mut v: Vec<String> = Vec::new();
            for hosts in group_map.values() {
                for h in hosts {
                    if !v.contains(h) {
                        v.push(h.clone());
                    }
                }
            }
            v
        }
    };
    let resolve = |p: &str| -> Vec<String> {
        if p == "all" || p == "*" {
            return all.clone();
        }
        if let Some(h) = group_map.get(p) {
            return h.clone();
        }
        if p.contains(['*', '?', '[']) {
            let Ok(g) = globset::Glob::new(p) else {
                return Vec::new();
            };
            let m = g.compile_matcher();
            let mut out: Vec<String> = Vec::new();
            for (name, hosts) in &group_map {
                if m.is_match(name) {
                    out.extend(hosts.iter().cloned());
                }
            }
            out.extend(all.iter().filter(|h| m.is_match(h.as_str())).cloned());
            return out;
        }
        if all.iter().any(|h| h == p) {
            return vec![p.to_string()];
        }
        Vec::new()
    };
    let mut result: Vec<String> = Vec::new();
    let sep = if pattern.contains(',') { ',' } else { ':' };
    for part in pattern.split(sep).map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(x) = part.strip_prefix('!') {
            let ex = resolve(x);
            result.retain(|h| !ex.contains(h));
        } else if let Some(x) = part.strip_prefix('&') {
            let inter = resolve(x);
            result.retain(|h| inter.contains(h));
        } else {
            for h in resolve(part) {
                if !result.contains(&h) {
                    result.push(h);
                }
            }
        }
    }
    // Keep inventory order.
    let mut ordered: Vec<Value> = all
        .iter()
        .filter(|h| result.contains(h))
        .map(|h| Value::from(h.as_str()))
        .collect();
    for h in &result {
        if !all.contains(h) {
            ordered.push(Value::from(h.as_str()));
        }
    }
    Ok(ordered)
}

/// `lookup('config', NAME)`: a setting from its `ANSIBLE_*` variable, or
/// its default for the boolean settings tutti knows.
fn config_value(name: &str) -> Option<Value> {
    let env = std::env::var(format!("ANSIBLE_{}", name.trim_start_matches("DEFAULT_"))).ok();
    let boolean = |default: bool| {
        Value::from(
            env.as_deref()
                .and_then(|v| tutti_modules::params::to_bool(&serde_json::Value::String(v.into())))
                .unwrap_or(default),
        )
    };
    match name {
        "ALLOW_BROKEN_CONDITIONALS" => Some(boolean(false)),
        "DEFAULT_FORCE_HANDLERS" | "DISPLAY_SKIPPED_HOSTS" | "DISPLAY_OK_HOSTS" => {
            Some(boolean(name != "DEFAULT_FORCE_HANDLERS"))
        }
        _ => env.map(Value::from),
    }
}

/// Runs a lookup and returns its list of results.
fn run(ctx: &Arc<Ctx>, name: &str, terms: &[Value], kw: &KwMap) -> Result<Vec<Value>, Error> {
    let name = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    let strs = || -> Result<Vec<String>, Error> { Ok(flat1(terms)?.iter().map(py_str).collect()) };
    Ok(match name {
        "env" => {
            let default = kw_str(kw, "default").unwrap_or_default();
            strs()?
                .iter()
                .map(|t| Value::from(std::env::var(t).unwrap_or_else(|_| default.clone())))
                .collect()
        }
        "config" => {
            let mut out = Vec::new();
            for t in strs()? {
                out.push(
                    config_value(&t).ok_or_else(|| err(format!("Unable to find setting {t}")))?,
                );
            }
            out
        }
        "file" => {
            let rstrip = kw_bool(kw, "rstrip", true);
            let lstrip = kw_bool(kw, "lstrip", false);
            let mut out = Vec::new();
            for t in strs()? {
                let path = find_file(ctx, "files", &t)
                    .ok_or_else(|| err(format!("could not locate file in lookup: {t}")))?;
                let mut text = read_text(&path)?;
                // Vaulted files are decrypted transparently, as in Ansible.
                if crate::vault::is_vault(&text) {
                    text = crate::vault::decrypt_global(&text)
                        .map_err(|e| err(format!("{e} for {}", path.display())))?;
                }
                if rstrip {
                    text = text.trim_end().to_string();
                }
                if lstrip {
                    text = text.trim_start().to_string();
                }
                out.push(Value::from(text));
            }
            out
        }
        "unvault" => {
            let mut out = Vec::new();
            for t in strs()? {
                let path = find_file(ctx, "files", &t)
                    .ok_or_else(|| err(format!("Unable to find '{t}' in expected paths")))?;
                let text = read_text(&path)?;
                let plain = if crate::vault::is_vault(&text) {
                    crate::vault::decrypt_global(&text)
                        .map_err(|e| err(format!("{e} for {}", path.display())))?
                } else {
                    text
                };
                out.push(Value::from(plain));
            }
            out
        }
        "template" => {
            let mut out = Vec::new();
            for t in strs()? {
                let path = find_file(ctx, "templates", &t).ok_or_else(|| {
                    err(format!(
                        "the template file {t} could not be found for the lookup"
                    ))
                })?;
                let text = read_text(&path)?;
                let mut scope = ctx.scope.clone();
                if let Some(extra) = kw.get("template_vars")
                    && extra.kind() == ValueKind::Map
                {
                    for k in extra.try_iter()? {
                        scope.set(&py_str(&k), Var::untrusted(to_j(&extra.get_item(&k)?)));
                    }
                }
                let rendered = ctx
                    .templar
                    .render_file(&text, &t, &scope, &super::FileOptions::default())
                    .map_err(|e| err(e.msg))?;
                // `convert_data` (default on): text that is a dict or list
                // literal becomes that data, as Ansible's native types do.
                let convert = kw.get("convert_data").is_none_or(|v| v.is_true());
                match convert.then(|| literal_data(&rendered)).flatten() {
                    Some(v) => out.push(super::scope::json_to_value(&v)),
                    None => out.push(Value::from(rendered)),
                }
            }
            out
        }
        "vars" => {
            let root = Value::from_dyn_object(ctx.clone());
            let mut out = Vec::new();
            for t in strs()? {
                let v = root.get_attr(&t)?;
                if v.is_undefined() {
                    match kw.get("default") {
                        Some(d) => out.push(d.clone()),
                        None => return Err(err(format!("No variable found with this name: {t}"))),
                    }
                } else {
                    out.push(v);
                }
            }
            out
        }
        "pipe" => {
            let mut out = Vec::new();
            for t in strs()? {
                let (rc, stdout) = run_shell(&t)?;
                if rc != 0 {
                    return Err(err(format!("lookup_plugin.pipe({t}) returned {rc}")));
                }
                out.push(Value::from(stdout.trim_end().to_string()));
            }
            out
        }
        "lines" => {
            let mut out = Vec::new();
            for t in strs()? {
                let (rc, stdout) = run_shell(&t)?;
                if rc != 0 {
                    return Err(err(format!("lookup_plugin.lines({t}) returned {rc}")));
                }
                out.extend(stdout.lines().map(|l| Value::from(l.to_string())));
            }
            out
        }
        "fileglob" => {
            let mut out = Vec::new();
            for t in strs()? {
                for p in t.split_whitespace() {
                    out.extend(fileglob(ctx, p)?);
                }
            }
            out
        }
        "first_found" => first_found(ctx, terms, kw)?,
        "password" => strs()?
            .iter()
            .map(|t| password(ctx, t, kw))
            .collect::<Result<_, _>>()?,
        "items" => flat1(terms)?,
        "list" => {
            if terms.len() == 1 && terms[0].kind() == ValueKind::Seq {
                items(&terms[0])?
            } else {
                terms.to_vec()
            }
        }
        "dict" => {
            let mut out = Vec::new();
            for t in terms {
                if t.kind() != ValueKind::Map {
                    return Err(err(format!(
                        "the 'dict' lookup plugin expects a dictionary, got '{}'",
                        py_str(t)
                    )));
                }
                for k in t.try_iter()? {
                    let mut m = indexmap::IndexMap::<Value, Value>::new();
                    m.insert(Value::from("key"), k.clone());
                    m.insert(Value::from("value"), t.get_item(&k)?);
                    out.push(Value::from_pairs(m));
                }
            }
            out
        }
        "indexed_items" => flat1(terms)?
            .into_iter()
            .enumerate()
            .map(|(i, x)| Value::from(vec![Value::from(i), x]))
            .collect(),
        "nested" | "cartesian" => {
            let lists = lists_of(terms)?;
            if lists.is_empty() {
                return Err(err(
                    "with_nested requires at least one element in the nested list",
                ));
            }
            super::filters::product_pub(&lists)
        }
        "together" => {
            let lists = lists_of(terms)?;
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            (0..n)
                .map(|i| {
                    Value::from(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::from(())))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect()
        }
        "subelements" => {
            let terms = if terms.len() == 1 && terms[0].kind() == ValueKind::Seq {
                items(&terms[0])?
            } else {
                terms.to_vec()
            };
            let data = terms.first().cloned().unwrap_or_default();
            let path = terms.get(1).map(py_str).unwrap_or_default();
            let skip = terms
                .get(2)
                .and_then(|f| f.get_attr("skip_missing").ok())
                .is_some_and(|v| v.is_true())
                || kw_bool(kw, "skip_missing", false);
            super::filters::subelements_pub(&data, &path, skip)?
        }
        "sequence" => {
            let mut out = Vec::new();
            let ts = strs()?;
            if ts.is_empty() {
                out.extend(sequence(None, kw)?);
            }
            for t in ts {
                out.extend(sequence(Some(&t), kw)?);
            }
            out
        }
        "random_choice" => {
            let all = flat1(terms)?;
            if all.is_empty() {
                Vec::new()
            } else {
                vec![all[rand::random_range(0..all.len())].clone()]
            }
        }
        "varnames" => {
            let mut out = Vec::new();
            let names = ctx.scope.names();
            for t in strs()? {
                let re = super::filters::regex_compile(&t, false, false)?;
                for n in &names {
                    if re.is_match_at_start(n)? && !out.contains(&Value::from(n.as_str())) {
                        out.push(Value::from(n.as_str()));
                    }
                }
            }
            out
        }
        "inventory_hostnames" => {
            let mut out = Vec::new();
            for t in strs()? {
                out.extend(inventory_hostnames(ctx, &t)?);
            }
            out
        }
        "csvfile" => strs()?
            .iter()
            .map(|t| csvfile(ctx, t, kw))
            .collect::<Result<_, _>>()?,
        "ini" => {
            let mut out = Vec::new();
            for t in strs()? {
                out.extend(ini(ctx, &t, kw)?);
            }
            out
        }
        "flattened" => flatten_value(&Value::from(terms.to_vec()), None, true)?,
        other => return Err(err(format!("lookup plugin ({other}) not found"))),
    })
}

fn lookup_errors(kw: &KwMap, name: &str, e: Error) -> Result<Option<Vec<Value>>, Error> {
    match kw_str(kw, "errors").as_deref() {
        Some("ignore") => Ok(None),
        Some("warn") => {
            eprintln!(
                "[WARNING]: An unhandled exception occurred while running the lookup plugin '{name}'. Error was a {e}"
            );
            Ok(None)
        }
        _ => Err(e),
    }
}

fn f_lookup(state: &State, name: String, terms: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let ctx = Ctx::from_state(state).ok_or_else(|| err("lookup used outside of a task context"))?;
    let mut kw = kwmap(&kw)?;
    let wantlist = kw.shift_remove("wantlist").is_some_and(|v| v.is_true());
    let results = match run(&ctx, &name, &terms.0, &kw) {
        Ok(r) => r,
        Err(e) => match lookup_errors(&kw, &name, e)? {
            Some(r) => r,
            None => return Ok(Value::from(())),
        },
    };
    if wantlist {
        return Ok(Value::from(results));
    }
    if !results.is_empty() && results.iter().all(|r| r.kind() == ValueKind::String) {
        let joined: Vec<String> = results.iter().map(py_str).collect();
        return Ok(Value::from(joined.join(",")));
    }
    if results.len() == 1 {
        return Ok(results.into_iter().next().unwrap_or_default());
    }
    if results.is_empty() {
        return Ok(Value::from(""));
    }
    Ok(Value::from(results))
}

fn f_query(state: &State, name: String, terms: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let ctx = Ctx::from_state(state).ok_or_else(|| err("query used outside of a task context"))?;
    let mut kw = kwmap(&kw)?;
    kw.shift_remove("wantlist");
    match run(&ctx, &name, &terms.0, &kw) {
        Ok(r) => Ok(Value::from(r)),
        Err(e) => Ok(Value::from(
            lookup_errors(&kw, &name, e)?.unwrap_or_default(),
        )),
    }
}

pub fn register(env: &mut Environment<'static>) {
    env.add_function("lookup", f_lookup);
    env.add_function("query", f_query);
    env.add_function("q", f_query);
}

/// Items of a `with_<name>` loop. `terms` is the loop's value already
/// templated by the caller (it must not be templated twice: it may hold
/// data from hosts). `with_items` flattens one level, `with_list` does not,
/// `with_dict` yields `{key, value}` items.
pub fn lookup_loop(
    templar: &Templar,
    name: &str,
    terms: serde_json::Value,
    scope: &Scope,
) -> Result<Vec<serde_json::Value>, TemplateError> {
    let rendered = super::strip_markers(&terms);
    let term_values: Vec<Value> = match &rendered {
        serde_json::Value::Array(a) if name != "dict" && name != "subelements" => {
            a.iter().map(from_j).collect()
        }
        other => vec![from_j(other)],
    };
    let ctx = Ctx::new(templar, scope);
    let results = run(&ctx, name, &term_values, &KwMap::new())
        .map_err(|e| TemplateError::new(e.detail().unwrap_or_default()))?;
    Ok(results.iter().map(to_j).collect())
}

/// A `{...}` or `[...]` literal (JSON, or Python's repr with quotes of
/// either kind, read as YAML flow) as data; anything else is text.
fn literal_data(text: &str) -> Option<serde_json::Value> {
    let t = text.trim();
    let bracketed =
        (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']'));
    if !bracketed {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(t) {
        return Some(v);
    }
    let src = crate::diagnostic::Source::new("<template result>", t);
    let v = crate::yaml::load(&src).ok()?.node.to_json();
    matches!(
        v,
        serde_json::Value::Object(_) | serde_json::Value::Array(_)
    )
    .then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_formats() {
        assert_eq!(percent_format("web%02d", 3).ok().as_deref(), Some("web03"));
        assert_eq!(percent_format("%x", 255).ok().as_deref(), Some("ff"));
        assert!(percent_format("plain", 1).is_err());
    }

    #[test]
    fn kv_parsing() {
        let (head, kv) = parse_kv("start=1 end=5 format=web%02d");
        assert_eq!(head, "");
        assert_eq!(kv.len(), 3);
        let (head, kv) = parse_kv("/tmp/pw length=8");
        assert_eq!(head, "/tmp/pw");
        assert_eq!(kv.get("length").map(py_str).as_deref(), Some("8"));
    }
}
